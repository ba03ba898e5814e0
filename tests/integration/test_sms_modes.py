"""vvm-smsd for sites without an SMPP bind of their own: a command per
outbox entry, and Kannel's sendsms over HTTP, with real Kannel between
vvm-smsd and the test SMSC (MO coming back through Kannel's sms-service
and vvm-smsd --apply-mo); and --once."""
import json
import os
import re
import shlex
import subprocess
import tempfile
import time

import pytest

from conftest import MSISDN, deposit, voice_message
from kannel import Kannel
from smsrig import NUMBER, SMSD, make_rig  # noqa: F401 (fixture)
from smsc import ESME_ROK, Smsc, reassemble

SENDER = """#!/bin/sh
# Records each call: its arguments, its VVM_SMS_* environment, its input;
# fails the first time when told to.
n=$(ls "{dir}" | grep -c '^call' || true)
{{
	printf '%s\\n' "$@"
	env | grep '^VVM_SMS_' | sort
	echo --
	cat
}} >"{dir}/call$n"
[ "$n" -eq 0 ] && [ -e "{dir}/fail-first" ] && exit 3
exit 0
"""


def sender_script(root, fail_first=False):
    calls = os.path.join(root, "calls")
    os.mkdir(calls)
    if fail_first:
        open(os.path.join(calls, "fail-first"), "w").close()
    script = os.path.join(root, "sender")
    with open(script, "w") as f:
        f.write(SENDER.format(dir=calls))
    os.chmod(script, 0o755)
    return script, calls


def calls(directory):
    out = []
    for name in sorted((n for n in os.listdir(directory)
                        if n.startswith("call")), key=lambda n: int(n[4:])):
        head, _, text = open(os.path.join(directory, name)).read() \
            .partition("--\n")
        lines = head.splitlines()
        env = dict(line.split("=", 1) for line in lines if "=" in line and
                   line.startswith("VVM_SMS_"))
        args = [line for line in lines if not line.startswith("VVM_SMS_")]
        out.append((args, env, text))
    return out


def test_command_mode(make_rig, tmp_path):
    """A command per entry, as argv with %n %p %k %s substituted, the text
    on stdin, the short messages in the environment; exit 0 unlinks the
    entry, anything else sends it again later."""
    script, directory = sender_script(str(tmp_path), fail_first=True)
    rig = make_rig(status="N", smsd={
        "mode": "command", "sms_command": "%s %%n %%p %%k %%s 100%%%%" % script,
        "retry_max": 1})
    rig.wait_outbox_empty()
    got = calls(directory)
    # The first try failed, the second went.
    assert len(got) == 2 and got[0] == got[1]
    args, env, text = got[1]
    assert args == [MSISDN, "0", "STATUS", env["VVM_SMS_SEQ"], "100%"]
    assert text.startswith("//VVM:STATUS:st=N;rc=0;")
    assert env["VVM_SMS_TO"] == MSISDN and env["VVM_SMS_KIND"] == "STATUS"
    assert env["VVM_SMS_DATA_CODING"] == "0"
    parts = [bytes.fromhex(env["VVM_SMS_PART_%d" % i])
             for i in range(1, int(env["VVM_SMS_PARTS"]) + 1)]
    assert b"".join(p[6:] for p in parts).decode() == text
    assert "failed (wait status" in rig.log_text()


def test_once_drains_and_exits(make_rig, tmp_path):
    script, directory = sender_script(str(tmp_path))
    rig = make_rig(status="R", start=False,
                   smsd={"mode": "command", "sms_command": script})
    for n in range(3):
        deposit(rig.imapd.inbox, voice_message(n))
    assert len(rig.outbox()) == 5
    proc = rig.start("--once")
    assert proc.wait(timeout=30) == 0
    rig.proc = None
    assert rig.outbox() == []
    assert [c[1]["VVM_SMS_KIND"] for c in calls(directory)] == \
        ["STATUS", "STATUS", "SYNC", "SYNC", "SYNC"]


def test_apply_mo(make_rig):
    """--apply-mo applies one client SMS and exits, for a gateway that runs
    a program per MO."""
    rig = make_rig(start=False)
    r = subprocess.run([str(SMSD), "-c", str(rig.config), "--apply-mo",
                        NUMBER, "Activate:pv=13;ct=vvm-test;pt=5499;//VVM"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert (rig.sub / "profile" / "status").read_text() == "N\n"
    assert len(rig.outbox()) == 1
    r = subprocess.run([str(SMSD), "-c", str(rig.config), "--apply-mo",
                        NUMBER], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "--apply-mo NUMBER TEXT" in r.stderr


@pytest.fixture
def kannel_rig(make_rig, tmp_path):
    """vvm-smsd in http mode to a real Kannel bound to the test SMSC;
    Kannel's MO go back to vvm-smsd --apply-mo. rig.smsc stays unbound."""
    smsc = Smsc()
    rig = make_rig(start=False)
    kannel = Kannel(smsc, tmp_path / "kannel", service_options={
        "text": None, "max-messages": 0,
        "exec": "%s -c %s --urlencoded --apply-mo %%p %%a" % (
            SMSD, rig.config)})
    config = rig.config.read_text().replace("mode = smpp", "mode = http")
    config += "http_url = %s\nhttp_username = %s\nhttp_password = %s\n" % (
        kannel.sendsms_url, kannel.username, kannel.password)
    rig.config.write_text(config)
    rig.kannel_smsc = smsc
    rig.start()
    try:
        yield rig
    finally:
        rig.stop()
        kannel.close()
        smsc.close()


def test_http_mode_through_kannel(kannel_rig):
    """Activate from the phone reaches vvm through Kannel; the STATUS and
    a deposit's SYNC go out through Kannel's sendsms to the SMSC, binary
    to the client's port, the UDH as vvm made it."""
    rig = kannel_rig
    smsc = rig.kannel_smsc
    status = smsc.deliver(NUMBER, "5555",
                          b"Activate:pv=13;ct=vvm-test;pt=5499;//VVM")
    assert status == ESME_ROK
    # Kannel acknowledges at once and runs vvm-smsd --apply-mo after.
    smsc.wait_for(lambda: len(reassemble(smsc.submits, strict=False)) >= 1,
                  timeout=20)
    uid = deposit(rig.imapd.inbox, voice_message(1))
    rig.wait_outbox_empty(timeout=20)
    smsc.wait_for(lambda: len(reassemble(smsc.submits, strict=False)) >= 2,
                  timeout=20)
    status_msg, sync = reassemble(smsc.submits)
    assert status_msg.text.startswith("//VVM:STATUS:st=N;rc=0;")
    assert sync.text.startswith("//VVM:SYNC:ev=NM;id=%d;" % uid)
    for part in status_msg.parts + sync.parts:
        assert part.destination_addr == MSISDN
        assert part.data_coding == 4 and part.esm_class & 0x40
        assert part.ports == (5499, 0)
    assert len(status_msg.parts) == 2
    assert (rig.sub / "profile" / "status").read_text() == "N\n"
    # The password went to Kannel, never to vvm-smsd's log.
    assert "s3cret" not in rig.log_text()


def test_http_gateway_refusal_retried(make_rig, tmp_path):
    """A gateway that answers 503, then 202: the entry goes again."""
    import http.server
    import threading
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(503 if len(hits) == 1 else 202)
            self.end_headers()
            self.wfile.write(b"0: Accepted for delivery")

        def log_message(self, *args):
            pass
    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        rig = make_rig(status="N", smsd={
            "mode": "http", "http_username": "u", "http_password": "p",
            "http_url": "http://127.0.0.1:%d/cgi-bin/sendsms?smsc=x" %
            server.server_address[1]})
        rig.wait_outbox_empty(timeout=15)
    finally:
        server.shutdown()
    # Two parts of one STATUS: refused once, then both accepted.
    assert len(hits) == 3
    assert hits[0] == hits[1]
    query = hits[2].split("?", 1)[1]
    assert query.startswith("smsc=x&username=u&password=p&from=5555&to=%s&"
                            % MSISDN)
    assert "&coding=0" in query and "&udh=%05%00%03" in query
