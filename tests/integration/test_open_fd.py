"""The commit protocol seen from the writer's open file descriptor
(docs/fs-layout.md, "Depositing"): APPENDUID after fsync, APPEND flags and
date before it, the reason of a rejection on the fd, EBUSY for a second
opener, and nothing committed by a writer that dies before its commit.
"""
import errno
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from conftest import deposit, voice_message
from vvmtest import (assert_unchanged, expect_errno, flags, message_path,
                     message_uids, readable, snapshot, try_deposit, wait_for,
                     xattr, xattr_int)


def open_new(mailbox, name="new.eml"):
    return os.open(os.path.join(mailbox, name),
                   os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)


def test_uid_on_fd_after_fsync(subscriber):
    inbox = subscriber / "INBOX"
    deposit(inbox, voice_message(0))
    fd = open_new(inbox, "incoming.tmp")
    try:
        os.write(fd, voice_message(1))
        os.fsync(fd)
        assert xattr_int(fd, "user.imap.uid") == 2
        assert "incoming.tmp" not in os.listdir(inbox)
        assert message_uids(inbox) == [1, 2]
    finally:
        os.close(fd)
    assert (inbox / "2.eml").read_bytes() == voice_message(1)
    assert os.stat(inbox / "2.eml").st_mode & 0o7777 == 0o644
    assert os.stat(inbox / "2.eml").st_size == len(voice_message(1))


def test_close_alone_commits(subscriber):
    inbox = subscriber / "INBOX"
    with open(inbox / "plain.eml", "wb") as f:
        f.write(voice_message(1).replace(b"\r\n", b"\n"))
    assert os.listdir(inbox) == ["1.eml"]
    assert (inbox / "1.eml").read_bytes() == voice_message(1), \
        "line endings not canonicalized to CRLF"


def test_shell_redirect_commits(subscriber, tmp_path):
    """`cat msg > new.eml`: the shell closes a duplicate before writing."""
    src = tmp_path / "voice.eml"
    src.write_bytes(voice_message(1))
    subprocess.run(["bash", "-c", 'cat "$1" > "$2"', "-", str(src),
                    str(subscriber / "INBOX" / "new.eml")],
                   check=True, timeout=30)
    assert os.listdir(subscriber / "INBOX") == ["1.eml"]
    assert (subscriber / "INBOX" / "1.eml").read_bytes() == voice_message(1)


def test_touch_stores_nothing(vvmfs, subscriber):
    inbox = subscriber / "INBOX"
    before = snapshot(vvmfs.mnt)
    os.close(open_new(inbox, "touched.eml"))     # close() returns 0
    wait_for(lambda: "touched.eml" not in os.listdir(inbox), timeout=3)
    assert_unchanged(before, vvmfs.mnt, "touch")


def test_append_flags_and_date_before_commit(subscriber):
    inbox = subscriber / "INBOX"
    outcome = try_deposit(inbox, voice_message(1),
                          flags_before="\\Seen \\Flagged",
                          internaldate=1700000000)
    assert outcome.errno == 0, outcome
    path = message_path(inbox, outcome.uid)
    assert flags(path) == "\\Flagged \\Seen"
    assert xattr_int(path, "user.imap.internaldate") == 1700000000
    assert int(os.stat(path).st_mtime) == 1700000000
    assert xattr_int(inbox, "user.imap.unseen") == 0


def test_rejected_fsync_leaves_reason_on_fd(vvmfs, subscriber):
    inbox = subscriber / "INBOX"
    before = snapshot(vvmfs.mnt)
    fd = open_new(inbox)
    try:
        os.write(fd, b"Subject: no sender, no date\r\n\r\nbody\r\n")
        expect_errno(errno.EINVAL, os.fsync, fd)
        reason = xattr(fd, "user.vvm.error")
        assert readable(reason), reason
        assert xattr(inbox, "user.vvm.error") == reason
    finally:
        try:
            os.close(fd)
        except OSError:
            pass
    assert_unchanged(before, vvmfs.mnt, "rejected fsync")


def test_second_open_while_writing_is_busy(vvmfs, subscriber):
    inbox = subscriber / "INBOX"
    fd = open_new(inbox, "busy.eml")
    try:
        os.write(fd, voice_message(1)[:100])
        for mode in (os.O_RDONLY, os.O_WRONLY):
            expect_errno(errno.EBUSY, os.open, inbox / "busy.eml", mode)
        os.write(fd, voice_message(1)[100:])
        os.fsync(fd)
    finally:
        os.close(fd)
    assert message_uids(inbox) == [1]


WRITER = textwrap.dedent("""
    import os, sys, time
    fd = os.open(sys.argv[1], os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    os.write(fd, sys.stdin.buffer.read())
    print("written", flush=True)
    time.sleep(60)
""")


def test_writer_killed_before_commit_commits_nothing(vvmfs, subscriber):
    inbox = subscriber / "INBOX"
    deposit(inbox, voice_message(0))
    before = snapshot(vvmfs.mnt)
    writer = subprocess.Popen([sys.executable, "-c", WRITER,
                               str(inbox / "dying.eml")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        writer.stdin.write(voice_message(1))
        writer.stdin.close()
        assert writer.stdout.readline() == b"written\n"
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=10)
    wait_for(lambda: "dying.eml" not in os.listdir(inbox), timeout=3)
    assert_unchanged(before, vvmfs.mnt, "writer killed before its commit")
    assert deposit(inbox, voice_message(2)) == 2


def test_uid_shaped_names_are_reserved(subscriber):
    """A file written as 1.eml would clash with the message that gets UID 1:
    unlinking one would expunge the other."""
    inbox = subscriber / "INBOX"
    with pytest.raises(FileExistsError):
        os.open(inbox / "1.eml", os.O_CREAT | os.O_WRONLY, 0o644)
    assert deposit(inbox, voice_message(1), name="copy.eml") == 1
    assert os.listdir(inbox) == ["1.eml"]
