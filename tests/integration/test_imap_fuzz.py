"""Authenticated abuse of vvm-imapd through a real vvmfs mount: what the
libFuzzer session target cannot reach, since it has no mount to log in to.

One logged-in client, INBOX selected with a few messages, sends a bounded
number of commands drawn from a grammar of the real ones (FETCH and UID
FETCH with random sections and partials, SEARCH with random and nested
keys, STORE, APPEND with broken MIME, STATUS and LIST with odd names,
IDLE, the self-care commands, METADATA...), a third of them then mutated
at the byte level (truncated, NUL and 8-bit bytes, bare CR and LF, huge
numbers, deep parentheses, an oversized line). Every command must end in a
tagged OK, NO or BAD (a mutated one may end in an untagged BAD, and is
then followed by a NOOP that must succeed) or in a clean close of the
connection by a shim that exits 0; every line the shim sends must be a
well-framed response. At the end the shims have all exited 0 without a
sanitizer report, the INBOX messages still there are byte for byte what
was deposited (through the mount and through FETCH), and after unmounting
`vvmadm fsck` finds the store clean.

The seed is fixed (VVM_FUZZ_SEED overrides it, VVM_FUZZ_COMMANDS the
count), so a failure is replayed by running the test again; the failure
message names the command that failed and the ones before it, and
VVM_FUZZ_TRACE=FILE writes every command sent to FILE.
"""
import os
import random
import re
import socket
import subprocess
import time

import pytest

from conftest import MSISDN, VVMADM, deposit, amr_audio, voice_message
from imapd import PASSWORD, PIN, Raw, make_imapd  # noqa: F401
from vvmtest import message_path, message_uids

# Seed 4 reaches an EXPUNGE and a LOGOUT among its 400 commands.
SEED = int(os.environ.get("VVM_FUZZ_SEED", "4"))
TRACE = os.environ.get("VVM_FUZZ_TRACE")     # a file to log every command
COMMANDS = int(os.environ.get("VVM_FUZZ_COMMANDS", "400"))
TIME_BUDGET = 60            # seconds for the commands
REPLY_TIMEOUT = 15          # an answer to a well-formed command
MUTANT_TIMEOUT = 4          # a mutant may leave the shim waiting for data
MESSAGES = 8

RESPONSE = re.compile(rb"^(\*|\+|[^ ]+ (OK|NO|BAD))( |$)")
LITERAL_AT_END = re.compile(rb"~?\{(\d+)\}$")
# The shim takes a bare LF for CRLF, and its error recovery takes "}\r\r\n"
# as the end of an announcement too.
CLIENT_LITERAL = re.compile(rb"~?\{(\d+)(\+?)\}\r*\n")
AUTH_LITERAL_MAX = 32 << 20     # imap_parser_limits_auth()
HUGE = [b"0", b"4294967295", b"4294967296", b"18446744073709551616",
        b"99999999999999999999", b"99999999", b"-1"]


# --- the grammar ---------------------------------------------------------

class Grammar:
    """Random commands, mostly well formed, with enough bad in them."""

    def __init__(self, rng):
        self.r = rng

    def pick(self, *choices):
        return self.r.choice(choices)

    def num(self):
        if self.r.random() < 0.85:
            return self.pick("*", str(self.r.randint(1, MESSAGES)))
        return self.pick("0", "4294967295", "4294967296",
                         str(self.r.randint(MESSAGES + 1, 30)))

    def seqset(self):
        parts = []
        for _ in range(self.r.choice([1, 1, 1, 2, 3])):
            if self.r.random() < 0.5:
                parts.append(self.num())
            else:
                parts.append("%s:%s" % (self.num(), self.num()))
        if self.r.random() < 0.03:
            parts = [str(i) for i in range(1, 300)]
        return ",".join(parts)

    def section(self):
        part = ".".join(str(self.r.randint(0, 4))
                        for _ in range(self.r.randint(1, 4)))
        s = self.pick("", "HEADER", "TEXT", "1", "2", "1.MIME", "2.MIME",
                      "", "HEADER", "TEXT", "1", "2", "1.MIME", "2.MIME",
                      "HEADER.FIELDS (SUBJECT)", "HEADER.FIELDS (Date To)",
                      "2.HEADER", "1.TEXT", part, part + ".MIME",
                      "HEADER.FIELDS (FROM SUBJECT)",
                      "HEADER.FIELDS.NOT (DATE TO)",
                      "HEADER.FIELDS (" + " ".join(
                          self.pick("X", "Content-Type", "Message-ID",
                                    "\"Subject\"", "{4}\r\nDate")
                          for _ in range(self.r.randint(0, 4))) + ")",
                      "MIME", "3", "99", "HEADER.FIELDS ()", "1.2.3.4.5.6")
        partial = ""
        if self.r.random() < 0.3:
            partial = "<%s.%s>" % (self.pick("0", "1", "10", "500",
                                             "4294967295", "99999999999"),
                                   self.pick("0", "1", "20", "100000",
                                             "4294967295"))
        peek = self.pick("BODY.PEEK", "BODY.PEEK", "BODY.PEEK", "BODY",
                         "BODY", "BINARY.PEEK", "BINARY.SIZE")
        return "%s[%s]%s" % (peek, s, partial)

    def fetch_att(self):
        simple = ["FLAGS", "UID", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE",
                  "BODY", "BODYSTRUCTURE", "RFC822.HEADER", "MODSEQ",
                  "RFC822", "RFC822.TEXT", "X-UNKNOWN"]
        if self.r.random() < 0.15:
            return self.pick("ALL", "FAST", "FULL")
        items = [self.section() if self.r.random() < 0.5 else
                 self.r.choice(simple)
                 for _ in range(self.r.randint(1, 5))]
        if len(items) == 1 and self.r.random() < 0.5:
            return items[0]
        return "(" + " ".join(items) + ")"

    def astring(self):
        return self.pick("INBOX", "inbox", "Greetings", "Saved", "\"\"",
                         "\"INBOX\"", "{5}\r\nINBOX", "{5+}\r\nINBOX",
                         "Nowhere", "\"../" + MSISDN + "\"", "profile",
                         ".sessions", "\"a/b\"", "\"..\"", "\"\\\\\"",
                         "\"caf\xc3\xa9\"", "NIL", "\"*\"", "~{5}\r\nINBOX",
                         "\"" + "x" * self.r.randint(100, 3000) + "\"")

    def string(self):
        return self.pick("voice", "\"voice mail 1\"", "\"\"", "31600000001",
                         "{5}\r\nvoice", "\"test-3@\"", "\"\\\"\"",
                         "\"" + "a" * self.r.randint(1, 2000) + "\"",
                         "\"\xff\xfe\"", "NIL", "\"%\"")

    def date(self):
        return self.pick("1-Jan-2000", "22-Nov-2026", "31-Feb-2026",
                         "\"2-Mar-2026\"", "0-Jan-0", "99-Xyz-99999",
                         "1-Jan-99999999999", "\"\"")

    def search_key(self, depth=0):
        if depth < 6 and self.r.random() < 0.25:
            kind = self.pick("NOT", "OR", "()")
            if kind == "NOT":
                return "NOT " + self.search_key(depth + 1)
            if kind == "OR":
                return "OR %s %s" % (self.search_key(depth + 1),
                                     self.search_key(depth + 1))
            return "(" + " ".join(self.search_key(depth + 1) for _ in
                                  range(self.r.randint(1, 3))) + ")"
        k = self.pick("ALL", "ANSWERED", "DELETED", "FLAGGED", "NEW", "OLD",
                      "RECENT", "SEEN", "UNANSWERED", "UNDELETED",
                      "UNFLAGGED", "UNSEEN", "DRAFT", "UNDRAFT", "KEYWORD",
                      "UNKEYWORD", "BCC", "CC", "FROM", "SUBJECT", "TO",
                      "BODY", "TEXT", "BEFORE", "ON", "SINCE", "SENTBEFORE",
                      "SENTON", "SENTSINCE", "HEADER", "LARGER", "SMALLER",
                      "UID", "SEQ", "BOGUS", "MODSEQ", "CHARSET")
        if k in ("KEYWORD", "UNKEYWORD"):
            return "%s %s" % (k, self.pick("$CNS-Greeting-On", "x", "\\Seen"))
        if k in ("BCC", "CC", "FROM", "SUBJECT", "TO", "BODY", "TEXT"):
            return "%s %s" % (k, self.string())
        if k in ("BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE"):
            return "%s %s" % (k, self.date())
        if k == "HEADER":
            return "HEADER %s %s" % (self.pick("Message-ID", "X", "\"\"",
                                               "Content-Duration"),
                                     self.string())
        if k in ("LARGER", "SMALLER", "MODSEQ"):
            return "%s %s" % (k, self.pick("0", "1", "3000", "4294967295",
                                           "4294967296", "-5", "x"))
        if k == "UID":
            return "UID " + self.seqset()
        if k == "SEQ":
            return self.seqset()
        if k == "CHARSET":
            return "CHARSET %s ALL" % self.pick("UTF-8", "US-ASCII", "KOI8-R")
        return k

    def flags(self):
        names = [self.pick("\\Seen", "\\Deleted", "\\Flagged", "\\Answered",
                           "\\Draft", "\\Recent", "$CNS-Greeting-On", "$Junk",
                           "\\seen", "\\*", "\\", "x" * 300, "NIL",
                           "\\Deleted")
                 for _ in range(self.r.randint(0, 4))]
        if self.r.random() < 0.2:
            return " ".join(names) or "\\Seen"
        return "(" + " ".join(names) + ")"

    def message(self):
        good = voice_message(self.r.randint(100, 999))
        kind = self.pick("good", "nomime", "noboundary", "unclosed",
                         "binary", "empty", "nul", "deep", "huge-header",
                         "bare-lf", "text")
        if kind == "good":
            return good
        if kind == "nomime":
            return good.replace(b"MIME-Version: 1.0\r\n", b"")
        if kind == "noboundary":
            return good.replace(b'; boundary="b1"', b"")
        if kind == "unclosed":
            return good.replace(b"--b1--\r\n", b"")
        if kind == "binary":
            return bytes(self.r.getrandbits(8) for _ in range(
                self.r.randint(1, 600)))
        if kind == "empty":
            return b""
        if kind == "nul":
            return good.replace(b"You have", b"You\0have")
        if kind == "deep":
            head = b"".join(b'Content-Type: multipart/mixed; boundary="d%d"'
                            b"\r\n\r\n--d%d\r\n" % (i, i) for i in range(60))
            return good.split(b"Content-Type: multipart")[0] + head
        if kind == "huge-header":
            return b"X-Long: " + b"a" * 70000 + b"\r\n" + good
        if kind == "bare-lf":
            return good.replace(b"\r\n", b"\n")
        return b"just some text\r\n"

    def append(self):
        data = self.message()
        box = self.pick("Greetings", "Greetings", "INBOX", "Saved", "Nowhere",
                        "\"Greetings\"")
        flags = self.pick("", "", "(\\Seen) ", "($CNS-Greeting-On) ",
                          "(\\Flagged) ", "() ", "(\\Recent \\Deleted) ")
        date = self.pick("", "", "\"22-Nov-2026 10:00:00 +0000\" ",
                         "\"31-Feb-2026 25:61:61 +9999\" ", "\"x\" ")
        lit = self.pick("{%d}", "{%d}", "{%d+}", "~{%d}") % len(data)
        return ("APPEND %s %s%s%s\r\n" % (box, flags, date, lit)).encode() + \
            data

    def selfcare(self):
        cmd = self.pick("XCHANGE_TUI_PWD", "CHANGE_TUI_PWD", "XCHANGE_VM_LANG",
                        "CHANGE_VM_LANG", "XCHANGE_GEN_OPTIONS_STRING",
                        "XCLOSE_NUT", "CLOSE_NUT", "XTRANSCRIBE",
                        "XTRANSCRIPTION_SERVICE")
        args = []
        for _ in range(self.r.randint(0, 4)):
            args.append(self.pick(
                "PWD=%d" % self.r.randint(0, 10 ** 8),
                "OLD_PWD=" + PIN, "OLD_PWD=0000", "PWD=", "LANG=eng",
                "LANG=" + "x" * 200, "OPTIONSSTRING=aaff", "OPTIONSSTRING=zz",
                "UID=1", "UID=4294967296", "UID=-1", "STATE=START",
                "STATE=STOP", "EXP_DATE=2027-01-25", "SUB_DURATION=12",
                "\"PWD=1357\"", "=", "PWD=1=2", "{8}\r\nPWD=9753", "NIL",
                "(PWD=1)"))
        return " ".join([cmd] + args)

    def metadata(self):
        entry = self.pick("/private/VVM/GreetingTypesAllowed",
                          "/private/VVM/Accept", "/private/VVM/Bogus",
                          "/shared/comment", "/private/VVM/",
                          "\"/private/VVM/Accept\"")
        if self.r.random() < 0.5:
            return "GETMETADATA %s %s" % (
                self.pick("\"\"", "INBOX", "(DEPTH 1) \"\""),
                self.pick(entry, "(" + entry + " " + entry + ")", "()"))
        value = self.pick("\"audio/amr\"", "\"audio/amr,audio/wav; "
                          "codec=g711a\"", "\"not a type\"", "NIL",
                          "{9}\r\naudio/amr", "\"" + "a" * 5000 + "\"")
        return "SETMETADATA \"\" (%s %s)" % (entry, value)

    def command(self):
        """(bytes without tag, whether it is IDLE)"""
        r = self.r.random()
        if r < 0.16:
            return ("FETCH %s %s" % (self.seqset(), self.fetch_att())), False
        if r < 0.30:
            return ("UID FETCH %s %s" % (self.seqset(), self.fetch_att())), \
                False
        if r < 0.42:
            return ("%sSEARCH %s" % (self.pick("", "UID "), " ".join(
                self.search_key() for _ in range(self.r.randint(1, 3))))), \
                False
        if r < 0.50:
            return ("%sSTORE %s %s%sFLAGS%s %s" % (
                self.pick("", "UID "), self.seqset(),
                self.pick("", "+", "-"), "", self.pick("", ".SILENT"),
                self.flags())), False
        if r < 0.55:
            return self.append(), False
        if r < 0.60:
            return ("STATUS %s (%s)" % (self.astring(), " ".join(
                self.pick("MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN",
                          "RECENT", "HIGHESTMODSEQ", "SIZE", "x")
                for _ in range(self.r.randint(0, 4))))), False
        if r < 0.65:
            return ("%s %s %s" % (
                self.pick("LIST", "LSUB"),
                self.pick("\"\"", "INBOX", "\"../\"", "~", "{0}\r\n"),
                self.pick("*", "%", "\"\"", "INBOX", "\"*/*\"", "Gr%",
                          "\"" + "%*" * self.r.randint(1, 6) + "x\"",
                          "\"../*\"", "\"\\\\\""))), False
        if r < 0.69:
            return "IDLE", True
        if r < 0.75:
            return self.selfcare(), False
        if r < 0.80:
            return self.metadata(), False
        if r < 0.86:
            return self.pick("SELECT INBOX", "SELECT INBOX", "EXAMINE INBOX",
                             "SELECT Greetings", "SELECT " + self.astring(),
                             "EXAMINE " + self.astring()), False
        if r < 0.885:
            return self.pick("EXPUNGE", "UID EXPUNGE " + self.seqset(),
                             "CLOSE", "UNSELECT", "CHECK"), False
        if r < 0.89:
            return "UID STORE %d +FLAGS.SILENT (\\Deleted)" % \
                self.r.randint(1, MESSAGES), False
        return self.pick(
            "NOOP", "CAPABILITY", "NAMESPACE", "ENABLE CONDSTORE",
            "ENABLE", "ID NIL", "ID (\"name\" \"fuzz\")", "GETQUOTA \"\"",
            "GETQUOTAROOT INBOX", "GETQUOTAROOT " + self.astring(),
            "LOGIN %s %s" % (MSISDN, PASSWORD), "AUTHENTICATE PLAIN",
            "STARTTLS", "UID", "UID BOGUS 1", "UID COPY 1 Saved",
            "COPY 1 Saved", "MOVE 1 Saved", "CREATE x", "DELETE INBOX",
            "RENAME INBOX x", "SUBSCRIBE INBOX", "XYZZY", "LOGOUT",
            "FETCH", "SEARCH", "STORE 1", "UID FETCH 1:* (UID) extra"), False


def mutate(rng, data):
    """Byte-level damage to a command (its tag is added afterwards)."""
    ops = rng.randint(1, 3)
    for _ in range(ops):
        op = rng.choice(["truncate", "insert", "insert", "delete", "dup",
                         "huge", "parens", "long", "case", "literal"])
        pos = rng.randint(0, len(data))
        if op == "truncate":
            data = data[:pos]
        elif op == "insert":
            junk = rng.choice([b"\0", b"\x80", b"\xff", b"\xc3\xa9", b"\r",
                               b"\n", b"\"", b"(", b")", b"{", b"}", b"\\",
                               b"*", b"%", b" ", b"[", b"]", b"<", b">",
                               b"\x7f", b"\t", b"~", b"+"])
            data = data[:pos] + junk * rng.randint(1, 3) + data[pos:]
        elif op == "delete":
            data = data[:pos] + data[pos + rng.randint(1, 8):]
        elif op == "dup":
            end = min(len(data), pos + rng.randint(1, 30))
            data = data[:end] + data[pos:end] * rng.randint(1, 20) + \
                data[end:]
        elif op == "huge":
            numbers = list(re.finditer(rb"\d+", data))
            if numbers:
                m = rng.choice(numbers)
                data = data[:m.start()] + rng.choice(HUGE) + data[m.end():]
        elif op == "parens":
            depth = rng.choice([5, 33, 40, 200, 2000])
            data = data[:pos] + b"(" * depth + b"ALL" + b")" * \
                rng.choice([depth, depth - 1, 0]) + data[pos:]
        elif op == "long":
            data = data[:pos] + b"x" * rng.choice([1000, 65600, 70000]) + \
                data[pos:]
        elif op == "case":
            data = data.swapcase()
        elif op == "literal":
            data = data[:pos] + rng.choice([b"{5}\r\nabcde", b"{0}\r\n",
                                            b"{3+}\r\nabc", b"~{2}\r\n\0\1",
                                            b"{4294967296}\r\n",
                                            b"{1}"]) + data[pos:]
    return data


def literal_plan(data):
    """Where the shim will stop for a synchronizing literal, as far as the
    client can tell: the chunks to send one "+" at a time, whether the
    shim will be left waiting for literal bytes that never come (then they
    are added), and whether it will skip a huge {n+} (then only a new
    connection gets it back)."""
    chunks, start, pos, skips = [], 0, 0, False
    while True:
        m = CLIENT_LITERAL.search(data, pos)
        if m is None:
            break
        size, nonsync = int(m.group(1)), m.group(2) == b"+"
        if not nonsync:
            chunks.append(data[start:m.end()])
            start = m.end()
        if size > AUTH_LITERAL_MAX:
            # Refused: a {n} is answered BAD, a {n+} is skipped.
            skips = skips or nonsync
            pos = m.end()
            continue
        pos = m.end() + size
        if pos >= len(data):    # the literal must be followed by a CRLF
            data += b"x" * (pos - len(data)) + b"\r\n"
    chunks.append(data[start:])
    return chunks, skips


# --- the client ------------------------------------------------------------

class Closed(Exception):
    pass


class Session:
    """A Raw connection, logged in, reading whole responses (literals
    included) and checking that each is framed as IMAP says."""

    def __init__(self, server, log):
        self.server = server
        self.log = log
        self.raw = Raw(server.port)
        assert self.raw.greeting.startswith("* OK"), self.raw.greeting
        self.raw.login()
        self.bodies = []
        self.last = None         # literal data seen in the last reply

    def _line(self):
        raw = self.raw
        while b"\r\n" not in raw.buf:
            try:
                chunk = raw.sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                raise Closed(raw.buf)
            raw.buf += chunk
        line, raw.buf = raw.buf.split(b"\r\n", 1)
        return line

    def response(self, timeout):
        """One response, each literal in it replaced by "<data>" (the data
        goes to self.bodies)."""
        self.raw.sock.settimeout(timeout)
        line = seg = self._line()
        while True:
            m = LITERAL_AT_END.search(seg)
            if m is None:
                break
            size = int(m.group(1))
            try:
                self.bodies.append(self.raw.read(size))
            except EOFError:
                raise Closed(b"in a literal")
            seg = self._line()
            line += b"<data>" + seg
        assert RESPONSE.match(line), "badly framed response %r after %s" % (
            line[:300], self.log[-3:])
        return line

    def send(self, data):
        try:
            self.raw.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            raise Closed(b"while sending")

    def run(self, tag, chunks, idle=False, done=b"DONE", mutant=False,
            patient=False):
        """Sends one command; returns its tagged status word (b"OK"...),
        b"*BAD" for an untagged BAD that ended a mutant, or None when the
        shim did not answer a mutant (or, if patient, anything) in time.
        Raises Closed."""
        self.bodies = []
        self.last = None
        tagb = tag.encode()
        timeout = MUTANT_TIMEOUT if mutant or patient else REPLY_TIMEOUT
        self.send(chunks[0])
        rest = list(chunks[1:])
        conts = 0
        while True:
            try:
                line = self.response(timeout)
            except socket.timeout:
                if mutant or patient:
                    return None
                raise AssertionError("no reply in %d s to %r (after %s)" % (
                    timeout, b"".join(chunks)[:300], self.log[-3:]))
            if line.startswith(b"+"):
                conts += 1
                if rest:
                    self.send(rest.pop(0))
                elif idle and conts == 1:
                    self.send(done + b"\r\n")
                elif mutant:
                    return None       # asks for data the client cannot know
                else:
                    raise AssertionError("unexpected continuation to %r" %
                                         b"".join(chunks)[:300])
                continue
            if line.startswith(tagb + b" "):
                self.last = line
                return line.split(b" ")[1]
            if mutant and line.startswith(b"* BAD"):
                return b"*BAD"
            if line.startswith(b"* BYE"):
                continue        # the close follows
            # untagged data, or an answer to a line a mutant split off

    def close(self):
        self.raw.close()


def check_exited(server):
    """Every shim started so far has exited, with status 0."""
    for proc in server.inetd.procs:
        rc = proc.wait(timeout=20)
        assert rc == 0, "a vvm-imapd exited %d: %s" % (
            rc, server.inetd.log.read_text(errors="replace")[-3000:])


def test_authenticated_abuse(make_imapd):
    server = make_imapd(imap={"idle_poll_ms": "50"})
    for i in range(MESSAGES):
        deposit(server.inbox, voice_message(
            i, audio=amr_audio(5, 200 + 97 * i, fill=i)))
    originals = {uid: open(message_path(server.inbox, uid), "rb").read()
                 for uid in message_uids(server.inbox)}
    assert len(originals) == MESSAGES
    rng = random.Random(SEED)
    grammar = Grammar(rng)
    log = []
    stats = dict(ok=0, no=0, bad=0, untagged_bad=0, stalls=0, closes=0,
                 mutants=0)

    trace = open(TRACE, "wb") if TRACE else None
    session = Session(server, log)
    _, tagged = session.raw.command("s0", "SELECT INBOX")
    assert tagged.startswith("s0 OK"), tagged
    deadline = time.monotonic() + TIME_BUDGET
    n = 0
    while n < COMMANDS and time.monotonic() < deadline:
        n += 1
        tag = "z%04d" % n
        text, idle = grammar.command()
        body = text if isinstance(text, bytes) else text.encode("latin-1")
        mutant = rng.random() < 0.33
        if mutant:
            body = mutate(rng, body)
            stats["mutants"] += 1
        # An APPEND literal ends the line too: the CRLF is always added.
        data = tag.encode() + b" " + body + b"\r\n"
        chunks, skips = literal_plan(data)
        done = b"DONE"
        if idle and mutant:
            done = rng.choice([b"DONE", b"done", b"DONE x", b"", b"\0",
                               b"NOOP", b"DONE\r\nz NOOP"])
        log.append(data[:200])
        if trace is not None:
            trace.write(b"%s %r\n" % (tag.encode(), data))
            trace.flush()
        try:
            status = session.run(tag, chunks, idle=idle, done=done,
                                 mutant=mutant)
            if status is not None and mutant and not skips:
                # Whatever the mutant did, the session is still in step.
                status2 = session.run(tag + "n", [tag.encode() +
                                                  b"n NOOP\r\n"],
                                      patient=True)
                assert status2 in (b"OK", None), \
                    "NOOP after %r: %r" % (data[:200], status2)
                if status2 is None:
                    status = None
        except Closed:
            stats["closes"] += 1
            status = b"closed"
        if trace is not None:
            trace.write(b"  -> %r\n" % session.last)
            trace.flush()
        if status is None:
            stats["stalls"] += 1
        elif status == b"*BAD":
            stats["untagged_bad"] += 1
        elif status in (b"OK", b"NO", b"BAD"):
            stats[status.decode().lower()] += 1
        elif status != b"closed":
            raise AssertionError("%r answered %r" % (data[:200], status))
        if status in (None, b"closed") or skips:
            # A new connection: the old shim must end, and cleanly.
            session.close()
            check_exited(server)
            session = Session(server, log)
            _, tagged = session.raw.command("s%d" % n, "SELECT INBOX")
            assert tagged.startswith("s%d OK" % n), tagged
        elif re.match(rb"(?i)(SELECT|EXAMINE|CLOSE|UNSELECT)", body) and \
                rng.random() < 0.8:
            # Back to INBOX, most of the time, for the commands that need
            # a selected mailbox.
            assert session.run("s%d" % n, [b"s%d SELECT INBOX\r\n" % n],
                               patient=mutant) in (b"OK", None), \
                "SELECT INBOX after %r: %r" % (data[:200], session.last)

    if trace is not None:
        trace.close()
    # Every command had its answer, well within the budget.
    assert n == COMMANDS, "only %d commands in %d s: %r" % (
        n, TIME_BUDGET, stats)
    assert stats["ok"] > COMMANDS // 10 and stats["mutants"] > 0, stats
    assert stats["stalls"] <= max(5, stats["mutants"] // 5), stats

    # What was not expunged is intact, on disk and through FETCH.
    session.close()
    check_exited(server)
    left = message_uids(server.inbox)
    assert set(left) <= set(originals), "INBOX gained %r" % (
        set(left) - set(originals))
    for uid in left:
        assert open(message_path(server.inbox, uid), "rb").read() == \
            originals[uid], "INBOX/%d.eml changed" % uid
    final = Session(server, [])
    assert final.run("f1", [b"f1 SELECT INBOX\r\n"]) == b"OK"
    for uid in left:
        assert final.run("f2", [b"f2 UID FETCH %d BODY.PEEK[]\r\n" % uid]) \
            == b"OK"
        assert final.bodies == [originals[uid]], "FETCH of UID %d" % uid
    assert final.run("f3", [b"f3 LOGOUT\r\n"]) == b"OK"
    final.close()

    # The shims all ended well; the store is consistent once unmounted.
    server.inetd.close()
    server.fs.unmount()
    result = subprocess.run([str(VVMADM), "fsck", str(server.fs.store)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, "vvmadm fsck exit %d:\n%s\n%s" % (
        result.returncode, result.stdout, result.stderr)
    print("imap fuzz: %d commands, %r, %d of %d messages left" % (
        n, stats, len(left), MESSAGES))


def test_list_wildcards_stay_cheap(make_imapd):
    """LIST matches its pattern against each mailbox name: a pattern of
    many wildcards that cannot match must still be answered at once, not
    after trying every way of spreading the name over the wildcards."""
    server = make_imapd()
    pattern = '"' + "%*" * 20 + 'Z"'
    raw = Raw(server.port)
    raw.login()
    raw.sock.settimeout(10)
    started = time.monotonic()
    try:
        _, tagged = raw.command("l1", 'LIST "" %s' % pattern)
    except socket.timeout:
        raw.close()
        pytest.fail("LIST %s unanswered after 10 s" % pattern[:20])
    assert tagged == "l1 OK LIST completed"
    assert time.monotonic() - started < 2
