"""Helpers shared by the vvmfs integration tests.

Everything here reads or writes the mount exactly as docs/fs-layout.md
describes it: directory and message attributes, the change feed, the quota
lines, the profile files, and the inotify events the kernel raises on the
mount. No helper knows anything about the daemon's internals.
"""
import ctypes
import errno
import hashlib
import math
import os
import re
import select
import signal
import struct
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

FLAG_ORDER = ["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft",
              "$CNS-Greeting-On"]

DIR_XATTRS = ["user.imap.uidvalidity", "user.imap.uidnext",
              "user.imap.highestmodseq", "user.imap.messages",
              "user.imap.unseen", "user.vvm.size", "user.vvm.quota"]

MESSAGE_XATTRS = ["user.imap.uid", "user.imap.modseq", "user.imap.flags",
                  "user.imap.internaldate"]

QUOTA_KEYS = ["storage_kb", "messages", "voice_seconds", "greeting_seconds"]

MESSAGE_NAME = re.compile(r"([1-9][0-9]*)\.eml")
MSISDN_NAME = re.compile(r"[1-9][0-9]{0,14}")


# --- attributes ------------------------------------------------------------

def xattr(target, name):
    """An attribute as text (one trailing newline tolerated); target is a
    path or an open fd."""
    value = os.getxattr(target, name).decode()
    return value[:-1] if value.endswith("\n") else value


def xattr_int(target, name):
    value = xattr(target, name)
    assert re.fullmatch(r"[0-9]+", value), \
        "%s is not decimal ASCII: %r" % (name, value)
    return int(value)


def flags(target):
    return xattr(target, "user.imap.flags")


def set_flags(target, value):
    os.setxattr(target, "user.imap.flags", value.encode())


def canonical_flags(names):
    """The canonical spelling the contract prescribes for a set of flags."""
    return " ".join(f for f in FLAG_ORDER if f in names)


def errno_of(fn, *args, **kwargs):
    """Runs fn and returns the errno it failed with, or 0."""
    try:
        fn(*args, **kwargs)
    except OSError as e:
        return e.errno
    return 0


def expect_errno(expected, fn, *args, **kwargs):
    got = errno_of(fn, *args, **kwargs)
    assert got == expected, "%s%r: expected %s, got %s" % (
        getattr(fn, "__name__", fn), args, errno_name(expected),
        errno_name(got))


def errno_name(code):
    return errno.errorcode.get(code, str(code)) if code else "success"


def readable(text):
    """A reason a person can read: non-empty, printable, some words."""
    return bool(text.strip()) and text.isprintable() \
        and re.search(r"[A-Za-z]{3}", text) is not None


# --- messages and mailboxes --------------------------------------------------

def message_uids(mailbox):
    uids = []
    for name in os.listdir(mailbox):
        m = MESSAGE_NAME.fullmatch(name)
        if m:
            uids.append(int(m.group(1)))
    return sorted(uids)


def message_path(mailbox, uid):
    return os.path.join(mailbox, "%d.eml" % uid)


def mailboxes(subscriber):
    return sorted(n for n in os.listdir(subscriber) if n != "profile")


@dataclass
class Outcome:
    """What happened to one deposit attempt."""
    errno: int = 0              # 0 = committed
    stage: str = ""             # "open", "write", "fsync", "close"
    uid: int = 0
    error: str = ""             # user.vvm.error on the fd after a failure
    committed: bool = False     # fsync() (or close()) returned 0


def try_deposit(mailbox, data, name="new.eml", chunk=65536, flags_before=None,
                internaldate=None, use_fsync=True):
    """Deposits like a shim and reports how it went instead of raising."""
    out = Outcome()
    try:
        fd = os.open(os.path.join(mailbox, name),
                     os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except OSError as e:
        return Outcome(errno=e.errno, stage="open")
    try:
        if flags_before is not None:
            set_flags(fd, flags_before)
        if internaldate is not None:
            os.setxattr(fd, "user.imap.internaldate", str(internaldate).encode())
        for stage, step in _deposit_steps(fd, data, chunk, use_fsync):
            try:
                step()
            except OSError as e:
                out.errno, out.stage = e.errno, stage
                out.error = _fd_error(fd)
                return out
        out.committed = use_fsync
        if use_fsync:
            try:
                out.uid = xattr_int(fd, "user.imap.uid")
            except OSError as e:
                out.errno, out.stage = e.errno, "uid"
        return out
    finally:
        try:
            os.close(fd)
            out.committed = out.committed or not out.errno
        except OSError as e:
            if not out.errno:
                out.errno, out.stage = e.errno, "close"


def _deposit_steps(fd, data, chunk, use_fsync):
    for off in range(0, len(data), chunk):
        piece = data[off:off + chunk]
        yield "write", lambda p=piece: _write_all(fd, p)
    if use_fsync:
        yield "fsync", lambda: os.fsync(fd)


def _write_all(fd, data):
    while data:
        n = os.write(fd, data)
        data = data[n:]


def _fd_error(fd):
    try:
        return xattr(fd, "user.vvm.error")
    except OSError as e:
        return "<no user.vvm.error: %s>" % errno_name(e.errno)


# --- the change feed ---------------------------------------------------------

@dataclass
class Feed:
    uidvalidity: int
    uidnext: int
    highestmodseq: int
    messages: int
    vanished: set = field(default_factory=set)
    entries: dict = field(default_factory=dict)   # uid -> (modseq, flags)


def parse_seqset(text):
    uids = set()
    for item in text.split(","):
        lo, _, hi = item.partition(":")
        lo, hi = int(lo), int(hi or lo)
        uids.update(range(min(lo, hi), max(lo, hi) + 1))
    return uids


def parse_feed(text):
    """Parses .changes/<N> strictly as the contract prints it."""
    lines = text.split("\n")
    assert lines[-1] == "", "feed does not end in a newline: %r" % text
    lines = lines[:-1]
    header = {}
    for key in ("uidvalidity", "uidnext", "highestmodseq", "messages"):
        assert lines, "feed ends before %s: %r" % (key, text)
        m = re.fullmatch(key + r" ([0-9]+)", lines.pop(0))
        assert m, "feed line is not '%s <n>': %r" % (key, text)
        header[key] = int(m.group(1))
    feed = Feed(**header)
    if lines and lines[0].startswith("vanished "):
        m = re.fullmatch(r"vanished ([0-9:,]+)", lines.pop(0))
        assert m, "bad vanished line in %r" % text
        feed.vanished = parse_seqset(m.group(1))
    last_uid = 0
    for line in lines:
        m = re.fullmatch(r"([0-9]+) ([0-9]+)((?: \S+)*)", line)
        assert m, "bad feed line %r in %r" % (line, text)
        uid, modseq = int(m.group(1)), int(m.group(2))
        assert uid > last_uid, "feed not in UID order: %r" % text
        last_uid = uid
        feed.entries[uid] = (modseq, m.group(3).strip())
    return feed


def read_all(path, uncached=False):
    """A file's bytes, read in large chunks. uncached: from vvmfs, not
    from the page cache, which keeps committed messages' pages across
    opens and would hide a body overwritten in the store until the next
    mount."""
    fd = os.open(path, os.O_RDONLY)
    try:
        if uncached:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        chunks = []
        while True:
            data = os.read(fd, 1 << 20)
            if not data:
                return b"".join(chunks)
            chunks.append(data)
    finally:
        os.close(fd)


def feed_text(mailbox, since=0):
    return read_all(os.path.join(mailbox, ".changes", str(since))).decode()


def read_feed(mailbox, since=0):
    return parse_feed(feed_text(mailbox, since))


# --- quota -------------------------------------------------------------------

def parse_quota(text):
    """{'storage_kb': (used, limit), ...} from user.vvm.quota."""
    lines = text.rstrip("\n").split("\n")
    assert [line.split(" ")[0] for line in lines] == QUOTA_KEYS, \
        "user.vvm.quota lines: %r" % text
    quota = {}
    for line in lines:
        m = re.fullmatch(r"(\w+) ([0-9]+) ([0-9]+)", line)
        assert m, "bad user.vvm.quota line %r" % line
        quota[m.group(1)] = (int(m.group(2)), int(m.group(3)))
    return quota


def quota(target):
    return parse_quota(xattr(target, "user.vvm.quota"))


def usage(target):
    return {k: used for k, (used, _) in quota(target).items()}


def storage_kb_candidates(sizes):
    """The contract does not say how bytes round to KB; both ways of
    rounding up are accepted (a message never costs 0 KB)."""
    return {math.ceil(sum(sizes) / 1024),
            sum(math.ceil(s / 1024) for s in sizes)}


# --- profile -----------------------------------------------------------------

def profile_path(subscriber, key):
    return os.path.join(subscriber, "profile", key)


def read_profile(subscriber, key):
    data = Path(profile_path(subscriber, key)).read_bytes()
    assert data.endswith(b"\n"), "%s reads without a newline: %r" % (key, data)
    return data[:-1]


def write_profile(subscriber, key, value, append=False, newline=True):
    if isinstance(value, str):
        value = value.encode()
    flags_ = os.O_WRONLY | (os.O_APPEND if append else os.O_TRUNC)
    fd = os.open(profile_path(subscriber, key), flags_)
    try:
        if value or newline:
            _write_all(fd, value + (b"\n" if newline else b""))
    finally:
        os.close(fd)


# --- snapshots ---------------------------------------------------------------

def _digest(path):
    return hashlib.sha256(read_all(path)).hexdigest()


def _dir_attrs(path, names):
    return {name: xattr(path, name) for name in names}


def snapshot(mnt):
    """Everything a failed operation must leave as it was: every name and
    size under the mount, profile values, message contents and attributes,
    mailbox attributes (except user.vvm.error, which a rejection sets by
    design) and each mailbox's .changes/0."""
    snap = {}
    for dirpath, dirnames, filenames in os.walk(mnt):
        dirnames.sort()
        rel = os.path.relpath(dirpath, mnt)
        parts = [] if rel == "." else rel.split(os.sep)
        entry = {"names": sorted(dirnames + filenames)}
        if len(parts) == 1 and MSISDN_NAME.fullmatch(parts[0]):
            entry["quota"] = xattr(dirpath, "user.vvm.quota")
        is_mailbox = (len(parts) == 2 and MSISDN_NAME.fullmatch(parts[0])
                      and parts[1] != "profile")
        if is_mailbox:
            entry["attrs"] = _dir_attrs(dirpath, DIR_XATTRS)
            entry["feed"] = feed_text(dirpath)
        for name in filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            info = [oct(st.st_mode), st.st_size]
            if is_mailbox or (parts and parts[-1] == "profile"):
                info.append(_digest(path))
            if is_mailbox and MESSAGE_NAME.fullmatch(name):
                info.append(_dir_attrs(path, MESSAGE_XATTRS))
            entry[name] = info
        snap[rel] = entry
    return snap


def assert_unchanged(before, mnt, what):
    after = snapshot(mnt)
    if after == before:
        return
    diffs = []
    for key in sorted(set(before) | set(after)):
        if before.get(key) != after.get(key):
            diffs.append("%s:\n  before %r\n  after  %r" % (
                key, before.get(key), after.get(key)))
    pytest.fail("%s changed the store:\n%s" % (what, "\n".join(diffs[:5])))


def mailbox_state(mailbox):
    """A compact view of one mailbox for before/after comparisons."""
    return {
        "uids": message_uids(mailbox),
        "flags": {u: flags(message_path(mailbox, u))
                  for u in message_uids(mailbox)},
        "uidvalidity": xattr_int(mailbox, "user.imap.uidvalidity"),
        "uidnext": xattr_int(mailbox, "user.imap.uidnext"),
        "highestmodseq": xattr_int(mailbox, "user.imap.highestmodseq"),
        "messages": xattr_int(mailbox, "user.imap.messages"),
        "unseen": xattr_int(mailbox, "user.imap.unseen"),
    }


def subscriber_state(subscriber):
    if not os.path.isdir(subscriber):
        return None
    return {mb: mailbox_state(os.path.join(subscriber, mb))
            for mb in mailboxes(subscriber)}


def wait_for(predicate, timeout, interval=0.05):
    """Polls predicate until it is true or timeout seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


# --- killing a daemon that will not die ------------------------------------------

FUSECTL = "/sys/fs/fuse/connections"


def fuse_connection(mnt):
    """The fusectl connection number of the FUSE mount at mnt, or None."""
    path = os.path.realpath(mnt)
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[4] == path:
                return int(fields[2].split(":")[1])
    return None


def abort_connection(conn):
    if not os.path.isdir(os.path.join(FUSECTL, str(conn))):
        subprocess.run(["mount", "-t", "fusectl", "none", FUSECTL],
                       check=False, capture_output=True)
    with open(os.path.join(FUSECTL, str(conn), "abort"), "w") as f:
        f.write("1")


def kill_unstuck(fs, sig=signal.SIGKILL, grace=10):
    """fs.kill(sig); if the daemon is still there after grace seconds (a
    thread of it stuck in the kernel), aborts its FUSE connection so that
    it can die and the mount can go. Returns True if it died by itself."""
    conn, proc = fuse_connection(fs.mnt), fs.proc
    aborted = threading.Event()

    def watchdog():
        deadline = time.monotonic() + grace
        while proc.poll() is None:
            if time.monotonic() > deadline:
                aborted.set()
                abort_connection(conn)
                return
            time.sleep(0.05)

    if proc is None or conn is None:
        fs.kill(sig)
        return True
    thread = threading.Thread(target=watchdog, daemon=True)
    thread.start()
    fs.kill(sig)
    thread.join()
    return not aborted.is_set()


# --- inotify -----------------------------------------------------------------

IN_ATTRIB = 0x4
IN_CLOSE_WRITE = 0x8
IN_MOVED_FROM = 0x40
IN_MOVED_TO = 0x80
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_ALL_EVENTS = 0xfff

EVENT_NAMES = {IN_ATTRIB: "IN_ATTRIB", IN_CLOSE_WRITE: "IN_CLOSE_WRITE",
               IN_MOVED_FROM: "IN_MOVED_FROM", IN_MOVED_TO: "IN_MOVED_TO",
               IN_CREATE: "IN_CREATE", IN_DELETE: "IN_DELETE",
               0x1: "IN_ACCESS", 0x2: "IN_MODIFY", 0x10: "IN_CLOSE_NOWRITE",
               0x20: "IN_OPEN", 0x400: "IN_DELETE_SELF",
               0x800: "IN_MOVE_SELF", 0x8000: "IN_IGNORED"}


@dataclass(frozen=True)
class Event:
    wd: int
    mask: int
    cookie: int
    name: str

    def __repr__(self):
        kinds = [n for bit, n in EVENT_NAMES.items() if self.mask & bit]
        return "Event(%s %s %r cookie=%d)" % (self.wd, "|".join(kinds),
                                              self.name, self.cookie)


class Inotify:
    """inotify(7) through ctypes: watch directories, collect events."""

    _HEADER = struct.Struct("iIII")

    def __init__(self):
        self._libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self._libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        self.paths = {}

    def watch(self, path, mask=IN_ALL_EVENTS):
        wd = self._libc.inotify_add_watch(self.fd, os.fsencode(str(path)),
                                          ctypes.c_uint32(mask))
        if wd < 0:
            raise OSError(ctypes.get_errno(), "inotify_add_watch", str(path))
        self.paths[wd] = str(path)
        return wd

    def read(self, timeout):
        """Events that arrive within timeout seconds (all pending ones)."""
        events = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                return events
            events += self._parse(os.read(self.fd, 65536))

    def wait(self, predicate, timeout=5.0):
        """Collects events until predicate(events) holds or timeout."""
        events = []
        deadline = time.monotonic() + timeout
        while not predicate(events):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if select.select([self.fd], [], [], left)[0]:
                events += self._parse(os.read(self.fd, 65536))
        return events

    def _parse(self, buf):
        events, off = [], 0
        while off < len(buf):
            wd, mask, cookie, length = self._HEADER.unpack_from(buf, off)
            off += self._HEADER.size
            name = buf[off:off + length].rstrip(b"\0").decode(errors="replace")
            off += length
            events.append(Event(wd, mask, cookie, name))
        return events

    def close(self):
        os.close(self.fd)


def has_event(events, mask, name, wd=None):
    return any(e.mask & mask and e.name == name and (wd is None or e.wd == wd)
               for e in events)
