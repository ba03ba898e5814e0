"""What the shims need from vvmfs besides mail (docs/fs-layout.md): session
slots that cap a subscriber's concurrent sessions across processes, a
failed-login count that holds across processes and restarts, and an owner
for the tree so that a shim confined to one subscriber can drop root.
"""
import errno
import json
import math
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

import pytest

from conftest import VVMADM, VVMFS, deposit, voice_message
from vvmtest import (assert_unchanged, expect_errno, feed_text, flags,
                     message_path, message_uids, quota, read_profile,
                     set_flags, snapshot, xattr, xattr_int)

OTHER = "31687654321"
FAILURES = "user.vvm.login_failures"
NOBODY = pwd.getpwnam("nobody")


def slot(sub, proto="imap"):
    return os.path.join(sub, ".sessions", proto)


def take(sub, proto="imap"):
    return os.open(slot(sub, proto), os.O_RDONLY)


def counts(fd):
    """The slot file as read through a held descriptor."""
    return os.pread(fd, 4096, 0).decode()


def text(n, limit):
    return "sessions %d\nlimit %d\n" % (n, limit)


def mount_with_config(fs, config, *options):
    path = fs.root / "vvm.conf"
    path.write_text(config)
    fs.remount("config=" + str(path), *options)


def subscriber_at(fs, msisdn):
    path = fs.sub(msisdn)
    path.mkdir()
    return path


# --- session slots -------------------------------------------------------------

def test_one_imap_session_by_default(subscriber):
    fd = take(subscriber)
    try:
        assert counts(fd) == text(1, 1)
        expect_errno(errno.EUSERS, take, subscriber)
        # the refused open counted nothing
        assert counts(fd) == text(1, 1)
    finally:
        os.close(fd)
    # close() frees the slot at once, again and again
    for _ in range(50):
        fd = take(subscriber)
        assert counts(fd) == text(1, 1)
        os.close(fd)


def test_reading_shows_the_count_now(vvmfs, subscriber):
    mount_with_config(vvmfs, "[imap]\nmax_sessions = 3\n")
    first = take(subscriber)
    try:
        assert counts(first) == text(1, 3)
        second = take(subscriber)
        assert counts(first) == text(2, 3)
        os.close(second)
        assert counts(first) == text(1, 3)
        # a plain reader (cat) sees the same, itself included
        with open(slot(subscriber)) as f:
            assert f.read() == text(2, 3)
    finally:
        os.close(first)


def hold_slot(path):
    """A child that takes the slot and waits to be killed; returns its pid
    once it holds the slot."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.open(path, os.O_RDONLY)
            os.write(w, b"ok")
            time.sleep(60)
        except OSError as e:
            os.write(w, errno.errorcode.get(e.errno, "?").encode())
        finally:
            os._exit(0)
    os.close(w)
    try:
        said = os.read(r, 64)
    finally:
        os.close(r)
    if said != b"ok":
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail("holder could not take the slot: %r" % said)
    return pid


def test_killed_holder_frees_its_slot_at_once(subscriber):
    path = slot(subscriber)
    for round_ in range(20):
        pid = hold_slot(path)
        expect_errno(errno.EUSERS, take, subscriber)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        # the next client, right after the old one is gone
        fd = os.open(path, os.O_RDONLY)
        assert counts(fd) == text(1, 1), "round %d" % round_
        os.close(fd)


def test_session_ends_at_the_first_close(subscriber):
    """The slot is given back at the first close() (FLUSH), not when the
    kernel releases the file: a duplicate still open does not hold it."""
    fd = take(subscriber)
    dup = os.dup(fd)
    try:
        os.close(fd)
        again = take(subscriber)
        assert counts(dup) == text(1, 1)
        os.close(dup)
        dup = -1
        # the duplicate's close gave nothing back a second time
        assert counts(again) == text(1, 1)
        expect_errno(errno.EUSERS, take, subscriber)
        os.close(again)
    finally:
        if dup >= 0:
            os.close(dup)


def test_killed_holder_frees_its_slot_though_its_file_lives_on(subscriber):
    """The holder hands its descriptor over before it is killed, so the
    file is not released: only the flush of the dying process can give the
    slot back, and it must."""
    import socket
    for round_ in range(5):
        parent, child = socket.socketpair(socket.AF_UNIX)
        pid = os.fork()
        if pid == 0:
            try:
                parent.close()
                fd = os.open(slot(subscriber), os.O_RDONLY)
                socket.send_fds(child, [b"ok"], [fd])
                time.sleep(60)
            finally:
                os._exit(0)
        child.close()
        _, [held], _, _ = socket.recv_fds(parent, 16, 1)
        parent.close()
        try:
            expect_errno(errno.EUSERS, take, subscriber)
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            fd = take(subscriber)
            assert counts(held) == text(1, 1), "round %d" % round_
        finally:
            os.close(held)
        assert counts(fd) == text(1, 1), "round %d" % round_
        os.close(fd)


def test_exiting_holder_frees_its_slot_at_once(subscriber):
    path = slot(subscriber)
    for round_ in range(20):
        pid = os.fork()
        if pid == 0:
            try:
                os.open(path, os.O_RDONLY)
            finally:
                os._exit(0)      # no close(): the kernel closes it
        os.waitpid(pid, 0)
        fd = os.open(path, os.O_RDONLY)
        assert counts(fd) == text(1, 1), "round %d" % round_
        os.close(fd)


def test_limits_from_config(vvmfs, subscriber):
    mount_with_config(vvmfs, "[imap]\nmax_sessions = 3\n"
                             "[smtp]\nmax_sessions=2\n")
    imap = [take(subscriber) for _ in range(3)]
    smtp = [take(subscriber, "smtp") for _ in range(2)]
    try:
        expect_errno(errno.EUSERS, take, subscriber)
        expect_errno(errno.EUSERS, take, subscriber, "smtp")
        assert counts(imap[0]) == text(3, 3)
        assert counts(smtp[0]) == text(2, 2)
        os.close(imap.pop())
        imap.append(take(subscriber))
        assert counts(imap[-1]) == text(3, 3)
    finally:
        for fd in imap + smtp:
            os.close(fd)


def test_zero_is_unlimited(vvmfs, subscriber):
    # smtp is unlimited by default
    fds = [take(subscriber, "smtp") for _ in range(40)]
    try:
        assert counts(fds[0]) == text(40, 0)
    finally:
        for fd in fds:
            os.close(fd)
    mount_with_config(vvmfs, "[imap]\nmax_sessions = 0\n")
    fds = [take(subscriber) for _ in range(40)]
    try:
        assert counts(fds[-1]) == text(40, 0)
    finally:
        for fd in fds:
            os.close(fd)


def test_bad_limit_stops_vvmfs(vvmfs):
    with pytest.raises(RuntimeError, match="max_sessions"):
        mount_with_config(vvmfs, "[imap]\nmax_sessions = many\n")
    vvmfs.mount()


def test_sessions_dir_is_hidden_but_found(subscriber):
    assert ".sessions" not in os.listdir(subscriber)
    sessions = subscriber / ".sessions"
    st = os.stat(sessions)
    assert stat.S_ISDIR(st.st_mode) and st.st_mode & 0o7777 == 0o555
    assert sorted(os.listdir(sessions)) == ["imap", "login", "smtp"]
    for proto, mode in (("imap", 0o444), ("smtp", 0o444), ("login", 0o644)):
        st = os.stat(slot(subscriber, proto))
        assert stat.S_ISREG(st.st_mode) and st.st_mode & 0o7777 == mode
    expect_errno(errno.ENOENT, os.stat, slot(subscriber, "pop3"))
    expect_errno(errno.ENOENT, take, subscriber, "pop3")


def test_slot_inode_is_the_same_for_every_process(subscriber):
    here = os.stat(slot(subscriber)).st_ino
    out = subprocess.run(["stat", "-c", "%i", slot(subscriber)],
                         capture_output=True, text=True, check=True)
    assert int(out.stdout) == here
    assert os.stat(slot(subscriber, "smtp")).st_ino != here


SLOT_REFUSALS = {
    "open-wronly": lambda s: os.open(slot(s), os.O_WRONLY),
    "open-rdwr": lambda s: os.open(slot(s), os.O_RDWR),
    "open-trunc": lambda s: os.open(slot(s), os.O_RDONLY | os.O_TRUNC),
    "truncate": lambda s: os.truncate(slot(s), 0),
    "create": lambda s: os.open(slot(s, "pop3"), os.O_CREAT | os.O_WRONLY),
    "unlink": lambda s: os.unlink(slot(s)),
    "rename": lambda s: os.rename(slot(s), slot(s, "pop3")),
    "mkdir": lambda s: os.mkdir(slot(s, "sub")),
    "rmdir": lambda s: os.rmdir(s / ".sessions"),
    "rename-dir": lambda s: os.rename(s / ".sessions", s / "Sessions"),
    "rename-onto": lambda s: os.rename(s / "Saved", s / ".sessions"),
}


@pytest.mark.parametrize("op", sorted(SLOT_REFUSALS))
def test_sessions_cannot_be_changed(vvmfs, subscriber, op):
    (subscriber / "Saved").mkdir()
    before = snapshot(vvmfs.mnt)
    # as root, every one reaches vvmfs; the kernel would say EACCES to
    # a user without write permission
    expect_errno(errno.EPERM, SLOT_REFUSALS[op], subscriber)
    assert_unchanged(before, vvmfs.mnt, op)
    assert sorted(os.listdir(subscriber / ".sessions")) == [
        "imap", "login", "smtp"]
    fd = take(subscriber)
    assert counts(fd) == text(1, 1), "%s took a slot" % op
    os.close(fd)


def test_mkdir_sessions_exists(subscriber):
    expect_errno(errno.EEXIST, os.mkdir, subscriber / ".sessions")


def test_subscribers_are_independent(vvmfs, subscriber):
    other = subscriber_at(vvmfs, OTHER)
    mine = take(subscriber)
    try:
        theirs = take(other)
        assert counts(theirs) == text(1, 1)
        expect_errno(errno.EUSERS, take, other)
        expect_errno(errno.EUSERS, take, subscriber)
        os.close(theirs)
        assert counts(mine) == text(1, 1)
    finally:
        os.close(mine)


def test_removing_a_subscriber_with_a_session(vvmfs, subscriber):
    fd = take(subscriber)
    try:
        subscriber.rmdir()
        expect_errno(errno.ENOENT, take, subscriber)
        # provisioned again, it is a new subscriber with no sessions
        subscriber.mkdir()
        again = take(subscriber)
        assert counts(again) == text(1, 1)
        os.close(again)
    finally:
        os.close(fd)
    fd = take(subscriber)
    os.close(fd)


# --- failed logins -------------------------------------------------------------

def failures(target):
    value = xattr(target, FAILURES)
    count, last = value.split(" ")
    assert str(int(count)) == count and str(int(last)) == last, value
    return int(count), int(last)


def fail(target):
    os.setxattr(target, FAILURES, b"+")


def test_login_failures_count_and_reset(subscriber):
    assert xattr(subscriber, FAILURES) == "0 0"
    assert FAILURES in os.listxattr(subscriber)
    start = int(time.time())
    fail(subscriber)
    count, last = failures(subscriber)
    assert count == 1 and start <= last <= time.time()
    fail(subscriber)
    assert failures(subscriber)[0] == 2
    os.setxattr(subscriber, FAILURES, b"0")
    assert xattr(subscriber, FAILURES) == "0 0"
    # no trailing newline, as the other numeric attributes
    assert os.getxattr(subscriber, FAILURES) == b"0 0"


def ticket(sub):
    return os.open(slot(sub, "login"), os.O_RDWR)


def test_login_tickets_take_turns_and_count_failures(subscriber):
    """.sessions/login: a turn to check a password is given while the
    failures plus the checks in flight stay below the writer's limit; a
    ticket closed while checking is a failure, counted before close()
    returns; "ok" forgets the failures; a ticket that never checked
    counts nothing."""
    a, b, c = ticket(subscriber), ticket(subscriber), ticket(subscriber)
    os.write(a, b"check 2")
    os.write(b, b"check 2\n")
    expect_errno(errno.EAGAIN, os.write, c, b"check 2")
    assert os.pread(c, 100, 0).decode() == "attempts 3\nchecking 2\n"
    os.close(a)
    assert failures(subscriber)[0] == 1
    # one failure and b's check fill the two turns
    expect_errno(errno.EAGAIN, os.write, c, b"check 2")
    os.write(b, b"ok")
    assert failures(subscriber)[0] == 0
    os.close(b)
    assert failures(subscriber)[0] == 0
    os.write(c, b"check 2")
    os.close(c)
    assert failures(subscriber)[0] == 1
    os.close(ticket(subscriber))
    assert failures(subscriber)[0] == 1
    ticket_fd = ticket(subscriber)
    assert os.pread(ticket_fd, 100, 0).decode() == "attempts 1\nchecking 0\n"
    for bad in (b"ok", b"check 0", b"check", b"check two", b"+"):
        expect_errno(errno.EINVAL, os.write, ticket_fd, bad)
    os.write(ticket_fd, b"check 5")
    expect_errno(errno.EINVAL, os.write, ticket_fd, b"check 5")
    os.write(ticket_fd, b"ok")
    expect_errno(errno.EINVAL, os.write, ticket_fd, b"ok")
    os.close(ticket_fd)
    assert failures(subscriber)[0] == 0
    expect_errno(errno.EPERM, os.open, slot(subscriber, "login"),
                 os.O_RDWR | os.O_TRUNC)


def test_a_login_ticket_whose_holder_dies_checking_is_a_failure(subscriber):
    child = subprocess.Popen(
        [sys.executable, "-c", "import os, sys, time\n"
         "fd = os.open(sys.argv[1], os.O_RDWR)\n"
         "os.write(fd, b'check 5')\n"
         "print('checking', flush=True)\n"
         "time.sleep(60)\n", str(slot(subscriber, "login"))],
        stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline() == "checking\n"
    fd = ticket(subscriber)
    assert os.pread(fd, 100, 0).decode() == "attempts 2\nchecking 1\n"
    child.kill()
    child.wait()
    child.stdout.close()
    assert failures(subscriber)[0] == 1
    assert os.pread(fd, 100, 0).decode() == "attempts 1\nchecking 0\n"
    os.close(fd)


def test_login_failure_time_is_the_last_ones(subscriber):
    fail(subscriber)
    _, first = failures(subscriber)
    time.sleep(1.1)
    fail(subscriber)
    count, last = failures(subscriber)
    assert count == 2 and last > first


BAD_FAILURE_VALUES = [b"", b"++", b"+\n", b"1", b"00", b"-", b"x", b"+1",
                      b"reset", b"0 0", b"\0"]


@pytest.mark.parametrize("value", BAD_FAILURE_VALUES, ids=repr)
def test_bad_login_failures_value(vvmfs, subscriber, value):
    fail(subscriber)
    fail(subscriber)
    before = (xattr(subscriber, FAILURES), snapshot(vvmfs.mnt))
    expect_errno(errno.EINVAL, os.setxattr, subscriber, FAILURES, value)
    assert xattr(subscriber, FAILURES) == before[0]
    assert_unchanged(before[1], vvmfs.mnt, "setxattr %r" % value)


def test_login_failures_only_on_subscribers(subscriber):
    for target in (subscriber / "INBOX", subscriber / "profile",
                   subscriber / "profile" / "status"):
        expect_errno(errno.ENODATA, os.getxattr, target, FAILURES)
        expect_errno(errno.EPERM, os.setxattr, target, FAILURES, b"+")
    expect_errno(errno.EPERM, os.removexattr, subscriber, FAILURES)


def test_login_failures_survive_remount(vvmfs, subscriber):
    for _ in range(3):
        fail(subscriber)
    before = failures(subscriber)
    vvmfs.remount()
    assert failures(subscriber) == before
    vvmfs.kill()                 # SIGKILL: only what was synced is left
    vvmfs.mount()
    assert failures(subscriber) == before


def test_concurrent_failures_all_count(subscriber):
    """8 processes count 25 failures each while 4 others deposit and
    expunge: the mail side rewrites the same subscriber record (quota
    usage), and neither may lose the other's updates."""
    inbox = subscriber / "INBOX"
    writers = 4
    pids = []
    for n in range(8 + writers):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                if n < 8:
                    for _ in range(25):
                        os.setxattr(subscriber, FAILURES, b"+")
                else:
                    for i in range(12):
                        uid = deposit(inbox, voice_message(i),
                                      name="w%d-%d.eml" % (n, i))
                        if i % 2:
                            os.unlink(message_path(inbox, uid))
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        pids.append(pid)
    codes = [os.waitpid(pid, 0)[1] for pid in pids]
    assert codes == [0] * len(pids)
    assert failures(subscriber)[0] == 200
    kept = message_uids(inbox)
    assert len(kept) == writers * 6
    assert quota(subscriber)["messages"][0] == len(kept)
    assert quota(subscriber)["storage_kb"][0] == math.ceil(
        sum(os.stat(message_path(inbox, uid)).st_size for uid in kept) / 1024)


def test_login_failures_touch_no_mailbox_and_queue_nothing(vvmfs, subscriber):
    (subscriber / "profile" / "status").write_text("R\n")
    inbox = subscriber / "INBOX"
    uid = deposit(inbox, voice_message(1))
    sms = vvmfs.mnt / ".outbox" / "sms"
    for name in os.listdir(sms):
        os.unlink(sms / name)
    high = xattr_int(inbox, "user.imap.highestmodseq")
    feed = feed_text(inbox)
    before = snapshot(vvmfs.mnt)
    for _ in range(5):
        fail(subscriber)
    os.setxattr(subscriber, FAILURES, b"0")
    fail(subscriber)
    assert xattr_int(inbox, "user.imap.highestmodseq") == high
    assert feed_text(inbox) == feed
    assert os.listdir(sms) == []
    assert_unchanged(before, vvmfs.mnt, "counting failed logins")
    # and the mail side leaves the count alone
    set_flags(message_path(inbox, uid), "+\\Seen")
    deposit(inbox, voice_message(2))
    os.unlink(message_path(inbox, uid))
    assert failures(subscriber)[0] == 1


def test_login_failures_go_with_the_subscriber(vvmfs, subscriber):
    fail(subscriber)
    fail(subscriber)
    fd = os.open(subscriber, os.O_RDONLY | os.O_DIRECTORY)
    try:
        subscriber.rmdir()
        expect_errno(errno.ENOENT, os.getxattr, fd, FAILURES)
        expect_errno(errno.ENOENT, os.setxattr, fd, FAILURES, b"+")
    finally:
        os.close(fd)
    subscriber.mkdir()
    assert xattr(subscriber, FAILURES) == "0 0"
    vvmfs.remount()
    assert xattr(subscriber, FAILURES) == "0 0"


def test_fsck_reads_login_failures(vvmfs, subscriber):
    fail(subscriber)
    fail(subscriber)
    deposit(subscriber / "INBOX", voice_message(1))
    before = failures(subscriber)
    vvmfs.unmount()
    for args in (["fsck"], ["fsck", "--repair"]):
        r = subprocess.run([str(VVMADM)] + args + [str(vvmfs.store)],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
    vvmfs.mount()
    assert failures(subscriber) == before


def test_vvmadm_login_failures(vvmfs, subscriber):
    def vvmadm(*args):
        return subprocess.run([str(VVMADM), "-m", str(vvmfs.mnt)]
                              + list(args), capture_output=True, text=True,
                              timeout=60)

    for _ in range(3):
        fail(subscriber)
    _, last = failures(subscriber)
    r = vvmadm("get", subscriber.name, "login_failures")
    assert (r.returncode, r.stdout) == (0, "3 %d\n" % last), r.stderr
    r = vvmadm("set", subscriber.name, "login_failures=7")
    assert r.returncode == 1 and "invalid value" in r.stderr
    assert failures(subscriber) == (3, last)
    r = vvmadm("set", subscriber.name, "login_failures=0")
    assert r.returncode == 0, r.stderr
    assert xattr(subscriber, FAILURES) == "0 0"
    # not a profile value
    r = vvmadm("get", subscriber.name)
    assert r.returncode == 0 and "login_failures" not in r.stdout


# --- the owner option ----------------------------------------------------------

def as_shim(sub, actions, user=NOBODY):
    """Runs actions in a child that confines itself as a shim does after a
    login: chroot into the subscriber, drop root for user. Returns
    {name: ["ok", value] or ["errno", name]}."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        results = {}
        try:
            os.close(r)
            os.chroot(sub)
            os.chdir("/")
            os.setgroups([])
            os.setresgid(user.pw_gid, user.pw_gid, user.pw_gid)
            os.setresuid(user.pw_uid, user.pw_uid, user.pw_uid)
            for name, action in actions:
                try:
                    results[name] = ["ok", action()]
                except OSError as e:
                    results[name] = ["errno",
                                     errno.errorcode.get(e.errno, e.errno)]
        except BaseException as e:
            results["setup"] = ["error", repr(e)]
        finally:
            os.write(w, json.dumps(results).encode())
            os._exit(0)
    os.close(w)
    chunks = []
    while True:
        data = os.read(r, 65536)
        if not data:
            break
        chunks.append(data)
    os.close(r)
    os.waitpid(pid, 0)
    results = json.loads(b"".join(chunks))
    assert "setup" not in results, results["setup"]
    return results


def shim_deposit(data):
    fd = os.open("/INBOX/append.tmp", os.O_CREAT | os.O_EXCL | os.O_WRONLY,
                 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
        return int(os.getxattr(fd, "user.imap.uid"))
    finally:
        os.close(fd)


def shim_write(path, value):
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, value)
    finally:
        os.close(fd)


def shim_read(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, 1 << 20).decode(errors="replace")
    finally:
        os.close(fd)


def shim_take_slot():
    fd = os.open("/.sessions/imap", os.O_RDONLY)
    try:
        return os.pread(fd, 4096, 0).decode()
    finally:
        os.close(fd)


def shim_actions(message):
    return [
        ("list", lambda: sorted(os.listdir("/INBOX"))),
        ("read", lambda: len(shim_read("/INBOX/1.eml"))),
        ("deposit", lambda: shim_deposit(message)),
        ("flags", lambda: os.setxattr("/INBOX/1.eml", "user.imap.flags",
                                      b"+\\Seen")),
        ("pin", lambda: shim_write("/profile/tui_password", b"4321\n")),
        ("pin-read", lambda: shim_read("/profile/tui_password")),
        ("slot", shim_take_slot),
        ("mkdir", lambda: os.mkdir("/Saved")),
        ("unlink", lambda: os.unlink("/INBOX/2.eml")),
        # the chroot holds: / is the subscriber, and there is no way up
        ("up", lambda: sorted(os.listdir("/.."))),
        ("other", lambda: os.stat("/../" + OTHER).st_ino),
        ("outbox", lambda: os.stat("/../.outbox").st_ino),
        ("chroot", lambda: os.chroot("/INBOX")),
        ("setuid", lambda: os.setuid(0)),
    ]


def test_owner_lets_a_confined_shim_work(vvmfs, subscriber):
    subscriber_at(vvmfs, OTHER)
    vvmfs.remount("owner=nobody")
    inbox = subscriber / "INBOX"
    deposit(inbox, voice_message(1))
    for path in (subscriber, inbox, message_path(inbox, 1),
                 subscriber / "profile" / "tui_password", vvmfs.mnt,
                 slot(subscriber)):
        st = os.stat(path)
        assert (st.st_uid, st.st_gid) == (NOBODY.pw_uid, NOBODY.pw_gid), path
    got = as_shim(subscriber, shim_actions(voice_message(2)))
    expected = {
        "list": ["ok", ["1.eml"]],
        "read": ["ok", len(voice_message(1))],
        "deposit": ["ok", 2],
        "flags": ["ok", None],
        "pin": ["ok", None],
        "pin-read": ["ok", "4321\n"],
        "slot": ["ok", text(1, 1)],
        "mkdir": ["ok", None],
        "unlink": ["ok", None],
        "up": ["ok", ["Greetings", "INBOX", "Saved", "profile"]],
        "other": ["errno", "ENOENT"],
        "outbox": ["errno", "ENOENT"],
        "chroot": ["errno", "EPERM"],
        "setuid": ["errno", "EPERM"],
    }
    assert got == expected
    # and from outside, the same changes
    assert message_uids(inbox) == [1]
    assert flags(message_path(inbox, 1)) == "\\Seen"
    assert read_profile(subscriber, "tui_password") == b"4321"
    assert (subscriber / "Saved").is_dir()
    fd = take(subscriber)            # the child's slot went with it
    os.close(fd)


def test_without_owner_a_confined_shim_cannot_write(vvmfs, subscriber):
    inbox = subscriber / "INBOX"
    deposit(inbox, voice_message(1))
    (subscriber / "profile" / "tui_password").write_text("1234\n")
    before = snapshot(vvmfs.mnt)
    got = as_shim(subscriber, shim_actions(voice_message(2)))
    assert got["list"] == ["ok", ["1.eml"]]
    assert got["read"] == ["ok", len(voice_message(1))]
    for name in ("deposit", "flags", "pin", "pin-read", "mkdir"):
        assert got[name] == ["errno", "EACCES"], name
    assert_unchanged(before, vvmfs.mnt, "an unprivileged shim")
    assert flags(message_path(inbox, 1)) == ""


def test_owner_from_config(vvmfs, subscriber):
    mount_with_config(vvmfs, "[vvmfs]\nowner = nobody\n")
    st = os.stat(subscriber / "INBOX")
    assert (st.st_uid, st.st_gid) == (NOBODY.pw_uid, NOBODY.pw_gid)
    # -o overrides the config
    mount_with_config(vvmfs, "[vvmfs]\nowner = nobody\n", "owner=root")
    assert os.stat(subscriber / "INBOX").st_uid == 0


def test_unknown_owner_stops_vvmfs(vvmfs):
    with pytest.raises(RuntimeError, match="no-such-user-vvm"):
        vvmfs.remount("owner=no-such-user-vvm")
    assert not os.path.ismount(vvmfs.mnt)
    vvmfs.mount()


def test_owner_needs_root():
    def drop():
        os.setgroups([])
        os.setresgid(NOBODY.pw_gid, NOBODY.pw_gid, NOBODY.pw_gid)
        os.setresuid(NOBODY.pw_uid, NOBODY.pw_uid, NOBODY.pw_uid)

    with tempfile.TemporaryDirectory(prefix="vvmfs-test-") as root:
        os.chmod(root, 0o755)      # a mountpoint nobody can reach
        mnt = os.path.join(root, "mnt")
        os.mkdir(mnt)
        os.chown(mnt, NOBODY.pw_uid, NOBODY.pw_gid)
        # A vvmfs nobody can run: the build may be where only root goes
        # (a clone in /root, where tools/vvm fresh-check has it).
        vvmfs = os.path.join(root, "vvmfs")
        shutil.copy(VVMFS, vvmfs)
        r = subprocess.run([vvmfs, "-f", "-o", "owner=nobody",
                            os.path.join(root, "store"), mnt],
                           preexec_fn=drop, capture_output=True, text=True,
                           timeout=30)
        assert r.returncode != 0
        assert "owner=nobody needs vvmfs to run as root" in r.stderr
        assert not os.path.ismount(mnt)
