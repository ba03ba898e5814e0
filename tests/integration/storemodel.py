"""The in-memory model of a vvmfs store for the model-based checker
(test_store_model.py): what docs/fs-layout.md says must be there after
each operation, and the voice messages the checker deposits.

The model knows nothing of vvmfs's internals. Where the contract leaves a
value to the implementation (the bytes vvm-smtpd puts in front of a
message, an INTERNALDATE of "now", a new mailbox's UIDVALIDITY), the model
holds what it may be and *learns* the value at the first observation,
checking it against the rule; from then on it is exact.
"""
import base64
import copy
import email.utils
import errno
import math
import os
import random
import struct
from dataclasses import dataclass, field

FLAG_ORDER = ["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft",
              "$CNS-Greeting-On"]
FLAG_ALIASES = {"$applevm-activegreeting": "$CNS-Greeting-On"}
ACTIVE = "NR"
# docs/fs-layout.md, "Profile": the provisioning state machine.
STATUS_CHANGES = {("U", "P"), ("P", "N"), ("P", "R"), ("N", "R"),
                  ("N", "P"), ("R", "P"), ("P", "B"), ("N", "B"),
                  ("R", "B"), ("B", "P"), ("B", "N"), ("B", "R"),
                  ("P", "U"), ("N", "U"), ("R", "U"), ("B", "U")}
# What the rig's [provision] gives every new subscriber, so that the
# values written in the commit that creates it are checked across
# remounts and kills like any other.
PROVISION = {"quota_messages": "60", "language": "nld"}
PROFILE_DEFAULTS = dict({"status": "P", "client_prefix": "//VVM",
                         "app_port": "0", "accept": "",
                         "quota_storage_kb": "0", "quota_messages": "0",
                         "quota_voice_seconds": "0",
                         "quota_greeting_seconds": "0",
                         "transcription": "off", "language": "",
                         "options": "", "client_type": ""}, **PROVISION)
QUOTA_KEYS = ["storage_kb", "messages", "voice_seconds", "greeting_seconds"]

# docs/media.md: what the server produces, by MIME type and token.
TARGETS = {"amr": "audio/amr", "amr-wb": "audio/amr-wb",
           "wav-g711a": "audio/wav; codec=g711a",
           "wav-g711u": "audio/wav; codec=g711u", "wav": "audio/wav"}

EINVAL, ENOENT, EDQUOT = errno.EINVAL, errno.ENOENT, errno.EDQUOT

CALLER = "+31600000001"
DOMAIN = "example.net"


class Divergence(AssertionError):
    """The store and the model disagree. category names what kind of
    observation differed, so that a shrunk run can be told to fail "the
    same way"."""

    def __init__(self, category, text):
        super().__init__("[%s] %s" % (category, text))
        self.category = category
        self.text = text


# --- voice messages ----------------------------------------------------------

# kind -> (Content-Type, file extension, user.vvm.audio token); the audio
# is made here so that its format is known without asking vvmfs.
AUDIO_KINDS = {
    "amr": ("audio/amr", "amr", "amr"),
    "g711a": ("audio/wav; codec=g711a", "wav", "wav-g711a"),
    "pcm": ("audio/wav", "wav", "wav"),
    "unknown": ("audio/amr", "amr", "unknown"),
}
KINDS = list(AUDIO_KINDS) + ["text"]


def _alaw(sample):
    """One 16-bit sample as G.711 A-law (ITU-T G.711, Sun's g711.c)."""
    mask = 0xD5 if sample >= 0 else 0x55
    if sample < 0:
        sample = -sample - 1
    sample >>= 3
    for seg, end in enumerate((0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF,
                               0xFFF)):
        if sample <= end:
            break
    else:
        return 0x7F ^ mask
    aval = seg << 4
    aval |= (sample >> 1 if seg < 2 else sample >> seg) & 0xF
    return aval ^ mask


def _wav(fmt, bits, data):
    chunk = struct.pack("<HHIIHH", fmt, 1, 8000, 8000 * bits // 8, bits // 8,
                        bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(chunk)) + chunk
    if fmt != 1:
        body += b"fact" + struct.pack("<II", 4, len(data) * 8 // bits)
    body += b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _tone(seconds, n):
    freq = 300 + 37 * (n % 11)
    return [int(8000 * math.sin(2 * math.pi * freq * i / 8000))
            for i in range(8000 * seconds)]


def audio(kind, seconds, n):
    """Audio of a kind lasting exactly `seconds` as vvmfs measures it,
    different for every n."""
    if kind == "amr":
        # AMR-NB 12.2 kbit/s storage format (frame type 7, 32 bytes).
        frame = bytes([7 << 3 | 4]) + bytes([(n * 7 + i) % 256
                                             for i in range(31)])
        return b"#!AMR\n" + frame * (50 * seconds)
    if kind == "g711a":
        return _wav(6, 8, bytes(_alaw(s) for s in _tone(seconds, n)))
    if kind == "pcm":
        return _wav(1, 16, struct.pack("<%dh" % (8000 * seconds),
                                       *_tone(seconds, n)))
    if kind == "unknown":
        return b"\x01junk" + random.Random(n).randbytes(600)
    raise ValueError(kind)


def rfc2822(t):
    return email.utils.formatdate(t, usegmt=True)


def message(spec):
    """The bytes of a message described by spec (a dict, as ops carry it):
    n, kind, secs, and optionally greeting, expires (Unix time), frm and
    to (MSISDNs, for SMTP), bad (no Date: not a valid message)."""
    n, kind, secs = spec["n"], spec["kind"], spec["secs"]
    frm = (spec["frm"] + "@example.com") if spec.get("frm") \
        else CALLER + "@" + DOMAIN
    to = spec.get("to", "31612345678") + ("@example.com" if spec.get("frm")
                                          else "@" + DOMAIN)
    head = "From: %s\r\nTo: %s\r\n" % (frm, to)
    if not spec.get("bad"):
        head += "Date: Sun, 22 Nov 2026 10:%02d:00 +0000\r\n" % (n % 60)
    head += "Subject: model message %d\r\n" \
        "Message-ID: <model-%d@vvm.test>\r\n" % (n, n)
    if spec.get("greeting"):
        head += "X-CNS-Greeting-Type: normal-greeting\r\n" \
                "Message-Context: x-voice-greeting\r\n"
    else:
        head += "Message-Context: voice-message\r\n"
    if kind != "text":
        head += "Content-Duration: %d\r\n" % secs
    if spec.get("expires") is not None:
        head += "Expires: %s\r\n" % rfc2822(spec["expires"])
    head += "MIME-Version: 1.0\r\n"
    if kind == "text":
        return (head + "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
                "A voice message that lost its audio, number %d.\r\n"
                % n).encode()
    ctype, ext, _ = AUDIO_KINDS[kind]
    body = base64.encodebytes(audio(kind, secs, n)).decode().replace(
        "\n", "\r\n")
    return (head +
            "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
            "--b1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
            "You have a voice message, number %d.\r\n"
            "--b1\r\nContent-Type: %s\r\nContent-Transfer-Encoding: base64\r\n"
            "Content-Disposition: attachment; filename=\"vm.%s\"\r\n"
            "Content-Duration: %d\r\n\r\n%s--b1--\r\n"
            % (n, ctype, ext, secs, body)).encode()


def audio_formats(spec):
    """user.vvm.audio's (part, format) pairs for a message of spec."""
    if spec["kind"] == "text":
        return []
    return [("2", AUDIO_KINDS[spec["kind"]][2])]


def audio_attr(spec):
    if spec["kind"] == "text":
        return None
    token = AUDIO_KINDS[spec["kind"]][2]
    ms = -1 if token == "unknown" else 1000 * spec["secs"]
    return "2 %s %d\n" % (token, ms)


def audio_part_offset(data):
    """Where the audio part's header starts in a message of message()."""
    return data.index(b"--b1\r\nContent-Type: audio/") + len(b"--b1\r\n")


# --- accept lists (docs/media.md, "Renditions") ------------------------------

def accept_target(item):
    """The token of the format an accept list item asks the server to
    produce, or None when it names no format the server produces."""
    mime, _, params = item.partition(";")
    mime = mime.strip().lower()
    codec = None
    for p in params.split(";"):
        k, eq, v = p.partition("=")
        if eq and k.strip().lower() == "codec":
            codec = v.strip().strip('"').lower()
    if mime == "audio/amr":
        return "amr" if codec is None else None
    if mime == "audio/amr-wb":
        return "amr-wb" if codec is None else None
    if mime in ("audio/wav", "audio/x-wav", "audio/wave"):
        return {None: "wav", "pcm": "wav", "g711a": "wav-g711a",
                "g711u": "wav-g711u"}.get(codec)
    return None


def accept_names(item, fmt):
    target = accept_target(item)
    if target is not None:
        return target == fmt
    mime = item.partition(";")[0].strip().lower()
    return mime.startswith("audio/") and mime[6:] == fmt.lower()


def rendition_target(accept, formats):
    """None for the original, else the token the audio is rendered to."""
    if not accept:
        return None
    items = accept.split(",")
    if all(any(accept_names(i, f) for i in items) for _, f in formats):
        return None
    for i in items:
        t = accept_target(i)
        if t is not None:
            # Parts already in the target, and audio no one can read,
            # stay as they are: nothing left to render is the original.
            if any(f not in (t, "unknown") for _, f in formats):
                return t
            return None
    return None


# --- the model ---------------------------------------------------------------

def canonical_flags(names):
    return " ".join(f for f in FLAG_ORDER if f in names)


def parse_flag_names(text):
    """The canonical names in a flag list, or None if one is no flag."""
    out = set()
    for word in text.split():
        low = word.lower()
        low = FLAG_ALIASES.get(low, low).lower()
        match = [f for f in FLAG_ORDER if f.lower() == low]
        if not match:
            return None
        out.add(match[0])
    return out


@dataclass
class Msg:
    cid: int                    # the content: renditions are cached by it
    spec: dict
    data: bytes = None          # None until learned (SMTP deposits)
    suffix: bytes = None        # what learned bytes must end with
    flags: frozenset = frozenset()
    modseq: int = 0
    idate: int = None           # None until learned within idate_range
    idate_range: tuple = None
    sender: str = None          # SYNC's s

    @property
    def duration(self):
        """Content-Duration as vvmfs counts it (0 for none)."""
        return 0 if self.spec["kind"] == "text" else self.spec["secs"]

    @property
    def size(self):
        return len(self.data)

    def size_range(self):
        if self.data is not None:
            return len(self.data), len(self.data)
        return len(self.suffix) + SMTP_PREFIX[0], \
            len(self.suffix) + SMTP_PREFIX[1]


# What vvm-smtpd puts in front of a message (Return-Path, Received) is
# not the model's to predict; these bounds only decide whether a quota
# refusal can be predicted before the bytes are seen.
SMTP_PREFIX = (40, 600)


@dataclass
class Mailbox:
    name: str
    uidvalidity: int
    uidnext: int = 1
    hms: int = 0
    msgs: dict = field(default_factory=dict)      # uid -> Msg
    tombs: dict = field(default_factory=dict)     # uid -> modseq
    history: list = field(default_factory=list)   # highestmodseqs seen

    @property
    def unseen(self):
        return sum(1 for m in self.msgs.values() if "\\Seen" not in m.flags)

    @property
    def greetings(self):
        return self.name == "Greetings"


@dataclass
class Subscriber:
    msisdn: str
    profile: dict
    boxes: dict = field(default_factory=dict)     # name -> Mailbox

    def box_names(self):
        fixed = [n for n in ("INBOX", "Greetings") if n in self.boxes]
        return fixed + sorted(n for n in self.boxes if n not in fixed)

    def all_msgs(self):
        for box in self.boxes.values():
            for msg in box.msgs.values():
                yield box, msg

    def usage(self, sizes="exact"):
        """(bytes, messages, voice seconds, greeting seconds); sizes
        "min"/"max" bound messages whose bytes are not known yet."""
        total = count = voice = greet = 0
        for box, msg in self.all_msgs():
            lo, hi = msg.size_range()
            total += hi if sizes == "max" else lo
            count += 1
            if box.greetings:
                greet += msg.duration
            else:
                voice += msg.duration
        return total, count, voice, greet

    def limits(self):
        return [int(self.profile["quota_" + k]) for k in QUOTA_KEYS]

    @property
    def active(self):
        return self.profile["status"] in ACTIVE


@dataclass
class Expected:
    """An outbox entry the model expects; its text is made at check
    time, when learned values (an INTERNALDATE) are known."""
    to: str
    port: str
    kind: str
    prefix: str
    fields: dict                 # SYNC: ev, c, and for NM id, t, s, l
    msg: Msg = None              # NM: the message whose date is dt

    def sync_text(self):
        f = self.fields
        text = "%s:SYNC:ev=%s" % (self.prefix, f["ev"])
        if f["ev"] == "NM":
            text += ";id=%d" % f["id"]
        text += ";c=%d" % f["c"]
        if f["ev"] != "NM":
            return text
        text += ";t=v"
        if f.get("s"):
            text += ";s=%s" % f["s"]
        return text + ";dt=%s;l=%d" % (sms_date(self.msg.idate), f["l"])


def sms_date(t):
    """SYNC's dt: the time in the zone vvmfs runs in (ours: the same)."""
    import time as _time
    lt = _time.localtime(t)
    off = lt.tm_gmtoff
    sign = "-" if off < 0 else "+"
    off = abs(off)
    return "%02d/%02d/%04d %02d:%02d %s%02d%02d" % (
        lt.tm_mday, lt.tm_mon, lt.tm_year, lt.tm_hour, lt.tm_min, sign,
        off // 3600, off % 3600 // 60)


class Model:
    """What must be in the store. Operations return the errno the real
    store must give (0 for success) and change the model only on success,
    as vvmfs commits each change whole or not at all."""

    def __init__(self):
        self.subs = {}
        self.pending = []          # [(seq, text)] in the outbox
        self.new = []              # [Expected] queued since the last check
        self.max_uidvalidity = 0
        self.renditions = {}       # (cid, target) -> bytes
        self.next_cid = 1
        self.newest = None         # (Subscriber, Mailbox, UID) deposited last

    def clone(self):
        return copy.deepcopy(self)

    # --- notifications --------------------------------------------------

    def _queue(self, sub, kind, fields, msg=None):
        self.new.append(Expected(sub.msisdn, sub.profile["app_port"], kind,
                                 sub.profile["client_prefix"], fields, msg))

    def _sync(self, sub, box, ev, uid=None, msg=None):
        """The SYNC a change in box queues (fs-layout.md, "The SMS
        outbox"): NM or MBU for INBOX, GU for Greetings, while active."""
        if not sub.active:
            return
        if box.greetings:
            ev = "GU"
        elif box.name != "INBOX":
            return
        fields = {"ev": ev, "c": box.unseen}
        if ev == "NM":
            # s: the number in From's local part, also for a message
            # moved into INBOX (the contract's table says so for both).
            fields.update(id=uid, s=msg.sender, l=msg.duration)
        self._queue(sub, "SYNC", fields, msg if ev == "NM" else None)

    # --- quota ------------------------------------------------------------

    def quota_verdict(self, sub, changes):
        """Whether a change is refused with EDQUOT: changes is a list of
        (mailbox, Msg, +1/-1). Returns 0, EDQUOT or None (cannot tell
        until the bytes are known)."""
        verdicts = set()
        for sizes in ("min", "max"):
            before = sub.usage(sizes)
            after = list(before)
            for box, msg, sign in changes:
                lo, hi = msg.size_range()
                after[0] += sign * (hi if sizes == "max" else lo)
                after[1] += sign
                after[3 if box.greetings else 2] += sign * msg.duration
            refused = False
            for i, limit in enumerate(sub.limits()):
                if i == 0:
                    limit *= 1024
                if limit and after[i] > before[i] and after[i] > limit:
                    refused = True
            verdicts.add(refused)
        if len(verdicts) == 2:
            return None
        return EDQUOT if verdicts.pop() else 0

    # --- messages ---------------------------------------------------------

    def new_msg(self, spec, data=None, suffix=None, flags=(), idate=None,
                idate_range=None, sender=None):
        msg = Msg(self.next_cid, dict(spec), data, suffix, frozenset(flags),
                  0, idate, idate_range, sender)
        self.next_cid += 1
        return msg

    def deposit_verdict(self, sub, box, msg):
        """The errno a deposit of msg into box must fail with, 0, or None
        when the quota cannot tell yet."""
        if msg.spec.get("bad"):
            return EINVAL
        if "$CNS-Greeting-On" in msg.flags and not box.greetings:
            return EINVAL
        return self.quota_verdict(sub, [(box, msg, 1)])

    def insert(self, sub, box, msg, moved=False):
        uid = box.uidnext
        box.uidnext += 1
        box.hms += 1
        msg.modseq = box.hms
        box.msgs[uid] = msg
        if not moved:
            self.newest = (sub, box, uid)
        self._sync(sub, box, "NM", uid, msg)
        return uid

    def store_flags(self, sub, box, uid, op, names):
        """op: "+", "-" or "" (replace). Returns the errno."""
        msg = box.msgs.get(uid)
        if msg is None:
            return ENOENT
        if op == "+":
            new = msg.flags | names
        elif op == "-":
            new = msg.flags - names
        else:
            new = frozenset(names)
        if "$CNS-Greeting-On" in new and not box.greetings:
            return EINVAL
        if new == msg.flags:
            return 0
        toggled = ("$CNS-Greeting-On" in new) != \
            ("$CNS-Greeting-On" in msg.flags)
        msg.flags = frozenset(new)
        box.hms += 1
        msg.modseq = box.hms
        if box.greetings and toggled:
            self._sync(sub, box, "GU")
        return 0

    def expunge(self, sub, box, uid):
        box.msgs.pop(uid)
        box.hms += 1
        box.tombs[uid] = box.hms
        self._sync(sub, box, "MBU")

    def move(self, sub, src, uid, dst):
        """rename(2) of a message into dst: IMAP MOVE. Returns (errno,
        new uid)."""
        msg = src.msgs[uid]
        verdict = self.quota_verdict(sub, [(src, msg, -1), (dst, msg, 1)])
        if verdict:
            return verdict, None
        self.expunge(sub, src, uid)
        if not dst.greetings:
            # $CNS-Greeting-On is allowed only in Greetings.
            msg.flags = msg.flags - {"$CNS-Greeting-On"}
        return 0, self.insert(sub, dst, msg, moved=True)

    # --- profile and status --------------------------------------------------

    def set_status(self, sub, to):
        frm = sub.profile["status"]
        if to == frm:
            return 0
        if (frm, to) not in STATUS_CHANGES:
            return EINVAL
        sub.profile["status"] = to
        self._queue(sub, "STATUS", {"st": to})
        return 0


