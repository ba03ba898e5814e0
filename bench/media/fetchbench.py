#!/usr/bin/python3
"""fetchbench: what a transcode adds to an IMAP FETCH, through the real
stack: vvm-imapd (one process per connection, started here the way inetd
starts it) over a vvmfs mount whose [media] worker is vvm-media-worker.
Driven by run.sh in this directory, which mounts vvmfs, provisions the
subscriber and unmounts; not a test. Standard library only.

  fetchbench.py --mount MNT --msisdn M --password PW --imapd PATH
                --config CONF --vvmfs-pid PID --pid-file F --log F
                [--count N] [--max-seconds S]
                --source NAME:FILE:CTYPE:FILENAME:ACCEPT ...

For each source: deposits 2 x N VVM voice messages (the shape of
voice_message() in tests/integration/conftest.py: one audio attachment,
base64, Content-Duration from the audio) with the write protocol (create
in INBOX, write, fsync, close); the first N are fetched with
BODY.PEEK[2] (the audio part), the other N with BODY.PEEK[] (the whole
message), so that each form meets messages never rendered before. Then:

  session 1, accept NIL:    "orig"   every message once, then
                            "orig2"  every message again
  session 2, accept ACCEPT: "cold"   every message once (the FETCH runs
                                     the transcode in vvmfs), then
                            "cached" every message again

A timed FETCH is CLOCK_MONOTONIC from sending the command to the end of
the tagged OK, the literal read whole. Prints one line per source and
form:
  RESULT mode=fetch source=.. target=.. item=part|whole n=..
         <cond>_ms=<median> <cond>_p90=.. <cond>_bytes=.. <cond>_vvmfs_ms=..
         <cond>_worker_ms=.. <cond>_all=<every time> ...
         identical=<cold answer == cached answer, out of n>
         format_ok=<cached audio is the target, 60 s, out of n>
         orig_ok=<original audio is the deposited file, out of n>
vvmfs_ms / worker_ms: CPU of the vvmfs process (the sum of its threads'
schedstat, ns) and of the workers it reaped (cutime + cstime of
/proc/PID/stat, clock ticks) over that condition's FETCHes, per FETCH. Every spawned vvm-imapd's pid
goes to the pid file, so run.sh's trap can end any left behind. """
import argparse
import base64
import email
import email.policy
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" /
                       "integration"))
from voicemsg import deposit, voice_message  # noqa: E402 (stdlib only)

LITERAL = re.compile(rb"\{(\d+)\}\r\n$")
AMR_NB_SIZE = [12, 13, 15, 17, 19, 20, 26, 31, 5, 0, 0, 0, 0, 0, 0, 0]
TIMEOUT = 120
TICK_MS = 1e3 / os.sysconf("SC_CLK_TCK")


class Failure(Exception):
    pass


class Session:
    """One IMAP connection to a vvm-imapd started for it as inetd does:
    accept, the socket as stdin and stdout, exec."""

    def __init__(self, listener, argv, log, pid_file):
        self.sock = socket.create_connection(listener.getsockname(),
                                             timeout=TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn, _ = listener.accept()
        try:
            with open(log, "ab") as logf:
                self.proc = subprocess.Popen(argv, stdin=conn.fileno(),
                                             stdout=conn.fileno(),
                                             stderr=logf)
        finally:
            conn.close()
        with open(pid_file, "a") as f:
            f.write("%d\n" % self.proc.pid)
        self.buf = bytearray()
        self.tag = 0
        greeting = self.line()
        if not greeting.startswith(b"* OK"):
            raise Failure("greeting: %r" % greeting)

    def fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise Failure("vvm-imapd closed the connection")
        self.buf += chunk

    def line(self):
        start = 0
        while True:
            i = self.buf.find(b"\r\n", start)
            if i >= 0:
                out = bytes(self.buf[:i + 2])
                del self.buf[:i + 2]
                return out
            start = max(0, len(self.buf) - 1)
            self.fill()

    def take(self, n):
        while len(self.buf) < n:
            self.fill()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def command(self, text):
        """Sends one command; returns (ms, untagged answer, literals).
        Anything but a tagged OK is a failure."""
        self.tag += 1
        tag = b"a%d" % self.tag
        t0 = time.monotonic()
        self.sock.sendall(tag + b" " + text.encode() + b"\r\n")
        answer, literals = [], []
        while True:
            line = self.line()
            while True:
                m = LITERAL.search(line)
                if m is None:
                    break
                answer.append(line)
                literals.append(self.take(int(m.group(1))))
                answer.append(literals[-1])
                line = self.line()
            if line.startswith(tag + b" "):
                break
            answer.append(line)
        ms = (time.monotonic() - t0) * 1e3
        if not line.startswith(tag + b" OK"):
            raise Failure("%s: %r" % (text, line))
        return ms, b"".join(answer), literals

    def close(self):
        try:
            self.command("LOGOUT")
        finally:
            self.sock.close()
            try:
                rc = self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = self.proc.wait()
            if rc != 0:
                raise Failure("vvm-imapd exited %d" % rc)

    def abort(self):
        self.sock.close()
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def audio_seconds(audio):
    """(format token, seconds) of an AMR-NB or WAV file, else (None, 0)."""
    if audio.startswith(b"#!AMR\n"):
        frames, i = 0, 6
        while i < len(audio):
            i += 1 + AMR_NB_SIZE[(audio[i] >> 3) & 15]
            frames += 1
        return ("amr" if i == len(audio) else None), frames * 0.02
    if audio[:4] != b"RIFF" or audio[8:12] != b"WAVE":
        return None, 0
    fmt, i = None, 12
    while i + 8 <= len(audio):
        cid, size = audio[i:i + 4], int.from_bytes(audio[i + 4:i + 8], "little")
        if cid == b"fmt ":
            fmt = audio[i + 8:i + 8 + 16]
        elif cid == b"data" and fmt is not None:
            code = int.from_bytes(fmt[0:2], "little")
            channels = int.from_bytes(fmt[2:4], "little")
            rate = int.from_bytes(fmt[4:8], "little")
            align = int.from_bytes(fmt[12:14], "little")
            token = {6: "wav-g711a", 7: "wav-g711u", 1: "wav"}.get(code)
            if channels != 1 or rate != 8000 and token != "wav":
                token = None
            return token, size / (rate * align)
        i += 8 + size + (size & 1)
    return None, 0


def audio_of(literal, item):
    """The decoded audio of a FETCH literal: the part, or the one audio
    part of the whole message."""
    if item == "part":
        return base64.b64decode(literal)
    msg = email.message_from_bytes(literal, policy=email.policy.compat32)
    parts = [p for p in msg.walk() if p.get_content_maintype() == "audio"]
    if len(parts) != 1:
        raise Failure("%d audio parts in the message" % len(parts))
    return parts[0].get_payload(decode=True)


def cpu_ms(pid):
    """(CPU ms of PID's threads, CPU ms of the children it reaped): the
    first from each thread's schedstat (ns), the second from cutime +
    cstime in /proc/PID/stat (clock ticks)."""
    own = 0
    for task in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, task)) as f:
                own += int(f.read().split()[0])
        except FileNotFoundError:
            pass
    with open("/proc/%d/stat" % pid) as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return own / 1e6, (int(rest[13]) + int(rest[14])) * TICK_MS


def p90(values):
    s = sorted(values)
    return s[max(0, -(-9 * len(s) // 10) - 1)]


def main():
    ap = argparse.ArgumentParser()
    for a in ("mount", "msisdn", "password", "imapd", "config", "log",
              "pid-file"):
        ap.add_argument("--" + a, required=True)
    ap.add_argument("--vvmfs-pid", type=int, required=True)
    ap.add_argument("--count", type=int, default=10)
    ap.add_argument("--max-seconds", type=float, default=300)
    ap.add_argument("--source", action="append", required=True)
    args = ap.parse_args()
    if not 1 <= args.count <= 100:
        sys.exit("fetchbench: --count wants 1..100")
    deadline = time.monotonic() + args.max_seconds
    inbox = os.path.join(args.mount, args.msisdn, "INBOX")
    argv = [args.imapd, "-c", args.config]
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    serial = 0

    def session():
        s = Session(listener, argv, args.log, args.pid_file)
        s.command("LOGIN %s %s" % (args.msisdn, args.password))
        return s

    for spec in args.source:
        name, path, ctype, filename, accept = spec.split(":", 4)
        audio = open(path, "rb").read()
        fmt, seconds = audio_seconds(audio)
        uids = {"part": [], "whole": []}
        for item in ("part", "whole"):
            for _ in range(args.count):
                serial += 1
                msg = voice_message(serial, duration=round(seconds),
                                    audio=audio, to=args.msisdn,
                                    ctype=ctype, filename=filename)
                uid = deposit(inbox, msg)
                got = os.getxattr(os.path.join(inbox, "%d.eml" % uid),
                                  "user.vvm.audio").decode().split()
                if abs(int(got[2]) - seconds * 1000) > 20:
                    raise Failure("%s: vvmfs measured %s" % (name, got))
                uids[item].append(uid)
        target = {"audio/amr": "amr", "audio/wav; codec=g711a": "wav-g711a",
                  "audio/wav; codec=g711u": "wav-g711u"}[accept]
        fetch = {"part": "BODY.PEEK[2]", "whole": "BODY.PEEK[]"}
        times, sizes, cpu, answers = {}, {}, {}, {}
        ok = {"orig_ok": {}, "format_ok": {}, "identical": {}}
        done = {"part": args.count, "whole": args.count}

        def run(s, cond, item):
            t0 = cpu_ms(args.vvmfs_pid)
            key = (cond, item)
            times[key], sizes[key] = [], []
            for i, uid in enumerate(uids[item][:done[item]]):
                if time.monotonic() > deadline:
                    # bounded: the later conditions take as many messages
                    done[item] = i
                    break
                ms, answer, lits = s.command("UID FETCH %d %s" %
                                             (uid, fetch[item]))
                if len(lits) != 1:
                    raise Failure("%s: %d literals" % (fetch[item], len(lits)))
                times[key].append(ms)
                sizes[key].append(len(lits[0]))
                if cond == "cold":
                    answers[(item, uid)] = answer
                got = audio_of(lits[0], item)
                if cond == "orig":
                    ok["orig_ok"][(item, uid)] = got == audio
                if cond == "cached":
                    tok, sec = audio_seconds(got)
                    ok["format_ok"][(item, uid)] = (
                        tok == target and abs(sec - seconds) < 0.05)
                    ok["identical"][(item, uid)] = (
                        answer == answers[(item, uid)])
            t1 = cpu_ms(args.vvmfs_pid)
            n = max(1, len(times[key]))
            cpu[key] = ((t1[0] - t0[0]) / n, (t1[1] - t0[1]) / n)

        for accept_value, conds in (("NIL", ("orig", "orig2")),
                                    ('"%s"' % accept, ("cold", "cached"))):
            s = session()
            try:
                s.command('SETMETADATA "" (/private/VVM/Accept %s)'
                          % accept_value)
                s.command("SELECT INBOX")
                s.command("UID FETCH 1:* (UID RFC822.SIZE)")
                for cond in conds:
                    for item in ("part", "whole"):
                        run(s, cond, item)
                s.close()
            except BaseException:
                s.abort()
                raise

        for item in ("part", "whole"):
            n = len(times[("cached", item)])
            fields = ["mode=fetch", "source=" + name, "target=" + target,
                      "item=" + item, "n=%d" % n]
            for cond in ("orig", "orig2", "cold", "cached"):
                t = times[(cond, item)][:n]
                b = sizes[(cond, item)][:n]
                if n == 0:
                    continue
                fields += ["%s_ms=%.2f" % (cond, statistics.median(t)),
                           "%s_p90=%.2f" % (cond, p90(t)),
                           "%s_bytes=%d" % (cond, statistics.median(b)),
                           "%s_bytes_vary=%d" % (cond, len(set(b)) > 1),
                           "%s_vvmfs_ms=%.2f" % (cond, cpu[(cond, item)][0]),
                           "%s_worker_ms=%.1f" % (cond, cpu[(cond, item)][1]),
                           "%s_all=%s" % (cond, ",".join("%.2f" % v
                                                         for v in t))]
            for k, v in ok.items():
                good = sum(1 for (it, _), g in v.items() if it == item and g)
                total = sum(1 for (it, _) in v if it == item)
                fields.append("%s=%d/%d" % (k, good, total))
            print("RESULT " + " ".join(fields), flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (Failure, OSError) as e:
        sys.exit("fetchbench: %s" % e)
