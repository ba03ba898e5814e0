"""VVM voice messages as the tests and the benchmarks deposit them, shaped
like the spec's deposit examples, and the write protocol a shim uses.
Standard library only: bench/ imports it too."""
import base64
import os

MSISDN = "31612345678"

# AMR-NB frame types and their sizes with the ToC byte (RFC 4867).
AMR_FRAME_SIZES = {15: 1, 8: 6, 0: 13, 1: 14, 2: 16, 3: 18, 4: 20, 5: 21,
                   6: 27, 7: 32}


def amr_audio(seconds, size=0, fill=0):
    """AMR-NB lasting exactly `seconds` (50 frames a second), as vvmfs
    measures it at commit, of at least `size` bytes: the frames are of the
    smallest type that gets there."""
    frames = 50 * seconds
    for ft, n in sorted(AMR_FRAME_SIZES.items(), key=lambda kv: kv[1]):
        if n * frames >= size:
            break
    else:
        raise ValueError("%d bytes do not fit in %d s of AMR" % (size, seconds))
    return b"#!AMR\n" + (bytes([ft << 3 | 4]) + bytes([fill]) * (n - 1)) * frames


def voice_message(n=0, duration=5, audio=None, extra_headers="",
                  date="Sun, 22 Nov 2026 10:00:00 +0000", to=MSISDN,
                  ctype="audio/amr", filename="vm.amr"):
    """A voice message to `to` with a text part and one audio attachment
    (AMR of `duration` seconds unless audio is given), base64."""
    if audio is None:
        audio = amr_audio(duration)
    body = base64.encodebytes(audio).decode().replace("\n", "\r\n")
    return ("From: +31600000001@example.net\r\n"
            "To: " + to + "@example.net\r\n"
            "Date: " + date + "\r\n"
            "Subject: voice mail " + str(n) + "\r\n"
            "Message-ID: <test-" + str(n) + "@vvm.test>\r\n"
            "Message-Context: voice-message\r\n"
            "Content-Duration: " + str(duration) + "\r\n"
            "MIME-Version: 1.0\r\n"
            + extra_headers +
            "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
            "\r\n"
            "--b1\r\n"
            "Content-Type: text/plain; charset=us-ascii\r\n"
            "\r\n"
            "You have a voice message.\r\n"
            "--b1\r\n"
            "Content-Type: " + ctype + "\r\n"
            "Content-Transfer-Encoding: base64\r\n"
            "Content-Disposition: attachment; filename=\"" + filename +
            "\"\r\n"
            "Content-Duration: " + str(duration) + "\r\n"
            "\r\n" + body +
            "--b1--\r\n").encode()


def deposit(mailbox, data, name="new.eml"):
    """Writes a message the way a shim does and returns its UID."""
    fd = os.open(os.path.join(mailbox, name),
                 os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
        return int(os.getxattr(fd, "user.imap.uid"))
    finally:
        os.close(fd)
