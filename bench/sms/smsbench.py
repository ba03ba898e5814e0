#!/usr/bin/python3
"""smsbench: notifications per second from a deposit in vvmfs, through
vvm-smsd, to the test SMSC (tests/integration/smsc.py), against Kannel
(bearerbox + smsbox) pushing the same kind of SMS to the same SMSC.
Driven by run.sh in this directory, which builds the tree, mounts vvmfs,
starts the SMSC (this program's `smsc` command) and Kannel, and stops them
all; not a test. Standard library only.

  smsbench.py smsc --ctl SOCK --port-file F [--system-id ID --password PW]
      The test SMSC in this process (its own GIL), with a control socket:
      one line in, one JSON line out: "reset", "stats", "down", "up",
      "wait N TIMEOUT" (until N submits were accepted since the reset).
  smsbench.py provision --mnt MNT --base MSISDN --subs S [--app-port P]
      S subscribers MSISDN.., app_port P, status N then R.
  smsbench.py queue --mnt MNT --base MSISDN --subs S --count N
                    --writers W [--tag T]
      N deposits (voice messages, the write protocol: create in INBOX,
      write, fsync, close) from W writer processes, message i to
      subscriber base + i mod S; vvm-smsd is not running.
  smsbench.py drain --mnt MNT --ctl SOCK --count N --pid-file F --log F
                    [--watch NAME:PID ...] [--perf-trace DIR --vvmfs-pid P]
                    -- VVM-SMSD ARGS...
      The outbox holds N entries: starts vvm-smsd, times until the outbox
      is empty and until the SMSC has N submits, stops it (SIGTERM).
  smsbench.py live --mnt MNT --ctl SOCK --base .. --subs .. --count N
                   --writers W --pid-file F --log F [--watch ..] -- ARGS..
      vvm-smsd bound and idle; N deposits from W writers as fast as they
      go; times until the outbox is empty.
  smsbench.py kannel --url URL --user U --password PW --ctl SOCK
                     --base .. --subs .. --count N --clients C
                     [--queued] [--watch ..]
      N sendsms requests (binary SMS, UDH port 5499, like a SYNC) from C
      client processes; times until the SMSC has N. --queued: the SMSC
      is down while they are sent (bearerbox queues them), then up: the
      time from Kannel's bind to the Nth submit.
  smsbench.py unlinks --mnt MNT --count N --tmp DIR [--workers W]
                      [--batch B] [--vvmfs-pid P]
      The outbox holds N entries: reads and unlinks each in order (as
      vvm-smsd did before its removals were batched) from W processes,
      or with --batch, from one process, reads B entries and removes
      them with one setxattr user.vvm.remove (as vvm-smsd's remover
      does); times every call.
  smsbench.py wait-kannel --url URL --status-url URL [--timeout S]

Every timed command prints one line "RESULT key=value ...". Times are
wall clock (time.time(), as the SMSC stamps its submits), CPU from
/proc/PID/stat (utime + stime, every thread) before and after.
"""
import argparse
import http.client
import json
import os
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent.parent
TESTS = TOP / "tests" / "integration"
sys.path.insert(0, str(TESTS))
from voicemsg import amr_audio, voice_message  # noqa: E402 (stdlib only)

# Each deposit: 10 s of AMR-NB 12.2 kbit/s (frame type 7, 32 octets, 50 a
# second), about 22 KB with base64.
AUDIO = amr_audio(10, 10 * 50 * 32)
HZ = os.sysconf("SC_CLK_TCK")
TIMEOUT = 600
APP_PORT = 5499


class Failure(Exception):
    pass


def result(**kv):
    print("RESULT " + " ".join("%s=%s" % (k, fmt(v)) for k, v in kv.items()),
          flush=True)


def fmt(v):
    if isinstance(v, float):
        return "%.4g" % v if abs(v) < 1000 else "%.1f" % v
    return str(v)


# --- CPU ------------------------------------------------------------------

def cpu_seconds(pid):
    """utime + stime of a process (all its threads), in seconds."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / HZ


class Watch:
    """CPU of named processes over a window."""

    def __init__(self, specs):
        self.pids = {}
        for spec in specs or []:
            name, pid = spec.split(":")
            self.pids.setdefault(name, []).append(int(pid))
        self.start = {}

    def add(self, name, pid):
        self.pids.setdefault(name, []).append(pid)
        self.start[(name, pid)] = 0.0   # just started: count all of it

    def begin(self):
        for name, pids in self.pids.items():
            for pid in pids:
                self.start[(name, pid)] = cpu_seconds(pid) or 0.0
        self.self0 = resource.getrusage(resource.RUSAGE_SELF)
        self.kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)

    def end(self):
        """{name: CPU seconds since begin()} (sample before stopping)."""
        out = {}
        for name, pids in self.pids.items():
            total = 0.0
            for pid in pids:
                now = cpu_seconds(pid)
                if now is not None:
                    total += now - self.start.get((name, pid), 0.0)
            out[name] = total
        return out

    def driver(self):
        """CPU of this process and of the children it reaped."""
        s = resource.getrusage(resource.RUSAGE_SELF)
        k = resource.getrusage(resource.RUSAGE_CHILDREN)
        return (s.ru_utime + s.ru_stime - self.self0.ru_utime -
                self.self0.ru_stime + k.ru_utime + k.ru_stime -
                self.kids0.ru_utime - self.kids0.ru_stime)


def cpu_fields(cpu, n, secs):
    """ms of CPU per notification and % of one CPU, per process."""
    out = {}
    for name, s in cpu.items():
        out["cpu_%s_ms" % name] = s * 1000 / n
        out["cpu_%s_pct" % name] = 100 * s / secs if secs > 0 else 0
    return out


# --- the SMSC -------------------------------------------------------------

def cmd_smsc(args):
    from smsc import Smsc   # noqa: E402 (tests/integration, stdlib only)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    smsc = Smsc(args.system_id, args.password, args.port)
    total = [0]
    mark = {"binds": 0}

    def accepted():
        return [s for s in smsc.submits if s.status == 0]

    def stats():
        with smsc._lock:
            subs = list(smsc.submits)
            binds = smsc.binds[mark["binds"]:]
            errors = len(smsc.errors)
        ok = [s for s in subs if s.status == 0]
        out = {"submits": len(subs), "accepted": len(ok),
               "refused": len(subs) - len(ok), "errors": errors,
               "binds": [(b.system_type, b.time) for b in binds
                         if b.status == 0],
               "max_outstanding": smsc.max_outstanding}
        if ok:
            first = ok[0]
            out.update(first=first.time, last=ok[-1].time,
                       dests=len({s.destination_addr for s in ok}),
                       sm_bytes=statistics.mean(len(s.message) for s in ok),
                       kind="dcs=%d,esm=0x%02x,pid=%d,rp=%d,st=%s,ports=%s,"
                            "udh=%s" % (
                                first.data_coding, first.esm_class,
                                first.protocol_id,
                                first.replace_if_present_flag,
                                first.service_type or "-",
                                "%d/%d" % first.ports if first.ports else "-",
                                first.message[:first.message[0] + 1].hex()
                                if first.udhi else "-"),
                       sample=first.text[:100])
        return out

    def handle(line):
        words = line.split()
        if not words:
            return {"error": "empty"}
        if words[0] == "reset":
            with smsc._lock:
                total[0] += len(smsc.submits)
                smsc.submits = []
                mark["binds"] = len(smsc.binds)
                smsc.max_outstanding = 0
            return {"ok": 1}
        if words[0] == "stats":
            return stats()
        if words[0] == "count_at":
            t = float(words[1])
            with smsc._lock:
                return {"count": sum(1 for s in smsc.submits
                                     if s.status == 0 and s.time <= t)}
        if words[0] == "down":
            smsc.down()
            return {"ok": 1}
        if words[0] == "up":
            smsc.up()
            return {"ok": 1}
        if words[0] == "wait":
            n, deadline = int(words[1]), time.monotonic() + float(words[2])
            while True:
                with smsc._lock:
                    got = sum(1 for s in smsc.submits if s.status == 0)
                if got >= n:
                    break
                if time.monotonic() > deadline:
                    return dict(stats(), error="timeout")
                time.sleep(0.005)
            # the time of the Nth accepted, not of later ones
            out = stats()
            with smsc._lock:
                out["nth"] = accepted()[n - 1].time
            return out
        return {"error": "unknown command %s" % words[0]}

    try:
        os.unlink(args.ctl)
    except FileNotFoundError:
        pass
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(args.ctl)
    srv.listen(4)
    srv.settimeout(0.2)
    with open(args.port_file + ".tmp", "w") as f:
        f.write("%d\n" % smsc.port)
    os.rename(args.port_file + ".tmp", args.port_file)
    print("SMSC listening on 127.0.0.1:%d as %s/%s" % (
        smsc.port, args.system_id, args.password), flush=True)
    while not stop.is_set():
        try:
            conn, _ = srv.accept()
        except socket.timeout:
            continue
        except InterruptedError:
            continue
        with conn, conn.makefile("rw") as f:
            line = f.readline()
            try:
                reply = handle(line)
            except Exception as e:   # report, keep serving
                reply = {"error": repr(e)}
            f.write(json.dumps(reply) + "\n")
    srv.close()
    with smsc._lock:
        total[0] += len(smsc.submits)
        errors = list(smsc.errors)
    for e in errors[:20]:
        print("ERROR", e)
    smsc.close()
    print("%d submits in all, %d protocol errors" % (total[0], len(errors)),
          flush=True)


def ctl(path, *words, timeout=TIMEOUT + 10):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    with s, s.makefile("rw") as f:
        f.write(" ".join(str(w) for w in words) + "\n")
        f.flush()
        reply = json.loads(f.readline())
    if "error" in reply:
        raise Failure("SMSC %s: %s" % (words[0], reply["error"]))
    return reply


def smsc_wait(path, n, timeout=TIMEOUT):
    return ctl(path, "wait", n, timeout)


# --- subscribers and deposits ---------------------------------------------

def cmd_provision(args):
    for k in range(args.subs):
        sub = Path(args.mnt) / str(args.base + k)
        sub.mkdir()
        (sub / "profile" / "imap_password").write_text("s3cret-Pw")
        (sub / "profile" / "app_port").write_text(str(args.app_port))
        (sub / "profile" / "status").write_text("N")
        (sub / "profile" / "status").write_text("R")


def fork_workers(count, work):
    """count children, each running work(k) once released; returns
    (release(): the start time, join(): the end time)."""
    r, w = os.pipe()
    pids = []
    for k in range(count):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.close(w)
                if os.read(r, 1) == b"g":
                    work(k)
                    code = 0
            except BaseException as e:
                print("worker %d: %r" % (k, e), file=sys.stderr, flush=True)
            finally:
                os._exit(code)
        pids.append(pid)
    os.close(r)

    def release():
        t = time.time()
        os.write(w, b"g" * count)
        os.close(w)
        return t

    def join():
        bad = 0
        for pid in pids:
            _, status = os.waitpid(pid, 0)
            bad += status != 0
        t = time.time()
        if bad:
            raise Failure("%d of %d workers failed" % (bad, count))
        return t
    return release, join


def deposits(mnt, base, subs, count, writers, tag):
    """Deposits count messages from `writers` processes; (t0, t1)."""
    def work(k):
        for i in range(k, count, writers):
            msisdn = base + i % subs
            data = voice_message("%s-%d" % (tag, i), duration=10,
                                 audio=AUDIO, to=str(msisdn))
            path = os.path.join(mnt, str(msisdn), "INBOX",
                                "%s-%d.eml" % (tag, i))
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
    release, join = fork_workers(writers, work)
    t0 = release()
    return t0, join()


def cmd_queue(args):
    before = len(outbox(args.mnt))
    t0, t1 = deposits(args.mnt, args.base, args.subs, args.count,
                      args.writers, args.tag)
    queued = len(outbox(args.mnt)) - before
    if queued != args.count:
        raise Failure("%d deposits queued %d SYNC entries" %
                      (args.count, queued))
    result(mode="queue", n=args.count, writers=args.writers,
           secs=t1 - t0, rate=args.count / (t1 - t0), queued=queued)


# --- the outbox -----------------------------------------------------------

def outbox_dir(mnt):
    return os.path.join(mnt, ".outbox", "sms")


def outbox(mnt):
    return sorted(int(n) for n in os.listdir(outbox_dir(mnt)))


def wait_empty(mnt, deadline, last=None, interval=0.005):
    """The time the outbox was seen empty. Cheap while it drains: only
    the newest entry is looked up (vvm-smsd removes in order), the
    directory is listed (a snapshot of every name in vvmfs) once that
    one is gone."""
    box = outbox_dir(mnt)
    while True:
        if last is not None and os.path.lexists(os.path.join(box, str(last))):
            pass
        else:
            t = time.time()
            left = os.listdir(box)
            if not left:
                return t
            last = max(int(n) for n in left)
        if time.time() > deadline:
            raise Failure("outbox not empty after %d s: %d left" %
                          (TIMEOUT, len(os.listdir(box))))
        time.sleep(interval)


# --- vvm-smsd -------------------------------------------------------------

def spawn(cmd, log, pid_file):
    with open(log, "ab") as logf:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf,
                                stderr=logf)
    with open(pid_file, "a") as f:
        f.write("%d\n" % proc.pid)
    return proc


def stop(proc, what="vvm-smsd"):
    """SIGTERM; it must exit 0 (it unbinds first)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise Failure("%s did not stop on SIGTERM" % what)
    if rc != 0:
        raise Failure("%s exited %d" % (what, rc))


def child_of(pid, timeout=10):
    """The first child of pid (perf's workload)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
                kids = f.read().split()
            if kids:
                return int(kids[0])
        except OSError:
            pass
        time.sleep(0.001)
    raise Failure("no child of %d" % pid)


def bind_time(st, system_type):
    times = [t for ty, t in st.get("binds", []) if ty == system_type]
    return times[0] if times else None


class Smsd:
    """vvm-smsd for one run; with args.perf_trace, started by perf record
    (its every system call) while another perf records vvmfs's syncs."""

    def __init__(self, args):
        self.args = args
        self.perf_fs = None
        self.rec = ["perf", "record", "-q", "-k", "CLOCK_MONOTONIC", "-m",
                    "1024", "-e"]
        if args.perf_trace:
            os.makedirs(args.perf_trace, exist_ok=True)
            self.perf_fs = subprocess.Popen(
                self.rec + ["syscalls:sys_enter_fdatasync,"
                            "syscalls:sys_exit_fdatasync,"
                            "syscalls:sys_enter_fsync,syscalls:sys_exit_fsync",
                            "-o", os.path.join(args.perf_trace, "vvmfs.data"),
                            "-p", str(args.vvmfs_pid)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL)
            with open(args.pid_file, "a") as f:
                f.write("%d\n" % self.perf_fs.pid)
            time.sleep(1)   # perf attached to every thread

    def start(self):
        cmd = self.args.cmd
        if self.args.perf_trace:
            cmd = self.rec + ["raw_syscalls:sys_enter,raw_syscalls:sys_exit",
                              "-o", os.path.join(self.args.perf_trace,
                                                 "smsd.data"), "--"] + cmd
        self.proc = spawn(cmd, self.args.log, self.args.pid_file)
        self.pid = self.proc.pid
        if self.args.perf_trace:
            self.pid = child_of(self.proc.pid)
            with open(self.args.pid_file, "a") as f:
                f.write("%d\n" % self.pid)
        return self.pid

    def stop(self):
        if not self.args.perf_trace:
            stop(self.proc)
            return
        # perf writes its data once its workload has exited
        try:
            os.kill(self.pid, signal.SIGTERM)
            self.proc.wait(timeout=60)
        finally:
            self.perf_fs.send_signal(signal.SIGINT)
            self.perf_fs.wait(timeout=60)
        if self.proc.returncode != 0:
            raise Failure("perf record of vvm-smsd exited %d" %
                          self.proc.returncode)

    def trace(self, t_from, t_to, mono_off, **kw):
        """trace_fields() over [t_from, t_to] (wall clock); the perf data
        is read once."""
        if not self.args.perf_trace:
            return {}
        if not hasattr(self, "calls"):
            d = self.args.perf_trace
            self.calls = syscalls(os.path.join(d, "smsd.data"))
            self.syncs = named_syscalls(os.path.join(d, "vvmfs.data"))
        return trace_fields(self.calls, self.syncs, self.pid,
                            t_from - mono_off, t_to - mono_off, **kw)


def cmd_drain(args):
    n = len(outbox(args.mnt))
    if n != args.count:
        raise Failure("the outbox holds %d entries, not %d" % (n, args.count))
    last = outbox(args.mnt)[-1]
    ctl(args.ctl, "reset")
    watch = Watch(args.watch)
    smsd = Smsd(args)
    watch.begin()
    t0 = time.time()
    watch.add("smsd", smsd.start())
    try:
        t_empty = wait_empty(args.mnt, t0 + TIMEOUT, last)
        mono_off = time.time() - time.monotonic()
        st = smsc_wait(args.ctl, n)
        cpu = watch.end()
        driver = watch.driver()
    finally:
        smsd.stop()
    t_bind = bind_time(st, args.system_type)
    secs = t_empty - t0
    extra = {}
    if t_bind is not None:
        extra.update(bind_ms=(t_bind - t0) * 1000,
                     from_bind_rate=n / (t_empty - t_bind),
                     bind_to_smsc_rate=n / (st["nth"] - t_bind))
    extra.update(smsd.trace(t_bind or t0, t_empty, mono_off,
                            entries=n))
    result(mode="drain", n=n, secs=secs, rate=n / secs,
           smsc_secs=st["nth"] - t0, smsc_rate=n / (st["nth"] - t0),
           empty_after_smsc_ms=(t_empty - st["nth"]) * 1000,
           submits=st["submits"], refused=st["refused"],
           smsc_errors=st["errors"], dests=st.get("dests", 0),
           sm_bytes=st.get("sm_bytes", 0), kind=st.get("kind", "-"),
           cpu_driver_ms=driver * 1000 / n,
           **cpu_fields(cpu, n, secs), **extra)


# x86_64 system call numbers of what vvm-smsd and vvmfs call
SYSCALLS = {0: "read", 1: "write", 3: "close", 5: "fstat", 7: "poll",
            8: "lseek", 17: "pread64", 18: "pwrite64", 19: "readv",
            20: "writev", 39: "getpid", 41: "socket", 42: "connect",
            44: "sendto", 45: "recvfrom", 74: "fsync", 75: "fdatasync",
            87: "unlink", 188: "setxattr", 189: "lsetxattr",
            190: "fsetxattr", 202: "futex", 217: "getdents64",
            257: "openat", 262: "newfstatat", 263: "unlinkat",
            271: "ppoll", 284: "eventfd", 290: "eventfd2", 332: "statx"}
SETXATTR = ("setxattr", "lsetxattr", "fsetxattr")
RAW = re.compile(r"^\s*(\d+)\s+([\d.]+):\s+raw_syscalls:sys_(enter|exit):"
                 r"\s+NR (\d+) (?:\(([^)]*)\)|= (-?\d+))")
NAMED = re.compile(r"^\s*(\d+)\s+([\d.]+):\s+syscalls:sys_(enter|exit)_"
                   r"(\w+):")


def named_syscalls(data):
    """[(name, start, seconds)] from a perf.data of syscalls:sys_enter_X
    and sys_exit_X tracepoints."""
    out, open_ = [], {}
    script = subprocess.run(["perf", "script", "--ns", "-i", data, "-F",
                             "tid,time,event"], capture_output=True,
                            text=True, check=True).stdout
    for line in script.splitlines():
        m = NAMED.match(line)
        if not m:
            continue
        tid, t = int(m.group(1)), float(m.group(2))
        if m.group(3) == "enter":
            open_[tid] = (m.group(4), t)
        elif open_.get(tid, ("",))[0] == m.group(4):
            name, start = open_.pop(tid)
            out.append((name, start, t - start))
    return out


def syscalls(data):
    """[(tid, name, start, seconds, args, ret)] of every system call in a
    perf.data of raw_syscalls (start in monotonic seconds)."""
    out, open_ = [], {}
    script = subprocess.run(["perf", "script", "--ns", "-i", data, "-F",
                             "tid,time,event,trace"], capture_output=True,
                            text=True, check=True).stdout
    for line in script.splitlines():
        m = RAW.match(line)
        if not m:
            continue
        tid, t, kind, nr = int(m.group(1)), float(m.group(2)), m.group(3), \
            int(m.group(4))
        if kind == "enter":
            args = [int(a, 16) for a in m.group(5).split(",")]
            open_[tid] = (nr, t, args)
            continue
        begun = open_.pop(tid, None)
        if begun is None or begun[0] != nr:
            continue
        out.append((tid, SYSCALLS.get(nr, "NR%d" % nr), begun[1],
                    t - begun[1], begun[2], int(m.group(6))))
    return out


def trace_fields(calls, fs_calls, pid, t_from, t_to, entries=None,
                 entry_bytes=None):
    """Where vvm-smsd's time went over [t_from, t_to] (monotonic), from
    its system calls: the loop thread's (tid = pid) split by what they
    were for, the removals (setxattr user.vvm.remove, in whatever thread
    made them: the remover is a thread pool's) on their own; and vvmfs's
    WAL syncs. A removal's entries are counted from the length of its
    value (sequence numbers and the spaces between them): entries, if
    given, is how many went in the window, which gives the bytes per
    entry (entry_bytes), else entry_bytes is taken as given."""
    sock, logs, wake, group = None, set(), None, {}
    poll_open = None    # the loop's last poll(), until its next call
    poll_batch = [0, 0.0]   # polls that ended with a finished batch
    removals, failed, remover_tids = [], 0, set()
    for tid, name, start, secs, args, ret in calls:
        if name in SETXATTR:
            # a batch is counted where it starts, whole
            if t_from <= start <= t_to:
                if ret == 0:
                    removals.append((secs * 1000, args[3]))
                    remover_tids.add(tid)
                else:
                    failed += 1
            continue
        if tid != pid:
            continue    # the remover's futex waits, eventfd writes
        fd = args[0]     # socket(): the address family
        if name == "connect" and fd not in logs and ret in (0, -115):
            sock = fd
        if name == "socket" and fd == 1 and ret >= 0:
            logs.add(ret)
        if name in ("eventfd", "eventfd2") and ret >= 0:
            wake = ret
        log_fd = fd in logs
        if name == "close":
            logs.discard(fd)
        # the loop's calls: counted where they start, their time clipped
        # to the window (a poll() may span its end)
        begun = t_from <= start <= t_to
        secs = min(start + secs, t_to) - max(start, t_from)
        if not begun and secs <= 0:
            continue
        if poll_open is not None:
            if name == "read" and fd == wake:
                poll_batch[0] += 1
                poll_batch[1] += poll_open
            poll_open = None
        if name == "poll" or name == "ppoll":
            g = "poll"
            poll_open = secs
        elif name in ("read", "write", "connect") and fd == sock:
            g = "smpp"
        elif name == "read" and fd == wake:
            g = "other"     # reaping a finished batch
        elif fd == 2 or name == "getpid" or \
                (name == "socket" and fd == 1) or \
                (name in ("connect", "close") and log_fd):
            g = "log"
        elif name in ("openat", "read", "close", "fstat", "newfstatat",
                      "lseek", "statx", "getdents64"):
            g = "outbox read"
        else:
            g = "other"
        c = group.setdefault(g, [0, 0.0])
        c[0] += begun
        c[1] += max(0.0, secs)
        if name in ("unlink", "unlinkat"):
            c = group.setdefault("unlink", [0, 0.0])
            c[0] += begun
    span = t_to - t_from
    out = {"traced_ms": span * 1000}
    in_calls = 0.0
    for g in ("outbox read", "smpp", "poll", "log", "other"):
        n, tot = group.get(g, [0, 0.0])
        key = g.replace(" ", "_")
        out["%s_calls" % key] = n
        out["%s_ms" % key] = tot * 1000
        out["%s_share_pct" % key] = 100 * tot / span
        in_calls += tot
    out["user_share_pct"] = 100 * (span - in_calls) / span
    out["poll_batch_calls"] = poll_batch[0]
    out["poll_batch_share_pct"] = 100 * poll_batch[1] / span
    out["unlink_calls"] = group.get("unlink", [0])[0]
    out["remove_calls"] = len(removals)
    out["remove_failed"] = failed
    out["remove_threads"] = len(remover_tids)
    if removals:
        ms = [m for m, _ in removals]
        size = sum(b for _, b in removals)
        if entries:
            entry_bytes = (size + len(removals)) / entries
        out.update(remove_ms=sum(ms), remove_busy_pct=100 * sum(ms) / 1000
                   / span, remove_mean_ms=statistics.mean(ms),
                   remove_p50_ms=pct(ms, 50), remove_p90_ms=pct(ms, 90),
                   remove_p99_ms=pct(ms, 99), remove_max_ms=max(ms))
        if entry_bytes:
            per = [(b + 1) / entry_bytes for _, b in removals]
            out.update(remove_entry_bytes=entry_bytes,
                       remove_entries=round(sum(per)),
                       remove_batch_mean=statistics.mean(per),
                       remove_batch_p50=pct(per, 50),
                       remove_batch_max=max(per),
                       remove_per_entry_ms=sum(ms) / sum(per))
    syncs = [secs * 1000 for name, start, secs in fs_calls
             if t_from <= start <= t_to]
    out["vvmfs_syncs"] = len(syncs)
    if syncs:
        out.update(vvmfs_sync_mean_ms=statistics.mean(syncs),
                   vvmfs_sync_p99_ms=pct(syncs, 99),
                   vvmfs_sync_ms=sum(syncs))
    if out.get("remove_entries"):
        out["vvmfs_syncs_per_entry"] = len(syncs) / out["remove_entries"]
    return out


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


# --- live -----------------------------------------------------------------

def cmd_live(args):
    if outbox(args.mnt):
        raise Failure("the outbox is not empty")
    ctl(args.ctl, "reset")
    watch = Watch(args.watch)
    smsd = Smsd(args)
    pid = smsd.start()
    watch.add("smsd", pid)
    try:
        deadline = time.monotonic() + 15
        while bind_time(ctl(args.ctl, "stats"), args.system_type) is None:
            if time.monotonic() > deadline or smsd.proc.poll() is not None:
                raise Failure("vvm-smsd did not bind")
            time.sleep(0.01)
        time.sleep(0.5)     # idle, as in service
        watch.begin()
        watch.start[("smsd", pid)] = cpu_seconds(pid)
        t0, t1 = deposits(args.mnt, args.base, args.subs, args.count,
                          args.writers, args.tag)
        t_empty = wait_empty(args.mnt, t0 + TIMEOUT)
        mono_off = time.time() - time.monotonic()
        st = smsc_wait(args.ctl, args.count)
        cpu = watch.end()
        driver = watch.driver()
        sent_by_t1 = ctl(args.ctl, "count_at", "%.6f" % t1)["count"]
    finally:
        smsd.stop()
    secs = t_empty - t0
    whole = smsd.trace(t0, t_empty, mono_off, entries=args.count)
    per = whole.get("remove_entry_bytes")
    result(mode="live", n=args.count, writers=args.writers, secs=secs,
           rate=args.count / secs, deposit_secs=t1 - t0,
           deposit_rate=args.count / (t1 - t0),
           lag_ms=(t_empty - t1) * 1000,
           backlog_at_last_deposit=args.count - sent_by_t1,
           smsc_secs=st["nth"] - t0,
           submits=st["submits"], refused=st["refused"],
           smsc_errors=st["errors"],
           sm_bytes=st.get("sm_bytes", 0), kind=st.get("kind", "-"),
           sent_while_depositing_rate=sent_by_t1 / (t1 - t0),
           sent_after_rate=(args.count - sent_by_t1) / (st["nth"] - t1)
           if st["nth"] > t1 else 0,
           cpu_writers_ms=driver * 1000 / args.count,
           **cpu_fields(cpu, args.count, secs),
           **whole,
           **{"d_" + k: v for k, v in
              smsd.trace(t0, t1, mono_off, entry_bytes=per).items()},
           **{"a_" + k: v for k, v in
              smsd.trace(t1, t_empty, mono_off, entry_bytes=per).items()})


# --- Kannel ---------------------------------------------------------------

UDH = bytes([6, 5, 4, APP_PORT >> 8, APP_PORT & 0xFF, 0, 0])


def sync_text(i, subs):
    """A SYNC as vvmfs writes it (docs/fs-layout.md), for message i."""
    return ("//VVM:SYNC:ev=NM;id=%d;c=%d;t=v;s=+31600000001;"
            "dt=22/11/2026 10:00 +0000;l=10" % (1000 + i // subs,
                                                 1 + i // subs)).encode()


def sendsms_query(args, i):
    q = {"username": args.user, "password": args.password,
         "from": args.source, "to": str(args.base + i % args.subs),
         "text": sync_text(i, args.subs), "udh": UDH, "coding": "1",
         "pid": "64"}
    return "/cgi-bin/sendsms?" + urllib.parse.urlencode(q)


def send_all(args, count):
    """count sendsms requests from args.clients processes, each on one
    HTTP/1.1 connection; (t0, t1, driver CPU)."""
    url = urllib.parse.urlsplit(args.url)

    def work(k):
        conn = None
        for i in range(k, count, args.clients):
            path = sendsms_query(args, i)
            for attempt in range(5):
                try:
                    if conn is None:
                        conn = http.client.HTTPConnection(
                            url.hostname, url.port, timeout=60)
                    conn.request("GET", path)
                    r = conn.getresponse()
                    body = r.read()
                    if r.will_close:
                        conn.close()
                        conn = None
                    break
                except (OSError, http.client.HTTPException):
                    if conn is not None:
                        conn.close()
                    conn = None
                    if attempt == 4:
                        raise
            if r.status not in (200, 202):
                raise Failure("sendsms %d: %d %r" % (i, r.status, body))
    release, join = fork_workers(args.clients, work)
    t0 = release()
    return t0, join()


def cmd_kannel(args):
    ctl(args.ctl, "reset")
    watch = Watch(args.watch)
    if args.queued:
        ctl(args.ctl, "down")
        time.sleep(1.5)     # bearerbox sees the link go down
        t0, t1 = send_all(args, args.count)
        watch.begin()
        t_up = time.time()
        ctl(args.ctl, "up")
        st = smsc_wait(args.ctl, args.count)
        cpu = watch.end()
        t_bind = bind_time(st, "VMA")
        secs = st["nth"] - t_bind
        result(mode="kannel-queued", n=args.count, clients=args.clients,
               secs=secs, rate=args.count / secs, http_secs=t1 - t0,
               http_rate=args.count / (t1 - t0),
               bind_after_up_ms=(t_bind - t_up) * 1000,
               submits=st["submits"], refused=st["refused"],
               smsc_errors=st["errors"], dests=st.get("dests", 0),
               sm_bytes=st.get("sm_bytes", 0), kind=st.get("kind", "-"),
               **cpu_fields(cpu, args.count, secs))
        return
    watch.begin()
    t0, t1 = send_all(args, args.count)
    st = smsc_wait(args.ctl, args.count)
    cpu = watch.end()
    driver = watch.driver()
    secs = st["nth"] - t0
    result(mode="kannel", n=args.count, clients=args.clients, secs=secs,
           rate=args.count / secs, http_secs=t1 - t0,
           http_rate=args.count / (t1 - t0),
           smsc_after_http_ms=(st["nth"] - t1) * 1000,
           submits=st["submits"], refused=st["refused"],
           smsc_errors=st["errors"], dests=st.get("dests", 0),
           sm_bytes=st.get("sm_bytes", 0), kind=st.get("kind", "-"),
           cpu_clients_ms=driver * 1000 / args.count,
           **cpu_fields(cpu, args.count, secs))


def cmd_wait_kannel(args):
    deadline = time.monotonic() + args.timeout
    what = "sendsms"
    while time.monotonic() < deadline:
        try:
            if what == "sendsms":
                # smsbox answers before it has read its users
                try:
                    urllib.request.urlopen(args.url + "?username=x",
                                           timeout=2).read()
                except urllib.error.HTTPError as e:
                    if b"Missing receiver" in e.read() or e.code == 403:
                        what = "online"
            if what == "online":
                with urllib.request.urlopen(args.status_url, timeout=2) as r:
                    text = r.read().decode(errors="replace")
                if "smsbox:" in text and re.search(r"SMPP:.*\(online", text):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise Failure("Kannel not ready (%s) in %d s" % (what, args.timeout))


# --- removals alone --------------------------------------------------------

def cmd_unlinks(args):
    """Reads and removes every entry, in order, timing each call: with
    unlink(), from `workers` processes (entry i by worker i mod W); with
    --batch B, from one process, B entries read, then removed by one
    setxattr user.vvm.remove, as vvm-smsd's remover does. With
    --vvmfs-pid, counts vvmfs's WAL syncs (perf stat of the fdatasync
    tracepoint)."""
    seqs = outbox(args.mnt)
    if len(seqs) != args.count:
        raise Failure("the outbox holds %d entries, not %d" %
                      (len(seqs), args.count))
    if args.batch and args.workers != 1:
        raise Failure("--batch is from one process")
    box = outbox_dir(args.mnt)

    def read(seq):
        with open(os.path.join(box, str(seq)), "rb") as f:
            f.read()

    def work(k):
        times = []      # (read seconds, removal seconds) per call
        if args.batch:
            for i in range(0, len(seqs), args.batch):
                part = seqs[i:i + args.batch]
                a = time.perf_counter()
                for seq in part:
                    read(seq)
                b = time.perf_counter()
                os.setxattr(box, "user.vvm.remove",
                            " ".join(map(str, part)).encode())
                times.append(((b - a) / len(part), time.perf_counter() - b))
        else:
            for seq in seqs[k::args.workers]:
                a = time.perf_counter()
                read(seq)
                b = time.perf_counter()
                os.unlink(os.path.join(box, str(seq)))
                times.append((b - a, time.perf_counter() - b))
        with open(os.path.join(args.tmp, "unlinks.%d" % k), "w") as f:
            json.dump(times, f)
    stat = None
    if args.vvmfs_pid:
        stat = subprocess.Popen(
            ["perf", "stat", "-x", ",", "-e",
             "syscalls:sys_enter_fdatasync,syscalls:sys_enter_fsync",
             "-p", str(args.vvmfs_pid)], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)
    release, join = fork_workers(args.workers, work)
    t0 = release()
    t1 = join()
    syncs = None
    if stat is not None:
        stat.send_signal(signal.SIGINT)
        err = stat.communicate(timeout=30)[1]
        syncs = sum(int(line.split(",")[0]) for line in err.splitlines()
                    if "sys_enter_f" in line and line.split(",")[0].isdigit())
    reads, calls = [], []
    for k in range(args.workers):
        path = os.path.join(args.tmp, "unlinks.%d" % k)
        for r, u in json.load(open(path)):
            reads.append(r * 1000)
            calls.append(u * 1000)
        os.unlink(path)
    if outbox(args.mnt):
        raise Failure("entries left")
    secs = t1 - t0
    extra = {} if syncs is None else {"vvmfs_syncs": syncs,
                                      "entries_per_sync": len(seqs) / syncs
                                      if syncs else 0}
    result(mode="removes" if args.batch else "unlinks", n=len(seqs),
           workers=args.workers, batch=args.batch or 1, secs=secs,
           rate=len(seqs) / secs, read_p50_ms=pct(reads, 50),
           read_p99_ms=pct(reads, 99), read_mean_ms=statistics.mean(reads),
           call_p50_ms=pct(calls, 50), call_p90_ms=pct(calls, 90),
           call_p99_ms=pct(calls, 99), call_max_ms=max(calls),
           call_mean_ms=statistics.mean(calls),
           per_entry_ms=sum(calls) / len(seqs), **extra)


# --- the report -------------------------------------------------------------

def read_raw(path):
    """{scenario: [{key: value} per RESULT line]} from run.sh's raw file:
    lines "scenario=S round=R RESULT key=value ..."."""
    out = {}
    for line in open(path):
        if "RESULT" not in line:
            continue
        head, body = line.split("RESULT", 1)
        kv = dict(w.split("=", 1) for w in (head + body).split() if "=" in w)
        out.setdefault(kv["scenario"], []).append(kv)
    return out


def num(kv, key):
    try:
        return float(kv[key])
    except (KeyError, ValueError):
        return None


def median_line(lines, key="rate"):
    """The line of the median round by key (the lower middle one)."""
    ok = sorted((l for l in lines if num(l, key) is not None),
                key=lambda l: num(l, key))
    return ok[(len(ok) - 1) // 2] if ok else None


def f(v, digits=0):
    if v is None:
        return "—"
    return ("{:,.%df}" % digits).format(v).replace(",", " ")


def cmd_report(args):
    raw = read_raw(args.raw)
    n = args.count

    def lines(scn, mode):
        return [l for l in raw.get(scn, []) if l.get("mode") == mode]

    def med(scn, mode, key="rate"):
        return median_line(lines(scn, mode), key)

    def rounds(scn, mode, key="rate"):
        return " ".join(f(num(l, key)) for l in lines(scn, mode))

    def rate(scn, mode, key="rate"):
        m = med(scn, mode, key)
        return num(m, key) if m else None

    def ratio(a, b):
        return "—" if a is None or not b else "%.2f×" % (a / b)

    p = print
    w10 = rate("smpp-w10", "drain")
    kan = rate("kannel", "kannel")
    kq = rate("kannel-queued", "kannel-queued")
    w10b = rate("smpp-w10", "drain", "bind_to_smsc_rate")
    http = rate("http", "drain")
    live = med("live", "live")
    dep = sorted(num(l, "rate") for scn in raw for l in raw[scn]
                 if l.get("mode") == "queue" and scn.startswith(("smpp",
                                                                  "http")))
    dep_med = dep[(len(dep) - 1) // 2] if dep else None

    p("## Notifications per second\n")
    p("N = %d notifications per run (one SYNC, one short message each); "
      "the median of %d rounds, every round listed in the order they ran. "
      "Every run was checked: the SMSC accepted exactly N short messages, "
      "none refused, no protocol error, to every subscriber.\n" %
      (n, args.rounds))
    p("| # | scenario | timed from → to | notifications/s | every round |")
    p("|---|---|---|---|---|")
    rows = [
        ("1", "vvm-smsd SMPP, backlog, window 1", "smpp-w1", "drain",
         "rate", "vvm-smsd started → outbox empty"),
        ("1", "vvm-smsd SMPP, backlog, **window 10** (default)", "smpp-w10",
         "drain", "rate", "vvm-smsd started → outbox empty"),
        ("1", "vvm-smsd SMPP, backlog, window 50", "smpp-w50", "drain",
         "rate", "vvm-smsd started → outbox empty"),
        ("1", "the same, window 10, from the bind", "smpp-w10", "drain",
         "bind_to_smsc_rate", "bind_resp → the SMSC has N"),
        ("2", "vvm-smsd SMPP, live, window 10 (%d writers)" % args.writers,
         "live", "live", "rate", "first deposit → outbox empty"),
        ("2", "  deposits while vvm-smsd runs", "live", "live",
         "deposit_rate", "first → last deposit"),
        ("2", "  notifications while the writers ran", "live", "live",
         "sent_while_depositing_rate", "first → last deposit (SMSC count)"),
        ("3", "**Kannel**, sendsms from %d HTTP clients" % args.clients,
         "kannel", "kannel", "rate", "first request → the SMSC has N"),
        ("3", "Kannel, queued in bearerbox (SMSC down while sent)",
         "kannel-queued", "kannel-queued", "rate",
         "Kannel's bind → the SMSC has N"),
        ("4", "vvm-smsd http → Kannel, backlog", "http", "drain", "rate",
         "vvm-smsd started → outbox empty"),
        ("4", "  the same, until the SMSC has them", "http", "drain",
         "smsc_rate", "vvm-smsd started → the SMSC has N"),
    ]
    for num_, name, scn, mode, key, timed in rows:
        p("| %s | %s | %s | %s | %s |" % (num_, name, timed,
                                          f(rate(scn, mode, key)),
                                          rounds(scn, mode, key)))
    p("| ref | deposits alone, vvm-smsd stopped (%d writers; the queue "
      "step of every backlog run, sorted) | first → last deposit | %s | "
      "%s |\n" % (
          args.writers, f(dep_med), " ".join(f(d) for d in dep)))

    p("**Ratios** (medians):\n")
    p("| | ratio |")
    p("|---|---|")
    p("| **vvm-smsd SMPP backlog, window 10 ÷ Kannel sendsms** "
      "(scenario 1 ÷ 3) | **%s** |" % ratio(w10, kan))
    p("| vvm-smsd, bind → SMSC has N ÷ Kannel queued, bind → SMSC has N "
      "(both draining a backlog over one bind) | %s |" % ratio(w10b, kq))
    p("| vvm-smsd http → Kannel ÷ Kannel sendsms from %d clients | %s |" %
      (args.clients, ratio(http, kan)))
    p("| vvm-smsd window 1 ÷ window 10; window 50 ÷ window 10 | %s; %s |" %
      (ratio(rate("smpp-w1", "drain"), w10),
       ratio(rate("smpp-w50", "drain"), w10)))
    if live and dep_med:
        p("| live: deposits with vvm-smsd running ÷ deposits alone | %s |" %
          ratio(num(live, "deposit_rate"), dep_med))
    p("")
    if live:
        p("Live (median round by notifications/s): %s deposits in %.2f s "
          "(%s/s) while vvm-smsd drained. While the writers ran, %s "
          "notifications/s reached the SMSC; when the last deposit "
          "returned, %s were not yet there, and they went at %s/s: the "
          "outbox was empty %.0f ms after the last deposit. (vvm-smsd looks "
          "at the outbox every `poll_ms` = 250 ms when it has nothing to "
          "send, and again at once after a scan that found entries.)\n" % (
              live["n"], num(live, "deposit_secs"),
              f(num(live, "deposit_rate")),
              f(num(live, "sent_while_depositing_rate")),
              live.get("backlog_at_last_deposit", "?"),
              f(num(live, "sent_after_rate")), num(live, "lag_ms")))

    p("### CPU per notification\n")
    p("ms of CPU (utime + stime from /proc/PID/stat, every thread) per "
      "notification over the timed window of the median round, and in "
      "brackets the share of one CPU over that window. The machine has "
      "%d CPUs, so a process at ~100 %% is saturated; one above ~50 %% "
      "with the others busy competes for them. vvmfs: the FUSE daemon "
      "(reads of the entries, the removals, and in the live scenario the "
      "deposits); the SMSC: the Python test SMSC, its own process; load "
      "generator: the driver's HTTP clients (Kannel) or deposit writers "
      "(live).\n" % os.cpu_count())
    p("| scenario | vvmfs | vvm-smsd | SMSC | bearerbox | smsbox | load "
      "generator | sender total (without the SMSC and the load) |")
    p("|---|---|---|---|---|---|---|---|")

    def cell(l, name):
        ms, pc = num(l, "cpu_%s_ms" % name), num(l, "cpu_%s_pct" % name)
        return "—" if ms is None else "%.3f (%.0f %%)" % (ms, pc)

    for name, scn, mode in (("SMPP backlog, window 1", "smpp-w1", "drain"),
                            ("SMPP backlog, window 10", "smpp-w10", "drain"),
                            ("SMPP backlog, window 50", "smpp-w50", "drain"),
                            ("SMPP live, window 10", "live", "live"),
                            ("Kannel sendsms", "kannel", "kannel"),
                            ("Kannel queued (from the bind: the sendsms "
                             "requests are before the window)",
                             "kannel-queued", "kannel-queued"),
                            ("vvm-smsd http → Kannel", "http", "drain")):
        l = med(scn, mode)
        if l is None:
            continue
        gen = num(l, "cpu_clients_ms") if mode == "kannel" else \
            num(l, "cpu_writers_ms") if mode == "live" else None
        tot = sum(num(l, "cpu_%s_ms" % k) or 0 for k in
                  ("vvmfs", "smsd", "bearerbox", "smsbox"))
        p("| %s | %s | %s | %s | %s | %s | %s | %.3f |" % (
            name, cell(l, "vvmfs"), cell(l, "smsd"), cell(l, "smsc"),
            cell(l, "bearerbox"), cell(l, "smsbox"),
            "—" if gen is None else "%.3f" % gen, tot))
    p("")
    busiest = {}
    for scn, ls in raw.items():
        for l in ls:
            if num(l, "cpu_smsc_pct") is not None:
                busiest[scn] = max(busiest.get(scn, 0), num(l, "cpu_smsc_pct"))
    if busiest:
        p("The SMSC's busiest round, per scenario, in %% of one CPU: %s. %s\n"
          % (", ".join("%s %.0f %%" % kv for kv in sorted(busiest.items())),
             "Near 100 % it would be the bottleneck; it is not in any "
             "scenario." if max(busiest.values()) < 70 else
             "Where it nears 100 %% (above 70 %% here: %s) the SMSC, not "
             "the sender, may set the rate: read that rate as a lower "
             "bound." %
             ", ".join(k for k, v in busiest.items() if v >= 70)))

    p("## What limits vvm-smsd\n")
    t = ([l for l in raw.get("trace", []) if l.get("mode") == "drain"] or
         [None])[0]
    tl = ([l for l in raw.get("trace-live", []) if l.get("mode") == "live"]
          or [None])[0]
    if t is None or num(t, "traced_ms") is None:
        p("(not measured: perf missing or --no-trace)\n")
    else:
        fb = rate("smpp-w10", "drain", "from_bind_rate")
        spread = [num(l, "from_bind_rate") for l in lines("smpp-w10", "drain")
                  if num(l, "from_bind_rate")]
        tr = num(t, "from_bind_rate")
        if spread and min(spread) <= tr:
            cost = "untraced rounds from the bind %s–%s/s, median %s/s: " \
                   "the tracing cost is within the spread of the rounds" % (
                       f(min(spread)), f(max(spread)), f(fb))
        else:
            cost = "untraced median from the bind %s/s: the tracing cost " \
                   "about %.0f %%" % (f(fb), 100 * (1 - tr / fb) if fb else 0)
        p("Two more runs at window 10 with vvm-smsd started by `perf record "
          "-e raw_syscalls:sys_enter,raw_syscalls:sys_exit` (every system "
          "call's entry and exit on every thread, stamped by the kernel; "
          "nothing is formatted during the run) and vvmfs's fdatasync/fsync "
          "tracepoints recorded on every thread: a backlog drain of %s "
          "entries, timed from vvm-smsd's bind_resp to the empty outbox "
          "(%.0f ms, %s notifications/s; %s), and a live run, from the "
          "first deposit to the empty outbox%s.\n" % (
              t["n"], num(t, "traced_ms"), f(tr), cost,
              " (%.0f ms, %s notifications/s; untraced median %s/s)" % (
                  num(tl, "traced_ms"), f(num(tl, "rate")),
                  f(rate("live", "live"))) if tl else ""))
        p("vvm-smsd has two threads: **the loop** (SMPP, reading and "
          "scanning the outbox, logging) and **the remover**, a GLib pool "
          "thread that removes what the SMSC accepted, one `setxattr("
          ".outbox/sms, \"user.vvm.remove\", \"seq seq ...\")` per batch "
          "(one vvmfs commit and WAL sync each, at most 1000 entries; the "
          "next batch gathers while one commits). The first table is the "
          "loop thread's wall time; the removals overlap it and are in the "
          "second (every setxattr counted as a removal, whatever thread "
          "made it: the pool may change its thread). Each cell: share of "
          "the window (calls). Live is split at the last deposit: while "
          "the writers run, vvm-smsd shares vvmfs with them.\n")
        cols = [(t, "", "backlog drain")]
        if tl:
            cols += [(tl, "", "live, whole"),
                     (tl, "d_", "live, while depositing"),
                     (tl, "a_", "live, after the last deposit")]
        head = " | ".join("%s (%.0f ms)" % (name, num(l, pre + "traced_ms")
                                            or 0) for l, pre, name in cols)
        p("| the loop thread's time | %s |" % head)
        p("|---|%s" % ("---|" * len(cols)))

        def row(g):
            return " | ".join("%.1f %% (%s)" % (
                num(l, "%s%s_share_pct" % (pre, g)) or 0,
                l.get("%s%s_calls" % (pre, g), 0)) for l, pre, _ in cols)
        for g, label in (("outbox_read", "reading the outbox: openat/read/"
                                         "close of entries, getdents64 of "
                                         "the scans"),
                         ("smpp", "SMPP socket read/write"),
                         ("poll", "poll(): waiting (for the SMSC, a "
                                  "finished batch, the next scan)"),
                         ("poll_batch", "  of which polls that a finished "
                                        "batch ended (its eventfd read "
                                        "next)"),
                         ("log", "logging (a line to stderr per entry; "
                                 "syslog's socket/connect/close, no /dev/log "
                                 "here)"),
                         ("other", "other system calls (the eventfd read of "
                                   "a finished batch, the pool's futex)")):
            p("| %s | %s |" % (label, row(g)))
        p("| user space (outside system calls: PDUs, parsing, GLib) | %s |"
          % " | ".join("%.1f %%" % (num(l, pre + "user_share_pct") or 0)
                       for l, pre, _ in cols))
        p("")
        p("| the removals (the remover thread) | %s |" % head)
        p("|---|%s" % ("---|" * len(cols)))

        def cells(fn):
            return " | ".join(fn(l, pre) for l, pre, _ in cols)

        def g(l, pre, k):
            return num(l, pre + k)
        p("| setxattr user.vvm.remove calls (failed; threads that made "
          "them) | %s |" % cells(
              lambda l, pre: "%s (%s; %s)" % (
                  l.get(pre + "remove_calls", "—"),
                  l.get(pre + "remove_failed", "—"),
                  l.get(pre + "remove_threads", "—"))))
        p("| entries per batch: mean (p50, max; from the value's length) "
          "| %s |" % cells(
              lambda l, pre: "—" if g(l, pre, "remove_batch_mean") is None
              else "%.1f (%.0f, %.0f)" % (g(l, pre, "remove_batch_mean"),
                                          g(l, pre, "remove_batch_p50"),
                                          g(l, pre, "remove_batch_max"))))
        p("| a batch's duration, ms: mean / p50 / p90 / p99 / max | %s |" %
          cells(lambda l, pre: "—" if g(l, pre, "remove_mean_ms") is None
                else "%.3f / %.3f / %.3f / %.3f / %.2f" % tuple(
                    g(l, pre, "remove_%s_ms" % k) for k in
                    ("mean", "p50", "p90", "p99", "max"))))
        p("| removal time per entry, ms | %s |" % cells(
            lambda l, pre: "—" if g(l, pre, "remove_per_entry_ms") is None
            else "%.4f" % g(l, pre, "remove_per_entry_ms")))
        p("| the remover busy (in a setxattr), share of the window | %s |" %
          cells(lambda l, pre: "%.1f %%" % (g(l, pre, "remove_busy_pct")
                                            or 0)))
        p("| vvmfs fdatasync()s (per entry removed; live: the deposits' "
          "commits too) | %s |" % cells(
              lambda l, pre: "%s (%s)" % (
                  l.get(pre + "vvmfs_syncs", "—"),
                  "%.3f" % g(l, pre, "vvmfs_syncs_per_entry")
                  if g(l, pre, "vvmfs_syncs_per_entry") is not None
                  else "—")))
        p("")
        if any(num(l, pre + "unlink_calls") for l, pre, _ in cols):
            p("(The loop thread still made unlink() calls: %s.)\n" %
              cells(lambda l, pre: l.get(pre + "unlink_calls", "—")))
        if tl:
            p("Live, traced: %s/s reached the SMSC while the writers "
              "deposited, %s/s after the last deposit (untraced median "
              "round: %s/s and %s/s).\n" % (
                  f(num(tl, "sent_while_depositing_rate")),
                  f(num(tl, "sent_after_rate")),
                  f(num(live, "sent_while_depositing_rate")),
                  f(num(live, "sent_after_rate"))))
        # per notification, the loop's time by kind, in the backlog drain
        per = num(t, "traced_ms") / float(t["n"])
        kinds = [("reading the outbox", num(t, "outbox_read_share_pct")),
                 ("user space", num(t, "user_share_pct")),
                 ("waiting in poll()", num(t, "poll_share_pct")),
                 ("logging", num(t, "log_share_pct")),
                 ("the SMPP socket", num(t, "smpp_share_pct")),
                 ("other system calls", num(t, "other_share_pct"))]
        kinds.sort(key=lambda kv: -(kv[1] or 0))
        p("- The loop, backlog drain: %.3f ms of wall time per "
          "notification, of which %s." % (per, ", ".join(
              "%s %.3f ms (%.0f %%)" % (k, per * v / 100, v)
              for k, v in kinds if v is not None)))
        if num(t, "remove_calls"):
            p("- The removals, backlog drain: %s batches of %.0f entries on "
              "average, a batch %.2f ms (p99 %.2f ms), %.4f ms per entry; "
              "the remover was in a removal %.0f %% of the window, so it "
              "kept up with the loop%s. vvmfs synced its WAL %s times for "
              "%s entries (%.3f per entry)." % (
                  t.get("remove_calls"), num(t, "remove_batch_mean") or 0,
                  num(t, "remove_mean_ms"), num(t, "remove_p99_ms"),
                  num(t, "remove_per_entry_ms") or 0,
                  num(t, "remove_busy_pct"),
                  "" if (num(t, "remove_busy_pct") or 0) < 80 else
                  " only just: it is near saturation",
                  t.get("vvmfs_syncs"), t["n"],
                  num(t, "vvmfs_syncs_per_entry") or 0))
        p("")
    ul = {}
    for scn, ls in raw.items():
        for l in ls:
            if l.get("mode") in ("unlinks", "removes"):
                ul[(l["mode"] == "removes", int(l.get("batch", 1)),
                    int(l["workers"]))] = l
    if ul:
        p("Removals alone, without vvm-smsd: a backlog of %s entries read "
          "(open, read, close) and removed in order by this driver: with "
          "unlink(), from one process, then from 8 at once (entry i by "
          "process i mod 8), as vvm-smsd did before; and with setxattr "
          "user.vvm.remove from one process, B entries read, then removed "
          "by one call, as vvm-smsd's remover does now. vvmfs's syncs "
          "counted with `perf stat` on its fdatasync tracepoint. vvmfs has "
          "a group commit (db.c: a leader writes every batch queued behind "
          "it as one synced write), so removals that reach it together "
          "could share a sync; \"entries per sync\" says whether they "
          "do:\n" % n)
        p("| how | processes | entries/s | a call, ms: p50 / p90 / p99 "
          "| mean ms per call | ms per entry | read mean ms per entry "
          "| vvmfs syncs | entries per sync |")
        p("|---|---|---|---|---|---|---|---|---|")
        for k in sorted(ul):
            l = ul[k]
            p("| %s | %s | %s | %.3f / %.3f / %.3f | %.3f | %.4f | %.3f "
              "| %s | %s |" % (
                  "user.vvm.remove, batches of %d" % k[1] if k[0]
                  else "unlink()", k[2], f(num(l, "rate")),
                  num(l, "call_p50_ms"), num(l, "call_p90_ms"),
                  num(l, "call_p99_ms"), num(l, "call_mean_ms"),
                  num(l, "per_entry_ms"), num(l, "read_mean_ms"),
                  l.get("vvmfs_syncs", "—"),
                  "%.2f" % num(l, "entries_per_sync")
                  if num(l, "entries_per_sync") else "—"))
        p("")
        one, eight = ul.get((False, 1, 1)), ul.get((False, 1, 8))
        if one and eight and num(eight, "entries_per_sync") and \
                num(eight, "entries_per_sync") < 1.2:
            p("With 8 unlinkers vvmfs still synced once per unlink, and an "
              "unlink took %.1f× as long as alone: they wait for one "
              "another before they reach vvmfs. Linux holds the parent "
              "directory's inode lock across unlink(2), so unlinks in one "
              "directory reach a FUSE filesystem one at a time and vvmfs's "
              "group commit never sees two together. The 8 processes gain "
              "%.2f× by overlapping their reads with the unlinks, not by "
              "sharing syncs. This is why vvm-smsd now removes in batches: "
              "one request, one commit, one sync for many entries.\n" % (
                  num(eight, "call_p50_ms") / num(one, "call_p50_ms"),
                  num(eight, "rate") / num(one, "rate")))
        batched = sorted(k for k in ul if k[0])
        if one and batched:
            p("Per entry, removal took %s ms by unlink() and %s by "
              "user.vvm.remove in batches of %s.\n" % (
                  "%.4f" % num(one, "per_entry_ms"),
                  ", ".join("%.4f ms" % num(ul[k], "per_entry_ms")
                            for k in batched),
                  ", ".join(str(k[1]) for k in batched)))


# --- main -----------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("smsc")
    p.add_argument("--ctl", required=True)
    p.add_argument("--port-file", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--system-id", default="vvm")
    p.add_argument("--password", default="secret")

    def subscribers(p):
        p.add_argument("--mnt", required=True)
        p.add_argument("--base", type=int, required=True)
        p.add_argument("--subs", type=int, required=True)

    p = sub.add_parser("provision")
    subscribers(p)
    p.add_argument("--app-port", type=int, default=APP_PORT)

    p = sub.add_parser("queue")
    subscribers(p)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--writers", type=int, default=4)
    p.add_argument("--tag", default="q")

    def smsd(p):
        p.add_argument("--mnt", required=True)
        p.add_argument("--ctl", required=True)
        p.add_argument("--count", type=int, required=True)
        p.add_argument("--pid-file", required=True)
        p.add_argument("--log", required=True)
        p.add_argument("--watch", action="append")
        p.add_argument("--system-type", default="VVM")
        p.add_argument("--perf-trace")
        p.add_argument("--vvmfs-pid", type=int)
        p.add_argument("cmd", nargs="+")

    p = sub.add_parser("drain")
    smsd(p)

    p = sub.add_parser("live")
    smsd(p)
    p.add_argument("--base", type=int, required=True)
    p.add_argument("--subs", type=int, required=True)
    p.add_argument("--writers", type=int, default=4)
    p.add_argument("--tag", default="l")

    p = sub.add_parser("kannel")
    p.add_argument("--url", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--source", default="5555")
    p.add_argument("--ctl", required=True)
    p.add_argument("--base", type=int, required=True)
    p.add_argument("--subs", type=int, required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--queued", action="store_true")
    p.add_argument("--watch", action="append")

    p = sub.add_parser("wait-kannel")
    p.add_argument("--url", required=True)
    p.add_argument("--status-url", required=True)
    p.add_argument("--timeout", type=float, default=30)

    p = sub.add_parser("unlinks")
    p.add_argument("--mnt", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--batch", type=int, default=0)
    p.add_argument("--vvmfs-pid", type=int)
    p.add_argument("--tmp", required=True)

    p = sub.add_parser("report")
    p.add_argument("--raw", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--rounds", type=int, required=True)
    p.add_argument("--writers", type=int, required=True)
    p.add_argument("--clients", type=int, required=True)

    args = ap.parse_args()
    if getattr(args, "cmd", None) and args.cmd[0] == "--":
        args.cmd = args.cmd[1:]
    try:
        {"smsc": cmd_smsc, "provision": cmd_provision, "queue": cmd_queue,
         "drain": cmd_drain, "live": cmd_live, "kannel": cmd_kannel,
         "wait-kannel": cmd_wait_kannel, "unlinks": cmd_unlinks,
         "report": cmd_report}[args.command](args)
    except Failure as e:
        print("smsbench %s: %s" % (args.command, e), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
