"""Starting shims the ways the admin guide documents, for the launch
tests of every shim: under the real xinetd with a shipped example file."""
import os
import signal
import socket
import subprocess
import time

from conftest import TOP

DOCS = TOP / "docs" / "examples"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, proc, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the launcher exited %d" % proc.returncode
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("nothing listens on %d" % port)


def live_shim(inetd):
    """The pid of the one shim process of inetd that is running."""
    pids = [p.pid for p in inetd.procs if p.poll() is None]
    assert len(pids) == 1, pids
    return pids[0]


def under_xinetd(root, example, port_line, binary, config, exercise):
    """Runs docs/examples/<example> under xinetd, pointed at this build,
    a free port and config, calls exercise(port), and checks that no
    shim left a sanitizer report."""
    port = free_port()
    asan_log = root / "asan"
    # xinetd gives servers a clean environment, and their stderr is the
    # socket: sanitizer reports go to files instead.
    env = " ".join("%s=%s:log_path=%s" % (k, os.environ.get(k, ""), asan_log)
                   for k in ("ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS"))
    service = (DOCS / example).read_text()
    service = service.replace(port_line, "port = %d" % port)
    service = service.replace("/usr/bin/" + binary.name, str(binary))
    service = service.replace("/etc/vvm/vvm.conf", str(config))
    service = service.replace("per_source  = 20", "per_source = 20\n"
                              "\tenv = %s\n\tlog_type = FILE %s" % (
                                  env, root / "xinetd.log"))
    assert str(binary) in service and "port = %d" % port in service
    conf = root / "xinetd.conf"
    conf.write_text("defaults\n{\n}\n" + service)
    proc = subprocess.Popen(["xinetd", "-dontfork", "-f", str(conf),
                             "-pidfile", str(root / "xinetd.pid")],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_listening(port, proc)
        exercise(port)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    reports = [p.name for p in root.iterdir() if p.name.startswith("asan.")]
    assert not reports, [(root / r).read_text() for r in reports]
