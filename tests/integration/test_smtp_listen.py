"""vvm-smtpd --listen: the standalone mode, which loads GMime, libsasl2
and the TLS keys once and forks one process per connection. Each
connection must behave exactly as under inetd: the same replies, its own
confinement, and the listener's end must not cut a session short."""
import os
import pwd
import signal
import smtplib
import socket
import ssl
import subprocess
import threading
import time

from conftest import Vvmfs
from launch import free_port
from smtpd import (HOST, RCPT2, RCPT3, SENDER, SMTP_PASSWORD, SMTPD,  # noqa
                   address, digest_md5, make_smtpd, voice)


class Listener:
    def __init__(self, server, *args):
        self.log = open(server.root / "listen.log", "ab")
        self.proc = subprocess.Popen([str(SMTPD), "-c", str(server.config)]
                                     + list(args), stdout=self.log,
                                     stderr=self.log)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=20)
        self.log.close()
        return rc


def wait_for(connect):
    deadline = time.monotonic() + 10
    while True:
        try:
            return connect()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def children(pid):
    return [int(p) for p in open("/proc/%d/task/%d/children" % (pid, pid))
            .read().split()]


def test_smtp_sessions_in_parallel_then_sigterm(make_smtpd):
    server = make_smtpd(tls=True)
    port = free_port()
    listener = Listener(server, "--listen", "127.0.0.1:%d" % port)
    try:
        ctx = ssl.create_default_context(cafile=str(server.cert))
        errors = []

        def deposit(n):
            try:
                client = wait_for(lambda: smtplib.SMTP(
                    "127.0.0.1", port, timeout=30))
                client.starttls(context=ctx)
                client.ehlo("phone")
                assert digest_md5(client)[0] == 235
                client.sendmail(address(SENDER), [address(RCPT2)],
                                voice(subject="parallel %d" % n))
                client.quit()
            except Exception as e:      # reported by the main thread
                errors.append(repr(e))
        # Four at once: every AUTH counts as an attempt until it proves
        # right, and more parallel attempts of one subscriber than
        # login_failures_max (5) are refused, right or not.
        threads = [threading.Thread(target=deposit, args=(n,))
                   for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert errors == []
        assert len(server.messages(RCPT2)) == 4

        # A session open when the listener is told to stop still ends
        # its transaction; new connections are refused.
        client = smtplib.SMTP("127.0.0.1", port, timeout=30)
        client.ehlo("phone")
        assert digest_md5(client)[0] == 235
        assert client.mail(address(SENDER))[0] == 250
        assert listener.stop() == 0
        assert client.rcpt(address(RCPT3))[0] == 250
        assert client.data(voice())[0] == 250
        client.quit()
        assert len(server.messages(RCPT3)) == 1
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
            refused = False
        except OSError:
            refused = True
        assert refused
    finally:
        listener.stop()
    log = (server.root / "listen.log").read_text(errors="replace")
    assert "Sanitizer" not in log and "runtime error" not in log, log


def test_lmtp_on_a_unix_socket_confined_per_connection(make_smtpd):
    nobody = pwd.getpwnam("nobody")
    server = make_smtpd(smtp={"user": "nobody"}, vvmfs={"owner": "nobody"})
    path = str(server.root / "lmtp.sock")
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
    log = open(server.root / "listen.log", "ab")
    proc = subprocess.Popen([str(SMTPD), "-c", str(server.config), "--lmtp",
                             "--listen", path], stdout=log, stderr=log,
                            env=env)
    try:
        client = wait_for(lambda: smtplib.LMTP(path, timeout=30))
        client.ehlo("mta")
        # the listener stays root, its child is confined before reading
        assert os.stat("/proc/%d" % proc.pid).st_uid == 0
        (child,) = children(proc.pid)
        status = open("/proc/%d/status" % child).read()
        assert "Uid:\t%d\t" % nobody.pw_uid in status
        assert os.readlink("/proc/%d/root" % child) == str(server.fs.mnt)
        assert client.sendmail(address(SENDER), [address(RCPT2)],
                               voice()) == {}
        client.quit()
        assert len(server.messages(RCPT2)) == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        log.close()


def test_listen_refuses_a_bad_address(tmp_path):
    fs = Vvmfs(tmp_path)
    conf = tmp_path / "vvm.conf"
    conf.write_text("[smtp]\nmount = %s\nhostname = %s\n" % (fs.mnt, HOST))
    out = subprocess.run([str(SMTPD), "-c", str(conf), "--listen",
                          "no-port-here"], capture_output=True, text=True,
                         timeout=20)
    assert out.returncode == 1
    assert "cannot listen on no-port-here" in out.stderr
