"""Audio in messages through a real mount and a real IMAP session:
durations measured at commit, renditions per the accept list (spec
"Message Retrieval: Supported Attachment Formats", "Fetch", SETMETADATA
/private/VVM/Accept), the rendition cache, and hostile audio."""
import base64
import errno
import imaplib
import os
import random
import re
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import BUILD, MSISDN, Vvmfs, deposit
from imapd import make_imapd, write_config  # noqa: F401 (fixture)
from vvmtest import errno_of, read_profile, try_deposit, usage, write_profile

WORKER = BUILD / "lib" / "media" / "vvm-media-worker"
imaplib.Commands.setdefault("SETMETADATA", ("AUTH", "SELECTED"))


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    """Three seconds of real speech as a PBX records it: WAV G.711 A-law."""
    d = tmp_path_factory.mktemp("speech")
    raw = d / "speech.wav"
    subprocess.run(["espeak-ng", "-w", str(raw), "-s", "140",
                    "you have a new message, please call me back"],
                   check=True, capture_output=True)
    alaw = d / "alaw.wav"
    subprocess.run(["sox", str(raw), "-r", "8000", "-c", "1", "-e", "a-law",
                    str(alaw), "trim", "0", "3", "pad", "0", "3", "trim",
                    "0", "3"], check=True)
    return alaw.read_bytes()


def voice(audio, header_duration="3", part_duration="3",
          ctype="audio/wav; codec=g711a", filename="vm.wav"):
    """A VVM deposit with one audio attachment; None leaves a header out."""
    body = base64.encodebytes(audio).decode().replace("\n", "\r\n")
    top = ("Content-Duration: %s\r\n" % header_duration
           if header_duration is not None else "")
    part = ("Content-Duration: %s\r\n" % part_duration
            if part_duration is not None else "")
    return ("From: 31600000001@vvm.test\r\n"
            "To: " + MSISDN + "@vvm.test\r\n"
            "Date: Sun, 22 Nov 2026 10:00:00 +0000\r\n"
            "Subject: voice mail\r\n"
            "Message-Context: voice-message\r\n" + top +
            "MIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
            "--b\r\nContent-Type: text/plain\r\n\r\nA voice message.\r\n"
            "--b\r\nContent-Type: " + ctype + "\r\n"
            "Content-Transfer-Encoding: base64\r\n"
            "Content-Disposition: attachment; filename=\"" + filename + "\"\r\n"
            + part + "\r\n" + body + "--b--\r\n").encode()


def fields(raw, name):
    return re.findall(rb"(?im)^" + name.encode() + rb":\s*(.*?)\r$", raw)


def audio_of(raw):
    """The decoded attachment of a message made by voice()."""
    part = raw.split(b"--b\r\n")[2].split(b"\r\n--b--")[0]
    header, body = part.split(b"\r\n\r\n", 1)
    return header, base64.b64decode(body)


def mount_with(root, **media):
    """A vvmfs whose config has a [media] section, with a subscriber."""
    config = Path(root) / "vvm.conf"
    keys = {"worker": str(WORKER)}
    keys.update(media)
    config.write_text("[media]\n" + "".join(
        "%s = %s\n" % kv for kv in keys.items()))
    fs = Vvmfs(root).mount("config=%s" % config)
    fs.sub().mkdir()
    write_profile(fs.sub(), "status", "R")
    return fs


@pytest.fixture
def media_fs():
    with tempfile.TemporaryDirectory(prefix="vvm-media-") as root:
        fs = mount_with(root)
        try:
            yield fs
        finally:
            fs.kill(15)


def rendition(fs, uid, mailbox="INBOX"):
    return (fs.sub() / mailbox / ".rendition" / ("%d.eml" % uid)).read_bytes()


# --- durations at commit ---------------------------------------------------

def test_wrong_duration_is_corrected(media_fs, speech):
    inbox = media_fs.sub() / "INBOX"
    uid = deposit(inbox, voice(speech, "30", "30"))
    stored = (inbox / ("%d.eml" % uid)).read_bytes()
    assert fields(stored, "Content-Duration") == [b"3", b"3"]
    assert os.getxattr(inbox / "1.eml", "user.vvm.duration") == b"3"
    assert os.getxattr(inbox / "1.eml", "user.vvm.audio") == \
        b"2 wav-g711a 3000\n"
    assert usage(media_fs.sub())["voice_seconds"] == 3
    # The audio itself is untouched.
    assert audio_of(stored)[1] == speech


def test_missing_duration_is_filled_in(media_fs, speech):
    inbox = media_fs.sub() / "INBOX"
    deposit(inbox, voice(speech, None, None))
    stored = (inbox / "1.eml").read_bytes()
    assert fields(stored, "Content-Duration") == [b"3", b"3"]


def test_right_duration_keeps_the_bytes(media_fs, speech):
    inbox = media_fs.sub() / "INBOX"
    data = voice(speech, "3", "3")
    deposit(inbox, data)
    assert (inbox / "1.eml").read_bytes() == data


def test_reject_policy_refuses_a_wrong_duration(speech):
    with tempfile.TemporaryDirectory(prefix="vvm-media-") as root:
        fs = mount_with(root, duration_mismatch="reject")
        try:
            inbox = fs.sub() / "INBOX"
            outcome = try_deposit(inbox, voice(speech, "3", "40"))
            assert outcome.errno == errno.EINVAL
            assert outcome.error == "Content-Duration does not match the audio"
            assert os.listdir(inbox) == []
            # Missing is still filled in, and right is kept.
            deposit(inbox, voice(speech, "3", None))
            assert fields((inbox / "1.eml").read_bytes(),
                          "Content-Duration") == [b"3", b"3"]
        finally:
            fs.kill(15)


def test_bad_config_stops_vvmfs():
    with tempfile.TemporaryDirectory(prefix="vvm-media-") as root:
        config = Path(root) / "vvm.conf"
        config.write_text("[media]\nduration_mismatch = maybe\n")
        with pytest.raises(RuntimeError, match="duration_mismatch"):
            Vvmfs(root).mount("config=%s" % config)


@pytest.mark.parametrize("audio", [b"", b"#!AMR\n\x80", b"RIFF....WAVE",
                                   bytes(random.Random(5).randbytes(4000))],
                         ids=["empty", "bad-frame", "short-riff", "random"])
def test_unreadable_audio_is_stored_as_sent(media_fs, audio):
    inbox = media_fs.sub() / "INBOX"
    data = voice(audio, "7", "7", ctype="audio/amr", filename="vm.amr")
    deposit(inbox, data)
    assert (inbox / "1.eml").read_bytes() == data
    assert os.getxattr(inbox / "1.eml", "user.vvm.audio") == \
        b"2 unknown -1\n"


# --- renditions --------------------------------------------------------------

def test_no_accept_serves_the_original(media_fs, speech):
    inbox = media_fs.sub() / "INBOX"
    deposit(inbox, voice(speech))
    assert rendition(media_fs, 1) == (inbox / "1.eml").read_bytes()


def test_accept_amr_transcodes_wav(media_fs, speech):
    inbox = media_fs.sub() / "INBOX"
    deposit(inbox, voice(speech))
    write_profile(media_fs.sub(), "accept", "audio/amr")
    served = rendition(media_fs, 1)
    header, audio = audio_of(served)
    assert b"Content-Type: audio/amr\r\n" in header
    assert b'filename="vm.amr"' in header
    assert b"Content-Duration: 3\r\n" in header
    assert audio.startswith(b"#!AMR\n")
    # 12.2 kbit/s frames of 20 ms: three seconds of them.
    assert abs((len(audio) - 6) // 32 - 150) <= 1
    path = inbox / ".rendition" / "1.eml"
    structure = os.getxattr(path, "user.imap.bodystructure").decode()
    assert '("AUDIO" "AMR" NIL NIL NIL "BASE64"' in structure
    sections = os.getxattr(path, "user.imap.sections").decode()
    line = [s for s in sections.splitlines() if s.startswith("2 ")][0]
    boff, blen = map(int, line.split()[3:5])
    assert base64.b64decode(served[boff:boff + blen]) == audio
    # The stored message does not change.
    assert audio_of((inbox / "1.eml").read_bytes())[1] == speech


def test_accept_list_order_and_formats_already_accepted(media_fs, speech):
    inbox = media_fs.sub() / "INBOX"
    deposit(inbox, voice(speech))
    original = (inbox / "1.eml").read_bytes()
    sub = media_fs.sub()
    # G.711 A-law is in the list: nothing to transcode.
    write_profile(sub, "accept", "audio/amr,audio/wav; codec=g711a")
    assert rendition(media_fs, 1) == original
    # The first format the server can produce wins.
    write_profile(sub, "accept", "audio/qcelp,audio/wav; codec=\"g711u\",audio/amr")
    header, audio = audio_of(rendition(media_fs, 1))
    assert b"Content-Type: audio/wav; codec=g711u" in header
    assert audio[:4] == b"RIFF" and audio[20:22] == b"\x07\x00"
    # Only formats the server cannot produce: the original.
    write_profile(sub, "accept", "audio/qcelp")
    assert rendition(media_fs, 1) == original


def test_rendition_is_cached_and_goes_with_the_message(speech):
    with tempfile.TemporaryDirectory(prefix="vvm-media-") as root:
        fs = mount_with(root)
        try:
            inbox = fs.sub() / "INBOX"
            deposit(inbox, voice(speech))
            write_profile(fs.sub(), "accept", "audio/amr-wb")
            first = rendition(fs, 1)
            assert audio_of(first)[1].startswith(b"#!AMR-WB\n"), \
                fs.log.read_text()
            # Without a working worker, the cached rendition still serves.
            config = Path(root) / "vvm.conf"
            config.write_text("[media]\nworker = /bin/false\n")
            fs.remount("config=%s" % config)
            assert rendition(fs, 1) == first
            # Moved, it keeps its content and so its rendition.
            (fs.sub() / "Saved").mkdir()
            os.rename(inbox / "1.eml", fs.sub() / "Saved" / "m.eml")
            assert rendition(fs, 1, "Saved") == first
            os.unlink(fs.sub() / "Saved" / "1.eml")
            assert errno_of(rendition, fs, 1, "Saved") == errno.ENOENT
            # A new message cannot see the old one's rendition: without a
            # worker it is served as stored.
            deposit(inbox, voice(speech))
            assert audio_of(rendition(fs, 2))[1] == speech
        finally:
            fs.kill(15)


def hostile_worker(root, body):
    path = Path(root) / "worker.sh"
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return path


@pytest.mark.parametrize("body,budget", [
    ("kill -SEGV $$", {}),                       # a plugin crash
    ("exec sleep 60", {"max_seconds": "1"}),     # a hang
    ("head -c 100000 /dev/zero", {}),            # junk on success
    ("head -c 100000000 /dev/zero", {}),         # too much junk
], ids=["crash", "hang", "junk", "flood"])
def test_a_failing_worker_serves_the_original(speech, body, budget):
    with tempfile.TemporaryDirectory(prefix="vvm-media-") as root:
        fs = mount_with(root, worker=hostile_worker(root, body), **budget)
        try:
            inbox = fs.sub() / "INBOX"
            deposit(inbox, voice(speech))
            write_profile(fs.sub(), "accept", "audio/amr")
            start = time.monotonic()
            served = rendition(fs, 1)
            assert time.monotonic() - start < 20
            assert served == (inbox / "1.eml").read_bytes()
            assert "not transcoded" in fs.log.read_text()
            assert fs.proc.poll() is None
        finally:
            fs.kill(15)


def test_corrupt_audio_is_served_as_stored(media_fs):
    inbox = media_fs.sub() / "INBOX"
    # Frames that parse but decode to nothing a player could use.
    audio = b"#!AMR\n" + bytes([0x3c]) + bytes(5)
    data = voice(audio, "1", "1", ctype="audio/amr", filename="vm.amr")
    deposit(inbox, data)
    write_profile(media_fs.sub(), "accept", "audio/wav")
    assert rendition(media_fs, 1) == (inbox / "1.eml").read_bytes()
    assert media_fs.proc.poll() is None


# --- over IMAP -----------------------------------------------------------------

def fetch(imap, uid, items):
    typ, data = imap.uid("FETCH", str(uid), items)
    assert typ == "OK", data
    return data


def test_imap_fetch_transcodes_per_accept(make_imapd, speech):
    server = make_imapd(media={"worker": str(WORKER)})
    deposit(server.inbox, voice(speech))
    stored = (server.inbox / "1.eml").read_bytes()
    imap = server.connect()
    typ, _ = imap._simple_command(
        "SETMETADATA", '""', '(/private/VVM/Accept "audio/amr")')
    assert typ == "OK"
    imap.select("INBOX")
    data = fetch(imap, 1, "(RFC822.SIZE BODYSTRUCTURE)")
    text = data[0].decode() if isinstance(data[0], bytes) else data[0][0].decode()
    assert "RFC822.SIZE %d" % len(stored) in text
    assert '("AUDIO" "AMR" NIL NIL NIL "BASE64"' in text
    part = fetch(imap, 1, "(BODY.PEEK[2] BODY.PEEK[2.MIME])")
    body = {m.group(1): payload for (head, payload) in
            [p for p in part if isinstance(p, tuple)]
            for m in [re.search(rb"BODY\[(2(?:\.MIME)?)\]", head)]}
    assert base64.b64decode(body[b"2"]).startswith(b"#!AMR\n")
    assert b"Content-Type: audio/amr" in body[b"2.MIME"]
    whole = [p for p in fetch(imap, 1, "(BODY.PEEK[])") if isinstance(p, tuple)]
    assert whole[0][1] == rendition_bytes(server)

    # Accept empty again: the original comes back.
    typ, _ = imap._simple_command("SETMETADATA", '""',
                                  "(/private/VVM/Accept NIL)")
    assert typ == "OK"
    whole = [p for p in fetch(imap, 1, "(BODY.PEEK[])") if isinstance(p, tuple)]
    assert whole[0][1] == stored
    text = fetch(imap, 1, "(BODYSTRUCTURE)")[0]
    assert b'"AUDIO" "WAV" ("CODEC" "g711a")' in text
    imap.logout()


def rendition_bytes(server):
    return (server.inbox / ".rendition" / "1.eml").read_bytes()


def test_imap_login_reads_accept(make_imapd, speech):
    server = make_imapd(media={"worker": str(WORKER)})
    write_profile(server.sub, "accept", "audio/wav; codec=g711u")
    assert read_profile(server.sub, "accept") == b"audio/wav; codec=g711u"
    deposit(server.inbox, voice(speech))
    imap = server.connect()
    imap.select("INBOX")
    text = fetch(imap, 1, "(BODYSTRUCTURE)")[0]
    assert b'("AUDIO" "WAV" ("CODEC" "g711u")' in text
    imap.logout()


def test_registry_where_the_config_says(speech):
    """[media] registry: the worker keeps GStreamer's registry cache there,
    not in a home directory a service user may not have."""
    with tempfile.TemporaryDirectory(prefix="vvm-media-") as root:
        registry = Path(root) / "cache" / "gst-registry.bin"
        registry.parent.mkdir()
        fs = mount_with(root, registry=str(registry))
        try:
            deposit(fs.sub() / "INBOX", voice(speech))
            write_profile(fs.sub(), "accept", "audio/amr")
            assert audio_of(rendition(fs, 1))[1].startswith(b"#!AMR\n")
            assert registry.stat().st_size > 0
        finally:
            fs.kill(15)
