"""Observing a vvmfs store and comparing it with storemodel.Model, for
the model-based store checker (test_store_model.py): the real system
(vvmfs on a store with a config, vvm-imapd and vvm-smtpd behind their
inetds, the media worker), the ways a client reads and writes it, and
the Checker that reads everything the contract makes observable after
each operation.
"""
import base64
import errno
import imaplib
import os
import re
import signal
import stat
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from conftest import BUILD, Vvmfs  # noqa: E402
from imapd import IMAPD, Inetd  # noqa: E402
from smtpd import SMTPD  # noqa: E402
from storemodel import (PROVISION, QUOTA_KEYS, TARGETS,  # noqa: E402
                        Divergence, audio_attr, audio_part_offset,
                        canonical_flags, parse_flag_names)
from vvmtest import (kill_unstuck, parse_feed, parse_quota,  # noqa: E402
                     read_all)

imaplib.Commands.setdefault("SETMETADATA", ("AUTH", "SELECTED"))
imaplib.Commands.setdefault("MOVE", ("SELECTED",))

WORKER = BUILD / "lib" / "media" / "vvm-media-worker"
# All three are provisioned and active at the start of a run; C may be
# removed and provisioned again (then not activated).
SUBS = {"A": "31612345678", "B": "31612345679", "C": "31612345680"}
PASSWORD = "model-Pw-1"
SMTP_PASSWORD = "model-smtp-2"


def errno_name(code):
    return errno.errorcode.get(code, str(code)) if code else "success"


# --- the real system ---------------------------------------------------------


class Rig:
    """A store mounted with a config, the shims behind their inetds."""

    def __init__(self, root):
        self.root = Path(root)
        self.fs = Vvmfs(self.root)
        self.config = self.root / "vvm.conf"
        self.config.write_text(
            "[imap]\nmount = %s\nhostname = vvm.test\n"
            "login_failure_delay_ms = 0\nlogin_failures_max = 0\n"
            "max_sessions = 0\n"
            "[smtp]\nhostname = vvm.test\n"
            "[provision]\n%s"
            "[media]\nworker = %s\n" % (
                self.fs.mnt, "".join("%s = %s\n" % kv
                                     for kv in PROVISION.items()), WORKER))
        self.imapd = self.smtpd = None

    def mount(self):
        self.fs.mount("config=%s" % self.config, "retention_interval=1")

    def start(self):
        self.mount()
        self.imapd = Inetd([IMAPD, "-c", self.config], self.root / "imapd.log")
        self.smtpd = Inetd([SMTPD, "-c", self.config], self.root / "smtpd.log")

    def unmount(self):
        """A clean unmount (SIGTERM). vvmfs must exit 0; where the
        conftest's Vvmfs checks the store it left (vvmadm fsck), any
        finding is a divergence too."""
        try:
            self.fs.unmount()
        except AssertionError as e:
            text = str(e)
            if "vvmadm fsck" in text:
                raise Divergence("fsck", text[:3000])
            raise Divergence("unmount", "clean unmount failed: " +
                             text[:3000])

    def kill(self):
        """SIGKILL, as a crash would."""
        try:
            died = kill_unstuck(self.fs)
        except AssertionError as e:
            raise Divergence("fsck", str(e)[:3000])
        if not died:
            raise Divergence("kill", "vvmfs did not die of SIGKILL within "
                             "10 s; its FUSE connection had to be aborted")

    def close(self, clean=True):
        """Stops everything; with clean, the shims must all have exited
        well and vvmfs must unmount cleanly."""
        problems = []
        for inetd in (self.imapd, self.smtpd):
            if inetd is None:
                continue
            try:
                inetd.close()
            except AssertionError as e:
                problems.append(("process-exit", str(e)[:3000]))
        self.imapd = self.smtpd = None
        try:
            if clean and self.fs.proc is not None:
                self.unmount()
        except Divergence as e:
            problems.append((e.category, e.text))
        finally:
            try:
                kill_unstuck(self.fs, signal.SIGTERM)
            except AssertionError:
                pass
        if clean and problems:
            raise Divergence(problems[0][0], "\n".join(
                "[%s] %s" % p for p in problems))

    def sub(self, key):
        return self.fs.mnt / SUBS[key]


def read_uncached(path):
    return read_all(path, uncached=True)


def deposit(mailbox, data, name="new.eml", flags=None, date=None):
    """The commit protocol as a shim follows it (vvmtest.try_deposit,
    with a refused APPEND flag or date as a result too). Returns
    (errno, uid)."""
    try:
        fd = os.open(os.path.join(mailbox, name),
                     os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except OSError as e:
        return e.errno, None
    err, uid = 0, None
    try:
        if flags is not None:
            os.setxattr(fd, "user.imap.flags", flags.encode())
        if date is not None:
            os.setxattr(fd, "user.imap.internaldate", str(date).encode())
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
        uid = int(os.getxattr(fd, "user.imap.uid"))
    except OSError as e:
        err = e.errno
    finally:
        try:
            os.close(fd)
        except OSError as e:
            err = err or e.errno
    return err, uid


def getx(path, name):
    """An attribute as text, or None when it is not there."""
    try:
        return os.getxattr(path, name).decode()
    except OSError as e:
        if e.errno == errno.ENODATA:
            return None
        raise


class Imap:
    """One IMAP session of one subscriber, as a phone opens it."""

    def __init__(self, rig, msisdn):
        self.c = imaplib.IMAP4("127.0.0.1", rig.imapd.port, timeout=60)
        self.msisdn = msisdn

    def login(self):
        """None when logged in, else the refusal's text."""
        try:
            self.c.login(self.msisdn, PASSWORD)
            return None
        except imaplib.IMAP4.error as e:
            return str(e)

    def cmd(self, *args):
        """(typ, text of the tagged reply, data) of a command."""
        name = args[0]
        try:
            if name == "UID":
                typ, data = self.c.uid(*args[1:])
            else:
                typ, data = getattr(self.c, name.lower())(*args[1:])
        except imaplib.IMAP4.error as e:
            return "NO", str(e), []
        text = b" ".join(d for d in data if isinstance(d, bytes)).decode(
            errors="replace") if data else ""
        return typ, text, data

    def close(self):
        try:
            self.c.logout()
        except (imaplib.IMAP4.error, OSError, EOFError):
            try:
                self.c.shutdown()
            except OSError:
                pass


# --- comparing the store with the model --------------------------------------


class Checker:
    """Reads everything the contract makes observable and compares it
    with a model, learning what the model left open."""

    def __init__(self, rig, model, rng):
        self.rig, self.model, self.rng = rig, model, rng
        self.errors = []

    def expect(self, category, ok, text):
        if not ok:
            self.errors.append((category, text))
        return ok

    def same(self, category, what, got, want):
        return self.expect(category, got == want,
                           "%s: %s" % (what, describe_diff(got, want)))

    def run(self):
        """All the mismatches, [] when the store is what the model says."""
        mnt = self.rig.fs.mnt
        m = self.model
        self.same("listing", "subscribers", sorted(os.listdir(mnt)),
                  sorted([".outbox"] + [s.msisdn for s in m.subs.values()]))
        for sub in m.subs.values():
            self.subscriber(sub)
        self.outbox()
        return self.errors

    def subscriber(self, sub):
        d = self.rig.fs.mnt / sub.msisdn
        self.same("listing", sub.msisdn, sorted(os.listdir(d)),
                  sorted(["profile"] + list(sub.boxes)))
        for key, value in sub.profile.items():
            got = (d / "profile" / key).read_bytes()
            self.same("profile", "%s profile/%s" % (sub.msisdn, key), got,
                      value.encode() + b"\n")
        self.same("login-failures", sub.msisdn,
                  getx(d, "user.vvm.login_failures"), "0 0")
        for box in sub.boxes.values():
            self.mailbox(sub, box, d / box.name)
        total, count, voice, greet = sub.usage()
        used = [-(-total // 1024), count, voice, greet]
        want = {k: (used[i], sub.limits()[i])
                for i, k in enumerate(QUOTA_KEYS)}
        for path in [d] + [d / b for b in sub.boxes]:
            self.same("quota", "%s user.vvm.quota" % path.relative_to(
                self.rig.fs.mnt), parse_quota(getx(path, "user.vvm.quota")),
                want)

    def mailbox(self, sub, box, path):
        where = "%s/%s" % (sub.msisdn, box.name)
        names = sorted(os.listdir(path))
        self.same("listing", where, names,
                  sorted("%d.eml" % uid for uid in box.msgs))
        for uid, msg in sorted(box.msgs.items()):
            if "%d.eml" % uid in names:
                self.message(where, box, uid, msg, path / ("%d.eml" % uid))
        attrs = {"user.imap.uidvalidity": box.uidvalidity,
                 "user.imap.uidnext": box.uidnext,
                 "user.imap.highestmodseq": box.hms,
                 "user.imap.messages": len(box.msgs),
                 "user.imap.unseen": box.unseen,
                 "user.vvm.size": sum(msg.size for msg in box.msgs.values()
                                      if msg.data is not None)}
        for name, want in attrs.items():
            got = getx(path, name)
            self.same("mailbox-" + name.split(".")[-1],
                      "%s %s" % (where, name), got, str(want))
        self.feeds(where, box, path)

    def message(self, where, box, uid, msg, path):
        what = "%s/%d.eml" % (where, uid)
        data = read_uncached(path)
        if msg.data is None:
            # SMTP: the message as sent, Return-Path and Received in front.
            ok = data.endswith(msg.suffix) and data.startswith(
                b"Return-Path: ") and b"\r\nReceived: " in \
                data[:len(data) - len(msg.suffix)]
            if self.expect("message-bytes", ok,
                           "%s is not the SMTP message with a Return-Path "
                           "and a Received in front: %r" % (what,
                                                          data[:300])):
                msg.data = data
        elif data != msg.data:
            self.expect("message-bytes", False,
                        "%s: %d bytes, want %d; differ from byte %d:\n"
                        "  got  %r\n  want %r" % (
                            what, len(data), len(msg.data),
                            _first_diff(data, msg.data),
                            _around(data, msg.data), _around(msg.data, data)))
        idate = getx(path, "user.imap.internaldate")
        if msg.idate is None and idate is not None and idate.isdigit():
            lo, hi = msg.idate_range
            if self.expect("message-internaldate", lo <= int(idate) <= hi,
                           "%s INTERNALDATE %s, want the time of its commit "
                           "(%d..%d)" % (what, idate, lo, hi)):
                msg.idate = int(idate)
        spec = msg.spec
        want = {"user.imap.uid": str(uid),
                "user.imap.modseq": str(msg.modseq),
                "user.imap.flags": canonical_flags(msg.flags),
                "user.imap.internaldate": str(msg.idate),
                "user.vvm.context": "x-voice-greeting"
                if spec.get("greeting") else "voice-message",
                "user.vvm.duration": None if spec["kind"] == "text"
                else str(spec["secs"]),
                "user.vvm.expires": None if spec.get("expires") is None
                else str(spec["expires"]),
                "user.vvm.audio": audio_attr(spec)}
        for name, value in want.items():
            self.same("message-" + name.split(".")[-1],
                      "%s %s" % (what, name), getx(path, name), value)
        st = os.stat(path)
        if msg.data is not None:
            self.same("message-size", what + " st_size", st.st_size,
                      len(msg.data))
            header = msg.data.index(b"\r\n\r\n") + 4
            top = getx(path, "user.imap.sections").split("\n")[0]
            self.same("message-sections", what + " sections of part .",
                      top, ". 0 %d %d %d" % (header, header,
                                             len(msg.data) - header))
        self.same("message-mtime", what + " mtime", int(st.st_mtime),
                  msg.idate)
        self.same("message-mode", what + " mode", stat.S_IMODE(st.st_mode),
                  0o644)

    def feeds(self, where, box, path):
        text = read_uncached(path / ".changes" / "0").decode()
        try:
            feed = parse_feed(text)
        except AssertionError as e:
            self.expect("feed", False, "%s .changes/0: %s" % (where, e))
            return
        want_entries = {uid: (msg.modseq, canonical_flags(msg.flags))
                        for uid, msg in box.msgs.items()}
        self.same("feed", where + " .changes/0",
                  (feed.uidvalidity, feed.uidnext, feed.highestmodseq,
                   feed.messages, feed.vanished, feed.entries),
                  (box.uidvalidity, box.uidnext, box.hms, len(box.msgs),
                   set(), want_entries))
        self.full_feed(where, box, path)
        box.history.append(box.hms)
        picks = {box.hms, max(box.hms - 1, 0), box.hms + 3}
        picks.update(self.rng.sample(box.history, min(2, len(box.history))))
        for since in sorted(picks - {0}):
            text = read_uncached(path / ".changes" / str(since)).decode()
            feed = parse_feed(text)
            vanished = {u for u, ms in box.tombs.items() if ms > since}
            entries = {u: e for u, e in want_entries.items()
                       if e[0] > since}
            self.same("feed-since", "%s .changes/%d" % (where, since),
                      (feed.highestmodseq, feed.vanished, feed.entries),
                      (box.hms, vanished, entries))

    def full_feed(self, where, box, path):
        data = read_uncached(path / ".changes" / "0.full")
        pos, seen = 0, {}
        lines = data.split(b"\n", 4)
        pos = sum(len(x) + 1 for x in lines[:4])
        line_re = re.compile(rb"([0-9]+) [0-9]+[^\n]*\n\+ ([0-9]+) ([0-9]+) "
                             rb"([0-9]+) ([0-9]+) ([0-9]+) ([0-9]+) "
                             rb"([0-9]+)\n")
        while pos < len(data):
            mt = line_re.match(data, pos)
            if not self.expect("feed-full", mt is not None,
                               "%s .changes/0.full: bad line at %d: %r" % (
                                   where, pos, data[pos:pos + 120])):
                return
            uid, size, idate = (int(x) for x in mt.groups()[:3])
            lens = [int(x) for x in mt.groups()[3:]]
            pos = mt.end() + sum(lens)
            header = data[pos - lens[-1]:pos]
            self.expect("feed-full", data[pos:pos + 1] == b"\n",
                        "%s .changes/0.full: no newline after UID %d" % (
                            where, uid))
            pos += 1
            seen[uid] = (size, idate, header)
        want = {}
        for uid, msg in box.msgs.items():
            if msg.data is not None:
                end = msg.data.index(b"\r\n\r\n") + 4
                want[uid] = (len(msg.data), msg.idate, msg.data[:end])
        self.same("feed-full", where + " .changes/0.full (size, "
                  "INTERNALDATE, header) by UID",
                  {u: v for u, v in seen.items() if u in want}, want)

    def outbox(self):
        m = self.model
        box = self.rig.fs.mnt / ".outbox" / "sms"
        found = {}
        for name in os.listdir(box):
            if self.expect("outbox", name.isdigit(),
                           "outbox entry named %r" % name):
                found[int(name)] = read_uncached(box / name).decode()
        for seq, text in m.pending:
            self.same("outbox", "pending entry %d" % seq, found.get(seq),
                      text)
        old = {seq for seq, _ in m.pending}
        new = sorted(s for s in found if s not in old)
        if old and new:
            self.expect("outbox", min(new) > max(old),
                        "new entries %r do not come after the pending "
                        "%r" % (new, sorted(old)))
        got = [found[s] for s in new]
        want = m.new
        problems = []
        if len(got) != len(want):
            problems.append("%d new entries, want %d" % (len(got), len(want)))
        for i, (g, w) in enumerate(zip(got, want)):
            why = entry_mismatch(g, w, m)
            if why:
                problems.append("new entry %d (seq %d): %s" % (i, new[i], why))
        if problems:
            self.expect("outbox", False, "; ".join(problems) + "\n  got:  " +
                        "\n        ".join(repr(g) for g in got) +
                        "\n  want: " + "\n        ".join(
                            describe_expected(w) for w in want))
        else:
            m.pending += list(zip(new, got))
            m.new = []


def _short(value, limit=300):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "...(%d more)" % (
        len(text) - limit)


def describe_diff(got, want):
    """got and want as a person wants to read them: for dicts (and
    tuples of them) only what differs."""
    if isinstance(got, dict) and isinstance(want, dict):
        keys = sorted(set(got) | set(want), key=repr)
        parts = ["%r: got %s, want %s" % (k, _short(got.get(k, "<none>")),
                                           _short(want.get(k, "<none>")))
                 for k in keys if got.get(k, "<none>") != want.get(k,
                                                                  "<none>")]
        return "; ".join(parts)
    if isinstance(got, tuple) and isinstance(want, tuple) and \
            len(got) == len(want):
        return "; ".join("[%d] %s" % (i, describe_diff(g, w)) for i, (g, w)
                         in enumerate(zip(got, want)) if g != w)
    return "got %s, want %s" % (_short(got, 600), _short(want, 600))


def describe_expected(w):
    if w.kind == "SYNC":
        try:
            text = w.sync_text()
        except (TypeError, AttributeError):
            text = repr(w.fields)
    else:
        text = "%s:STATUS:st=%s..." % (w.prefix, w.fields["st"])
    return repr("to %s port %s kind %s: %s" % (w.to, w.port, w.kind, text))


def entry_mismatch(text, w, model):
    """Why an outbox entry is not the expected one, or None."""
    head = "to %s\nport %s\nkind %s\nreplace 1\ntext " % (w.to, w.port,
                                                        w.kind)
    if not text.startswith(head) or not text.endswith("\n"):
        return "head %r, want %r" % (text[:60], head)
    body = text[len(head):-1]
    if w.kind == "SYNC":
        if w.msg is not None and w.msg.idate is None:
            # A message gone before its INTERNALDATE was read (purged):
            # dt must be a time of its commit.
            lo, hi = w.msg.idate_range
            for t in range(lo, hi + 1):
                w.msg.idate = t
                if body == w.sync_text():
                    return None
            w.msg.idate = None
            return "text %r, want it with dt a time in %d..%d" % (body, lo,
                                                                  hi)
        want = w.sync_text()
        return None if body == want else "text %r, want %r" % (body, want)
    prefix = w.prefix + ":STATUS:"
    if not body.startswith(prefix):
        return "text %r, want it to start %r" % (body, prefix)
    fields = dict(f.split("=", 1) for f in body[len(prefix):].split(";")
                  if "=" in f)
    st = w.fields["st"]
    want = {"st": st, "rc": "5" if st == "U" else "0"}
    if st not in "UB":
        sub = [s for s in model.subs.values() if s.msisdn == w.to][0]
        want.update(u=sub.profile["imap_user"],
                    pw=sub.profile["imap_password"])
    got = {k: fields.get(k) for k in want}
    return None if got == want else "STATUS fields %r, want %r" % (got, want)


def _first_diff(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


def _around(a, b):
    i = _first_diff(a, b)
    return a[max(0, i - 40):i + 80]


MAGIC = {"amr": b"#!AMR\n", "amr-wb": b"#!AMR-WB\n", "wav": b"RIFF",
         "wav-g711a": b"RIFF", "wav-g711u": b"RIFF"}
EXTENSION = {"amr": "amr", "amr-wb": "awb", "wav": "wav", "wav-g711a": "wav",
             "wav-g711u": "wav"}


def rendition_mismatch(msg, got, target):
    """Why got is not msg with its audio part rendered as target
    (docs/media.md, "Renditions"), or None: everything before the audio
    part as stored, the part's header with the new Content-Type,
    base64 and the filename's extension changed and its other fields
    kept, base64 lines of 76 characters holding audio of that format."""
    off = audio_part_offset(msg.data)
    if got[:off] != msg.data[:off]:
        return "it differs before the audio part, at byte %d" % (
            _first_diff(got, msg.data))
    end = got.find(b"\r\n\r\n", off)
    tail = b"\r\n--b1--\r\n"
    if end < 0 or not got.endswith(tail):
        return "no audio part header or closing boundary: %r" % got[off:][:200]
    header = got[off:end + 2].decode(errors="replace")
    fields = sorted(header.split("\r\n")[:-1])
    stored_end = msg.data.index(b"\r\n\r\n", off)
    stored = msg.data[off:stored_end + 2].decode().split("\r\n")[:-1]
    kept = sorted(f for f in stored if not f.lower().startswith(
        ("content-type:", "content-transfer-encoding:",
         "content-disposition:")))
    want = sorted(kept + [
        "Content-Type: " + TARGETS[target],
        "Content-Transfer-Encoding: base64",
        'Content-Disposition: attachment; filename="vm.%s"' %
        EXTENSION[target]])
    if fields != want:
        return "part header %r, want %r" % (fields, want)
    lines = got[end + 4:len(got) - len(tail)].split(b"\r\n")
    if any(len(x) > 76 for x in lines) or any(len(x) != 76
                                              for x in lines[:-1]):
        return "base64 lines are not of 76 characters"
    try:
        audio = base64.b64decode(b"".join(lines), validate=True)
    except ValueError as e:
        return "the part is not base64: %s" % e
    if not audio.startswith(MAGIC[target]) or audio == b"":
        return "the audio starts %r" % audio[:12]
    return None


def imap_flags(text):
    m = re.search(r"FLAGS \(([^)]*)\)", text)
    names = parse_flag_names(m.group(1).replace("\\Recent", "")) if m else None
    return canonical_flags(names) if names is not None else text


def _imap_name(name):
    return '"%s"' % name if " " in name else name
