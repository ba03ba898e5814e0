"""Launching vvm-imapd the way inetd does, and what IMAP tests share.

Inetd here is a few lines of Python doing what inetd does: accept a TCP
connection on 127.0.0.1 and start one vvm-imapd per connection with the
socket as its stdin and stdout. One test also runs the real xinetd.
"""
import base64
import hashlib
import imaplib
import os
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from conftest import BUILD, MSISDN, Vvmfs, server_factory
from lineclient import LineClient

IMAPD = BUILD / "shims" / "imap" / "vvm-imapd"
PASSWORD = "s3cret-Pw"
PIN = "4826"


def make_cert(directory):
    """A throwaway self-signed certificate and key for localhost."""
    cert, key = Path(directory) / "cert.pem", Path(directory) / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-subj", "/CN=localhost", "-days", "2", "-addext",
                    "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def write_config(path, mount, imap=None, sms=None, profile=None,
                 vvmfs=None, media=None, smsd=None):
    sections = {"imap": {"mount": str(mount), "hostname": "vvm.test",
                         "login_failure_delay_ms": "0"}}
    sections["imap"].update(imap or {})
    for name, keys in (("sms", sms), ("profile", profile), ("vvmfs", vvmfs),
                       ("media", media), ("smsd", smsd)):
        if keys:
            sections[name] = keys
    with open(path, "w") as f:
        for name, keys in sections.items():
            f.write("[%s]\n" % name)
            for k, v in keys.items():
                f.write("%s = %s\n" % (k, v))
    return path


class Inetd:
    """Accepts connections and starts one shim per connection."""

    def __init__(self, argv, log, env=None):
        self.argv = [str(a) for a in argv]
        self.env = env
        self.log = Path(log)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.procs = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with open(self.log, "ab") as logf:
                proc = subprocess.Popen(self.argv, stdin=conn.fileno(),
                                        stdout=conn.fileno(), stderr=logf,
                                        env=self.env)
            conn.close()
            self.procs.append(proc)

    def close(self):
        """Stops accepting; every shim must have ended cleanly."""
        # shutdown() wakes the accept() in the thread; close() would not.
        # A test may have closed it already.
        if self.sock.fileno() >= 0:
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(timeout=5)
        failures = []
        for proc in self.procs:
            try:
                rc = proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = proc.wait()
                failures.append("a vvm-imapd did not exit")
            if rc not in (0, -9):
                failures.append("a vvm-imapd exited %d" % rc)
        text = self.log.read_text(errors="replace") if self.log.exists() \
            else ""
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                       "runtime error:"):
            if marker in text:
                failures.append("sanitizer report in %s" % self.log)
        assert not failures, "%s\n%s" % (failures, text[-4000:])


class Imapd:
    """A mounted store, a config, a provisioned subscriber and the shim."""

    def __init__(self, root, imap=None, tls=False, sms=None, profile=None,
                 status="R", vvmfs=None, media=None, smsd=None):
        self.root = Path(root)
        self.fs = Vvmfs(self.root)
        self.config = self.root / "vvm.conf"
        imap = dict(imap or {})
        if tls:
            self.cert, self.key = make_cert(self.root)
            imap.setdefault("tls", "starttls")
            imap.update(tls_cert=str(self.cert), tls_key=str(self.key))
        write_config(self.config, self.fs.mnt, imap, sms, profile, vvmfs,
                     media, smsd)
        self.fs.mount("config=%s" % self.config)
        self.sub = self.fs.sub()
        self.sub.mkdir()
        (self.sub / "profile" / "imap_password").write_text(PASSWORD)
        (self.sub / "profile" / "tui_password").write_text(PIN)
        if status != "P":
            if status in "UB":
                (self.sub / "profile" / "status").write_text(status)
            else:
                (self.sub / "profile" / "status").write_text("N")
                if status == "R":
                    (self.sub / "profile" / "status").write_text("R")
        env = None
        if "user" in imap:
            # LeakSanitizer reads /proc at exit, which a shim chrooted into
            # the subscriber's directory no longer has.
            env = dict(os.environ)
            env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + \
                ":detect_leaks=0"
        self.inetd = Inetd([IMAPD, "-c", self.config], self.root / "imapd.log",
                           env)
        self.port = self.inetd.port

    def connect(self, login=True):
        imap = imaplib.IMAP4("127.0.0.1", self.port, timeout=30)
        OPEN_CLIENTS.append(imap)
        if login:
            imap.login(MSISDN, PASSWORD)
        return imap

    def connect_tls(self, login=True):
        ctx = ssl.create_default_context(cafile=str(self.cert))
        imap = imaplib.IMAP4("127.0.0.1", self.port, timeout=30)
        OPEN_CLIENTS.append(imap)
        imap.starttls(ssl_context=ctx)
        if login:
            imap.login(MSISDN, PASSWORD)
        return imap

    @property
    def inbox(self):
        return self.sub / "INBOX"

    def close(self):
        while OPEN_CLIENTS:
            client = OPEN_CLIENTS.pop()
            try:
                (getattr(client, "shutdown", None) or client.close)()
            except OSError:
                pass
        try:
            self.inetd.close()
        finally:
            self.fs.kill(15)


@pytest.fixture
def imapd():
    with tempfile.TemporaryDirectory(prefix="vvm-imapd-") as root:
        server = Imapd(root)
        try:
            yield server
        finally:
            server.close()


@pytest.fixture
def make_imapd():
    """A factory, for tests that need their own config."""
    yield from server_factory(Imapd, "vvm-imapd-")


# Clients a test left open are closed before its shims must have exited.
OPEN_CLIENTS = []


class Raw(LineClient):
    """A line-level IMAP client for exact responses and abuse."""

    def __init__(self, port, sock=None, greet=True):
        super().__init__(port, sock)
        OPEN_CLIENTS.append(self)
        self.greeting = self.line() if greet else None

    def starttls(self, cafile):
        """STARTTLS, then everything goes through TLS."""
        _, tagged = self.command("T1", "STARTTLS")
        assert tagged.startswith("T1 OK"), tagged
        self.wrap_tls(cafile)

    def command(self, tag, text):
        """Sends one command; returns (untagged lines, tagged line)."""
        self.send("%s %s\r\n" % (tag, text))
        return self.until(tag)

    def until(self, tag):
        lines = []
        while True:
            line = self.line()
            if line.startswith(tag + " "):
                return lines, line
            lines.append(line)

    def login(self, user=MSISDN, password=PASSWORD):
        _, tagged = self.command("L1", "LOGIN %s %s" % (user, password))
        assert tagged == "L1 OK LOGIN completed", tagged



def digest_md5_response(challenge, user, password, realm=None,
                        cnonce="0a1b2c3d4e5f", service="imap"):
    """The client side of RFC 2831, as Android's VVM client computes it.
    Returns (response, expected rspauth)."""
    fields = {}
    for part in _split_digest(challenge.decode()):
        k, v = part.split("=", 1)
        fields[k.strip()] = v.strip().strip('"')
    nonce = fields["nonce"]
    realm = fields.get("realm", "") if realm is None else realm
    uri = service + "/" + fields.get("realm", "vvm.test")
    nc = "00000001"

    def h(data):
        return hashlib.md5(data).digest()

    def hx(data):
        return hashlib.md5(data).hexdigest()
    a1 = h(("%s:%s:%s" % (user, realm, password)).encode()) + \
        (":%s:%s" % (nonce, cnonce)).encode()
    a2 = ("AUTHENTICATE:" + uri).encode()
    response = hx(("%s:%s:%s:%s:auth:%s" % (hx(a1), nonce, nc, cnonce,
                                            hx(a2))).encode())
    rspauth = hx(("%s:%s:%s:%s:auth:%s" % (hx(a1), nonce, nc, cnonce,
                                           hx((":" + uri).encode()))).encode())
    parts = ['username="%s"' % user]
    if realm:
        parts.append('realm="%s"' % realm)
    parts += ['nonce="%s"' % nonce, 'cnonce="%s"' % cnonce, "nc=" + nc,
              "qop=auth", 'digest-uri="%s"' % uri, "response=" + response,
              "charset=utf-8"]
    return ",".join(parts).encode(), rspauth


def _split_digest(text):
    parts, cur, quoted = [], "", False
    for c in text:
        if c == '"':
            quoted = not quoted
        if c == "," and not quoted:
            parts.append(cur)
            cur = ""
        else:
            cur += c
    if cur:
        parts.append(cur)
    return parts


def b64(data):
    return base64.b64encode(data).decode()


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def fresh_env():
    return dict(os.environ)
