"""Launching vvm-smtpd the way inetd does, and what SMTP tests share.

One store is mounted with three provisioned subscribers: SENDER, who
authenticates and deposits, and two recipients. vvm-smtpd (and, where a
test reads the result back as a client would, vvm-imapd) run one process
per connection under imapd.Inetd.
"""
import base64
import imaplib
import os
from pathlib import Path

import pytest

from conftest import BUILD, Vvmfs, server_factory
from imapd import IMAPD, PASSWORD, Inetd, digest_md5_response, make_cert
from lineclient import LineClient

SMTPD = BUILD / "shims" / "smtp" / "vvm-smtpd"
SENDER = "31612345678"
RCPT2 = "31612345679"
RCPT3 = "31612345680"
SMTP_PASSWORD = "smtp-Pw-77"
HOST = "vvm.test"
DOMAIN = "example.com"


def address(msisdn):
    return "%s@%s" % (msisdn, DOMAIN)


def voice(sender=SENDER, to=(RCPT2,), duration=18, subject="voice mail",
          headers="", parts=None, expires="Sat, 31 Dec 2039 00:00:00 +0100",
          boundary="----=_Part_6_16713087.1135179290661"):
    """A deposit shaped like the spec's Example J, with the To header the
    header reference requires."""
    audio = base64.encodebytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(300))
    audio = audio.decode().replace("\n", "\r\n")
    if parts is None:
        parts = [("Content-Type: text/plain; charset=us-ascii\r\n"
                  "Content-Transfer-Encoding: 8bit\r\n\r\n"
                  "Open the attached file\r\n"),
                 ("Content-Type: Audio/wav; codec=g711a\r\n"
                  "Content-Transfer-Encoding: base64\r\n"
                  "Content-Disposition: attachment;\r\n"
                  " filename=\"wav_00000002.wav\"\r\n"
                  "Content-Duration: %d\r\n\r\n%s" % (duration, audio))]
    text = ("Message-ID: <10545552.1131961091850.JavaMail@vvm.test>\r\n"
            "Date: Wed, 21 Dec 2005 16:34:50 +0100 (CET)\r\n"
            "From: %s\r\n"
            "To: %s\r\n"
            "Subject: %s\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=\"%s\"\r\n"
            "Importance: Normal\r\n"
            "Message-Context: voice-message\r\n"
            "Content-Duration: %d\r\n"
            "Expires: %s\r\n%s\r\n"
            % (address(sender), ", ".join(address(t) for t in to), subject,
               boundary, duration, expires, headers))
    for part in parts:
        text += "--" + boundary + "\r\n" + part
    text += "--" + boundary + "--\r\n"
    return text.encode()


def write_config(path, mount, smtp=None, imap=None, vvmfs=None, media=None):
    sections = {
        "imap": {"mount": str(mount), "hostname": HOST,
                 "login_failure_delay_ms": "0"},
        "smtp": {"hostname": HOST},
        "vvmfs": dict(vvmfs or {}),
        "media": dict(media or {}),
    }
    sections["smtp"].update(smtp or {})
    sections["imap"].update(imap or {})
    with open(path, "w") as f:
        for name, keys in sections.items():
            f.write("[%s]\n" % name)
            for k, v in keys.items():
                f.write("%s = %s\n" % (k, v))


class Smtpd:
    """A mounted store, subscribers, a config and the shim(s)."""

    def __init__(self, root, smtp=None, tls=False, implicit_tls=False,
                 lmtp=False, imap=False, imap_config=None, vvmfs=None,
                 media=None):
        self.root = Path(root)
        self.fs = Vvmfs(self.root)
        self.config = self.root / "vvm.conf"
        smtp = dict(smtp or {})
        if tls or implicit_tls:
            self.cert, self.key = make_cert(self.root)
            smtp.update(tls_cert=str(self.cert), tls_key=str(self.key))
            smtp.setdefault("tls", "implicit" if implicit_tls
                            else "starttls")
        write_config(self.config, self.fs.mnt, smtp, imap_config, vvmfs,
                     media)
        self.fs.mount("config=%s" % self.config)
        for msisdn in (SENDER, RCPT2, RCPT3):
            sub = self.fs.sub(msisdn)
            sub.mkdir()
            (sub / "profile" / "smtp_password").write_text(SMTP_PASSWORD)
            (sub / "profile" / "imap_password").write_text(PASSWORD)
            (sub / "profile" / "status").write_text("N")
            (sub / "profile" / "status").write_text("R")
        argv = [SMTPD, "-c", self.config] + (["--lmtp"] if lmtp else [])
        env = None
        if "user" in smtp:
            # LeakSanitizer reads /proc at exit, which a shim chrooted into
            # the mount no longer has.
            env = dict(os.environ)
            env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + \
                ":detect_leaks=0"
        self.inetd = Inetd(argv, self.root / "smtpd.log", env)
        self.port = self.inetd.port
        self.imap = Inetd([IMAPD, "-c", self.config],
                          self.root / "imapd.log") if imap else None
        self.clients = []

    def inbox(self, msisdn):
        return self.fs.sub(msisdn) / "INBOX"

    def messages(self, msisdn):
        """The committed messages of a subscriber's INBOX, by UID."""
        box = self.inbox(msisdn)
        names = sorted((n for n in box.iterdir() if n.suffix == ".eml"),
                       key=lambda p: int(p.stem))
        return [p.read_bytes() for p in names]

    def imap_login(self, msisdn, password=PASSWORD):
        """An imaplib client logged in as msisdn, closed at teardown."""
        imap = imaplib.IMAP4("127.0.0.1", self.imap.port, timeout=30)
        self.clients.append(_Closer(imap.shutdown))
        imap.login(msisdn, password)
        return imap

    def raw(self, greet=True):
        client = RawSmtp(self.port, greet=greet)
        self.clients.append(client)
        return client

    def close(self):
        for client in self.clients:
            try:
                client.close()
            except OSError:
                pass
        try:
            self.inetd.close()
            if self.imap:
                self.imap.close()
        finally:
            self.fs.kill(15)


class _Closer:
    def __init__(self, close):
        self.close = close


class RawSmtp(LineClient):
    """A line-level SMTP client for exact replies and abuse."""

    def __init__(self, port, greet=True):
        super().__init__(port)
        self.greeting = self.reply() if greet else None

    def starttls(self, cafile):
        assert self.command("STARTTLS") == ["220 2.0.0 Ready to start TLS"]
        self.wrap_tls(cafile)

    def reply(self):
        """One reply, all its lines."""
        lines = [self.line()]
        while lines[-1][3:4] == "-":
            lines.append(self.line())
        return lines

    def command(self, text):
        self.send(text + "\r\n")
        return self.reply()

    def code(self, text):
        """The reply's last line, for one-line replies."""
        return self.command(text)[-1]


def digest_md5(client, user=SENDER, password=SMTP_PASSWORD):
    """AUTH DIGEST-MD5 as the spec's Example B, over an smtplib client or
    a RawSmtp. Returns the final (code, text)."""
    code, text = _docmd(client, "AUTH DIGEST-MD5")
    assert code == 334, (code, text)
    challenge = base64.b64decode(text)
    response, rspauth = digest_md5_response(challenge, user, password,
                                           service="smtp")
    code, text = _docmd(client, base64.b64encode(response).decode())
    if code != 334:
        return code, text
    assert base64.b64decode(text).decode() == "rspauth=" + rspauth
    return _docmd(client, "")


def _docmd(client, line):
    if isinstance(client, RawSmtp):
        reply = client.command(line)[-1]
        return int(reply[:3]), reply[4:]
    code, text = client.docmd(line)
    return code, text.decode()


@pytest.fixture
def make_smtpd():
    yield from server_factory(Smtpd, "vvm-smtpd-")
