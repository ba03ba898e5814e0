"""The README's quick start: `tools/vvm up` brings the service up (mount,
IMAP, SMTP, LMTP, vvm-smsd, a demo subscriber), `tools/vvm status` says
how to reach it, and it works as it says: the demo credentials log in
over IMAP with STARTTLS, and the STATUS and SYNC SMS a phone would get
land in var/sms.log. `tools/vvm down` stops all of it."""
import imaplib
import os
import re
import socket
import ssl
import subprocess
import time

from conftest import BUILD, TOP, is_mounted, voice_message, deposit

VVM = TOP / "tools" / "vvm"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def vvm(env, *args):
    return subprocess.run([str(VVM)] + list(args), env=env,
                          capture_output=True, text=True, timeout=600)


def wait_for(predicate, timeout=10):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_up_status_down(tmp_path):
    state = tmp_path / "var"
    ports = {name: free_port() for name in ("IMAP", "SMTP", "LMTP")}
    env = dict(os.environ, VVM_STATE=str(state), VVM_BUILD=str(BUILD),
               **{"VVM_" + k: "127.0.0.1:%d" % v for k, v in ports.items()})
    up = vvm(env, "up")
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        mnt = state / "mnt"
        assert is_mounted(mnt)
        status = vvm(env, "status").stdout
        for name, port in ports.items():
            assert re.search(r"^%s +127\.0\.0\.1:%d .*listening" % (name, port),
                             status, re.M), status
        assert re.search(r"^SMS .*: running$", status, re.M), status
        password = re.search(r"imap password +(\S+)", status).group(1)
        demo = re.search(r"^demo subscriber (\d+)$", status, re.M).group(1)

        # IMAP with STARTTLS, as the status says.
        imap = imaplib.IMAP4("127.0.0.1", ports["IMAP"], timeout=30)
        imap.starttls(ssl_context=ssl.create_default_context(
            cafile=str(state / "tls" / "cert.pem")))
        assert imap.login(demo, password)[0] == "OK"
        assert imap.select("INBOX")[0] == "OK"
        imap.logout()

        # The STATUS the demo subscriber got, with its credentials, then
        # the SYNC of a deposit.
        log = state / "sms.log"
        wait_for(lambda: log.exists() and "st=R" in log.read_text())
        assert ";pw=%s;" % password in log.read_text()
        uid = deposit(mnt / demo / "INBOX", voice_message(1))
        wait_for(lambda: ":SYNC:ev=NM;id=%d;" % uid in log.read_text())
    finally:
        down = vvm(env, "down")
    assert down.returncode == 0, down.stdout + down.stderr
    assert not is_mounted(state / "mnt")
    for name in ("vvm-imapd", "vvm-smtpd", "vvm-lmtpd", "vvm-smsd"):
        assert not (state / ("%s.pid" % name)).exists()
    for log in state.glob("*.log"):
        text = log.read_text(errors="replace")
        assert "ERROR: AddressSanitizer" not in text, (log, text[-3000:])
        assert "runtime error:" not in text, (log, text[-3000:])
