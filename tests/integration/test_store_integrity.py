"""What the store once got wrong, replayed through the real shims and the
real mount: a deposit after a restart overwrote an older, acknowledged
message when a rendition was cached (issue 11). Every message must read
back its own bytes after any number of restarts (and fsck find nothing
at each stop, as conftest checks)."""
import base64
import imaplib
import signal
import smtplib
import subprocess

import pytest

from conftest import BUILD, deposit, voice_message
from smtpd import RCPT2, SENDER, address, digest_md5, make_smtpd  # noqa: F401
from vvmtest import write_profile

WORKER = BUILD / "lib" / "media" / "vvm-media-worker"


def alaw_tone(tmp_path, hz):
    """Three seconds of a tone as a PBX records it: WAV G.711 A-law."""
    path = tmp_path / ("tone-%d.wav" % hz)
    subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", "-e", "a-law",
                    str(path), "synth", "3", "sine", str(hz)], check=True)
    return path.read_bytes()


def voice(n, audio):
    body = base64.encodebytes(audio).decode().replace("\n", "\r\n")
    return ("From: %s\r\n"
            "To: %s\r\n"
            "Date: Mon, 07 Dec 2026 10:00:0%d +0000\r\n"
            "Subject: voice mail %d\r\n"
            "Message-ID: <integrity-%d@vvm.test>\r\n"
            "Message-Context: voice-message\r\n"
            "Content-Duration: 3\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
            "--b\r\nContent-Type: text/plain\r\n\r\nA voice message.\r\n"
            "--b\r\nContent-Type: audio/wav; codec=g711a\r\n"
            "Content-Transfer-Encoding: base64\r\n"
            "Content-Disposition: attachment; filename=\"vm.wav\"\r\n"
            "Content-Duration: 3\r\n\r\n%s--b--\r\n"
            % (address(SENDER), address(RCPT2), n, n, n, body)).encode()


def smtp_deposit(server, message):
    client = smtplib.SMTP("127.0.0.1", server.port, local_hostname="phone",
                          timeout=30)
    try:
        client.ehlo("phone")
        assert digest_md5(client) == (235, "2.7.0 Authentication successful")
        assert client.sendmail(address(SENDER), [address(RCPT2)],
                               message) == {}
    finally:
        client.quit()


def imap_bodies(server):
    """UID -> BODY[] of RCPT2's INBOX, as a phone fetches them."""
    imap = server.imap_login(RCPT2)
    imap.select("INBOX")
    typ, data = imap.uid("FETCH", "1:*", "(UID BODY.PEEK[])")
    assert typ == "OK", data
    bodies = {}
    for item in data:
        if isinstance(item, tuple):
            uid = int(item[0].split(b"UID ")[1].split()[0])
            bodies[uid] = item[1]
    imap.logout()
    return bodies


@pytest.mark.parametrize("killed", [False, True])
def test_deposit_after_restart_with_a_rendition_keeps_every_message(
        make_smtpd, tmp_path, killed):
    """The issue's four steps, with vvmfs stopped cleanly (exit 0) or
    killed (SIGKILL) before the deposit after the restart."""
    server = make_smtpd(imap=True, media={"worker": WORKER})
    inbox = server.inbox(RCPT2)
    for n, hz in enumerate((300, 500, 700), start=1):
        smtp_deposit(server, voice(n, alaw_tone(tmp_path, hz)))
    before = {n: (inbox / ("%d.eml" % n)).read_bytes() for n in (1, 2, 3)}

    # The phone asks for AMR: fetching the newest audio part makes vvmfs
    # transcode it and cache the rendition in the store.
    write_profile(server.fs.sub(RCPT2), "accept", "audio/amr")
    imap = server.imap_login(RCPT2)
    imap.select("INBOX")
    typ, data = imap.uid("FETCH", "3", "(BODY.PEEK[2])")
    assert typ == "OK", data
    assert base64.b64decode(data[0][1]).startswith(b"#!AMR\n")
    imap.logout()

    if killed:
        server.fs.kill(signal.SIGKILL)
    else:
        server.fs.unmount()
    server.fs.mount("config=%s" % server.config)
    smtp_deposit(server, voice(4, alaw_tone(tmp_path, 900)))

    after = {n: (inbox / ("%d.eml" % n)).read_bytes() for n in (1, 2, 3)}
    assert after == before
    newest = (inbox / "4.eml").read_bytes()
    assert b"Subject: voice mail 4\r\n" in newest
    assert all(newest != old for old in before.values())
    # The phone sees the same: each UID its own message.
    write_profile(server.fs.sub(RCPT2), "accept", "")
    assert imap_bodies(server) == {**before, 4: newest}


def test_clean_stop_after_a_rendition_was_read(vvmfs, subscriber):
    """A view of a message the kernel still remembers held store memory
    past the store's close: vvmfs aborted ("pure virtual method called")
    on a clean stop once a reopened store had served a rendition. Found
    by the model-based checker; unmount() asserts the exit code 0."""
    uid = deposit(subscriber / "INBOX", voice_message(1))
    vvmfs.remount()
    view = subscriber / "INBOX" / ".rendition" / ("%d.eml" % uid)
    assert view.read_bytes() == (subscriber / "INBOX" / "1.eml").read_bytes()
    vvmfs.remount()
    assert (subscriber / "INBOX" / "1.eml").exists()
