"""vvm-smtpd --lmtp as an MTA delivers with it (RFC 2033): the LHLO
extension list, the SMTP greetings refused, one reply per accepted
recipient after DATA and after BDAT LAST, a content refusal repeated for
every recipient, no DSN of its own; over TCP and over a Unix socket with
Python's smtplib.LMTP, and a real Postfix delivering into vvmfs with the
main.cf lines of docs/examples/postfix-vvm-lmtp.cf."""
import grp
import os
import pwd
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from conftest import TOP
from imapd import Inetd
from smtpd import (DOMAIN, HOST, RCPT2, RCPT3, SENDER, address, make_smtpd,
                   voice)  # noqa: F401

EXTENSIONS = ["PIPELINING", "SIZE 10485760", "8BITMIME",
              "ENHANCEDSTATUSCODES", "DSN", "CHUNKING", "HELP"]
EXAMPLE = TOP / "docs" / "examples" / "postfix-vvm-lmtp.cf"
EXAMPLE_SOCKET = "lmtp:unix:/run/vvm/lmtp"
MTA = "mta.vvm.test"
UNKNOWN = "31600000009"


def lmtp(server):
    """An smtplib.LMTP client over TCP that has seen the greeting; its
    ehlo() sends LHLO."""
    client = smtplib.LMTP(timeout=30)
    server.clients.append(client)
    assert client.connect("127.0.0.1", server.port) == \
        (220, ("%s LMTP vvm ready" % HOST).encode())
    return client


def over_quota(server, msisdn):
    (server.fs.sub(msisdn) / "profile" / "quota_storage_kb").write_text("1")


def unfolded(message):
    return re.sub(rb"\r\n[ \t]+", b" ", message)


def test_lhlo_lists_exactly_the_extensions(make_smtpd):
    # STARTTLS and AUTH are configured, and still not offered in LMTP.
    server = make_smtpd(lmtp=True, tls=True)
    client = lmtp(server)
    code, text = client.ehlo(MTA)
    assert code == 250
    assert text.decode().split("\n") == [HOST] + EXTENSIONS
    assert client.does_esmtp
    assert client.quit() == (221, b"2.0.0 Bye")


def test_smtp_greetings_tls_and_auth_are_refused(make_smtpd):
    server = make_smtpd(lmtp=True, tls=True)
    raw = server.raw()
    assert raw.greeting == ["220 %s LMTP vvm ready" % HOST]
    assert raw.code("MAIL FROM:<%s>" % address(SENDER)) == \
        "503 5.5.1 Error: send LHLO first"
    for verb in ("HELO", "EHLO"):
        assert raw.code(verb + " " + MTA) == \
            "500 5.5.1 Error: this is LMTP, send LHLO"
    assert raw.code("MAIL FROM:<%s>" % address(SENDER)) == \
        "503 5.5.1 Error: send LHLO first", "HELO/EHLO greeted nothing"
    assert raw.command("LHLO " + MTA)[-1] == "250 HELP"
    assert raw.code("STARTTLS") == "502 5.5.1 Error: command not implemented"
    assert raw.code("AUTH PLAIN AHgAeQ==") == \
        "503 5.5.1 Error: authentication not enabled"
    # An MTA needs no authentication to deposit.
    assert raw.code("MAIL FROM:<%s>" % address(SENDER)) == "250 2.1.0 Ok"
    assert raw.code("QUIT") == "221 2.0.0 Bye"


def test_one_reply_per_recipient_in_rcpt_order(make_smtpd):
    server = make_smtpd(lmtp=True)
    over_quota(server, RCPT3)
    client = lmtp(server)
    client.ehlo(MTA)
    assert client.mail(address(SENDER)) == (250, b"2.1.0 Ok")
    for rcpt in (RCPT2, RCPT3):
        # In SMTP a failure with NOTIFY=FAILURE would make a DSN.
        assert client.rcpt(address(rcpt), ["NOTIFY=FAILURE"]) == \
            (250, b"2.1.5 Ok")
    message = voice(to=(RCPT2, RCPT3))
    code, text = client.data(message)
    assert code == 250 and text.startswith(b"2.0.0 Ok: stored as "), text
    code, text = client.getreply()
    assert code == 552 and text.startswith(b"5.2.2 Mailbox full"), text
    assert client.noop() == (250, b"2.0.0 Ok"), "no third reply"

    stored = server.messages(RCPT2)
    assert len(stored) == 1
    assert unfolded(stored[0]).startswith(
        b"Return-Path: <%s>\r\nReceived: from %s (127.0.0.1) by %s with "
        b"LMTP id " % (address(SENDER).encode(), MTA.encode(),
                       HOST.encode()))
    assert stored[0].endswith(message)
    assert server.messages(RCPT3) == []
    assert server.messages(SENDER) == [], "the MTA makes the DSN in LMTP"


def test_refused_content_is_answered_for_every_recipient(make_smtpd):
    server = make_smtpd(lmtp=True)
    raw = server.raw()
    raw.command("LHLO " + MTA)
    raw.send("MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n"
             % (address(SENDER), address(RCPT2), address(RCPT3)))
    assert [raw.reply() for _ in range(4)] == [
        ["250 2.1.0 Ok"], ["250 2.1.5 Ok"], ["250 2.1.5 Ok"],
        ["354 End data with <CR><LF>.<CR><LF>"]]
    fax = voice(to=(RCPT2, RCPT3)).replace(
        b"Message-Context: voice-message", b"Message-Context: fax-message")
    raw.send(fax + b".\r\nNOOP\r\n")
    refusal = raw.reply()
    assert refusal[0].startswith("55") and \
        refusal[0][4:] == "5.6.1 only voice messages can be deposited"
    assert raw.reply() == refusal
    assert raw.reply() == ["250 2.0.0 Ok"]
    assert server.messages(RCPT2) == server.messages(RCPT3) == []


def test_bdat_last_answers_each_accepted_recipient(make_smtpd):
    server = make_smtpd(lmtp=True)
    raw = server.raw()
    raw.command("LHLO " + MTA)
    message = voice(to=(RCPT2, RCPT3))
    half = len(message) // 2
    raw.send("MAIL FROM:<%s> BODY=8BITMIME\r\nRCPT TO:<%s>\r\n"
             "RCPT TO:<%s@%s>\r\nRCPT TO:<%s>\r\n"
             % (address(SENDER), address(RCPT2), UNKNOWN, DOMAIN,
                address(RCPT3)))
    assert [raw.reply() for _ in range(4)] == [
        ["250 2.1.0 Ok"], ["250 2.1.5 Ok"],
        ["550 5.1.1 <%s@%s>: Recipient address rejected: no such "
         "subscriber" % (UNKNOWN, DOMAIN)], ["250 2.1.5 Ok"]]
    raw.send(b"BDAT %d\r\n" % half + message[:half])
    assert raw.reply() == ["250 2.0.0 %d octets received" % half]
    raw.send(b"BDAT %d LAST\r\n" % (len(message) - half) + message[half:]
             + b"NOOP\r\n")
    first, second = raw.reply(), raw.reply()
    for reply in (first, second):
        assert len(reply) == 1 and \
            reply[0].startswith("250 2.0.0 Ok: stored as "), reply
    assert raw.reply() == ["250 2.0.0 Ok"], "none for the refused RCPT"
    assert server.messages(RCPT2)[0].endswith(message)
    assert server.messages(RCPT3)[0].endswith(message)


def test_data_without_recipients_is_503(make_smtpd):
    server = make_smtpd(lmtp=True)
    raw = server.raw()
    raw.command("LHLO " + MTA)
    assert raw.code("MAIL FROM:<%s>" % address(SENDER)) == "250 2.1.0 Ok"
    assert raw.code("RCPT TO:<%s@%s>" % (UNKNOWN, DOMAIN)).startswith("550 ")
    assert raw.code("DATA")[:4] == "503 "


def test_message_too_big_is_answered_for_every_recipient(make_smtpd):
    server = make_smtpd(lmtp=True, smtp={"max_message_size": "800"})
    raw = server.raw()
    raw.command("LHLO " + MTA)
    raw.send("MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n"
             % (address(SENDER), address(RCPT2), address(RCPT3)))
    assert [raw.reply()[0][:3] for _ in range(4)] == \
        ["250", "250", "250", "354"]
    raw.send(voice() + b".\r\nNOOP\r\n")
    too_big = ["552 5.3.4 Message size exceeds fixed limit"]
    assert [raw.reply(), raw.reply()] == [too_big, too_big]
    assert raw.reply() == ["250 2.0.0 Ok"]


class UnixInetd(Inetd):
    """Inetd on a Unix socket, as vvm-lmtp.socket listens: root-owned,
    mode 0660, group postfix when there is one."""

    def __init__(self, argv, log, path):
        self.argv = [str(a) for a in argv]
        self.env = None
        self.log = Path(log)
        self.path = Path(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(self.path))
        try:
            os.chown(self.path, 0, grp.getgrnam("postfix").gr_gid)
            os.chmod(self.path, 0o660)
        except (KeyError, PermissionError):
            os.chmod(self.path, 0o666)
        self.sock.listen(64)
        self.port = None
        self.procs = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()


@pytest.fixture
def unix_lmtp():
    """Starts the shim of a (LMTP) Smtpd on a Unix socket as well."""
    inetds, dirs = [], []

    def start(server):
        directory = tempfile.TemporaryDirectory(prefix="vvm-lmtp-")
        dirs.append(directory)
        os.chmod(directory.name, 0o755)
        inetds.append(UnixInetd(server.inetd.argv,
                                server.root / "lmtpd-unix.log",
                                Path(directory.name) / "lmtp"))
        return inetds[-1].path
    try:
        yield start
    finally:
        try:
            for inetd in inetds:
                inetd.close()
        finally:
            for directory in dirs:
                directory.cleanup()


def test_unix_socket(make_smtpd, unix_lmtp):
    server = make_smtpd(lmtp=True)
    path = unix_lmtp(server)
    client = smtplib.LMTP(str(path), timeout=30)
    server.clients.append(client)
    assert client.ehlo(MTA)[0] == 250
    message = voice()
    assert client.sendmail(address(SENDER), [address(RCPT2)], message) == {}
    client.quit()
    stored = server.messages(RCPT2)
    assert len(stored) == 1
    # No peer address on a Unix socket: the Received names the LHLO only.
    assert unfolded(stored[0]).startswith(
        b"Return-Path: <%s>\r\nReceived: from %s by %s with LMTP id "
        % (address(SENDER).encode(), MTA.encode(), HOST.encode()))
    assert stored[0].endswith(message)


# A real Postfix: a private instance (its own config, queue and data
# directories under a temp dir, logging to a file there) whose main.cf is
# the example's lines with the test's transport, plus what makes it a
# private instance on 127.0.0.1.

MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n - n 60    1 pickup
cleanup   unix  n - n -     0 cleanup
qmgr      unix  n - n 300   1 qmgr
rewrite   unix  - - n -     - trivial-rewrite
bounce    unix  - - n -     0 bounce
defer     unix  - - n -     0 bounce
trace     unix  - - n -     0 bounce
verify    unix  - - n -     1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -     - proxymap
showq     unix  n - n -     - showq
error     unix  - - n -     - error
retry     unix  - - n -     - error
discard   unix  - - n -     - discard
anvil     unix  - - n -     1 anvil
scache    unix  - - n -     1 scache
postlog   unix-dgram n - n - 1 postlogd
"""

INSTANCE_CF = """\
compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
inet_interfaces = loopback-only
inet_protocols = ipv4
myhostname = {mta}
mydestination =
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
maillog_file = {root}/postfix.log
maillog_file_prefixes = {root}
# Nothing leaves this test: what is not for the voicemail domain fails.
default_transport = error:not sent anywhere by this test
relay_transport = error:not sent anywhere by this test
"""


def example_main_cf(transport):
    """The example's main.cf lines (before its master.cf part), with
    transport for its socket; and its lmtp line for master.cf."""
    text = EXAMPLE.read_text()
    main, master = text.split("# ---- master.cf ----")
    lines = [line for line in main.splitlines()
             if line.strip() and not line.startswith("#")]
    assert sum(EXAMPLE_SOCKET in line for line in lines) == 1, lines
    lines = [line.replace(EXAMPLE_SOCKET, transport) for line in lines]
    service = re.findall(r"^#\s+(lmtp\s+unix\s.*\blmtp)\s*$", master, re.M)
    assert len(service) == 1, master
    return lines, service[0]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Postfix:
    """A private Postfix instance under a temp dir."""

    def __init__(self, root, transport):
        self.root = Path(root)
        self.etc = self.root / "etc"
        self.log = self.root / "postfix.log"
        self.port = free_port()
        # The daemons run as mail_owner: they reach the socket and the
        # log through these directories.
        os.chmod(self.root, 0o755)
        for name in ("etc", "queue", "data"):
            (self.root / name).mkdir(mode=0o755)
        owner = pwd.getpwnam("postfix")
        os.chown(self.root / "data", owner.pw_uid, owner.pw_gid)
        lines, service = example_main_cf(transport)
        (self.etc / "main.cf").write_text(
            INSTANCE_CF.format(root=self.root, mta=MTA)
            + "# docs/examples/postfix-vvm-lmtp.cf\n"
            + "\n".join(lines) + "\n")
        (self.etc / "master.cf").write_text(
            MASTER_CF.format(port=self.port) + service + "\n")
        self.started = False

    def start(self):
        self.run("check")
        self.started = True
        self.run("start")
        self.wait_listening()
        return self

    def run(self, command, check=True):
        proc = subprocess.run(["postfix", "-c", str(self.etc), command],
                              capture_output=True, text=True, timeout=60)
        if check and proc.returncode != 0:
            raise AssertionError("postfix %s exited %d: %s\n%s" % (
                command, proc.returncode, proc.stderr, self.log_text()))
        return proc

    def log_text(self):
        return self.log.read_text(errors="replace") if self.log.exists() \
            else ""

    def wait_listening(self):
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port),
                                         timeout=5).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError("Postfix's smtpd is not listening:"
                                         "\n" + self.log_text())
                time.sleep(0.1)

    def master_pid(self):
        try:
            pid = int((self.root / "queue" / "pid" / "master.pid")
                      .read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        return pid

    def wait_log(self, pattern, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.log_text(), re.M)
            if found:
                return found
            time.sleep(0.1)
        raise AssertionError("no %r in Postfix's log within %ds:\n%s" % (
            pattern, timeout, self.log_text()[-6000:]))

    def stop(self):
        """postfix stop, then abort, then SIGKILL to the master it started;
        the daemons go with their master."""
        if not self.started:
            return
        pid = self.master_pid()
        for command in ("stop", "abort"):
            self.run(command, check=False)
            deadline = time.monotonic() + 10
            while pid is not None and time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    pid = None
                    break
                time.sleep(0.05)
            if pid is None:
                break
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
        self.started = False


def postfix_missing():
    """Why this host cannot run a private Postfix, or None."""
    if shutil.which("postfix") is None:
        return "postfix is not installed"
    if os.geteuid() != 0:
        return "a Postfix instance needs root (its master runs as root)"
    for lookup, name in ((pwd.getpwnam, "postfix"), (grp.getgrnam, "postdrop")):
        try:
            lookup(name)
        except KeyError:
            return "no %s %s for Postfix's mail_owner/setgid_group" % (
                "user" if lookup is pwd.getpwnam else "group", name)
    return None


@pytest.fixture
def postfix():
    # Fails, never skips: tools/vvm installs Postfix and runs the tests
    # as root.
    reason = postfix_missing()
    if reason:
        pytest.fail(reason)
    instances, dirs = [], []

    def start(transport):
        directory = tempfile.TemporaryDirectory(prefix="vvm-postfix-")
        dirs.append(directory)
        instances.append(Postfix(directory.name, transport))
        return instances[-1].start()
    try:
        yield start
    finally:
        try:
            for instance in instances:
                instance.stop()
        finally:
            for directory in dirs:
                directory.cleanup()


@pytest.mark.parametrize("over", ["unix", "inet"])
def test_postfix_delivers_into_vvmfs(make_smtpd, unix_lmtp, postfix, over):
    # Fixtures tear down in reverse: Postfix stops before the shims are
    # waited for and vvmfs unmounts.
    server = make_smtpd(lmtp=True)
    over_quota(server, RCPT3)
    if over == "unix":
        transport = "lmtp:unix:%s" % unix_lmtp(server)
    else:
        transport = "lmtp:inet:127.0.0.1:%d" % server.port
    mta = postfix(transport)

    message = voice(to=(RCPT2, RCPT3))
    client = smtplib.SMTP("127.0.0.1", mta.port, local_hostname="phone",
                          timeout=30)
    server.clients.append(client)
    assert client.sendmail(address(SENDER), [address(RCPT2), address(RCPT3)],
                           message) == {}
    client.quit()

    # Postfix reads vvm's two replies after the message: one stored, one
    # bounced with vvm's status.
    mta.wait_log(r"to=<%s>, .*status=sent \(250 2\.0\.0 Ok: stored as "
                 % re.escape(address(RCPT2)))
    mta.wait_log(r"to=<%s>, .*status=bounced \(host .* said: 552 5\.2\.2 "
                 r"Mailbox full" % re.escape(address(RCPT3)))
    stored = server.messages(RCPT2)
    assert len(stored) == 1, mta.log_text()
    assert stored[0].endswith(message)
    head = unfolded(stored[0][:-len(message)])
    received = re.findall(rb"^Received: .*$", head, re.M)
    assert len(received) == 2, head
    assert received[0].startswith(b"Received: from %s " % MTA.encode())
    assert b" by %s with LMTP id " % HOST.encode() in received[0]
    assert received[1].startswith(b"Received: from phone (localhost "
                                  b"[127.0.0.1]) by %s (Postfix) with ESMTP "
                                  b"id " % MTA.encode()), received[1]
    assert head.startswith(b"Return-Path: <%s>\r\n" %
                           address(SENDER).encode())
    assert server.messages(RCPT3) == []
    # Postfix's bounce goes back over LMTP to the sender, a subscriber: a
    # delivery report is the one kind of message besides voice that LMTP
    # takes (the spec lists DSNs among what a client retrieves).
    mta.wait_log(r"to=<%s>, .*status=sent \(250 2\.0\.0 Ok: stored as "
                 % re.escape(address(SENDER)))
    bounces = server.messages(SENDER)
    assert len(bounces) == 1
    assert b"report-type=delivery-status" in bounces[0]
    assert address(RCPT3).encode() in bounces[0]


def test_no_error_limit_for_the_mta(make_smtpd):
    """Refused recipients are routine for an MTA: LMTP never counts them
    towards [smtp] max_errors."""
    server = make_smtpd(lmtp=True, smtp={"max_errors": "2"})
    raw = server.raw()
    raw.command("LHLO " + MTA)
    assert raw.code("MAIL FROM:<%s>" % address(SENDER)) == "250 2.1.0 Ok"
    for n in range(4):
        assert raw.code("RCPT TO:<3169999999%d@%s>" % (n, DOMAIN)) \
            .startswith("550 5.1.1 ")
    assert raw.code("RCPT TO:<%s>" % address(RCPT2)) == "250 2.1.5 Ok"
    assert raw.code("DATA").startswith("354 ")
    raw.send(voice() + b".\r\n")
    assert raw.reply()[0].startswith("250 2.0.0 Ok: stored as ")
    assert len(server.messages(RCPT2)) == 1
