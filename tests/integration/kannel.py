"""A real Kannel (Debian's bearerbox and smsbox) bound to an Smsc.

Kannel is an SMPP client in daily use against real SMSCs, so what it sends
our test SMSC, and how it takes what that SMSC sends back, shows the SMSC
speaks SMPP as the world does. It is also the peer of vvm-smsd's "HTTP
sender in the style of Kannel's sendsms" mode.

    with Smsc() as smsc, Kannel(smsc, tmpdir) as kannel:
        kannel.sendsms(to="31612345678", text="hello")
        [sm] = smsc.wait_submits(1)

Everything lives in the directory given: kannel.conf, the logs (debug
level, SMPP PDU dumps included) and the pid files; both boxes run in the
foreground as children of the test and are stopped by close().
"""
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

BEARERBOX = "/usr/sbin/bearerbox"
SMSBOX = "/usr/sbin/smsbox"


def free_port():
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port, host="127.0.0.1"):
    try:
        socket.create_connection((host, port), timeout=0.5).close()
        return True
    except OSError:
        return False


def quote(value):
    return '"%s"' % str(value).replace("\\", "\\\\").replace('"', '\\"')


class Kannel:
    """bearerbox with one `smsc = smpp` transceiver to 127.0.0.1:smsc.port
    (smsc.system_id/smsc.password), and smsbox with a sendsms HTTP port.

    mo_reply: the text smsbox answers every MO with (a submit_sm back to
    its sender), or None to take MOs and answer nothing.
    smsc_options, core_options, service_options: more keys for the
    `group = smsc`, the `group = core` and the `group = sms-service` (they
    override ours; None removes one), e.g. {"enquire-link-interval": 2},
    {"sms-resend-freq": 1}, {"exec": "program %p %a", "text": None}. system_id, smsc_password: bind with these
    rather than the Smsc's. wait: seconds to wait for the bind
    (None: do not wait, e.g. when the bind is meant to fail; then take the
    Smsc down() before and up() after: bearerbox 1.4.5 can die of a failed
    assertion if a bind is refused before it has finished starting).
    """

    def __init__(self, smsc, directory, username="vvm-sender",
                 password="send-Pw-1", mo_reply=None, reconnect_delay=1,
                 smsc_options=None, core_options=None, wait=15,
                 system_id=None, smsc_password=None, service_options=None):
        self.smsc = smsc
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.username = username
        self.password = password
        self.admin_password = "admin-Pw-1"
        self.admin_port = free_port()
        self.smsbox_port = free_port()
        self.sendsms_port = free_port()
        self.sendsms_url = "http://127.0.0.1:%d/cgi-bin/sendsms" % \
            self.sendsms_port
        self.status_url = "http://127.0.0.1:%d/status.txt?password=%s" % (
            self.admin_port, self.admin_password)
        self.config = self.dir / "kannel.conf"
        self.procs = {}
        smsc_group = {
            "smsc": "smpp",
            "smsc-id": "testsmsc",
            "host": "127.0.0.1",
            "port": smsc.port,
            "transceiver-mode": "true",
            "smsc-username": smsc.system_id if system_id is None
            else system_id,
            "smsc-password": smsc.password if smsc_password is None
            else smsc_password,
            "system-type": "VMA",
            "reconnect-delay": reconnect_delay,
        }
        smsc_group.update(smsc_options or {})
        service = {"name": "mo", "keyword": "default", "catch-all": "true",
                   "text": mo_reply or "", "omit-empty": "true"}
        if mo_reply is None:
            service["max-messages"] = 0
        service.update(service_options or {})
        # None removes one of ours (an exec service has no text).
        service = {k: v for k, v in service.items() if v is not None}
        core = {
            "admin-port": self.admin_port,
            "admin-interface": "127.0.0.1",
            "admin-password": self.admin_password,
            "status-password": self.admin_password,
            "smsbox-port": self.smsbox_port,
            "smsbox-interface": "127.0.0.1",
            "box-allow-ip": "127.0.0.1",
            "log-file": self.dir / "bearerbox.log",
            "log-level": 0,
            "access-log": self.dir / "bearerbox-access.log",
        }
        core.update(core_options or {})
        groups = [
            ("core", core),
            ("smsc", smsc_group),
            ("smsbox", {
                "bearerbox-host": "127.0.0.1",
                "bearerbox-port": self.smsbox_port,
                "sendsms-port": self.sendsms_port,
                "sendsms-interface": "127.0.0.1",
                "log-file": self.dir / "smsbox.log",
                "log-level": 0,
                "access-log": self.dir / "smsbox-access.log",
            }),
            ("sendsms-user", {
                "username": username,
                "password": password,
                "concatenation": "true",
                "max-messages": 10,
            }),
            ("sms-service", service),
        ]
        with open(self.config, "w") as f:
            for name, keys in groups:
                f.write("group = %s\n" % name)
                for key, value in keys.items():
                    if isinstance(value, (str, Path)):
                        value = quote(value)
                    f.write("%s = %s\n" % (key, value))
                f.write("\n")
        binds_before = len(smsc.binds)
        try:
            self._start("bearerbox", BEARERBOX)
            self._wait(lambda: port_open(self.smsbox_port), "bearerbox", 15)
            self._start("smsbox", SMSBOX)
            # smsbox opens its HTTP port before it has read the
            # sendsms-users (an early request is refused "Authorization
            # failed") and before it is connected to bearerbox.
            self._wait(self._sendsms_ready, "sendsms", 15)
            self._wait(lambda: "smsbox:" in self.status(),
                       "smsbox connected to bearerbox", 15)
            if wait is not None:
                self._wait(lambda: any(b.status == 0 for b in
                                       smsc.binds[binds_before:]),
                           "the bind", wait)
                self.wait_online(wait)
        except BaseException:
            self.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _start(self, name, binary):
        out = open(self.dir / ("%s.out" % name), "ab")
        # -v 4: only errors on stderr; the log-file gets everything.
        self.procs[name] = subprocess.Popen(
            [binary, "-v", "4", "-p", str(self.dir / ("%s.pid" % name)),
             str(self.config)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=out,
            cwd=self.dir, start_new_session=True)
        out.close()

    def _wait(self, predicate, what, timeout):
        deadline = time.monotonic() + timeout
        while not predicate():
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError("%s exited %d waiting for %s:\n%s" % (
                        name, proc.returncode, what, self.log_tail(name)))
            if time.monotonic() > deadline:
                raise TimeoutError("Kannel: no %s in %ss:\n%s" % (
                    what, timeout, self.log_tail("bearerbox")))
            time.sleep(0.05)

    def _sendsms_ready(self):
        if not port_open(self.sendsms_port):
            return False
        status, body = self.sendsms(to=None, sender=None, timeout=2)
        return "Missing receiver" in body

    def wait_link(self, state, timeout=10):
        """Waits until bearerbox's status shows the SMSC link in state:
        "online" (bound, the bind_resp taken), "re-connecting" (lost, it
        tries again every reconnect-delay), "dead" (given up)."""
        self._wait(lambda: "(" + state in self.smsc_status(),
                   "the SMSC link " + state, timeout)

    def wait_online(self, timeout=10):
        self.wait_link("online", timeout)

    def log_tail(self, name="bearerbox", n=4000):
        text = ""
        for suffix in (".log", ".out"):
            path = self.dir / (name + suffix)
            if path.exists():
                text += path.read_text(errors="replace")[-n:]
        return text

    def status(self):
        """bearerbox's /status.txt, '' if it does not answer."""
        try:
            with urllib.request.urlopen(self.status_url, timeout=2) as r:
                return r.read().decode(errors="replace")
        except (OSError, urllib.error.URLError):
            return ""

    def smsc_status(self):
        """The line of /status.txt about our SMSC link, e.g.
        'testsmsc[testsmsc] SMPP:127.0.0.1:2775/2775:vvm:VMA (online 3s,
        rcvd ...)'."""
        for line in self.status().splitlines():
            if "SMPP:" in line:
                return line.strip()
        return ""

    def sendsms(self, to, text=None, sender="1234", timeout=10, **params):
        """An HTTP GET on the sendsms port: (HTTP status, body). params are
        more sendsms parameters (udh, coding, dlr-mask...); bytes values are
        %-encoded as they are."""
        query = {"username": self.username, "password": self.password,
                 "from": sender, "to": to, "text": text}
        query.update(params)
        query = {k: v for k, v in query.items() if v is not None}
        url = self.sendsms_url + "?" + urllib.parse.urlencode(query)
        try:
            with urllib.request.urlopen(url, timeout=timeout) as r:
                return r.status, r.read().decode(errors="replace")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace")
        except OSError as e:
            return None, str(e)

    def close(self):
        """Stops smsbox, then bearerbox: SIGTERM, SIGKILL after 10 s."""
        for name in ("smsbox", "bearerbox"):
            proc = self.procs.get(name)
            if proc is None or proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
