"""The provisioning state machine and the SMS outbox, through the mount:
each change queues its SYNC or STATUS with it, entries are files under
.outbox/sms/, a sender removes them, and they survive a restart."""
import errno
import os
import re
import signal

import pytest

from conftest import voice_message, deposit


def outbox(fs):
    """{seq: {field: value}} of the pending SMS entries."""
    box = fs.mnt / ".outbox" / "sms"
    entries = {}
    for name in sorted(os.listdir(box), key=int):
        lines = (box / name).read_text().splitlines()
        entries[int(name)] = dict(line.split(" ", 1) for line in lines)
    return entries


def take(fs):
    """The pending entries, oldest first, removed as a sender would."""
    entries = outbox(fs)
    for seq in entries:
        os.unlink(fs.mnt / ".outbox" / "sms" / str(seq))
    return list(entries.values())


def set_status(sub, value):
    (sub / "profile" / "status").write_text(value + "\n")


def test_status_changes_queue_status_sms(vvmfs, subscriber):
    (subscriber / "profile" / "app_port").write_text("5499\n")
    (subscriber / "profile" / "imap_password").write_text("s3cret\n")
    set_status(subscriber, "N")
    [entry] = take(vvmfs)
    assert entry["to"] == subscriber.name
    assert entry["port"] == "5499"
    assert (entry["kind"], entry["replace"]) == ("STATUS", "1")
    assert entry["text"].startswith("//VVM:STATUS:st=N;rc=0;srv=1:127.0.0.1;")
    assert ";u=%s;pw=s3cret;" % subscriber.name in entry["text"]


@pytest.mark.parametrize("path, bad", [("R", "N"), ("U", "R")])
def test_invalid_transition_is_refused(vvmfs, subscriber, path, bad):
    """R->N would replay the tutorial; U->R skips provisioning."""
    for status in path:
        set_status(subscriber, status)
    take(vvmfs)
    with pytest.raises(OSError) as err:
        set_status(subscriber, bad)
    assert err.value.errno == errno.EINVAL
    assert (subscriber / "profile" / "status").read_text() == path[-1] + "\n"
    assert outbox(vvmfs) == {}


def test_sync_follows_deposits_only_while_active(vvmfs, subscriber):
    deposit(subscriber / "INBOX", voice_message(1))
    assert outbox(vvmfs) == {}          # P: the service is not active
    set_status(subscriber, "R")
    take(vvmfs)
    uid = deposit(subscriber / "INBOX", voice_message(2, duration=17))
    [entry] = take(vvmfs)
    assert (entry["kind"], entry["replace"]) == ("SYNC", "1")
    text = entry["text"]
    assert re.fullmatch(r"//VVM:SYNC:ev=NM;id=%d;c=2;t=v;s=\+31600000001;"
                        r"dt=\d\d/\d\d/\d{4} \d\d:\d\d [+-]\d{4};l=17" % uid,
                        text), text
    os.unlink(subscriber / "INBOX" / ("%d.eml" % uid))
    [entry] = take(vvmfs)
    assert entry["text"] == "//VVM:SYNC:ev=MBU;c=1"


def test_sync_of_a_message_moved_into_inbox_names_its_caller(vvmfs,
                                                            subscriber):
    """A message moved into INBOX is announced as one deposited there:
    the caller's number and the kind come from the message, kept since
    its commit (the move once sent neither; found by the model checker),
    also across a restart."""
    set_status(subscriber, "R")
    os.mkdir(subscriber / "Saved")
    video = voice_message(4, duration=6).replace(
        b"Message-Context: voice-message", b"Message-Context: video-message")
    uid = deposit(subscriber / "Saved", video)
    take(vvmfs)
    vvmfs.remount()
    os.rename(subscriber / "Saved" / ("%d.eml" % uid),
              subscriber / "INBOX" / "moved.eml")
    [entry] = take(vvmfs)
    assert re.fullmatch(r"//VVM:SYNC:ev=NM;id=1;c=1;t=o;s=\+31600000001;"
                        r"dt=\d\d/\d\d/\d{4} \d\d:\d\d [+-]\d{4};l=6",
                        entry["text"]), entry["text"]


def test_greeting_changes_queue_gu(vvmfs, subscriber):
    set_status(subscriber, "R")
    take(vvmfs)
    uid = deposit(subscriber / "Greetings", voice_message(3))
    os.setxattr(subscriber / "Greetings" / ("%d.eml" % uid),
                "user.imap.flags", b"+$CNS-Greeting-On")
    texts = [e["text"] for e in take(vvmfs)]
    assert len(texts) == 2 and all(":ev=GU;" in t for t in texts)


def test_entries_survive_restart_until_removed(vvmfs, subscriber):
    set_status(subscriber, "R")
    deposit(subscriber / "INBOX", voice_message(4))
    before = outbox(vvmfs)
    assert len(before) == 2
    vvmfs.remount()
    assert outbox(vvmfs) == before
    first = min(before)
    os.unlink(vvmfs.mnt / ".outbox" / "sms" / str(first))
    assert first not in outbox(vvmfs)
    with pytest.raises(FileNotFoundError):
        os.unlink(vvmfs.mnt / ".outbox" / "sms" / str(first))


def test_entries_cannot_be_written(vvmfs, subscriber):
    set_status(subscriber, "R")
    [seq] = outbox(vvmfs)
    path = vvmfs.mnt / ".outbox" / "sms" / str(seq)
    with pytest.raises(PermissionError):
        open(path, "w")


def notify(sub, what):
    os.setxattr(sub, "user.vvm.notify", what)


def test_notify_status_sends_the_current_status(vvmfs, subscriber):
    """A client's STATUS query changes nothing and is answered with the
    status as it stands: with credentials for N and R, reduced for B."""
    (subscriber / "profile" / "imap_password").write_text("s3cret\n")
    notify(subscriber, b"STATUS")
    [entry] = take(vvmfs)
    assert entry["text"].startswith("//VVM:STATUS:st=P;rc=0;")
    set_status(subscriber, "R")
    take(vvmfs)
    notify(subscriber, b"STATUS\n")
    [entry] = take(vvmfs)
    assert entry["text"].startswith("//VVM:STATUS:st=R;rc=0;srv=")
    assert ";pw=s3cret;" in entry["text"]
    set_status(subscriber, "B")
    take(vvmfs)
    notify(subscriber, b"STATUS")
    assert [e["text"] for e in take(vvmfs)] == ["//VVM:STATUS:st=B;rc=0"]


def test_notify_mbu_for_a_tui_session(vvmfs, subscriber):
    """The TUI says its session ended: MBU with INBOX's unseen count, only
    while the service is active."""
    deposit(subscriber / "INBOX", voice_message(1))
    notify(subscriber, b"MBU")
    assert outbox(vvmfs) == {}
    set_status(subscriber, "N")
    take(vvmfs)
    notify(subscriber, b"MBU")
    [entry] = take(vvmfs)
    assert (entry["kind"], entry["replace"]) == ("SYNC", "1")
    assert entry["text"] == "//VVM:SYNC:ev=MBU;c=1"


@pytest.mark.parametrize("value", [b"", b"status", b"NM", b"MBU\n\n",
                                   b"STATUS MBU"])
def test_notify_refuses_anything_else(vvmfs, subscriber, value):
    with pytest.raises(OSError) as err:
        notify(subscriber, value)
    assert err.value.errno == errno.EINVAL
    assert outbox(vvmfs) == {}


def enqueue(fs, text):
    os.setxattr(fs.mnt / ".outbox" / "sms", "user.vvm.enqueue",
                text.encode())


def test_enqueue_an_answer_to_a_stranger(vvmfs):
    """An Activate from a number that is no subscriber is answered
    through the outbox too, so every sender delivers it."""
    enqueue(vvmfs, "to +31699999999\nport 5499\nkind STATUS\nreplace 1\n"
            "text //VVM:STATUS:st=U;rc=3\n")
    [entry] = take(vvmfs)
    assert entry == {"to": "+31699999999", "port": "5499",
                     "kind": "STATUS", "replace": "1",
                     "text": "//VVM:STATUS:st=U;rc=3"}


def test_enqueue_an_otp_over_lines(vvmfs):
    enqueue(vvmfs, "to 31612345678\nport 0\nkind OTP\nreplace 0\n"
            "text Your code is 123456.\nIt is valid for 10 minutes.\n")
    box = vvmfs.mnt / ".outbox" / "sms"
    [name] = os.listdir(box)
    assert (box / name).read_text().endswith(
        "text Your code is 123456.\nIt is valid for 10 minutes.\n")


@pytest.mark.parametrize("text", [
    "to 3161\nport 5499\nkind STATUS\nreplace 1\n",
    "to abc\nport 0\nkind STATUS\nreplace 1\ntext //VVM:STATUS:st=U;rc=3",
    "to 31612345678\nport 70000\nkind STATUS\nreplace 1\n"
    "text //VVM:STATUS:st=U;rc=3",
    "to 31612345678\nport 0\nkind PUSH\nreplace 1\n"
    "text //VVM:STATUS:st=U;rc=3",
    "to 31612345678\nport 0\nkind SYNC\nreplace 1\n"
    "text //VVM:STATUS:st=U;rc=3",
    "to 31612345678\nport 0\nkind STATUS\nreplace 1\n"
    "text //VVM:STATUS:st=Q;rc=3",
    "to 31612345678\nport 0\nkind STATUS\nreplace 2\n"
    "text //VVM:STATUS:st=U;rc=3",
    "port 0\nto 31612345678\nkind STATUS\nreplace 1\n"
    "text //VVM:STATUS:st=U;rc=3",
])
def test_enqueue_refuses_malformed_entries(vvmfs, text):
    with pytest.raises(OSError) as err:
        enqueue(vvmfs, text)
    assert err.value.errno == errno.EINVAL
    assert outbox(vvmfs) == {}


def test_enqueue_only_on_the_sms_outbox(vvmfs, subscriber):
    good = ("to 31612345678\nport 0\nkind STATUS\nreplace 1\n"
            "text //VVM:STATUS:st=U;rc=3")
    for path in (vvmfs.mnt / ".outbox", subscriber):
        with pytest.raises(PermissionError):
            os.setxattr(path, "user.vvm.enqueue", good.encode())


def test_bare_server_for_some_client_types(tmp_path):
    """[sms] server_bare_clients: the client types (globs) whose STATUS
    carries srv as a bare host, as Android's stock client reads it."""
    from conftest import Vvmfs
    config = tmp_path / "vvm.conf"
    config.write_text("[sms]\nserver = vvm.example.net\n"
                      "server_bare_clients = android*;other\n")
    fs = Vvmfs(tmp_path / "fs").mount("config=%s" % config)
    try:
        for n, (client, srv) in enumerate((
                ("android-google-3", "srv=vvm.example.net;"),
                ("iphone", "srv=2:vvm.example.net;"))):
            sub = fs.sub("3161234567%d" % n)
            sub.mkdir()
            (sub / "profile" / "client_type").write_text(client + "\n")
            set_status(sub, "N")
            [entry] = take(fs)
            assert srv in entry["text"], entry["text"]
    finally:
        fs.kill(signal.SIGTERM)


def test_unknown_status_says_not_provisioned(tmp_path):
    """st=U goes with rc=5, "VVM not provisioned" (the subscriber has a
    mailbox, not the service), and with [sms] subscribe_url as rs."""
    from conftest import Vvmfs
    config = tmp_path / "vvm.conf"
    config.write_text("[sms]\nsubscribe_url = https://vvm.example.net/join\n")
    fs = Vvmfs(tmp_path / "fs").mount("config=%s" % config)
    try:
        sub = fs.sub()
        sub.mkdir()
        set_status(sub, "U")
        assert [e["text"] for e in take(fs)] == [
            "//VVM:STATUS:st=U;rc=5;rs=https://vvm.example.net/join"]
    finally:
        fs.kill(signal.SIGTERM)


@pytest.mark.parametrize("line, field", [
    ("server = not a host", "srv"),
    ("tui_number = 12ab", "tui"),
    ("subscribe_url = " + "x" * 101, "rs"),
    ("languages = english", "lang"),
])
def test_bad_sms_config_stops_vvmfs(tmp_path, line, field):
    """A deployment value no STATUS can carry would make every status
    change fail: vvmfs refuses to start and names the field."""
    from conftest import Vvmfs
    config = tmp_path / "vvm.conf"
    config.write_text("[sms]\n%s\n" % line)
    with pytest.raises(RuntimeError, match=r"\[sms\]: %s" % field):
        Vvmfs(tmp_path / "fs").mount("config=%s" % config)


def test_remove_many_in_one_commit(vvmfs, subscriber):
    """A sender removes what the SMSC accepted in batches: user.vvm.remove
    with sequence numbers; ones already gone are no error; a bad list
    removes nothing."""
    set_status(subscriber, "R")
    for n in range(4):
        deposit(subscriber / "INBOX", voice_message(n))
    box = vvmfs.mnt / ".outbox" / "sms"
    seqs = sorted(outbox(vvmfs))
    assert len(seqs) == 5
    for bad in (b"", b"1 x", b"1 -2", b" \n "):
        with pytest.raises(OSError) as err:
            os.setxattr(box, "user.vvm.remove", bad)
        assert err.value.errno == errno.EINVAL
    assert sorted(outbox(vvmfs)) == seqs
    gone = " ".join(str(s) for s in seqs[:3]) + "\n999999"
    os.setxattr(box, "user.vvm.remove", gone.encode())
    assert sorted(outbox(vvmfs)) == seqs[3:]
    vvmfs.remount()
    assert sorted(outbox(vvmfs)) == seqs[3:]
