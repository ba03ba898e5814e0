"""The operations of the model-based store checker (test_store_model.py):
each one acts on the real system as a client would, with what the model
predicts it must answer, and updates the model. Operations name what
they act on by picks (an integer taken modulo whatever exists when the
operation runs), so any sub-list of a run is a run too, which is what
lets a failing run shrink.
"""
import errno
import imaplib
import os
import random
import re
import smtplib
import tempfile
import threading
import time

from smtpd import digest_md5
from storecheck import (PASSWORD, SMTP_PASSWORD, SUBS, Checker, Imap, Rig,
                        _first_diff, _imap_name, deposit, describe_diff,
                        errno_name, getx, imap_flags, read_uncached,
                        rendition_mismatch)
from storemodel import (CALLER, PROFILE_DEFAULTS, STATUS_CHANGES,
                        Divergence, Mailbox, Model, Subscriber,
                        audio_formats, canonical_flags, message,
                        parse_flag_names, rendition_target)

# Mailbox names the runs create, rename and remove; the last ones are
# not valid (docs/fs-layout.md, "Mailboxes").
BOX_NAMES = ["Saved", "Archive", "Work", "\u00c4rchiv"]
BAD_BOX_NAMES = [".hidden", "profile", "inbox", "Inbox"]


# --- operations --------------------------------------------------------------

class Skip(Exception):
    """The operation has nothing to act on in this state."""


def _errno(fn, *args):
    try:
        fn(*args)
    except OSError as e:
        return e.errno
    return 0


def pick(seq, n):
    seq = list(seq)
    if not seq:
        raise Skip()
    return seq[n % len(seq)]


class Runner:
    """Runs one list of operations on a fresh store, checking after each."""

    def __init__(self, seed, stats, log=None):
        self.seed = seed
        self.stats = stats
        self.log = log or (lambda text: None)
        self.model = Model()
        self.trace = []            # what each operation resolved to
        self.check_rng = random.Random(seed ^ 0x5EED)
        self.root = self.rig = None

    # --- plumbing ------------------------------------------------------------

    def fail(self, category, text):
        raise Divergence(category, text)

    def same(self, category, what, got, want):
        if got != want:
            self.fail(category, "%s: %s" % (what, describe_diff(got, want)))

    def check(self, model=None):
        errors = Checker(self.rig, model or self.model, self.check_rng).run()
        if errors:
            cat = errors[0][0]
            self.fail(cat, "\n".join("[%s] %s" % e for e in errors[:8]))

    def note(self, text):
        self.trace.append(text)

    def sub(self, key):
        sub = self.model.subs.get(SUBS[key])
        if sub is None:
            raise Skip()
        return sub

    def box(self, sub, n, imap=False):
        names = sub.box_names()
        if imap:
            names = [b for b in names if b.isascii()]
        return sub.boxes[pick(names, n)]

    def uid(self, box, n):
        return pick(sorted(box.msgs), n)

    def path(self, sub, box=None, uid=None):
        p = self.rig.fs.mnt / sub.msisdn
        if box is not None:
            p = p / box.name
        if uid is not None:
            p = p / ("%d.eml" % uid)
        return p

    # --- a run ---------------------------------------------------------------

    def setup(self):
        self.root = tempfile.TemporaryDirectory(prefix="vvm-model-")
        self.rig = Rig(self.root.name)
        self.rig.start()
        for key in SUBS:
            self.provision(key)
        self.check()

    def provision(self, key, activate=True):
        """mkdir of a subscriber: INBOX, Greetings and the default profile
        in one transaction; then its passwords (and, for A and B, the
        status R that lets it log in)."""
        msisdn = SUBS[key]
        t0 = int(time.time())
        os.mkdir(self.rig.fs.mnt / msisdn)
        profile = dict(PROFILE_DEFAULTS, imap_user=msisdn, smtp_user=msisdn,
                       imap_password="", smtp_password="", tui_password="")
        sub = Subscriber(msisdn, profile)
        self.model.subs[msisdn] = sub
        for name in ("INBOX", "Greetings"):
            sub.boxes[name] = self.new_mailbox(sub, name, t0)
        for k, v in (("imap_password", PASSWORD),
                     ("smtp_password", SMTP_PASSWORD)):
            self.write_profile(sub, k, v, 0)
        for status in "NR" if activate else "":
            self.write_profile(sub, "status", status, 0)

    def op_provision(self, p):
        """mkdir MOUNT/<msisdn> of C: EEXIST while it is there."""
        msisdn = SUBS["C"]
        if msisdn not in self.model.subs:
            self.note("mkdir %s (provision)" % msisdn)
            self.provision("C", activate=False)
            return
        self.note("mkdir %s: want EEXIST" % msisdn)
        self.same("subscriber", "mkdir of a subscriber that exists",
                  errno_name(_errno(os.mkdir, self.rig.fs.mnt / msisdn)),
                  "EEXIST")

    def op_deprovision(self, p):
        """rmdir MOUNT/<msisdn> of C: refused while a mailbox holds a
        message; renaming a subscriber is always EPERM."""
        msisdn = SUBS["C"]
        sub = self.model.subs.get(msisdn)
        path = self.rig.fs.mnt / msisdn
        if p.get("rename"):
            want = errno.EPERM if sub else errno.ENOENT
            got = _errno(os.rename, path, self.rig.fs.mnt / "31612345681")
            self.note("mv %s 31612345681: want %s" % (msisdn,
                                                      errno_name(want)))
        else:
            if sub is None:
                want = errno.ENOENT
            elif any(box.msgs for box in sub.boxes.values()):
                want = errno.ENOTEMPTY
            else:
                want = 0
            self.note("rmdir %s (deprovision): want %s" % (
                msisdn, errno_name(want)))
            got = _errno(os.rmdir, path)
            if not got and not want:
                del self.model.subs[msisdn]
        self.same("subscriber", "removing subscriber %s" % msisdn,
                  errno_name(got), errno_name(want))

    def new_mailbox(self, sub, name, t0):
        """A mailbox just created: its UIDVALIDITY is learned, and must
        be above every other the store gave and not below the time."""
        v = int(os.getxattr(self.rig.fs.mnt / sub.msisdn / name,
                            "user.imap.uidvalidity"))
        if v <= self.model.max_uidvalidity or v < t0:
            self.fail("uidvalidity", "new mailbox %s/%s got UIDVALIDITY %d; "
                      "the store gave %d before, the time was %d" % (
                          sub.msisdn, name, v, self.model.max_uidvalidity,
                          t0))
        self.model.max_uidvalidity = v
        return Mailbox(name, v)

    def teardown(self, clean):
        try:
            if self.rig is not None:
                self.rig.close(clean)
        finally:
            if self.root is not None:
                self.root.cleanup()

    def execute(self, op):
        name, params = op
        self.stats["ops"] += 1
        self.stats.setdefault("by_op", {}).setdefault(name, 0)
        self.stats["by_op"][name] += 1
        try:
            getattr(self, "op_" + name)(params)
        except Skip:
            self.note("(nothing to act on)")
            self.stats["skipped"] += 1
            return
        self.check()

    # --- deposits ------------------------------------------------------------

    def op_cp(self, p):
        """A deposit through the mount's commit protocol (cp, Asterisk)."""
        sub = self.sub(p["sub"])
        box = self.box(sub, p["box"])
        spec = p["msg"]
        data = message(spec)
        flags = p.get("flags")
        names = set() if flags is None else parse_flag_names(flags)
        name = p.get("name", "new.eml")
        msg = self.model.new_msg(spec, data, flags=names or (),
                                 idate=p.get("date"), sender=CALLER)
        if re.fullmatch(r"[1-9][0-9]*\.eml", name):
            want = errno.EEXIST
        elif name.startswith("."):
            want = errno.EINVAL
        elif names is None:
            want = errno.EINVAL
        else:
            want = self.model.deposit_verdict(sub, box, msg)
        self.note("cp %s %s/%s as %r flags %r: want %s" % (
            spec["kind"], sub.msisdn, box.name, name, flags, errno_name(want)))
        t0 = int(time.time())
        err, got_uid = deposit(self.path(sub, box), data, name, flags,
                               p.get("date"))
        t1 = int(time.time()) + 1
        self.same("deposit", "cp into %s/%s: errno" % (sub.msisdn, box.name),
                  errno_name(err), errno_name(want))
        if want in (errno.EDQUOT, errno.EINVAL) and not \
                name.startswith(".") and names is not None:
            # Refused at the commit: the reason is left on the mailbox.
            reason = getx(self.path(sub, box), "user.vvm.error") or ""
            if not re.search(r"[A-Za-z]{3}", reason):
                self.fail("deposit", "no reason in %s/%s user.vvm.error "
                          "after a refusal: %r" % (sub.msisdn, box.name,
                                                   reason))
        if want:
            return
        msg.idate_range = (t0, t1)
        uid = self.model.insert(sub, box, msg)
        self.same("deposit", "cp into %s/%s: UID" % (sub.msisdn, box.name),
                  got_uid, uid)

    def smtp_predict(self, frm, to, msg):
        """(stage, code) at which an SMTP deposit must stop, None to
        store it, or "either" when the quota cannot tell yet."""
        if not frm.active:
            return ("auth", 535)
        if to.profile["status"] in ("U", "none"):
            return ("rcpt", 550)
        if to.profile["status"] == "B":
            return ("rcpt", 550)
        verdict = self.model.quota_verdict(to, [(to.boxes["INBOX"], msg, 1)])
        if verdict is None:
            return "either"
        return ("data", 552) if verdict else None

    def smtp_send(self, frm, to, data, started=None):
        """Runs one SMTP session; returns (stage, code) of the first
        refusal, or None when the message was accepted."""
        client = smtplib.SMTP("127.0.0.1", self.rig.smtpd.port, timeout=60)
        try:
            client.ehlo("model.test")
            code, _ = digest_md5(client, user=frm.msisdn,
                                 password=SMTP_PASSWORD)
            if code != 235:
                return ("auth", code)
            code, _ = client.mail(frm.msisdn + "@example.com")
            if code != 250:
                return ("mail", code)
            code, _ = client.rcpt(to.msisdn + "@example.com")
            if code != 250:
                return ("rcpt", code)
            if started is not None:
                started.set()
            code, _ = client.data(data)
            return None if code == 250 else ("data", code)
        finally:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()

    def op_smtp(self, p):
        """A deposit by vvm-smtpd from one subscriber to another (or to
        itself), as a phone sends a voice reply."""
        frm = self.sub(p["frm"])
        to = self.model.subs.get(SUBS[p["to"]])
        if to is None:
            # No such subscriber (C before it is provisioned).
            to = Subscriber(SUBS[p["to"]], {"status": "none"})
        spec = dict(p["msg"], frm=frm.msisdn, to=to.msisdn)
        data = message(spec)
        msg = self.model.new_msg(spec, suffix=data, sender=frm.msisdn)
        want = self.smtp_predict(frm, to, msg)
        self.note("smtp %s -> %s %s: want %s" % (frm.msisdn, to.msisdn,
                                                 spec["kind"], want))
        t0 = int(time.time())
        got = self.smtp_send(frm, to, data)
        t1 = int(time.time()) + 1
        if want == "either":
            self.stats["ambiguous"] += 1
            want = got if got in (None, ("data", 552)) else None
        self.same("smtp", "SMTP %s -> %s" % (frm.msisdn, to.msisdn), got, want)
        if got is None:
            msg.idate_range = (t0, t1)
            self.model.insert(to, to.boxes["INBOX"], msg)

    def imap_session(self, sub):
        """A logged-in session, or None when the status refuses it (which
        the model predicts)."""
        imap = Imap(self.rig, sub.msisdn)
        refusal = imap.login()
        if sub.active:
            if refusal is not None:
                imap.close()
                self.fail("imap-login", "%s (status %s) could not log in: "
                          "%s" % (sub.msisdn, sub.profile["status"], refusal))
            return imap
        imap.close()
        if refusal is None:
            self.fail("imap-login", "%s logged in with status %s" % (
                sub.msisdn, sub.profile["status"]))
        self.note("IMAP login refused (status %s)" % sub.profile["status"])
        return None

    def op_append(self, p):
        """IMAP APPEND, which the spec allows into Greetings only."""
        sub = self.sub(p["sub"])
        box = sub.boxes[p["box"]]
        spec = dict(p["msg"], greeting=True)
        data = message(spec)
        flags = p.get("flags", [])
        names = parse_flag_names(" ".join(flags)) or set()
        msg = self.model.new_msg(spec, data, flags=names, idate=p.get("date"),
                                 sender=CALLER)
        imap = self.imap_session(sub)
        if imap is None:
            return
        try:
            self.note("APPEND %s/%s flags %r" % (sub.msisdn, box.name, flags))
            allowed = all(f.lower() in ("\\seen", "\\deleted",
                                        "$cns-greeting-on",
                                        "$applevm-activegreeting")
                          for f in flags)
            if box.name != "Greetings" or not allowed:
                want = ("NO", "command not allowed")
            else:
                verdict = self.model.deposit_verdict(sub, box, msg)
                want = ("OK", None) if verdict == 0 else ("NO", "[OVERQUOTA]")
            date = imaplib.Time2Internaldate(p["date"]) if p.get("date") \
                else None
            t0 = int(time.time())
            typ, text, _ = imap.cmd("APPEND", box.name,
                                    "(%s)" % " ".join(flags), date, data)
            if want[0] == "OK":
                self.same("imap-append", "APPEND reply", typ, "OK")
                msg.idate_range = (t0 - 1, int(time.time()) + 1)
                uid = self.model.insert(sub, box, msg)
                self.same("imap-append", "APPENDUID", re.search(
                    r"\[APPENDUID ([0-9]+) ([0-9]+)\]", text).groups(),
                    (str(box.uidvalidity), str(uid)))
            else:
                self.same("imap-append", "APPEND reply",
                          (typ, want[1] in text), ("NO", True))
        finally:
            imap.close()

    # --- flags ---------------------------------------------------------------

    def op_flags(self, p):
        """user.imap.flags on a message: STORE FLAGS, +FLAGS, -FLAGS."""
        sub = self.sub(p["sub"])
        box = self.box(sub, p["box"])
        uid = self.uid(box, p["msg"])
        value = p["value"]
        op = value[0] if value[:1] in ("+", "-") else ""
        names = parse_flag_names(value[len(op):])
        want = errno.EINVAL if names is None else \
            self.model.store_flags(sub, box, uid, op, frozenset(names))
        self.note("setfattr %r %s/%s/%d.eml: want %s" % (
            value, sub.msisdn, box.name, uid, errno_name(want)))
        try:
            os.setxattr(self.path(sub, box, uid), "user.imap.flags",
                        value.encode())
            got = 0
        except OSError as e:
            got = e.errno
        self.same("flags", "setxattr user.imap.flags %r" % value,
                  errno_name(got), errno_name(want))

    def op_store(self, p):
        """IMAP UID STORE."""
        sub = self.sub(p["sub"])
        box = self.box(sub, p["box"], imap=True)
        uid = self.uid(box, p["msg"])
        imap = self.imap_session(sub)
        if imap is None:
            return
        try:
            self.select(imap, box)
            mode, flags = p["mode"], p["flags"]
            names = parse_flag_names(" ".join(
                f for f in flags if f.lower() != "\\recent"))
            ok = names is not None and names <= {"\\Seen", "\\Deleted",
                                                 "$CNS-Greeting-On"}
            if names and "$CNS-Greeting-On" in names and not box.greetings:
                ok = False
            self.note("UID STORE %d %s (%s) in %s/%s" % (
                uid, mode, " ".join(flags), sub.msisdn, box.name))
            typ, text, data = imap.cmd("UID", "STORE", str(uid), mode,
                                       "(%s)" % " ".join(flags))
            if not ok:
                self.same("imap-store", "STORE reply", (typ, "not allowed" in
                                                         text), ("NO", True))
                return
            self.same("imap-store", "STORE reply", typ, "OK")
            op = {"+": "+", "-": "-"}.get(mode[0], "")
            err = self.model.store_flags(sub, box, uid, op, frozenset(names))
            self.same("imap-store", "model", err, 0)
        finally:
            imap.close()

    def select(self, imap, box):
        typ, text, _ = imap.cmd("SELECT", _imap_name(box.name))
        self.same("imap-select", "SELECT %s" % box.name, typ, "OK")
        resp = imap.c.untagged_responses
        got = {k: resp.get(k, [b"?"])[-1].split()[0].decode()
               for k in ("EXISTS", "UIDVALIDITY", "UIDNEXT")}
        self.same("imap-select", "SELECT %s" % box.name, got,
                  {"EXISTS": str(len(box.msgs)),
                   "UIDVALIDITY": str(box.uidvalidity),
                   "UIDNEXT": str(box.uidnext)})

    # --- reading -------------------------------------------------------------

    def expect_rendition(self, sub, box, uid, got, what):
        """got must be the message as the phone gets it under the current
        accept list (docs/media.md): the stored bytes, or a rendition
        that changes the audio part only and never changes afterwards."""
        msg = box.msgs[uid]
        accept = sub.profile["accept"]
        target = rendition_target(accept, audio_formats(msg.spec))
        if target is None:
            if got != msg.data:
                self.fail("rendition", "%s under accept %r must be the "
                          "stored message; %d bytes, want %d, differ at %d" %
                          (what, accept, len(got), len(msg.data),
                           _first_diff(got, msg.data)))
            return
        why = rendition_mismatch(msg, got, target)
        if why:
            self.fail("rendition", "%s under accept %r is not the message "
                      "with its audio as %s: %s" % (what, accept, target,
                                                    why))
        key = (msg.cid, target)
        cached = self.model.renditions.setdefault(key, got)
        if cached != got:
            self.fail("rendition", "%s as %s changed since it was first "
                      "read (%d bytes, then %d)" % (what, target, len(got),
                                                    len(cached)))
        self.stats["transcoded"] += 1

    def message_of(self, p, imap=False):
        """(subscriber, mailbox, UID) an operation names: by picks, or
        with "newest" the message deposited last, if it is still where
        it was (what a phone fetches after the SYNC that announced it)."""
        newest = self.model.newest
        if p.get("newest") and newest is not None:
            sub, box, uid = newest
            if box in sub.boxes.values() and uid in box.msgs and (
                    box.name.isascii() or not imap):
                return sub, box, uid
        sub = self.sub(p["sub"])
        box = self.box(sub, p["box"], imap)
        return sub, box, self.uid(box, p["msg"])

    def op_rendition(self, p):
        """Reads <mailbox>/.rendition/<uid>.eml."""
        sub, box, uid = self.message_of(p)
        self.note("read %s/%s/.rendition/%d.eml under accept %r" % (
            sub.msisdn, box.name, uid, sub.profile["accept"]))
        path = self.path(sub, box) / ".rendition" / ("%d.eml" % uid)
        got = read_uncached(path)
        # Its attributes describe the bytes served (fs-layout.md, "Audio").
        header = got.index(b"\r\n\r\n") + 4
        self.same("rendition", "%s user.imap.sections of part ." % path.name,
                  (getx(path, "user.imap.sections") or "").split("\n")[0],
                  ". 0 %d %d %d" % (header, header, len(got) - header))
        self.expect_rendition(sub, box, uid, got, "%s/%s/.rendition/%d.eml"
                              % (sub.msisdn, box.name, uid))

    def op_fetch(self, p):
        """IMAP UID FETCH of the whole message, which serves the
        rendition, with the attributes that come from the stored one."""
        sub, box, uid = self.message_of(p, imap=True)
        imap = self.imap_session(sub)
        if imap is None:
            return
        try:
            self.select(imap, box)
            item = "BODY.PEEK[]" if p["peek"] else "BODY[]"
            self.note("UID FETCH %d %s in %s/%s under accept %r" % (
                uid, item, sub.msisdn, box.name, sub.profile["accept"]))
            typ, _, data = imap.cmd("UID", "FETCH", str(uid),
                                    "(%s RFC822.SIZE FLAGS)" % item)
            self.same("imap-fetch", "FETCH reply", typ, "OK")
            if not p["peek"]:
                self.model.store_flags(sub, box, uid, "+",
                                       frozenset({"\\Seen"}))
            lits = [d for d in data if isinstance(d, tuple)]
            meta = b" ".join(x if isinstance(x, bytes) else x[0]
                             for x in data if x is not None).decode()
            if len(lits) != 1:
                self.fail("imap-fetch", "FETCH gave %r" % (data,))
            self.expect_rendition(sub, box, uid, lits[0][1],
                                  "UID FETCH %d %s" % (uid, item))
            msg = box.msgs[uid]
            self.same("imap-fetch", "RFC822.SIZE", re.search(
                r"RFC822\.SIZE ([0-9]+)", meta).group(1), str(msg.size))
            self.same("imap-fetch", "FLAGS", imap_flags(meta),
                      canonical_flags(msg.flags))
        finally:
            imap.close()

    def op_look(self, p):
        """What a phone sees of a mailbox over IMAP: STATUS, SELECT and
        the UIDs, flags, sizes and dates of every message."""
        sub = self.sub(p["sub"])
        box = self.box(sub, p["box"], imap=True)
        imap = self.imap_session(sub)
        if imap is None:
            return
        try:
            self.note("IMAP STATUS, SELECT, FETCH 1:* of %s/%s" % (
                sub.msisdn, box.name))
            typ, text, _ = imap.cmd("STATUS", _imap_name(box.name),
                                    "(MESSAGES UNSEEN UIDNEXT UIDVALIDITY "
                                    "HIGHESTMODSEQ)")
            if box.greetings:
                self.same("imap-status", "STATUS Greetings",
                          (typ, "not allowed" in text), ("NO", True))
            else:
                self.same("imap-status", "STATUS reply", typ, "OK")
                got = dict(re.findall(r"([A-Z]+) ([0-9]+)", text))
                self.same("imap-status", "STATUS %s" % box.name, got, {
                    "MESSAGES": str(len(box.msgs)),
                    "UNSEEN": str(box.unseen), "UIDNEXT": str(box.uidnext),
                    "UIDVALIDITY": str(box.uidvalidity),
                    "HIGHESTMODSEQ": str(box.hms)})
            self.select(imap, box)
            if not box.msgs:
                return
            typ, _, data = imap.cmd("UID", "FETCH", "1:*",
                                    "(FLAGS RFC822.SIZE INTERNALDATE)")
            self.same("imap-fetch", "FETCH 1:* reply", typ, "OK")
            got = {}
            for line in data:
                text = line.decode() if isinstance(line, bytes) else ""
                m = re.search(r"UID ([0-9]+)", text)
                if m:
                    date = re.search(r'INTERNALDATE "([^"]+)"', text).group(1)
                    got[int(m.group(1))] = (
                        imap_flags(text),
                        int(re.search(r"RFC822\.SIZE ([0-9]+)",
                                      text).group(1)),
                        int(time.mktime(imaplib.Internaldate2tuple(
                            ('INTERNALDATE "%s"' % date).encode()))))
            self.same("imap-fetch", "UID FETCH 1:* of %s" % box.name, got,
                      {u: (canonical_flags(m.flags), m.size, m.idate)
                       for u, m in box.msgs.items()})
        finally:
            imap.close()

    def op_refused(self, p):
        """Commands the spec's table does not have: NO, nothing changes."""
        sub = self.sub(p["sub"])
        imap = self.imap_session(sub)
        if imap is None:
            return
        try:
            self.select(imap, sub.boxes["INBOX"])
            command = p["command"]
            self.note("IMAP %s (not allowed)" % command)
            args = {"MOVE": ("UID", "MOVE", "1:*", "Greetings"),
                    "COPY": ("UID", "COPY", "1:*", "Greetings"),
                    "CREATE": ("CREATE", "Model"),
                    "DELETE": ("DELETE", "Greetings"),
                    "APPEND": ("APPEND", "INBOX", None, None,
                               message({"n": 0, "kind": "amr", "secs": 1}))
                    }[command]
            typ, text, _ = imap.cmd(*args)
            self.same("imap-refused", command, (typ, "not allowed" in text),
                      ("NO", True))
        finally:
            imap.close()

    # --- moves and expunges --------------------------------------------------

    def op_move(self, p):
        """rename(2) of a message into another mailbox: IMAP MOVE."""
        sub = self.sub(p["sub"])
        src = self.box(sub, p["box"])
        uid = self.uid(src, p["msg"])
        if p.get("other"):
            other = self.sub("B" if p["sub"] == "A" else "A")
            dst_dir, dst = self.path(other, other.boxes["INBOX"]), None
            want = errno.EXDEV
        else:
            dst = self.box(sub, p["to"])
            dst_dir = self.path(sub, dst)
            target = p.get("name", "moved.eml")
            if dst is src:
                want = errno.EPERM
            elif target != "moved.eml" and dst.msgs:
                target = "%d.eml" % self.uid(dst, p["msg"])
                want = errno.EEXIST
            else:
                target = "moved.eml"
                want = None
        name = "moved.eml" if dst is None else target
        self.note("mv %s/%s/%d.eml %s/%s" % (
            sub.msisdn, src.name, uid, dst_dir.relative_to(self.rig.fs.mnt),
            name))
        new_uid = None
        if want is None:
            want, new_uid = self.model.move(sub, src, uid, dst)
        try:
            os.rename(self.path(sub, src, uid), dst_dir / name)
            got = 0
        except OSError as e:
            got = e.errno
        self.same("move", "rename into %s" % dst_dir.name, errno_name(got),
                  errno_name(want))
        if new_uid:
            self.note("  -> UID %d" % new_uid)

    def op_rm(self, p):
        """unlink(2) of a message: expunge."""
        sub = self.sub(p["sub"])
        box = self.box(sub, p["box"])
        try:
            uid = self.uid(box, p["msg"])
            want = 0
        except Skip:
            uid, want = box.uidnext, errno.ENOENT
        self.note("rm %s/%s/%d.eml: want %s" % (sub.msisdn, box.name, uid,
                                               errno_name(want)))
        try:
            os.unlink(self.path(sub, box, uid))
            got = 0
        except OSError as e:
            got = e.errno
        self.same("expunge", "unlink %d.eml" % uid, errno_name(got),
                  errno_name(want))
        if not want:
            self.model.expunge(sub, box, uid)

    def op_expunge(self, p):
        """IMAP EXPUNGE, UID EXPUNGE or CLOSE: removes \\Deleted
        messages, in UID order."""
        sub = self.sub(p["sub"])
        box = self.box(sub, p["box"], imap=True)
        imap = self.imap_session(sub)
        if imap is None:
            return
        try:
            self.select(imap, box)
            deleted = sorted(u for u, m in box.msgs.items()
                             if "\\Deleted" in m.flags)
            how = p["how"]
            if how == "UID EXPUNGE":
                uid = pick(sorted(box.msgs), p["msg"]) if box.msgs else 1
                deleted = [u for u in deleted if u == uid]
                typ, _, _ = imap.cmd("UID", "EXPUNGE", str(uid))
            elif how == "CLOSE":
                typ, _, _ = imap.cmd("CLOSE")
            else:
                typ, _, _ = imap.cmd("EXPUNGE")
            self.note("IMAP %s in %s/%s: expunges %r" % (
                how, sub.msisdn, box.name, deleted))
            self.same("imap-expunge", how, typ, "OK")
            for uid in deleted:
                self.model.expunge(sub, box, uid)
        finally:
            imap.close()

    # --- mailboxes -----------------------------------------------------------

    def op_mkdir(self, p):
        sub = self.sub(p["sub"])
        name = p["name"]
        if name in BAD_BOX_NAMES and name != "profile":
            want = errno.EINVAL
        elif name in sub.boxes or name == "profile":
            want = errno.EEXIST
        else:
            want = 0
        self.note("mkdir %s/%s: want %s" % (sub.msisdn, name,
                                            errno_name(want)))
        t0 = int(time.time())
        try:
            os.mkdir(self.path(sub) / name)
            got = 0
        except OSError as e:
            got = e.errno
        self.same("mailbox", "mkdir %s" % name, errno_name(got),
                  errno_name(want))
        if not got:
            sub.boxes[name] = self.new_mailbox(sub, name, t0)

    def op_rmdir(self, p):
        sub = self.sub(p["sub"])
        box = self.box(sub, p["box"])
        if box.name in ("INBOX", "Greetings"):
            want = errno.EPERM
        elif box.msgs:
            want = errno.ENOTEMPTY
        else:
            want = 0
        self.note("rmdir %s/%s: want %s" % (sub.msisdn, box.name,
                                            errno_name(want)))
        try:
            os.rmdir(self.path(sub, box))
            got = 0
        except OSError as e:
            got = e.errno
        self.same("mailbox", "rmdir %s" % box.name, errno_name(got),
                  errno_name(want))
        if not got:
            del sub.boxes[box.name]

    def op_rename(self, p):
        sub = self.sub(p["sub"])
        box = self.box(sub, p["box"])
        to = p["to"]
        if box.name in ("INBOX", "Greetings"):
            want = errno.EPERM
        elif to in BAD_BOX_NAMES:
            want = errno.EINVAL
        elif to in sub.boxes:
            want = errno.EEXIST if to != box.name else 0
        else:
            want = 0
        self.note("mv %s/%s %s: want %s" % (sub.msisdn, box.name, to,
                                            errno_name(want)))
        try:
            os.rename(self.path(sub, box), self.path(sub) / to)
            got = 0
        except OSError as e:
            got = e.errno
        self.same("mailbox", "rename %s to %s" % (box.name, to),
                  errno_name(got), errno_name(want))
        if not got and to != box.name:
            del sub.boxes[box.name]
            box.name = to
            sub.boxes[to] = box

    # --- profile and notifications -------------------------------------------

    def write_profile(self, sub, key, value, want):
        try:
            path = self.path(sub) / "profile" / key
            fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
            try:
                os.write(fd, value.encode() + b"\n")
            finally:
                os.close(fd)
            got = 0
        except OSError as e:
            got = e.errno
        self.same("profile", "write profile/%s %r" % (key, value),
                  errno_name(got), errno_name(want))
        if got:
            return
        if key == "status":
            self.model.set_status(sub, value)
        else:
            sub.profile[key] = value

    def op_profile(self, p):
        sub = self.sub(p["sub"])
        key, value = p["key"], p["value"]
        if key == "status":
            frm = sub.profile["status"]
            ok = value in "UPNRB" and len(value) == 1 and (
                value == frm or (frm, value) in STATUS_CHANGES)
        elif key.startswith("quota_"):
            ok = value.isdigit()
        elif key == "app_port":
            ok = value.isdigit() and int(value) <= 16999
        elif key == "client_prefix":
            ok = 1 <= len(value) <= 30 and re.fullmatch(r"[!-~]+", value) \
                and not set(value) & set(";=")
        else:
            ok = True
        self.note("echo %r > %s/profile/%s: want %s" % (
            value, sub.msisdn, key, "success" if ok else "EINVAL"))
        self.write_profile(sub, key, value, 0 if ok else errno.EINVAL)

    def op_setmeta(self, p):
        """SETMETADATA /private/VVM/Accept: the profile's accept."""
        sub = self.sub(p["sub"])
        imap = self.imap_session(sub)
        if imap is None:
            return
        try:
            value = p["accept"]
            self.note("IMAP SETMETADATA Accept %r" % value)
            typ, data = imap.c._simple_command(
                "SETMETADATA", '""', "(/private/VVM/Accept %s)" % (
                    '"%s"' % value if value else "NIL"))
            self.same("imap-metadata", "SETMETADATA", typ, "OK")
            sub.profile["accept"] = value
        finally:
            imap.close()

    def op_notify(self, p):
        """user.vvm.notify: STATUS at any status, MBU while active."""
        sub = self.sub(p["sub"])
        what = p["what"]
        self.note("setfattr user.vvm.notify %s on %s" % (what, sub.msisdn))
        os.setxattr(self.path(sub), "user.vvm.notify", what.encode())
        if what == "STATUS":
            self.model._queue(sub, "STATUS", {"st": sub.profile["status"]})
        else:
            self.model._sync(sub, sub.boxes["INBOX"], "MBU")

    def op_send(self, p):
        """A sender retiring what the SMSC accepted, oldest first."""
        pending = self.model.pending
        n = max(0, len(pending) - p["keep"])
        done, self.model.pending = pending[:n], pending[n:]
        self.note("outbox: %d sent (by %s), %d left" % (n, p["how"],
                                                       len(pending) - n))
        box = self.rig.fs.mnt / ".outbox" / "sms"
        if p["how"] == "rm":
            for seq, _ in done:
                os.unlink(box / str(seq))
        elif done:
            os.setxattr(box, "user.vvm.remove",
                        " ".join(str(s) for s, _ in done).encode())

    # --- restarts ------------------------------------------------------------

    def op_remount(self, p):
        self.note("clean unmount and mount")
        self.stats["remounts"] += 1
        self.rig.unmount()
        self.rig.mount()

    def op_kill(self, p):
        self.note("SIGKILL vvmfs between operations")
        self.stats["kills"] += 1
        self.rig.kill()
        self.rig.mount()

    def op_inflight(self, p):
        """SIGKILL of vvmfs while an operation is in flight in another
        thread (a deposit by cp, SMTP or APPEND, a move, a flag change):
        afterwards the store is as if it happened once or not at all
        (and happened for sure if the client was told so), with
        everything else as it was."""
        via = p["via"]
        after = self.model.clone()
        if via in ("move", "flags"):
            action = self._inflight_change(p, after)
        else:
            action = self._inflight_deposit(p, after)
        if action is None:
            # Refused anyway (or nothing to act on): a plain kill.
            return self.op_kill(p)
        t0 = int(time.time())
        started, result = threading.Event(), {}
        early = p.get("early", False)

        def client():
            try:
                result["acked"] = action(started, early)
            except (OSError, EOFError, smtplib.SMTPException,
                    imaplib.IMAP4.error):
                pass
            finally:
                started.set()
        thread = threading.Thread(target=client, daemon=True)
        self.stats["kills"] += 1
        self.stats["inflight"] += 1
        thread.start()
        started.wait(30)
        time.sleep(p["delay_ms"] / 1000.0)
        self.rig.kill()
        thread.join(60)
        if thread.is_alive():
            self.fail("kill", "the %s client hangs after the kill" % via)
        self.rig.mount()
        for msg in self._learning:
            msg.idate_range = (t0, int(time.time()) + 1)
        acked = result.get("acked", False)
        candidates = [("done", after)]
        if not acked:
            candidates.append(("not done", self.model))
        outcomes = []
        for label, model in candidates:
            trial = model.clone()
            errors = Checker(self.rig, trial, random.Random(0)).run()
            outcomes.append((label, errors))
            if not errors:
                self.model = trial
                self.stats["inflight_" + label.replace(" ", "_")] += 1
                self.note("SIGKILL with a %s in flight: %s%s" % (
                    via, label, " (acknowledged)" if acked else ""))
                return
        self.fail(outcomes[0][1][0][0] if outcomes[0][1] else "inflight",
                  "after a SIGKILL with a %s in flight (%s), the store is "
                  "neither outcome:\n" % (
                      via, "acknowledged" if acked else "not acknowledged") +
                  "\n".join("  as if %s: %s" % (label, "; ".join(
                      "[%s] %s" % e for e in errors[:3]))
                      for label, errors in outcomes))

    def _inflight_deposit(self, p, after):
        """A deposit into INBOX (Greetings for APPEND) applied to after;
        returns the client's action, or None when it would be refused."""
        via = p["via"]
        spec = dict(p["msg"])
        sub = self.sub(p["sub"])
        frm = self.sub(p.get("frm", p["sub"]))
        box = sub.boxes["Greetings" if via == "append" else "INBOX"]
        if via == "append":
            spec["greeting"] = True
        if via == "smtp":
            spec.update(frm=frm.msisdn, to=sub.msisdn)
        data = message(spec)
        asub = after.subs[sub.msisdn]
        abox = asub.boxes[box.name]
        if via == "smtp":
            msg = after.new_msg(spec, suffix=data, sender=frm.msisdn)
            verdict = None if self.smtp_predict(frm, sub, msg) is None else 1
        else:
            msg = after.new_msg(spec, data, sender=CALLER)
            verdict = after.deposit_verdict(asub, abox, msg)
            if via == "append" and not sub.active:
                verdict = 1
        if verdict:
            return None
        msg.idate_range = (0, 0)
        self._learning = [msg]
        after.insert(asub, abox, msg)
        self.note("%s deposit into %s/%s" % (via, sub.msisdn, box.name))
        path = self.path(sub, box)

        def cp(started, early):
            fd = os.open(path / "inflight.eml",
                         os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            try:
                if early:
                    started.set()
                os.write(fd, data)
                started.set()
                os.fsync(fd)
                return True
            finally:
                started.set()
                try:
                    os.close(fd)
                except OSError:
                    pass

        def smtp(started, early):
            if early:
                started.set()
            return self.smtp_send(frm, sub, data, started) is None

        def append(started, early):
            imap = Imap(self.rig, sub.msisdn)
            try:
                if imap.login() is not None:
                    return False
                started.set()
                typ, _, _ = imap.cmd("APPEND", "Greetings", None, None, data)
                return typ == "OK"
            finally:
                imap.close()
        return {"cp": cp, "smtp": smtp, "append": append}[via]

    def _inflight_change(self, p, after):
        """A move or a flag change applied to after; returns the
        client's action, or None when it would be refused."""
        self._learning = []
        sub, box, uid = self.message_of(p)
        asub = after.subs[sub.msisdn]
        abox = asub.boxes[box.name]
        src = self.path(sub, box, uid)
        if p["via"] == "move":
            dst = self.box(sub, p["to"])
            if dst is box:
                return None
            err, new_uid = after.move(asub, abox, uid, asub.boxes[dst.name])
            if err:
                return None
            self.note("mv %s/%s/%d.eml %s/ (to UID %d)" % (
                sub.msisdn, box.name, uid, dst.name, new_uid))
            target = self.path(sub, dst) / "moved.eml"

            def action(started, early):
                started.set()
                os.rename(src, target)
                return True
            return action
        value = p["value"]
        op = value[0] if value[:1] in ("+", "-") else ""
        names = parse_flag_names(value[len(op):])
        if names is None or after.store_flags(asub, abox, uid, op,
                                              frozenset(names)):
            return None
        self.note("setfattr %r %s/%s/%d.eml" % (value, sub.msisdn, box.name,
                                                uid))

        def action(started, early):
            started.set()
            os.setxattr(src, "user.imap.flags", value.encode())
            return True
        return action

    def op_purge(self, p):
        """Retention: messages whose Expires has passed are expunged by
        vvmfs (every retention_interval, 1 s here) as if unlinked."""
        sub = self.sub(p["sub"])
        now = int(time.time())
        items = p["items"]
        soon = len(items) > 1
        # One message may expire at once; several expire in order a few
        # seconds on, after all are in, so the purge order is known.
        base = now + 3 + len(items) if soon else now - 3600
        expected = []
        for i, item in enumerate(items):
            box = self.box(sub, item["box"])
            spec = dict(item["msg"], expires=base + i)
            data = message(spec)
            msg = self.model.new_msg(spec, data, sender=CALLER)
            want = self.model.deposit_verdict(sub, box, msg)
            t0 = int(time.time())
            err, got_uid = deposit(self.path(sub, box), data)
            self.same("deposit", "cp of an expiring message into %s: errno"
                      % box.name, errno_name(err), errno_name(want))
            if want:
                continue
            msg.idate_range = (t0, int(time.time()) + 1)
            uid = self.model.insert(sub, box, msg)
            self.same("deposit", "UID", got_uid, uid)
            expected.append((box, uid))
        if soon and time.time() >= base - 0.5:
            self.fail("harness", "expiring deposits took too long")
        self.note("retention: %d messages expire at %s: %r" % (
            len(expected), "once" if not soon else "base+i",
            [(b.name, u) for b, u in expected]))
        deadline = max(base + len(items), now) + 10
        for box, uid in expected:
            path = self.path(sub, box, uid)
            while os.path.exists(path):
                if time.time() > deadline:
                    self.fail("retention", "%s not purged %d s after its "
                              "Expires" % (path, int(time.time()) - base))
                time.sleep(0.05)
            self.model.expunge(sub, box, uid)
        self.stats["purged"] += len(expected)
