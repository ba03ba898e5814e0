"""vvm-smtpd launched the ways the admin guide documents: under the real
xinetd with the shipped file, as systemd units (verified), and as root
confining itself: chrooted into the mount as an unprivileged user before
it touches a mailbox."""
import os
import pwd
import smtplib
import subprocess

from conftest import TOP, VVMFS
from smtpd import (RCPT2, SENDER, SMTPD, address, digest_md5,  # noqa: F401
                   make_smtpd, voice)
from launch import DOCS, live_shim, under_xinetd


def deposit(port, server):
    client = smtplib.SMTP("127.0.0.1", port, timeout=30)
    try:
        client.ehlo("phone")
        assert digest_md5(client)[0] == 235
        assert client.sendmail(address(SENDER), [address(RCPT2)],
                               voice()) == {}
        client.quit()
    finally:
        client.close()
    assert len(server.messages(RCPT2)) == 1


def test_under_xinetd(make_smtpd):
    server = make_smtpd()
    under_xinetd(server.root, "xinetd-vvm-smtp", "port        = 587", SMTPD,
                 server.config, lambda port: deposit(port, server))


def test_systemd_units_verify(tmp_path):
    admin = (TOP / "docs" / "admin.md").read_text()
    vvmfs_unit = admin[admin.index("[Unit]\nDescription=vvmfs"):]
    vvmfs_unit = vvmfs_unit[:vvmfs_unit.index("```")]
    (tmp_path / "vvmfs.service").write_text(
        vvmfs_unit.replace("/usr/bin/vvmfs", str(VVMFS)))
    units = ["vvm-smtp.socket", "vvm-smtp@.service", "vvm-lmtp.socket",
             "vvm-lmtp@.service"]
    for name in units:
        (tmp_path / name).write_text((DOCS / name).read_text().replace(
            "/usr/bin/vvm-smtpd", str(SMTPD)))
    result = subprocess.run(["systemd-analyze", "verify", "--man=no"] +
                            ["./" + u for u in units],
                            cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def ids(pid):
    status = open("/proc/%d/status" % pid).read()
    return [line.split()[1:] for line in status.splitlines()
            if line.startswith(("Uid:", "Gid:", "Groups:"))]


def test_root_confines_itself_at_the_first_mail(make_smtpd):
    nobody = pwd.getpwnam("nobody")
    server = make_smtpd(smtp={"user": "nobody"}, vvmfs={"owner": "nobody"})
    client = smtplib.SMTP("127.0.0.1", server.port, timeout=30)
    server.clients.append(client)
    client.ehlo("phone")
    assert digest_md5(client)[0] == 235
    pid = live_shim(server.inetd)
    assert ids(pid)[0][0] == "0", "still root: AUTH reads the profile"
    assert client.mail(address(SENDER))[0] == 250
    assert ids(pid) == [[str(nobody.pw_uid)] * 4, [str(nobody.pw_gid)] * 4,
                        []]
    assert os.readlink("/proc/%d/root" % pid) == str(server.fs.mnt)
    assert client.rcpt(address(RCPT2))[0] == 250
    assert client.data(voice())[0] == 250
    assert len(server.messages(RCPT2)) == 1
    # STARTTLS and AUTH could no longer load what they need.
    client.ehlo("phone")
    assert "auth" not in client.esmtp_features


def test_lmtp_confines_itself_before_reading(make_smtpd):
    nobody = pwd.getpwnam("nobody")
    server = make_smtpd(lmtp=True, smtp={"user": "nobody"},
                        vvmfs={"owner": "nobody"})
    client = smtplib.LMTP("127.0.0.1", server.port, timeout=30)
    server.clients.append(client)
    assert ids(live_shim(server.inetd))[0] == [str(nobody.pw_uid)] * 4
    assert client.sendmail(address(SENDER), [address(RCPT2)], voice()) == {}
    assert len(server.messages(RCPT2)) == 1


def test_drop_refused_without_an_owned_mount(make_smtpd):
    server = make_smtpd(smtp={"user": "nobody"})
    client = smtplib.SMTP("127.0.0.1", server.port, timeout=30)
    server.clients.append(client)
    client.ehlo("phone")
    assert digest_md5(client)[0] == 235
    assert client.mail(address(SENDER)) == (
        421, b"4.3.0 vvm.test Error: local problem")
