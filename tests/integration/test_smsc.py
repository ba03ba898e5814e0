"""The test SMSC (smsc.py) speaks real SMPP 3.4: a real ESME, Kannel's
bearerbox and smsbox, binds to it, submits through it and takes MOs from
it, and survives its outages; then raw-socket checks of what the SMSC does
with a client that gets the protocol wrong. vvm-smsd's tests rest on this
SMSC, so these must hold first.

What is asserted about Kannel is what Kannel 1.4.5 really does, checked
against the SMPP 3.4 specification where it has a say."""
import random
import socket
import struct
import tempfile
import threading
import time

import pytest

from kannel import Kannel
from smsc import (
    BIND_RECEIVER, BIND_TRANSMITTER, BIND_TRANSCEIVER, DATA_SM, DELIVER_SM,
    DELIVER_SM_RESP, ENQUIRE_LINK, ENQUIRE_LINK_RESP, ESME_RALYBND,
    ESME_RINVBNDSTS, ESME_RINVCMDID, ESME_RINVCMDLEN, ESME_RINVDSTADR,
    ESME_RINVPASWD, ESME_RINVSYSID, ESME_ROK, ESME_RSYSERR, ESME_RTHROTTLED,
    ESME_RX_T_APPN,
    GENERIC_NACK, QUERY_SM, SUBMIT_MULTI, SUBMIT_SM, SUBMIT_SM_RESP,
    TLV_MORE_MESSAGES_TO_SEND, TLV_SAR_MSG_REF_NUM, TLV_SAR_SEGMENT_SEQNUM,
    TLV_SAR_TOTAL_SEGMENTS, UNBIND, UNBIND_RESP, Esme, Smsc, bind_body, pdu,
    reassemble, sm_body, udh_decode, udh_encode)

MSISDN = "31612345678"
# IEI 5, application port addressing with 16-bit ports: destination 5499
# (0x157B, the VVM client's port), source 0.
PORT_UDH = bytes.fromhex("060504157b0000")


@pytest.fixture
def smsc():
    with Smsc() as server:
        yield server


@pytest.fixture
def make_kannel(smsc):
    """Starts Kannels bound to the smsc fixture, each in its own temporary
    directory; stops them all after the test, failed or not."""
    kannels, roots = [], []

    def make(**kwargs):
        root = tempfile.TemporaryDirectory(prefix="vvm-kannel-")
        roots.append(root)
        kannels.append(Kannel(smsc, root.name, **kwargs))
        return kannels[-1]
    try:
        yield make
    finally:
        for kannel in kannels:
            kannel.close()
        for root in roots:
            root.cleanup()


@pytest.fixture
def kannel(make_kannel):
    return make_kannel()


def accepted(reply):
    assert reply == (202, "0: Accepted for delivery"), reply


# --- with Kannel ---------------------------------------------------------

def test_kannel_binds_as_transceiver(smsc, kannel):
    """One bind_transceiver with our credentials, SMPP 3.4, and Kannel sees
    the link online: our bind_transceiver_resp was understood."""
    [bind] = smsc.binds
    assert (bind.command, bind.system_id, bind.password) == \
        ("bind_transceiver", "vvm", "secret")
    assert bind.interface_version == 0x34
    assert bind.system_type == "VMA"    # Kannel requires one; ours
    assert bind.status == ESME_ROK
    assert smsc.bound == {bind.conn_id: "transceiver"}
    assert "(online" in kannel.smsc_status()
    assert smsc.errors == []


def test_sendsms_text_arrives_as_submit_sm(smsc, kannel):
    """A text from sendsms is one submit_sm: source, destination, and the
    text in the GSM default alphabet, one septet an octet (data_coding 0),
    with the escape for the extension table."""
    accepted(kannel.sendsms(MSISDN, "Hello @ VVM {1} 12:00", sender="1234"))
    [sm] = smsc.wait_submits(1)
    assert (sm.source_addr, sm.destination_addr) == ("1234", MSISDN)
    assert sm.text == "Hello @ VVM {1} 12:00"
    assert sm.short_message == b"Hello \x00 VVM \x1b(1\x1b) 12:00"
    assert (sm.data_coding, sm.sm_length) == (0, len(sm.short_message))
    # esm_class 0x03: store and forward mode, default type, no UDHI.
    assert sm.esm_class == 0x03 and not sm.udh
    assert sm.status == ESME_ROK and sm.message_id
    # Kannel guesses TON/NPI from the digits: national (2) without a "+".
    assert (sm.source_addr_ton, sm.source_addr_npi) == (2, 1)
    assert (sm.dest_addr_ton, sm.dest_addr_npi) == (2, 1)
    assert smsc.errors == []


def test_sendsms_international_and_alphanumeric_addresses(smsc, kannel):
    """A "+" number goes as TON international without the "+"; letters as
    TON alphanumeric (5), NPI unknown (0)."""
    accepted(kannel.sendsms("+" + MSISDN, "intl", sender="+31600000001"))
    accepted(kannel.sendsms(MSISDN, "alpha", sender="VVM"))
    intl, alpha = smsc.wait_submits(2)
    assert (intl.source_addr, intl.source_addr_ton, intl.source_addr_npi) \
        == ("31600000001", 1, 1)
    assert (intl.destination_addr, intl.dest_addr_ton) == (MSISDN, 1)
    assert (alpha.source_addr, alpha.source_addr_ton,
            alpha.source_addr_npi) == ("VVM", 5, 0)


def test_sendsms_binary_with_udh(smsc, kannel):
    """An 8-bit message with a port-addressing UDH, as VVM notifications
    travel: UDHI set in esm_class (0x40, with Kannel's store-and-forward
    0x03), data_coding 4 (5.2.19: octet unspecified, 8-bit binary), and
    the UDH and every octet of the payload, NULs included, intact."""
    payload = b"\x00\x01//VVM\xfe\xff"
    accepted(kannel.sendsms(MSISDN, payload, coding=1, udh=PORT_UDH))
    [sm] = smsc.wait_submits(1)
    assert sm.esm_class == 0x43
    assert sm.data_coding == 4
    assert sm.short_message == PORT_UDH + payload
    assert sm.udh == [(5, b"\x15\x7b\x00\x00")]
    assert sm.ports == (5499, 0)
    assert sm.payload == payload
    assert smsc.errors == []


def test_long_text_is_concatenated(smsc, kannel):
    """A text over 160 septets is split: each part carries a UDH with IEI 0
    (8-bit reference, total, number), 153 septets but the last, and the
    parts reassemble to the text. Kannel also sets the
    more_messages_to_send TLV on all parts but the last."""
    text = "".join("VVM %03d " % i for i in range(50))    # 400 characters
    accepted(kannel.sendsms(MSISDN, text))
    parts = smsc.wait_submits(3)
    assert len(parts) == 3
    refs = set()
    for n, sm in enumerate(parts, 1):
        assert sm.esm_class == 0x43 and sm.data_coding == 0
        [(iei, value)] = sm.udh
        assert iei == 0 and value[1:] == bytes([3, n])
        refs.add(value[0])
        more = sm.tlvs.get(TLV_MORE_MESSAGES_TO_SEND)
        assert more == (b"\x01" if n < 3 else None)
    assert len(refs) == 1
    assert [len(sm.payload) for sm in parts] == [153, 153, len(text) - 306]
    [message] = reassemble(parts)
    assert message.text == text
    assert smsc.errors == []


def test_mo_reaches_smsbox(smsc, make_kannel):
    """A deliver_sm is acknowledged ESME_ROK with the empty message_id the
    spec asks for, and reaches smsbox: its service answers with a
    submit_sm back to the sender (TON international, as the MO's was)."""
    make_kannel(mo_reply="pong")
    status = smsc.deliver(MSISDN, "1234", "ping", source_addr_ton=1,
                          dest_addr_ton=2)
    assert status == ESME_ROK
    [reply] = smsc.wait_submits(1, timeout=10)
    assert (reply.destination_addr, reply.dest_addr_ton) == (MSISDN, 1)
    assert (reply.source_addr, reply.text) == ("1234", "pong")
    assert len(smsc.delivers) == 1
    assert smsc.errors == []


def test_reconnects_after_outage_and_sends_what_was_queued(smsc, kannel):
    """With the SMSC gone (connections refused), sendsms still queues;
    once it listens again Kannel binds anew within its reconnect-delay
    (1 s here) and the queued message is submitted."""
    smsc.down()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", smsc.port), timeout=1)
    # Once Kannel knows the link is down, it says so.
    kannel.wait_link("re-connecting", timeout=5)
    assert kannel.sendsms(MSISDN, "meanwhile") == \
        (202, "3: Queued for later delivery")
    time.sleep(2)
    assert smsc.submits == [] and len(smsc.binds) == 1
    up = time.monotonic()
    smsc.up()
    smsc.wait_binds(2, timeout=5)
    assert time.monotonic() - up < 3
    [sm] = smsc.wait_submits(1, timeout=5)
    assert sm.text == "meanwhile" and sm.conn_id == smsc.binds[1].conn_id


def test_rebinds_after_drop_and_after_smsc_unbind(smsc, kannel):
    """A connection cut without a word, and an unbind from the SMSC
    (answered unbind_resp), both end in a new bind."""
    smsc.drop_connections()
    smsc.wait_binds(2, timeout=5)
    assert smsc.unbind() == ESME_ROK
    smsc.wait_binds(3, timeout=5)
    assert len({b.conn_id for b in smsc.binds}) == 3
    kannel.wait_online()
    accepted(kannel.sendsms(MSISDN, "after"))
    assert smsc.wait_submits(1)[0].conn_id == smsc.binds[2].conn_id
    assert smsc.errors == []


def test_enquire_link_both_ways(smsc, make_kannel):
    """Kannel's keepalive enquire_links are answered and counted; the
    SMSC's own enquire_link is answered by Kannel."""
    make_kannel(smsc_options={"enquire-link-interval": 1})
    smsc.wait_for(lambda: smsc.enquire_links >= 2, timeout=4)
    assert smsc.ping() == ESME_ROK
    assert smsc.errors == []


def test_held_responses_fill_kannels_window(smsc, make_kannel):
    """Without submit_sm_resp, Kannel stops at max-pending-submits
    outstanding; each released response lets the next ones go."""
    kannel = make_kannel(smsc_options={"max-pending-submits": 3})
    smsc.respond = False
    for i in range(5):
        accepted(kannel.sendsms(MSISDN, "m%d" % i))
    smsc.wait_submits(3)
    time.sleep(1)
    assert len(smsc.submits) == 3 and smsc.max_outstanding == 3
    smsc.respond = True
    assert smsc.release() == 3
    subs = smsc.wait_submits(5)
    assert sorted(sm.text for sm in subs) == ["m%d" % i for i in range(5)]
    assert smsc.max_outstanding == 3


def test_throttled_submit_is_resent(smsc, make_kannel):
    """ESME_RTHROTTLED is a temporary error: Kannel queues the message
    again and resends it (after sms-resend-freq, 1 s here)."""
    kannel = make_kannel(core_options={"sms-resend-freq": 1})
    answers = iter([ESME_RTHROTTLED])
    smsc.submit_status = lambda sm: next(answers, ESME_ROK)
    accepted(kannel.sendsms(MSISDN, "again"))
    first, second = smsc.wait_submits(2, timeout=8)
    assert (first.status, first.message_id) == (ESME_RTHROTTLED, None)
    assert (second.status, second.text) == (ESME_ROK, "again")
    assert second.time - first.time >= 0.5


def test_wrong_password_is_refused(smsc, make_kannel):
    """The bind is answered ESME_RINVPASWD and the connection closed.
    Kannel 1.4.5 takes an authentication failure as final: the link is
    dead, it does not try again, and sendsms refuses for want of a route."""
    # Kannel 1.4.5 can die on an assertion (gwlist_remove_producer in
    # bb_smscconn_killed) if the bind fails before bearerbox has finished
    # starting; so the SMSC is only up once both boxes are.
    smsc.down()
    kannel = make_kannel(smsc_password="wrong", wait=None)
    smsc.up()
    [bind] = smsc.wait_binds(1, status=None)
    assert (bind.password, bind.status) == ("wrong", ESME_RINVPASWD)
    smsc.wait_for(lambda: smsc.connections == 0, timeout=3)
    time.sleep(2)
    assert len(smsc.binds) == 1 and smsc.bound == {}
    kannel.wait_link("dead", timeout=1)
    assert kannel.sendsms(MSISDN, "x") == \
        (403, "Not routable. Do not try again.")


# --- raw sockets -----------------------------------------------------------

def test_malformed_pdu_gets_generic_nack_and_connection_stays(smsc):
    """A submit_sm whose fields run past its command_length gets a
    generic_nack ESME_RINVCMDLEN with its sequence_number; the next,
    well-formed one on the same connection is accepted."""
    with Esme(smsc.port) as esme:
        assert esme.bind().command_status == ESME_ROK
        body = sm_body("1234", MSISDN, b"hi")
        # Cut in the addresses; sm_length 5 with 2 octets left; no NUL.
        for bad in (body[:5], body[:-3] + b"\x05hi", b"abc"):
            seq = esme.send(SUBMIT_SM, bad)
            nack = esme.recv()
            assert (nack.command_id, nack.command_status,
                    nack.sequence_number, nack.body) == \
                (GENERIC_NACK, ESME_RINVCMDLEN, seq, b"")
        resp = esme.submit("1234", MSISDN, b"hi")
        assert resp.command_id == SUBMIT_SM_RESP
        assert resp.command_status == ESME_ROK and resp.body.endswith(b"\0")
    [sm] = smsc.submits
    assert sm.text == "hi" and resp.body == sm.message_id.encode() + b"\0"
    assert len(smsc.errors) == 3


def test_bad_command_length_closes_only_that_connection(smsc):
    """A command_length outside 16..64 KiB loses the framing: generic_nack
    ESME_RINVCMDLEN, then the connection is closed; others go on."""
    with Esme(smsc.port) as other:
        assert other.bind().command_status == ESME_ROK
        for length in (8, 64 * 1024 + 1):
            with Esme(smsc.port) as esme:
                esme.send_raw(struct.pack(">IIII", length, SUBMIT_SM, 0, 9))
                nack = esme.recv()
                assert (nack.command_id, nack.command_status,
                        nack.sequence_number) == \
                    (GENERIC_NACK, ESME_RINVCMDLEN, 9)
                assert esme.closed(2)
        assert other.submit("1", MSISDN, b"x").command_status == ESME_ROK


def test_session_states(smsc):
    """enquire_link is answered before a bind; a submit_sm before a bind
    gets its submit_sm_resp with ESME_RINVBNDSTS; a second bind
    ESME_RALYBND; unbind gets unbind_resp and the SMSC closes."""
    with Esme(smsc.port) as esme:
        resp = esme.call(ENQUIRE_LINK)
        assert (resp.command_id, resp.command_status) == \
            (ENQUIRE_LINK_RESP, ESME_ROK)
        resp = esme.submit("1234", MSISDN, b"early")
        assert (resp.command_id, resp.command_status, resp.body) == \
            (SUBMIT_SM_RESP, ESME_RINVBNDSTS, b"")
        assert esme.bind(command=BIND_TRANSMITTER).command_status == \
            ESME_ROK
        assert esme.bind().command_status == ESME_RALYBND
        assert esme.call(ENQUIRE_LINK).command_status == ESME_ROK
        resp = esme.call(UNBIND)
        assert (resp.command_id, resp.command_status) == \
            (UNBIND_RESP, ESME_ROK)
        assert esme.closed(2)
    assert smsc.enquire_links == 2 and smsc.unbinds == 1
    assert [b.command for b in smsc.binds] == ["bind_transmitter",
                                               "bind_transceiver"]


@pytest.mark.parametrize("system_id, password, status", [
    ("nobody", "secret", ESME_RINVSYSID),
    ("vvm", "wrong", ESME_RINVPASWD),
])
def test_bad_credentials(smsc, system_id, password, status):
    """A refused bind: the status, no body (the spec's rule for error
    responses), then the connection closed."""
    with Esme(smsc.port) as esme:
        resp = esme.bind(system_id, password, command=BIND_RECEIVER)
        assert (resp.command_status, resp.body) == (status, b"")
        assert esme.closed(2)
    assert smsc.bound == {}


def test_unsupported_commands_get_generic_nack(smsc):
    """query_sm, submit_multi, data_sm and unknown command_ids are
    answered generic_nack ESME_RINVCMDID; the session goes on."""
    with Esme(smsc.port) as esme:
        esme.bind()
        for command_id in (QUERY_SM, SUBMIT_MULTI, DATA_SM, 0x1234):
            seq = esme.send(command_id, b"\0\0\0")
            nack = esme.recv()
            assert (nack.command_id, nack.command_status,
                    nack.sequence_number) == (GENERIC_NACK, ESME_RINVCMDID,
                                              seq)
        assert esme.call(ENQUIRE_LINK).command_status == ESME_ROK


def test_fault_injection(smsc):
    """submit_status, delay, respond/release and window, on one client."""
    smsc.window = 2
    with Esme(smsc.port) as esme:
        esme.bind()
        smsc.submit_status = lambda sm: ESME_RSYSERR
        resp = esme.submit("1", MSISDN, b"a")
        assert (resp.command_status, resp.body) == (ESME_RSYSERR, b"")
        smsc.submit_status = None
        smsc.delay = 0.3
        start = time.monotonic()
        assert esme.submit("1", MSISDN, b"b").command_status == ESME_ROK
        assert time.monotonic() - start >= 0.3
        smsc.delay = 0
        smsc.respond = False
        seqs = [esme.send(SUBMIT_SM, sm_body("1", MSISDN, b"c%d" % i))
                for i in range(3)]
        resp = esme.recv()      # the third is over the window of 2
        assert (resp.sequence_number, resp.command_status) == \
            (seqs[2], ESME_RTHROTTLED)
        with pytest.raises(TimeoutError):
            esme.recv(timeout=0.3)
        assert smsc.release() == 2
        assert {esme.recv().sequence_number for _ in range(2)} == \
            set(seqs[:2])
    assert [sm.status for sm in smsc.take_submits()] == \
        [ESME_RSYSERR, 0, 0, 0, ESME_RTHROTTLED]
    assert smsc.submits == [] and smsc.max_outstanding == 2
    assert any("window of 2 exceeded" in e for e in smsc.errors)


def test_field_checks(smsc):
    """Fields the spec bounds: an empty or over-long destination_addr is
    ESME_RINVDSTADR; sar_* TLVs are parsed and reassemble."""
    with Esme(smsc.port) as esme:
        esme.bind()
        assert esme.submit("1", "", b"x").command_status == ESME_RINVDSTADR
        assert esme.submit("1", "9" * 21, b"x").command_status == \
            ESME_RINVDSTADR
        for n, chunk in enumerate((b"Hello, ", b"world"), 1):
            tlvs = {TLV_SAR_MSG_REF_NUM: b"\x01\x02",
                    TLV_SAR_TOTAL_SEGMENTS: b"\x02",
                    TLV_SAR_SEGMENT_SEQNUM: bytes([n])}
            assert esme.submit("1", MSISDN, chunk, tlvs=tlvs).command_status \
                == ESME_ROK
    parts = smsc.wait_submits(2, status=ESME_ROK)
    assert [p.concat for p in parts] == [(0x102, 2, 1), (0x102, 2, 2)]
    assert [m.text for m in reassemble(parts)] == ["Hello, world"]


def test_deliver_needs_a_receiver(smsc):
    """deliver() goes only to a receiver or transceiver: with a transmitter
    alone it times out; a receiver gets it and its status comes back."""
    with Esme(smsc.port) as tx, Esme(smsc.port) as rx:
        tx.bind(command=BIND_TRANSMITTER)
        with pytest.raises(TimeoutError):
            smsc.deliver("1", MSISDN, b"x", timeout=0.3)
        rx.bind(command=BIND_RECEIVER)
        smsc.wait_for(lambda: len(smsc.bound) == 2)
        got = []

        def answer():
            got.append(rx.recv())
            rx.send(DELIVER_SM_RESP, b"\0", seq=got[0].sequence_number,
                    status=ESME_RX_T_APPN)
        thread = threading.Thread(target=answer)
        thread.start()
        status = smsc.deliver(MSISDN, "1234", PORT_UDH + b"\x01",
                              esm_class=0x40, data_coding=4)
        thread.join(5)
    assert status == ESME_RX_T_APPN
    [mo] = got
    assert mo.command_id == DELIVER_SM
    assert mo.body == sm_body(MSISDN, "1234", PORT_UDH + b"\x01",
                              esm_class=0x40, data_coding=4)


def test_garbage_never_stops_the_server(smsc):
    """Random PDUs (valid framing, random commands and bodies) on many
    connections: each is answered or refused on its own, and the SMSC
    still serves a well-behaved client afterwards."""
    rng = random.Random(3434)
    commands = [BIND_TRANSCEIVER, SUBMIT_SM, ENQUIRE_LINK, UNBIND,
                DELIVER_SM_RESP, GENERIC_NACK, 0x80000004, 0x7, 0xFFFFFFFF]
    for _ in range(20):
        with Esme(smsc.port) as esme:
            esme.bind()
            try:
                for _ in range(20):
                    body = bytes(rng.randrange(256)
                                 for _ in range(rng.randrange(60)))
                    if rng.random() < 0.3:
                        body = sm_body("1", MSISDN, b"x")[:rng.randrange(40)]
                    esme.send_raw(pdu(rng.choice(commands),
                                      rng.randrange(1, 1 << 31), body))
            except OSError:
                pass
    assert smsc._thread.is_alive()
    assert smsc.errors and not [e for e in smsc.errors if "server error" in e]
    with Esme(smsc.port) as esme:
        assert esme.bind().command_status == ESME_ROK
        assert esme.submit("1", MSISDN, b"fine").command_status == ESME_ROK


def test_udh_helpers():
    """udh_decode() undoes udh_encode() and refuses a UDH that runs past
    its UDHL or the message."""
    ieis = [(0, b"\x07\x02\x01"), (5, b"\x15\x7b\x00\x00")]
    assert udh_decode(udh_encode(ieis) + b"abc") == (ieis, b"abc")
    with pytest.raises(ValueError):
        udh_decode(b"\x05\x00\x03\x01")
    with pytest.raises(ValueError):
        udh_decode(b"\x03\x00\x05\x01\x02")
    assert bind_body("a", "b")[:4] == b"a\0b\0"
