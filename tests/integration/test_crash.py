"""Crash durability: writers deposit while vvmfs is killed with SIGKILL over
and over. Whatever a writer saw fsync() accept must be there, once, under
the UID it was given, byte for byte; whatever was never accepted may only be
the one message a writer had in flight when the daemon died.
"""
import errno
import multiprocessing
import os
import random
import re
import signal
import subprocess
import tempfile
import time
from collections import Counter

import pytest

from conftest import VVMADM, Vvmfs, amr_audio, voice_message
from vvmtest import (kill_unstuck, message_uids, read_all, try_deposit,
                     xattr_int)

WRITERS = 8
SUBSCRIBERS = ["31600000001", "31600000002"]
SHARED = (SUBSCRIBERS[0], "Shared")
MAILBOXES = [(sub, "INBOX") for sub in SUBSCRIBERS] + [SHARED]
KILLS = 24
MIN_KILLS = 20
TIME_BUDGET = 120          # seconds for the kill rounds
MSGID = re.compile(rb"^Message-ID: <(test-w\d+-\d+)@vvm\.test>\r$", re.M)


def target(writer, seq):
    """Each writer has its own subscriber's INBOX; every third message goes
    to the mailbox all writers share."""
    if seq % 3 == 2:
        return SHARED
    return SUBSCRIBERS[writer % 2], "INBOX"


def message(writer, seq):
    """Each message a little larger than the last: past 8000 bytes, 5 s of
    AMR cannot hold it, so the audio (and its duration) grows."""
    size = 100 + 7 * seq
    seconds = 5 * (1 + size // 8000)
    return voice_message("w%d-%d" % (writer, seq), duration=seconds,
                         audio=amr_audio(seconds, size, fill=seq % 256))


def msgid(writer, seq):
    return "test-w%d-%d" % (writer, seq)


# --- the writers (forked) -----------------------------------------------------------

def log(fd, line):
    os.write(fd, line.encode() + b"\n")
    os.fsync(fd)


def writer_main(n, mnt, logpath, go, idle, stop):
    """Deposits while go is set; marks itself idle when it is not."""
    logfd = os.open(logpath, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    seq = 0
    while not stop.is_set():
        idle.clear()
        if not go.is_set():
            idle.set()
            go.wait(0.05)
            continue
        sub, box = target(n, seq)
        log(logfd, "TRY %s" % msgid(n, seq))
        outcome = try_deposit(os.path.join(mnt, sub, box), message(n, seq),
                              name="w%d-%d.tmp" % (n, seq))
        if outcome.committed:       # uid 0: fsync said yes, then it died
            log(logfd, "ACK %s %s %s %d" % (msgid(n, seq), sub, box,
                                           outcome.uid))
        else:
            log(logfd, "ERR %s %d %s %s" % (msgid(n, seq), outcome.errno,
                                           outcome.stage, outcome.error))
        seq += 1
    os.close(logfd)


# --- reading the logs and the store ---------------------------------------------------

# what a deposit may fail with when the daemon dies under it
DEATH_ERRNOS = {errno.ENOTCONN, errno.ENOENT, errno.ECONNABORTED}
# The kernel ends a request with EIO when the daemon is killed while copying
# it in or its reply out (the fault handler gives up on a dying process).
# Such an EIO counts as the death only if the connection was found dead
# right after, when the writer asked for user.vvm.error.
DEAD_AFTER = re.compile(r"<no user\.vvm\.error: (ENOTCONN|ECONNABORTED)>$")


def died_under(errno_, error):
    return errno_ in DEATH_ERRNOS or (
        errno_ == errno.EIO and DEAD_AFTER.search(error) is not None)


def read_logs(logs):
    """(tried ids by writer, {acked id: (sub, box, uid)}, [odd failures])"""
    tried, acked, odd = {}, {}, []
    for n, path in enumerate(logs):
        tried[n] = set()
        if not os.path.exists(path):
            continue
        for line in open(path).read().splitlines():
            word = line.split()
            if word[0] == "TRY":
                tried[n].add(word[1])
            elif word[0] == "ACK":
                acked[word[1]] = (word[2], word[3], int(word[4]))
            elif not died_under(int(word[2]), " ".join(word[4:])):
                odd.append(line)
    return tried, acked, odd


def scan_store(mnt):
    """{msgid: [(sub, box, uid)]} of every message in every mailbox."""
    found = {}
    for sub, box in MAILBOXES:
        path = os.path.join(mnt, sub, box)
        for uid in message_uids(path):
            data = read_all(os.path.join(path, "%d.eml" % uid))
            ids = MSGID.findall(data)
            assert len(ids) == 1, "%s/%s/%d.eml has no test Message-ID" % (
                sub, box, uid)
            writer, seq = map(int, re.findall(rb"\d+", ids[0]))
            assert data == message(writer, seq), \
                "%s/%s/%d.eml is corrupt" % (sub, box, uid)
            found.setdefault(ids[0].decode(), []).append((sub, box, uid))
    return found


def same_place(acked, where):
    sub, box, uid = acked
    return len(where) == 1 and where[0][:2] == (sub, box) and \
        uid in (0, where[0][2])


class Checker:
    """The invariants after each remount, all rounds so far included."""

    def __init__(self, logs):
        self.logs = logs
        self.seen = {}                  # every id ever found -> its place
        self.uidnext = {}

    def check(self, mnt, kills):
        tried, acked, odd = read_logs(self.logs)
        assert not odd, "deposits refused for another reason than the " \
            "daemon's death (by kill %d): %r" % (kills, odd)
        found = scan_store(mnt)
        twice = {m: where for m, where in found.items() if len(where) > 1}
        assert not twice, "messages stored twice: %r" % twice
        missing = {m: (a, found.get(m)) for m, a in acked.items()
                   if not same_place(a, found.get(m, []))}
        assert not missing, "acknowledged messages missing or moved: %r" % (
            missing)
        strays = set(found) - set().union(*tried.values())
        assert not strays, "messages nobody wrote: %r" % strays
        lost = {m: p for m, p in self.seen.items() if found.get(m) != [p]}
        assert not lost, "messages found before and gone now: %r" % lost
        new_unacked = [m for m in found if m not in acked and
                       m not in self.seen]
        per_writer = Counter(m.split("-")[1] for m in new_unacked)
        assert all(c == 1 for c in per_writer.values()), \
            "more than one unacknowledged message per writer and kill: %r" % (
                new_unacked)
        self.seen.update({m: where[0] for m, where in found.items()})
        self.check_uidnext(mnt)
        return len(acked)

    def check_uidnext(self, mnt):
        for sub, box in MAILBOXES:
            path = os.path.join(mnt, sub, box)
            nxt = xattr_int(path, "user.imap.uidnext")
            uids = message_uids(path)
            assert not uids or nxt > uids[-1], "%s/%s" % (sub, box)
            assert nxt >= self.uidnext.get(path, 0), \
                "%s/%s uidnext went back" % (sub, box)
            self.uidnext[path] = nxt
            assert xattr_int(path, "user.imap.messages") == len(uids)


# --- the test -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def crash_fs():
    with tempfile.TemporaryDirectory(prefix="vvmfs-crash-") as root:
        fs = Vvmfs(root)
        try:
            yield fs
        finally:
            kill_unstuck(fs, signal.SIGTERM)


def start_writers(fs):
    ctx = multiprocessing.get_context("fork")
    go, stop = ctx.Event(), ctx.Event()
    logs = [str(fs.root / ("writer%d.log" % n)) for n in range(WRITERS)]
    idles = [ctx.Event() for _ in range(WRITERS)]
    procs = [ctx.Process(target=writer_main,
                         args=(n, str(fs.mnt), logs[n], go, idles[n], stop))
             for n in range(WRITERS)]
    for p in procs:
        p.start()
    return go, stop, idles, procs, logs


def wait_idle(idles, procs):
    deadline = time.monotonic() + 30
    while not all(i.is_set() for i in idles):
        assert all(p.is_alive() for p in procs), "a writer died"
        assert time.monotonic() < deadline, "writers did not pause"
        time.sleep(0.01)


def test_acknowledged_messages_survive_sigkill(crash_fs):
    fs = crash_fs.mount()
    for sub in SUBSCRIBERS:
        os.mkdir(fs.mnt / sub)
    os.mkdir(fs.mnt / SHARED[0] / SHARED[1])
    go, stop, idles, procs, logs = start_writers(fs)
    checker = Checker(logs)
    rng = random.Random(20261122)
    started, kills, acked = time.monotonic(), 0, 0
    try:
        while kills < KILLS and time.monotonic() - started < TIME_BUDGET:
            go.set()
            time.sleep(rng.uniform(0.05, 0.4))
            assert kill_unstuck(fs), (
                "vvmfs did not die on SIGKILL within 10 s (kill %d); its "
                "FUSE connection had to be aborted" % (kills + 1))
            kills += 1
            go.clear()
            wait_idle(idles, procs)
            fs.mount()
            acked = checker.check(fs.mnt, kills)
        go.set()
        time.sleep(0.5)
        go.clear()
        wait_idle(idles, procs)
        acked = checker.check(fs.mnt, kills)
    finally:
        stop.set()
        go.set()
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
    assert kills >= MIN_KILLS, "only %d kills in %d s" % (kills, TIME_BUDGET)
    assert acked >= 2 * kills, "too few deposits (%d) to mean anything" % acked
    fs.unmount()


def test_fsck_after_crashes(crash_fs):
    """fsck of the store the crash test left, however that test ended."""
    kill_unstuck(crash_fs, signal.SIGTERM)
    assert crash_fs.store.is_dir(), "the crash test made no store"
    assert VVMADM.exists(), "vvmadm is not built (%s)" % VVMADM
    result = subprocess.run([str(VVMADM), "fsck", str(crash_fs.store)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, "vvmadm fsck exit %d:\n%s\n%s" % (
        result.returncode, result.stdout, result.stderr)
