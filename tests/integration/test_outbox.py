"""The provisioning state machine and the SMS outbox, through the mount:
each change queues its SYNC or STATUS with it, entries are files under
.outbox/sms/, a sender removes them, and they survive a restart."""
import errno
import os
import re

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
    assert (entry["kind"], entry["replace"]) == ("STATUS", "0")
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
