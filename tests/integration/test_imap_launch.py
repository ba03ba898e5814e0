"""vvm-imapd launched the ways the admin guide documents: under the real
xinetd, under systemd-socket-activate --inetd (as tools/vvm up does), and
as root dropping into the subscriber's directory as an unprivileged user."""
import imaplib
import os
import pwd
import signal
import ssl
import subprocess

from conftest import MSISDN, deposit, voice_message
from conftest import TOP, VVMFS
from imapd import IMAPD, PASSWORD, make_imapd  # noqa: F401
from launch import (DOCS, free_port, live_shim, under_xinetd,
                    wait_listening)

def vvm_session(port, server):
    """What a phone does in one sync, through imaplib."""
    im = imaplib.IMAP4("127.0.0.1", port, timeout=30)
    im.login(MSISDN, PASSWORD)
    assert im.select("INBOX") == ("OK", [b"2"])
    typ, data = im.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[2])")
    assert typ == "OK" and len([d for d in data if isinstance(d, tuple)]) == 2
    assert im.uid("STORE", "2", "+FLAGS", "(\\Seen)")[0] == "OK"
    im.logout()
    assert os.getxattr(server.inbox / "2.eml", "user.imap.flags") == b"\\Seen"


def test_under_xinetd(make_imapd):
    server = make_imapd()
    for i in range(2):
        deposit(server.inbox, voice_message(i))
    under_xinetd(server.root, "xinetd-vvm-imap", "port        = 143", IMAPD,
                 server.config, lambda port: vvm_session(port, server))


def test_under_systemd_socket_activate(make_imapd):
    server = make_imapd()
    for i in range(2):
        deposit(server.inbox, voice_message(i))
    port = free_port()
    proc = subprocess.Popen(["systemd-socket-activate", "--inetd", "-a",
                             "-l", "127.0.0.1:%d" % port, str(IMAPD), "-c",
                             str(server.config)],
                            stdout=subprocess.DEVNULL,
                            stderr=open(server.root / "ssa.log", "wb"))
    try:
        wait_listening(port, proc)
        vvm_session(port, server)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    log = (server.root / "ssa.log").read_text(errors="replace")
    assert "Sanitizer" not in log and "runtime error" not in log, log


def test_root_drops_into_the_subscriber(make_imapd):
    nobody = pwd.getpwnam("nobody")
    server = make_imapd(imap={"user": "nobody"}, vvmfs={"owner": "nobody"})
    deposit(server.inbox, voice_message(1))
    im = server.connect()
    status = open("/proc/%d/status" % live_shim(server.inetd)).read()
    uids = [line.split()[1:] for line in status.splitlines()
            if line.startswith(("Uid:", "Gid:", "Groups:"))]
    assert uids[0] == [str(nobody.pw_uid)] * 4, uids
    assert uids[1] == [str(nobody.pw_gid)] * 4, uids
    assert uids[2] == [], "supplementary groups must be dropped"
    assert os.readlink("/proc/%d/root" % live_shim(server.inetd)) == str(server.sub)
    # Confined and unprivileged, it still does its whole job.
    assert im.select("INBOX")[0] == "OK"
    assert im.fetch("1", "(BODY[])")[0] == "OK"
    assert os.getxattr(server.inbox / "1.eml", "user.imap.flags") == b"\\Seen"
    assert im.list()[1] == [b'(\\HasNoChildren) "/" "Greetings"',
                            b'(\\HasNoChildren) "/" "INBOX"']
    typ, data = im.xatom("XCHANGE_TUI_PWD", "PWD=8642", "OLD_PWD=4826")
    assert typ == "OK", data
    assert (server.sub / "profile" / "tui_password").read_text() == "8642\n"
    im.store("1", "+FLAGS", "(\\Deleted)")
    assert im.expunge()[0] == "OK"
    assert os.listdir(server.inbox) == []
    im.logout()


def test_drop_refused_without_an_owned_mount(make_imapd):
    """Without vvmfs's owner= the dropped shim could not write its
    subscriber's data; it must say so at login rather than later."""
    server = make_imapd(imap={"user": "nobody"})
    im = imaplib.IMAP4("127.0.0.1", server.port, timeout=30)
    try:
        im.login(MSISDN, PASSWORD)
        refused = False
    except imaplib.IMAP4.error as e:
        refused = "application error" in str(e)
    finally:
        im.shutdown()
    assert refused


def test_systemd_units_verify(tmp_path):
    """The admin guide's units load and name what exists."""
    admin = (TOP / "docs" / "admin.md").read_text()
    vvmfs_unit = admin[admin.index("[Unit]\nDescription=vvmfs"):]
    vvmfs_unit = vvmfs_unit[:vvmfs_unit.index("```")]
    (tmp_path / "vvmfs.service").write_text(
        vvmfs_unit.replace("/usr/bin/vvmfs", str(VVMFS)))
    for name in ("vvm-imap.socket", "vvm-imap@.service"):
        (tmp_path / name).write_text((DOCS / name).read_text().replace(
            "/usr/bin/vvm-imapd", str(IMAPD)))
    result = subprocess.run(["systemd-analyze", "verify", "--man=no",
                             "./vvm-imap.socket", "./vvm-imap@.service"],
                            cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_listen_mode(make_imapd):
    """vvm-imapd --listen: its own listener, one forked child per
    connection, libsasl2 and the certificate loaded once; each session is
    what it is under inetd, and SIGTERM stops only the listener."""
    server = make_imapd(tls=True)
    for i in range(2):
        deposit(server.inbox, voice_message(i))
    port = free_port()
    log = open(server.root / "listen.log", "ab")
    proc = subprocess.Popen([str(IMAPD), "-c", str(server.config), "--listen",
                             "127.0.0.1:%d" % port], stdout=log, stderr=log)
    try:
        wait_listening(port, proc)
        vvm_session(port, server)
        im = imaplib.IMAP4("127.0.0.1", port, timeout=30)
        im.starttls(ssl_context=ssl.create_default_context(
            cafile=str(server.cert)))
        im.authenticate("PLAIN", lambda _: b"\0%s\0%s" % (
            MSISDN.encode(), PASSWORD.encode()))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        # the session outlives the listener
        assert im.select("INBOX") == ("OK", [b"2"])
        im.logout()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    text = (server.root / "listen.log").read_text(errors="replace")
    assert "Sanitizer" not in text and "runtime error" not in text, text
