"""The VVM SMS interface end to end: vvmfs, vvm-imapd and vvm-smsd bound to
the test SMSC over real SMPP 3.4. A phone's Activate, Deactivate and
STATUS go in as deliver_sm; what the phone would get comes out as
submit_sm, checked field by field and against what IMAP shows."""
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from conftest import MSISDN, VVMADM, deposit, voice_message
from imapd import PASSWORD, Raw
from smsrig import NUMBER, SERVICE, make_rig  # noqa: F401 (fixture)
from smsc import ESME_ROK

ACTIVATE = "Activate:pv=13;ct=vvm-test;pt=5499;//VVM"


def fields(text):
    """{name: value} of a SYNC or STATUS text."""
    body = text.split(":", 2)[2]
    return dict(f.strip().split("=", 1) for f in body.split(";") if f)


def status_of(text):
    assert re.match(r"^//VVM:STATUS:", text), text
    return fields(text)


def login_refusal(rig):
    """The tagged answer to a LOGIN with the right password."""
    raw = Raw(rig.imapd.port)
    _, tagged = raw.command("L1", "LOGIN %s %s" % (MSISDN, PASSWORD))
    return tagged


def activated(make_rig, **kwargs):
    """A rig whose subscriber activated, every SMS so far sent and
    forgotten."""
    rig = make_rig(**kwargs)
    assert rig.mo(ACTIVATE) == ESME_ROK
    rig.messages(1)
    rig.wait_outbox_empty()
    rig.smsc.take_submits()
    return rig


def test_activate_gives_credentials_that_log_in(make_rig):
    """P: IMAP is refused. Activate from the phone: a binary STATUS st=N
    to the port it asked for, as the spec's SMS characteristics say, with
    the credentials that then log in over IMAP."""
    rig = make_rig()
    assert login_refusal(rig) == "L1 NO service is not activated"
    assert rig.mo(ACTIVATE) == ESME_ROK
    [msg] = rig.messages(1)
    for part in msg.parts:
        assert part.destination_addr == MSISDN
        assert (part.dest_addr_ton, part.dest_addr_npi) == (1, 1)
        assert part.source_addr == SERVICE
        assert part.esm_class == 0x40 and part.data_coding == 4
        assert part.protocol_id == 64
        assert part.ports == (5499, 0)
        assert part.service_type == "VVMST"
        assert part.replace_if_present_flag == 1
    st = status_of(msg.text)
    assert (st["st"], st["rc"], st["dn"]) == ("N", "0", SERVICE)
    assert (rig.sub / "profile" / "status").read_text() == "N\n"
    assert (rig.sub / "profile" / "client_type").read_text() == "vvm-test\n"
    assert (rig.sub / "profile" / "app_port").read_text() == "5499\n"
    imap = rig.imapd.connect(login=False)
    assert imap.login(st["u"], st["pw"])[0] == "OK"
    rig.wait_outbox_empty()


def test_deposit_sync_carries_the_imap_uid(make_rig):
    """A deposit: SYNC ev=NM whose id is the UID IMAP shows, replace-type
    in the inbox service type; rm in the shell: SYNC ev=MBU."""
    rig = activated(make_rig)
    uid = deposit(rig.imapd.inbox, voice_message(1, duration=7))
    [msg] = rig.messages(1)
    part = msg.parts[0]
    assert (part.service_type, part.replace_if_present_flag) == ("VVMIN", 1)
    sync = fields(msg.text)
    assert msg.text.startswith("//VVM:SYNC:ev=NM;")
    assert (sync["id"], sync["c"], sync["t"], sync["l"]) == (
        str(uid), "1", "v", "7")
    imap = rig.imapd.connect()
    imap.select("INBOX")
    assert imap.uid("SEARCH", "ALL")[1] == [str(uid).encode()]
    rig.smsc.take_submits()
    os.unlink(rig.imapd.inbox / ("%d.eml" % uid))
    [msg] = rig.messages(1)
    assert msg.text == "//VVM:SYNC:ev=MBU;c=0"


def test_xclose_nut_sends_ready(make_rig):
    rig = activated(make_rig)
    raw = Raw(rig.imapd.port)
    raw.login()
    _, tagged = raw.command("N1", "XCLOSE_NUT")
    assert tagged == "N1 OK NUT closed"
    [msg] = rig.messages(1)
    assert status_of(msg.text)["st"] == "R"


def test_deactivate_then_login_is_refused(make_rig):
    rig = activated(make_rig)
    assert rig.mo("Deactivate:pv=13;ct=vvm-test") == ESME_ROK
    [msg] = rig.messages(1)
    assert status_of(msg.text)["st"] == "P"
    assert login_refusal(rig) == "L1 NO service is not activated"
    # No SYNC while deactivated.
    rig.smsc.take_submits()
    deposit(rig.imapd.inbox, voice_message(2))
    time.sleep(0.5)
    assert rig.smsc.submits == [] and rig.outbox() == []


@pytest.mark.parametrize("text", [
    "STATUS:pv=13;ct=vvm-test;pt=5499;//VVM", "STATUS", "Status"])
def test_status_query_changes_nothing(make_rig, text):
    rig = activated(make_rig)
    assert rig.mo(text) == ESME_ROK
    [msg] = rig.messages(1)
    assert status_of(msg.text)["st"] == "N"
    assert msg.parts[0].ports == (5499, 0)
    assert (rig.sub / "profile" / "status").read_text() == "N\n"


def test_activate_forms_real_clients_send(make_rig):
    """T-Mobile's bare Activate:dt=6, then a protocol 1.1 Activate without
    port: each activates, with the port and prefix stored before."""
    rig = make_rig()
    (rig.sub / "profile" / "app_port").write_text("1808\n")
    assert rig.mo("Activate:dt=6") == ESME_ROK
    [msg] = rig.messages(1)
    assert status_of(msg.text)["st"] == "N"
    assert msg.parts[0].ports == (1808, 0)
    rig.smsc.take_submits()
    assert rig.mo("Activate:pv=11;ct=old-client") == ESME_ROK
    [msg] = rig.messages(1)
    assert status_of(msg.text)["st"] == "N"
    assert (rig.sub / "profile" / "client_type").read_text() == \
        "old-client\n"


def test_client_prefix_is_used_from_then_on(make_rig):
    rig = make_rig()
    assert rig.mo("Activate:pv=13;ct=vvm-test;pt=5499;//XVVM") == ESME_ROK
    [msg] = rig.messages(1)
    assert msg.text.startswith("//XVVM:STATUS:st=N;")
    rig.smsc.take_submits()
    deposit(rig.imapd.inbox, voice_message(3))
    [msg] = rig.messages(1)
    assert msg.text.startswith("//XVVM:SYNC:ev=NM;")


def test_stranger_gets_mailbox_unknown(make_rig):
    """A number that is no subscriber: st=U;rc=3 to the number and port
    it wrote from, through the outbox like every answer."""
    rig = make_rig()
    assert rig.mo(ACTIVATE, source="+31699999999") == ESME_ROK
    [msg] = rig.messages(1)
    assert msg.text == "//VVM:STATUS:st=U;rc=3"
    assert msg.parts[0].destination_addr == "31699999999"
    assert msg.parts[0].ports == (5499, 0)
    assert not (rig.fs.mnt / "31699999999").exists()


def test_unknown_client_type(make_rig):
    rig = make_rig(smsd={"known_clients": "android,vvm-test"})
    assert rig.mo("Activate:pv=13;ct=nokia;pt=5499;//VVM") == ESME_ROK
    [msg] = rig.messages(1)
    assert msg.text == "//VVM:STATUS:st=U;rc=6"
    assert (rig.sub / "profile" / "status").read_text() == "P\n"


@pytest.mark.parametrize("text,answer", [
    ("Activate:pv=9;ct=vvm-test;pt=5499;//VVM", "//VVM:STATUS:st=U;rc=6"),
    ("Activate:pv=13;ct=vvm-test;pt=99999;//VVM", "//VVM:STATUS:st=U;rc=2"),
    ("Activate:pv=13;ct=a b;pt=5499;//VVM", "//VVM:STATUS:st=U;rc=6"),
    ("activate:pv=13;ct=vvm-test;pt=5499;//VVM", None),
    ("Hello, is this the voicemail?", None),
    (b"\xff\xfe\x00garbage\x1b", None),
])
def test_malformed_client_sms(make_rig, text, answer):
    """Malformed requests get the spec's rc, text that is no VVM request
    gets nothing; each is acknowledged (the SMSC must not resend it),
    logged, and changes nothing."""
    rig = make_rig()
    assert rig.mo(text) == ESME_ROK
    if answer is None:
        time.sleep(0.5)
        assert rig.smsc.submits == []
    else:
        [msg] = rig.messages(1)
        assert msg.text == answer
    assert (rig.sub / "profile" / "status").read_text() == "P\n"
    assert "MO from %s refused" % NUMBER in rig.log_text()
    assert rig.proc.poll() is None


def test_mo_in_other_codings(make_rig):
    """UCS-2, a UDH before the text, the text in message_payload."""
    rig = make_rig()
    assert rig.mo(ACTIVATE.encode("utf-16-be"), data_coding=8) == ESME_ROK
    rig.messages(1)
    rig.smsc.take_submits()
    udh = bytes([6, 5, 4, 0x15, 0x7b, 0, 0])
    assert rig.mo(udh + b"STATUS", esm_class=0x40) == ESME_ROK
    rig.messages(1)
    rig.smsc.take_submits()
    assert rig.mo(b"", tlvs={0x0424: b"Status"}) == ESME_ROK
    [msg] = rig.messages(1)
    assert status_of(msg.text)["st"] == "N"


def test_delivery_receipt_is_acknowledged_and_ignored(make_rig):
    rig = activated(make_rig)
    receipt = b"id:1 sub:001 dlvrd:001 submit date:2612060000 stat:DELIVRD"
    assert rig.mo(receipt, esm_class=0x04) == ESME_ROK
    time.sleep(0.5)
    assert rig.smsc.submits == []
    assert "MO" not in rig.log_text().split("bound as transceiver")[-1] \
        .replace("MO Activate", "")


def test_text_sms_to_port_zero(make_rig):
    """pt=0 (no application port): visible text in the GSM alphabet, an @
    as the SMSC reads it, concatenated when long."""
    rig = make_rig()
    (rig.sub / "profile" / "smtp_user").write_text("31612345678@vvm.test\n")
    (rig.sub / "profile" / "smtp_password").write_text("Smtp-Pw\n")
    assert rig.mo("Activate:pv=13;ct=vvm-test;pt=0;//VVM") == ESME_ROK
    [msg] = rig.messages(1)
    for part in msg.parts:
        assert part.data_coding == 0 and part.protocol_id == 0
        assert part.ports is None
    assert len(msg.parts) == 2 and msg.parts[0].concat[1] == 2
    st = status_of(msg.text)
    assert st["smtp_u"] == "31612345678@vvm.test"


def test_encrypted_as_the_annex_says(make_rig):
    """[smsd] des3_key: after the UDH, each short message is DESede/ECB/
    PKCS5, which openssl decrypts to the STATUS."""
    key = "0123456789abcdef0123456789abcdeffedcba9876543210"
    rig = make_rig(smsd={"des3_key": key})
    assert rig.mo(ACTIVATE) == ESME_ROK
    [msg] = rig.messages(1)
    plain = b""
    for part in msg.parts:
        assert part.data_coding == 4 and part.ports == (5499, 0)
        out = subprocess.run(["openssl", "enc", "-d", "-des-ede3", "-K",
                              key], input=part.payload, capture_output=True,
                             check=True)
        plain += out.stdout
    assert plain.startswith(b"//VVM:STATUS:st=N;rc=0;")


def test_keeps_the_link_and_unbinds_at_sigterm(make_rig):
    rig = make_rig(smsd={"enquire_link": 1})
    rig.smsc.wait_binds(1)
    rig.smsc.wait_for(lambda: rig.smsc.enquire_links >= 2, timeout=6)
    rig.stop()
    rig.smsc.wait_for(lambda: rig.smsc.unbinds == 1)
    assert rig.smsc.errors == []


def test_vvmadm_sms(make_rig):
    """send-status through the mount reaches the phone; decode reads what
    it got, UDH and all; encode makes the same short message."""
    rig = activated(make_rig, status="R")
    run = [str(VVMADM), "-m", str(rig.fs.mnt), "sms"]
    r = subprocess.run(run + ["send-status", MSISDN], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    [msg] = rig.messages(1)
    r = subprocess.run(run + ["decode", msg.text], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    assert "kind STATUS\nprefix //VVM\nst R\nrc 0\n" in r.stdout
    assert "pw %s\n" % PASSWORD in r.stdout
    rig.smsc.take_submits()
    uid = deposit(rig.imapd.inbox, voice_message(4))
    [msg] = rig.messages(1)
    r = subprocess.run(run + ["decode", "--hex", msg.parts[0].short_message
                              .hex()], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("dst_port 5499\nsrc_port 0\nkind SYNC\n")
    assert "\nid %d\n" % uid in r.stdout
    mbu = "//VVM:SYNC:ev=MBU;c=4"
    r = subprocess.run(run + ["encode", "--port", "5499", mbu],
                       capture_output=True, text=True)
    assert r.stdout.split("\n")[:2] == [
        mbu, "060504157b0000" + mbu.encode().hex()]
    r = subprocess.run(run + ["send-status", "31600000000"],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "No such file" in r.stderr
