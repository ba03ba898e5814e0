"""A test SMSC: an SMPP 3.4 server on 127.0.0.1 for ESMEs under test.

Written from the SMPP 3.4 specification (Issue 1.2). Every PDU is a
16-octet header, command_length, command_id, command_status and
sequence_number as big-endian 32-bit integers, then a body of mandatory
fields (1-octet integers, C-Octet strings ended by a NUL, octet strings
whose length an earlier field gives) and optional TLVs (16-bit tag, 16-bit
length, value).

The server runs one selector loop in a background thread; tests talk to it
through thread-safe methods and read what it saw in .binds, .submits,
.pdus and .errors (every protocol violation by a client, so a test can
assert there were none). Responses follow the spec: a generic_nack only for
a header it cannot use (bad command_length, unknown command_id), a body
it cannot parse, or a command it does not take from an ESME (query_sm,
submit_multi, data_sm, deliver_sm...: ESME_RINVCMDID); a well-formed
request in the wrong state gets its own *_resp with ESME_RINVBNDSTS; an
error response has no body (4.4.2).

    with Smsc() as smsc:
        ... start an ESME bound to 127.0.0.1:smsc.port as vvm/secret ...
        [sm] = smsc.wait_submits(1, timeout=5)
        assert sm.destination_addr == "31612345678" and sm.text == "hi"

Run it by hand (or for a benchmark) with
    python3 smsc.py --port 2775 --system-id vvm --password secret
"""
import collections
import dataclasses
import heapq
import itertools
import queue
import selectors
import socket
import struct
import threading
import time

# command_id values (5.1.2).
GENERIC_NACK = 0x80000000
BIND_RECEIVER = 0x00000001
BIND_RECEIVER_RESP = 0x80000001
BIND_TRANSMITTER = 0x00000002
BIND_TRANSMITTER_RESP = 0x80000002
QUERY_SM = 0x00000003
QUERY_SM_RESP = 0x80000003
SUBMIT_SM = 0x00000004
SUBMIT_SM_RESP = 0x80000004
DELIVER_SM = 0x00000005
DELIVER_SM_RESP = 0x80000005
UNBIND = 0x00000006
UNBIND_RESP = 0x80000006
REPLACE_SM = 0x00000007
REPLACE_SM_RESP = 0x80000007
CANCEL_SM = 0x00000008
CANCEL_SM_RESP = 0x80000008
BIND_TRANSCEIVER = 0x00000009
BIND_TRANSCEIVER_RESP = 0x80000009
OUTBIND = 0x0000000B
ENQUIRE_LINK = 0x00000015
ENQUIRE_LINK_RESP = 0x80000015
SUBMIT_MULTI = 0x00000021
SUBMIT_MULTI_RESP = 0x80000021
ALERT_NOTIFICATION = 0x00000102
DATA_SM = 0x00000103
DATA_SM_RESP = 0x80000103

COMMAND_NAMES = {v: k.lower() for k, v in list(globals().items())
                 if k.isupper() and isinstance(v, int) and
                 k not in ("GENERIC_NACK",)}
COMMAND_NAMES[GENERIC_NACK] = "generic_nack"

BINDS = {BIND_RECEIVER: "receiver", BIND_TRANSMITTER: "transmitter",
         BIND_TRANSCEIVER: "transceiver"}

# command_status values (5.1.3).
ESME_ROK = 0x00
ESME_RINVMSGLEN = 0x01
ESME_RINVCMDLEN = 0x02
ESME_RINVCMDID = 0x03
ESME_RINVBNDSTS = 0x04
ESME_RALYBND = 0x05
ESME_RINVPRTFLG = 0x06
ESME_RINVREGDLVFLG = 0x07
ESME_RSYSERR = 0x08
ESME_RINVSRCADR = 0x0A
ESME_RINVDSTADR = 0x0B
ESME_RINVMSGID = 0x0C
ESME_RBINDFAIL = 0x0D
ESME_RINVPASWD = 0x0E
ESME_RINVSYSID = 0x0F
ESME_RMSGQFUL = 0x14
ESME_RINVSERTYP = 0x15
ESME_RINVESMCLASS = 0x43
ESME_RINVSYSTYP = 0x53
ESME_RTHROTTLED = 0x58
ESME_RINVSCHED = 0x61
ESME_RINVEXPIRY = 0x62
ESME_RX_T_APPN = 0x64
ESME_RX_P_APPN = 0x65
ESME_RX_R_APPN = 0x66
ESME_RINVOPTPARSTREAM = 0xC0
ESME_ROPTPARNOTALLWD = 0xC1
ESME_RINVPARLEN = 0xC2
ESME_RMISSINGOPTPARAM = 0xC3
ESME_RINVOPTPARAMVAL = 0xC4
ESME_RDELIVERYFAILURE = 0xFE
ESME_RUNKNOWNERR = 0xFF

# Optional parameter tags (5.3.2).
TLV_DEST_ADDR_SUBUNIT = 0x0005
TLV_SOURCE_ADDR_SUBUNIT = 0x000D
TLV_PAYLOAD_TYPE = 0x0019
TLV_RECEIPTED_MESSAGE_ID = 0x001E
TLV_USER_MESSAGE_REFERENCE = 0x0204
TLV_SOURCE_PORT = 0x020A
TLV_DESTINATION_PORT = 0x020B
TLV_SAR_MSG_REF_NUM = 0x020C
TLV_SAR_TOTAL_SEGMENTS = 0x020E
TLV_SAR_SEGMENT_SEQNUM = 0x020F
TLV_SC_INTERFACE_VERSION = 0x0210
TLV_MESSAGE_PAYLOAD = 0x0424
TLV_MORE_MESSAGES_TO_SEND = 0x0426
TLV_MESSAGE_STATE = 0x0427

# Tags whose value has a fixed size (5.3.2), checked on every submit_sm.
TLV_SIZES = {
    0x0005: 1, 0x0006: 1, 0x0007: 1, 0x0008: 2, 0x000D: 1, 0x000E: 1,
    0x000F: 1, 0x0010: 1, 0x0017: 4, 0x0019: 1, 0x0030: 1, 0x0201: 1,
    0x0204: 2, 0x0205: 1, 0x020A: 2, 0x020B: 2, 0x020C: 2, 0x020D: 1,
    0x020E: 1, 0x020F: 1, 0x0210: 1, 0x0302: 1, 0x0304: 1, 0x0420: 1,
    0x0421: 1, 0x0422: 1, 0x0423: 3, 0x0425: 1, 0x0426: 1, 0x0427: 1,
    0x0501: 1, 0x1201: 1, 0x1203: 2, 0x1204: 1, 0x130C: 0, 0x1380: 1,
    0x1383: 2,
}

# message_state values (5.2.28), for delivery receipts.
MESSAGE_STATES = {"ENROUTE": 1, "DELIVRD": 2, "EXPIRED": 3, "DELETED": 4,
                  "UNDELIV": 5, "ACCEPTD": 6, "UNKNOWN": 7, "REJECTD": 8}

HEADER = struct.Struct(">IIII")
MIN_PDU = 16
MAX_PDU = 64 * 1024

# Longest C-Octet strings, NUL included (4.1.1, 4.4.1).
MAX_SYSTEM_ID, MAX_PASSWORD, MAX_SYSTEM_TYPE = 16, 9, 13
MAX_ADDRESS_RANGE, MAX_SERVICE_TYPE, MAX_ADDR, MAX_TIME = 41, 6, 21, 17
MAX_SHORT_MESSAGE = 254


# --- encoding -----------------------------------------------------------

def pdu(command_id, sequence_number, body=b"", command_status=0):
    """One whole PDU: the header, then the body."""
    return HEADER.pack(MIN_PDU + len(body), command_id, command_status,
                       sequence_number) + bytes(body)


def cstr(value):
    """A C-Octet string: the characters, then a NUL."""
    if isinstance(value, str):
        value = value.encode("latin-1")
    if b"\0" in value:
        raise ValueError("NUL inside a C-Octet string")
    return bytes(value) + b"\0"


def tlv(tag, value):
    return struct.pack(">HH", tag, len(value)) + bytes(value)


def encode_tlvs(tlvs):
    """TLVs from a dict tag -> bytes or a list of (tag, bytes)."""
    if not tlvs:
        return b""
    items = tlvs.items() if isinstance(tlvs, dict) else tlvs
    return b"".join(tlv(tag, value) for tag, value in items)


def bind_body(system_id, password, system_type="", interface_version=0x34,
              addr_ton=0, addr_npi=0, address_range=""):
    return (cstr(system_id) + cstr(password) + cstr(system_type) +
            bytes([interface_version, addr_ton, addr_npi]) +
            cstr(address_range))


def sm_body(source_addr, destination_addr, short_message, data_coding=0,
            esm_class=0, tlvs=None, service_type="", source_addr_ton=1,
            source_addr_npi=1, dest_addr_ton=1, dest_addr_npi=1,
            protocol_id=0, priority_flag=0, schedule_delivery_time="",
            validity_period="", registered_delivery=0,
            replace_if_present_flag=0, sm_default_msg_id=0):
    """The body of a submit_sm or deliver_sm (same layout, 4.4.1/4.6.1).
    A short_message longer than 254 octets goes in message_payload."""
    short_message = bytes(short_message)
    extra = b""
    if len(short_message) > MAX_SHORT_MESSAGE:
        extra = tlv(TLV_MESSAGE_PAYLOAD, short_message)
        short_message = b""
    return (cstr(service_type) +
            bytes([source_addr_ton, source_addr_npi]) + cstr(source_addr) +
            bytes([dest_addr_ton, dest_addr_npi]) + cstr(destination_addr) +
            bytes([esm_class, protocol_id, priority_flag]) +
            cstr(schedule_delivery_time) + cstr(validity_period) +
            bytes([registered_delivery, replace_if_present_flag,
                   data_coding, sm_default_msg_id, len(short_message)]) +
            short_message + encode_tlvs(tlvs) + extra)


# --- decoding -----------------------------------------------------------

class Malformed(ValueError):
    """A body that does not parse; answered with a generic_nack."""

    def __init__(self, message, status=ESME_RINVCMDLEN):
        super().__init__(message)
        self.status = status


class Reader:
    """Reads the fields of one PDU body in order."""

    def __init__(self, data):
        self.data = bytes(data)
        self.pos = 0

    def u8(self, name="integer"):
        if self.pos >= len(self.data):
            raise Malformed("body ends before %s" % name)
        self.pos += 1
        return self.data[self.pos - 1]

    def cstr(self, name="string"):
        end = self.data.find(b"\0", self.pos)
        if end < 0:
            raise Malformed("%s has no NUL before the end of the body" % name)
        value = self.data[self.pos:end].decode("latin-1")
        self.pos = end + 1
        return value

    def octets(self, n, name="octet string"):
        if self.pos + n > len(self.data):
            raise Malformed("%s of %d octets runs past the body" % (name, n))
        self.pos += n
        return self.data[self.pos - n:self.pos]

    def tlvs(self):
        """The rest of the body as TLVs: (dict tag -> value, problems)."""
        found, problems = {}, []
        while self.pos < len(self.data):
            if len(self.data) - self.pos < 4:
                raise Malformed("%d stray octets after the last TLV" %
                                (len(self.data) - self.pos),
                                ESME_RINVOPTPARSTREAM)
            tag, length = struct.unpack_from(">HH", self.data, self.pos)
            self.pos += 4
            if self.pos + length > len(self.data):
                raise Malformed("TLV 0x%04x of %d octets runs past the body"
                                % (tag, length), ESME_RINVOPTPARSTREAM)
            if tag in found:
                problems.append("TLV 0x%04x given twice" % tag)
            found[tag] = self.data[self.pos:self.pos + length]
            self.pos += length
        return found, problems

    def end(self):
        if self.pos != len(self.data):
            raise Malformed("%d octets after the last field" %
                            (len(self.data) - self.pos))


GSM_BASIC = ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./"
             "0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmno"
             "pqrstuvwxyzäöñüà")
GSM_EXTENSION = {0x0A: "\f", 0x14: "^", 0x28: "{", 0x29: "}", 0x2F: "\\",
                 0x3C: "[", 0x3D: "~", 0x3E: "]", 0x40: "|", 0x65: "€"}
GSM_ENCODE = {c: bytes([i]) for i, c in enumerate(GSM_BASIC) if c != "\x1b"}
GSM_ENCODE.update({c: bytes([0x1B, i]) for i, c in GSM_EXTENSION.items()})


def gsm_decode(data):
    """GSM 03.38 default alphabet, one septet per octet (unpacked, as SMPP
    carries it with data_coding 0)."""
    out, escape = [], False
    for b in data:
        b &= 0x7F
        if escape:
            out.append(GSM_EXTENSION.get(b, " "))
            escape = False
        elif b == 0x1B:
            escape = True
        else:
            out.append(GSM_BASIC[b])
    return "".join(out)


def gsm_encode(text):
    return b"".join(GSM_ENCODE[c] for c in text)


def decode_text(data, data_coding=0):
    """The text of a user data payload (UDH removed) under data_coding:
    0 GSM default alphabet (ASCII letters, digits and most punctuation have
    the same codes; also 0xF0..0xF3), 8 UCS2; anything else (1 IA5, 3
    Latin-1, the 8-bit codings 2, 4, 0xF4...) as Latin-1, a char an octet."""
    data = bytes(data)
    if data_coding == 0 or 0xF0 <= data_coding <= 0xF3:
        return gsm_decode(data)
    if data_coding == 8:
        return data.decode("utf-16-be", errors="replace")
    return data.decode("latin-1")


def udh_decode(short_message):
    """Splits a message with a User Data Header (esm_class UDHI 0x40):
    ([(iei, value bytes), ...], payload). ValueError if the UDH is bad."""
    data = bytes(short_message)
    if not data:
        raise ValueError("no UDHL octet")
    udhl = data[0]
    if 1 + udhl > len(data):
        raise ValueError("UDHL %d exceeds the %d octets" % (udhl, len(data)))
    header, payload = data[1:1 + udhl], data[1 + udhl:]
    ieis, pos = [], 0
    while pos < len(header):
        if pos + 2 > len(header):
            raise ValueError("truncated IEI in UDH")
        iei, length = header[pos], header[pos + 1]
        if pos + 2 + length > len(header):
            raise ValueError("IEI %d runs past the UDH" % iei)
        ieis.append((iei, header[pos + 2:pos + 2 + length]))
        pos += 2 + length
    return ieis, payload


def udh_encode(ieis):
    """The UDH, UDHL first, of [(iei, value bytes), ...]."""
    body = b"".join(bytes([iei, len(v)]) + bytes(v) for iei, v in ieis)
    return bytes([len(body)]) + body


@dataclasses.dataclass
class Bind:
    """One bind_* request as the SMSC saw it, and how it answered."""
    command: str            # "bind_transceiver", "bind_transmitter"...
    system_id: str
    password: str
    system_type: str
    interface_version: int
    addr_ton: int
    addr_npi: int
    address_range: str
    conn_id: int
    sequence_number: int
    status: int             # the command_status answered
    time: float


@dataclasses.dataclass
class Submit:
    """One submit_sm, every mandatory field and the TLVs."""
    conn_id: int
    sequence_number: int
    message_id: str         # None unless accepted (status 0)
    status: int             # the command_status answered (or to answer)
    time: float
    service_type: str
    source_addr_ton: int
    source_addr_npi: int
    source_addr: str
    dest_addr_ton: int
    dest_addr_npi: int
    destination_addr: str
    esm_class: int
    protocol_id: int
    priority_flag: int
    schedule_delivery_time: str
    validity_period: str
    registered_delivery: int
    replace_if_present_flag: int
    data_coding: int
    sm_default_msg_id: int
    sm_length: int
    short_message: bytes
    tlvs: dict

    @property
    def udhi(self):
        return bool(self.esm_class & 0x40)

    @property
    def message(self):
        """The user data: short_message, or message_payload if used."""
        if self.sm_length == 0 and TLV_MESSAGE_PAYLOAD in self.tlvs:
            return self.tlvs[TLV_MESSAGE_PAYLOAD]
        return self.short_message

    @property
    def udh(self):
        """[(iei, bytes)] of the User Data Header; [] without UDHI."""
        return udh_decode(self.message)[0] if self.udhi else []

    @property
    def payload(self):
        """The user data without its UDH."""
        return udh_decode(self.message)[1] if self.udhi else self.message

    @property
    def text(self):
        return decode_text(self.payload, self.data_coding)

    @property
    def concat(self):
        """(reference, total, number) if this is a part of a concatenated
        message (IEI 0 or 8 in the UDH, or the sar_* TLVs), else None."""
        for iei, value in self.udh:
            if iei == 0 and len(value) == 3:
                return value[0], value[1], value[2]
            if iei == 8 and len(value) == 4:
                return (value[0] << 8 | value[1]), value[2], value[3]
        if TLV_SAR_MSG_REF_NUM in self.tlvs:
            return (struct.unpack(">H", self.tlvs[TLV_SAR_MSG_REF_NUM])[0],
                    self.tlvs[TLV_SAR_TOTAL_SEGMENTS][0],
                    self.tlvs[TLV_SAR_SEGMENT_SEQNUM][0])
        return None

    @property
    def ports(self):
        """(destination port, source port) from IEI 4 or 5 or the port
        TLVs, else None."""
        for iei, value in self.udh:
            if iei == 5 and len(value) == 4:
                return struct.unpack(">HH", value)
            if iei == 4 and len(value) == 2:
                return value[0], value[1]
        if TLV_DESTINATION_PORT in self.tlvs:
            return (struct.unpack(">H", self.tlvs[TLV_DESTINATION_PORT])[0],
                    struct.unpack(">H", self.tlvs.get(TLV_SOURCE_PORT,
                                                      b"\0\0"))[0])
        return None


@dataclasses.dataclass
class Message:
    """A message put back together from its parts."""
    parts: list             # the Submits, in part order
    payload: bytes

    @property
    def text(self):
        return decode_text(self.payload, self.parts[0].data_coding)


def reassemble(submits, strict=True):
    """Messages from submits, concatenated parts joined, in the order their
    first part arrived. strict: ValueError if a part is missing or doubled
    (otherwise incomplete messages are left out)."""
    out, groups = [], {}
    for sm in submits:
        key = sm.concat
        if key is None:
            out.append(Message([sm], sm.payload))
            continue
        ref, total, _ = key
        gkey = (sm.conn_id, sm.source_addr, sm.destination_addr, ref, total)
        if gkey not in groups:
            groups[gkey] = []
            out.append(gkey)
        groups[gkey].append(sm)
    messages = []
    for item in out:
        if isinstance(item, Message):
            messages.append(item)
            continue
        parts = sorted(groups[item], key=lambda s: s.concat[2])
        numbers = [p.concat[2] for p in parts]
        if numbers != list(range(1, item[4] + 1)):
            if strict:
                raise ValueError("parts %s of %d for reference %d" %
                                 (numbers, item[4], item[3]))
            continue
        messages.append(Message(parts, b"".join(p.payload for p in parts)))
    return messages


@dataclasses.dataclass
class Pdu:
    """A PDU as it went over a connection, for .pdus and Esme.recv()."""
    command_id: int
    command_status: int
    sequence_number: int
    body: bytes
    conn_id: int = 0
    direction: str = ""     # "in" (from the ESME) or "out"
    time: float = 0.0

    @property
    def name(self):
        return COMMAND_NAMES.get(self.command_id,
                                 "0x%08x" % self.command_id)


def parse_pdu(data):
    command_length, command_id, command_status, seq = HEADER.unpack_from(data)
    return Pdu(command_id, command_status, seq, bytes(data[16:]))


# --- the server ---------------------------------------------------------

class _Conn:
    def __init__(self, sock, conn_id, peer):
        self.sock = sock
        self.id = conn_id
        self.peer = peer
        self.rbuf = bytearray()
        self.wbuf = bytearray()
        self.bound = None           # "transmitter", "receiver"...
        self.closing = False        # no more PDUs; close once flushed
        self.closed = False
        self.outstanding = 0        # submits not answered yet
        self.next_seq = 1
        self.linger_until = None

    def seq(self):
        n = self.next_seq
        self.next_seq = n % 0x7FFFFFFF + 1
        return n


class _Pending:
    def __init__(self, command):
        self.command = command
        self.event = threading.Event()
        self.status = None
        self.closed = False


class Smsc:
    """An SMPP 3.4 SMSC on 127.0.0.1:port (0: an ephemeral port).

    Settable at any time, read by the server thread for each PDU:
      submit_status  callable(Submit) -> command_status for a submit_sm
                     (default: all ESME_ROK)
      bind_status    callable(Bind) -> command_status for a bind with the
                     right credentials (default: ESME_ROK)
      respond        False: hold every submit_sm_resp (see release())
      delay          seconds to wait before sending every response
      window         most submits a connection may have unanswered; more
                     are answered ESME_RTHROTTLED at once and logged in
                     .errors (None: no limit)
    """

    def __init__(self, system_id="vvm", password="secret", port=0,
                 window=None, host="127.0.0.1", smsc_id="SMSC"):
        self.system_id = system_id
        self.password = password
        self.host = host
        self.smsc_id = smsc_id
        self.window = window
        self.submit_status = None
        self.bind_status = None
        self.respond = True
        self.delay = 0
        self.binds = []
        self.submits = []
        self.delivers = []          # (conn_id, seq, deliver_sm status)
        self.nacks = []             # generic_nack PDUs from ESMEs
        self.errors = []            # protocol violations by ESMEs
        self.pdus = collections.deque(maxlen=100000)
        self.enquire_links = 0
        self.unbinds = 0
        self.max_outstanding = 0
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._message_ids = itertools.count(1)
        self._conn_ids = itertools.count(1)
        self._conns = {}
        self._pending = {}
        self._held = []
        self._timers = []
        self._timer_seq = itertools.count()
        self._calls = queue.SimpleQueue()
        self._sel = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._sel.register(self._wake_r, selectors.EVENT_READ, self._wakeup)
        self._listener = None
        self._stopping = False
        self.port = port
        self._listen()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name="smsc:%d" % self.port)
        self._thread.start()

    # -- the public, thread-safe side --

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self._stopping:
            return
        if self._thread.is_alive():
            self._call(self._shutdown)
        self._stopping = True
        self._wakeup_loop()
        self._thread.join(timeout=10)
        self._sel.close()
        self._wake_r.close()
        self._wake_w.close()

    def down(self):
        """Closes every connection and stops listening: connecting is
        refused until up()."""
        self._call(self._down)

    def up(self):
        """Listens again on the same port."""
        self._call(self._listen)

    def drop_connections(self):
        """Closes every connection abruptly (no unbind), as a network
        failure would; still listening."""
        self._call(self._drop_all)

    def release(self):
        """Sends the submit_sm_resp of every submit held while .respond was
        False (on connections still open); returns how many."""
        return self._call(self._release)

    def wait_for(self, predicate, timeout=5):
        """Waits until predicate() (called under the lock) is true;
        TimeoutError otherwise."""
        with self._cond:
            if not self._cond.wait_for(predicate, timeout):
                raise TimeoutError("SMSC: condition not met in %ss" % timeout)

    def wait_submits(self, n, timeout=5, status=None):
        """The submits (all, or those answered `status`) once at least n
        have arrived."""
        def matching():
            return [s for s in self.submits
                    if status is None or s.status == status]
        with self._cond:
            if not self._cond.wait_for(lambda: len(matching()) >= n,
                                       timeout):
                raise TimeoutError("SMSC: %d of %d submits in %ss" % (
                    len(matching()), n, timeout))
            return matching()

    def take_submits(self):
        """Returns the submits received so far and forgets them."""
        with self._lock:
            taken, self.submits = self.submits, []
            return taken

    def wait_binds(self, n=1, timeout=5, status=ESME_ROK):
        """The binds (answered `status`; None: all) once there are n."""
        def matching():
            return [b for b in self.binds
                    if status is None or b.status == status]
        with self._cond:
            if not self._cond.wait_for(lambda: len(matching()) >= n,
                                       timeout):
                raise TimeoutError("SMSC: %d of %d binds in %ss" % (
                    len(matching()), n, timeout))
            return matching()

    @property
    def bound(self):
        """{conn_id: "transceiver"/"transmitter"/"receiver"} now bound."""
        with self._lock:
            return {c.id: c.bound for c in self._conns.values()
                    if c.bound and not c.closed and not c.closing}

    @property
    def connections(self):
        with self._lock:
            return len(self._conns)

    def deliver(self, source_addr, destination_addr, short_message,
                data_coding=0, esm_class=0, tlvs=None, timeout=5,
                conn_id=None, **fields):
        """Sends a deliver_sm (an MO, or with esm_class 0x04 a receipt) to
        a bound receiver or transceiver (conn_id, or the latest bound),
        waiting up to timeout for one to be bound; returns the
        command_status of the deliver_sm_resp. TimeoutError without an
        answer, ConnectionError if the connection closes first. Other
        keyword arguments are fields of sm_body(); a str short_message is
        encoded for data_coding (GSM for 0, UCS2 for 8, else Latin-1)."""
        if isinstance(short_message, str):
            if data_coding == 8:
                short_message = short_message.encode("utf-16-be")
            elif data_coding == 0:
                short_message = gsm_encode(short_message)
            else:
                short_message = short_message.encode("latin-1")
        body = sm_body(source_addr, destination_addr, short_message,
                       data_coding=data_coding, esm_class=esm_class,
                       tlvs=tlvs, **fields)
        return self._request(DELIVER_SM, body, timeout, conn_id,
                             ("receiver", "transceiver"))

    def receipt(self, submit, stat="DELIVRD", err=0, timeout=5,
                conn_id=None):
        """Sends the delivery receipt of a submit (esm_class 0x04, the
        text of the spec's Appendix B and the receipted_message_id and
        message_state TLVs); returns the deliver_sm_resp status."""
        stamp = time.strftime("%y%m%d%H%M")
        text = ("id:%s sub:001 dlvrd:%03d submit date:%s done date:%s "
                "stat:%s err:%03d text:%s" % (
                    submit.message_id, 1 if stat == "DELIVRD" else 0, stamp,
                    stamp, stat, err, submit.payload[:20].decode("latin-1")))
        tlvs = [(TLV_RECEIPTED_MESSAGE_ID, cstr(submit.message_id)),
                (TLV_MESSAGE_STATE, bytes([MESSAGE_STATES[stat]]))]
        return self.deliver(submit.destination_addr, submit.source_addr,
                            text.encode("latin-1"), data_coding=0,
                            esm_class=0x04, tlvs=tlvs, timeout=timeout,
                            conn_id=conn_id,
                            source_addr_ton=submit.dest_addr_ton,
                            source_addr_npi=submit.dest_addr_npi,
                            dest_addr_ton=submit.source_addr_ton,
                            dest_addr_npi=submit.source_addr_npi)

    def ping(self, timeout=5, conn_id=None):
        """Sends an enquire_link to a bound ESME; its response's status."""
        return self._request(ENQUIRE_LINK, b"", timeout, conn_id,
                             ("receiver", "transceiver", "transmitter"))

    def unbind(self, timeout=5, conn_id=None):
        """Sends an unbind to a bound ESME, as an SMSC going down for
        maintenance would, and closes the connection after its
        unbind_resp; returns that response's status."""
        return self._request(UNBIND, b"", timeout, conn_id,
                             ("receiver", "transceiver", "transmitter"))

    # -- the thread side --

    def _wakeup_loop(self):
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    def _call(self, fn, *args):
        """Runs fn in the server thread and returns its result."""
        if self._stopping:
            raise RuntimeError("the SMSC is closed")
        if threading.current_thread() is self._thread:
            return fn(*args)
        box, done = [], threading.Event()

        def run():
            try:
                box.append((True, fn(*args)))
            except BaseException as e:  # noqa: B902
                box.append((False, e))
            done.set()
        self._calls.put(run)
        self._wakeup_loop()
        if not done.wait(10):
            raise TimeoutError("SMSC thread did not answer")
        ok, value = box[0]
        if not ok:
            raise value
        return value

    def _request(self, command_id, body, timeout, conn_id, kinds):
        deadline = time.monotonic() + timeout

        def target():
            conns = [c for c in self._conns.values()
                     if c.bound in kinds and not c.closing and
                     (conn_id is None or c.id == conn_id)]
            return max(conns, key=lambda c: c.id) if conns else None
        with self._cond:
            if not self._cond.wait_for(lambda: target() is not None,
                                       timeout):
                raise TimeoutError("SMSC: no bound %s ESME" % "/".join(kinds))

        def send():
            conn = target()
            if conn is None:
                return None
            seq = conn.seq()
            pending = _Pending(command_id)
            self._pending[(conn.id, seq)] = pending
            self._send(conn, pdu(command_id, seq, body))
            return pending
        pending = self._call(send)
        if pending is None:
            raise ConnectionError("SMSC: the ESME went away")
        if not pending.event.wait(max(0, deadline - time.monotonic())):
            raise TimeoutError("SMSC: no response to %s in %ss" % (
                COMMAND_NAMES[command_id], timeout))
        if pending.closed:
            raise ConnectionError("SMSC: connection closed before the "
                                  "response to %s" % COMMAND_NAMES[command_id])
        return pending.status

    def _error(self, conn, text):
        with self._cond:
            self.errors.append("conn %d: %s" % (conn.id, text))
            self._cond.notify_all()

    def _run(self):
        while True:
            if self._stopping:
                break
            now = time.monotonic()
            timeout = 0.5
            if self._timers:
                timeout = min(timeout, max(0, self._timers[0][0] - now))
            try:
                events = self._sel.select(timeout)
            except OSError:
                events = []
            for key, mask in events:
                try:
                    key.data(key.fileobj, mask)
                except Exception as e:  # never let a client kill the loop
                    conn = self._conns.get(key.fd)
                    if conn is not None:
                        self._error(conn, "server error: %r" % e)
                        self._close(conn)
            while True:
                try:
                    call = self._calls.get_nowait()
                except queue.Empty:
                    break
                call()
            now = time.monotonic()
            while self._timers and self._timers[0][0] <= now:
                _, _, fn = heapq.heappop(self._timers)
                try:
                    fn()
                except Exception:
                    pass
            for conn in list(self._conns.values()):
                if conn.linger_until and now > conn.linger_until:
                    self._close(conn)

    def _wakeup(self, sock, mask):
        try:
            sock.recv(4096)
        except OSError:
            pass

    def _listen(self):
        if self._listener is not None:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(64)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        self._listener = sock
        self._sel.register(sock, selectors.EVENT_READ, self._accept)

    def _down(self):
        if self._listener is not None:
            self._sel.unregister(self._listener)
            self._listener.close()
            self._listener = None
        self._drop_all()

    def _drop_all(self):
        for conn in list(self._conns.values()):
            self._close(conn)

    def _shutdown(self):
        self._down()

    def _accept(self, sock, mask):
        try:
            s, peer = sock.accept()
        except OSError:
            return
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = _Conn(s, next(self._conn_ids), peer)
        with self._cond:
            self._conns[s.fileno()] = conn
            self._cond.notify_all()
        self._sel.register(s, selectors.EVENT_READ, self._io)

    def _close(self, conn):
        if conn.closed:
            return
        conn.closed = True
        try:
            self._sel.unregister(conn.sock)
        except (KeyError, ValueError):
            pass
        with self._cond:
            self._conns.pop(conn.sock.fileno(), None)
            for key in [k for k in self._pending if k[0] == conn.id]:
                pending = self._pending.pop(key)
                pending.closed = True
                pending.event.set()
            self._held = [h for h in self._held if h[0] is not conn]
            self._cond.notify_all()
        try:
            conn.sock.close()
        except OSError:
            pass

    def _finish(self, conn):
        """Closes gracefully once the responses are out: shut down our
        side, then read until the peer closes (at most a second), so no
        unread data turns the close into a reset that loses them."""
        conn.closing = True
        if not conn.wbuf:
            try:
                conn.sock.shutdown(socket.SHUT_WR)
            except OSError:
                self._close(conn)
                return
            conn.linger_until = time.monotonic() + 1

    def _io(self, sock, mask):
        conn = self._conns.get(sock.fileno())
        if conn is None:
            return
        if mask & selectors.EVENT_WRITE:
            self._flush(conn)
        if conn.closed or not mask & selectors.EVENT_READ:
            return
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            self._close(conn)
            return
        if not data:
            self._close(conn)
            return
        if conn.closing:
            return
        conn.rbuf += data
        while len(conn.rbuf) >= 4 and not conn.closing:
            length = struct.unpack_from(">I", conn.rbuf)[0]
            if length < MIN_PDU or length > MAX_PDU:
                seq = 0
                if len(conn.rbuf) >= 16:
                    seq = struct.unpack_from(">I", conn.rbuf, 12)[0]
                self._error(conn, "command_length %d out of 16..%d; the "
                            "stream cannot be followed" % (length, MAX_PDU))
                self._send(conn, pdu(GENERIC_NACK, seq, b"",
                                     ESME_RINVCMDLEN))
                self._finish(conn)
                return
            if len(conn.rbuf) < length:
                break
            raw = bytes(conn.rbuf[:length])
            del conn.rbuf[:length]
            self._handle(conn, parse_pdu(raw))

    def _send(self, conn, data):
        if conn.closed:
            return
        p = parse_pdu(data)
        p.conn_id, p.direction, p.time = conn.id, "out", time.time()
        self.pdus.append(p)
        conn.wbuf += data
        self._flush(conn)

    def _flush(self, conn):
        if conn.closed:
            return
        try:
            while conn.wbuf:
                n = conn.sock.send(conn.wbuf)
                del conn.wbuf[:n]
        except BlockingIOError:
            pass
        except OSError:
            self._close(conn)
            return
        events = selectors.EVENT_READ
        if conn.wbuf:
            events |= selectors.EVENT_WRITE
        try:
            self._sel.modify(conn.sock, events, self._io)
        except (KeyError, ValueError):
            pass
        if conn.closing and not conn.wbuf and conn.linger_until is None:
            self._finish(conn)

    def _later(self, seconds, fn):
        heapq.heappush(self._timers, (time.monotonic() + seconds,
                                      next(self._timer_seq), fn))

    def _respond(self, conn, command_id, seq, status=ESME_ROK, body=b"",
                 then=None):
        """Sends a response now or after .delay; then() runs after."""
        data = pdu(command_id, seq, body if status == ESME_ROK else b"",
                   status)

        def go():
            if conn.closed:
                return
            self._send(conn, data)
            if then:
                then()
        delay = self.delay or 0
        if delay > 0:
            self._later(delay, go)
        else:
            go()

    def _nack(self, conn, seq, status, why):
        self._error(conn, why)
        self._send(conn, pdu(GENERIC_NACK, seq, b"", status))

    def _handle(self, conn, p):
        p.conn_id, p.direction, p.time = conn.id, "in", time.time()
        self.pdus.append(p)
        cid, seq = p.command_id, p.sequence_number
        if cid & 0x80000000:
            self._handle_response(conn, p)
            return
        if not 1 <= seq <= 0x7FFFFFFF:
            self._error(conn, "%s with sequence_number %d out of "
                        "1..0x7FFFFFFF" % (p.name, seq))
        if p.command_status != 0:
            self._error(conn, "%s with command_status 0x%x (must be 0 in a "
                        "request)" % (p.name, p.command_status))
        try:
            if cid in BINDS:
                self._on_bind(conn, p)
            elif cid == ENQUIRE_LINK:
                Reader(p.body).end()
                with self._cond:
                    self.enquire_links += 1
                    self._cond.notify_all()
                self._respond(conn, ENQUIRE_LINK_RESP, seq)
            elif cid == UNBIND:
                Reader(p.body).end()
                if not conn.bound:
                    self._error(conn, "unbind before bind")
                    self._respond(conn, UNBIND_RESP, seq, ESME_RINVBNDSTS)
                    return
                with self._cond:
                    self.unbinds += 1
                    conn.bound = None
                    self._cond.notify_all()
                self._respond(conn, UNBIND_RESP, seq,
                              then=lambda: self._finish(conn))
            elif cid == SUBMIT_SM:
                self._on_submit(conn, p)
            else:
                # deliver_sm (the SMSC's to send), outbind, and what this
                # SMSC does not offer: query_sm, submit_multi, data_sm...
                self._nack(conn, seq, ESME_RINVCMDID,
                           "%s not accepted from an ESME" % p.name)
        except Malformed as e:
            self._nack(conn, seq, e.status, "malformed %s: %s" % (p.name, e))

    def _handle_response(self, conn, p):
        key = (conn.id, p.sequence_number)
        with self._cond:
            pending = self._pending.get(key)
        if p.command_id == GENERIC_NACK:
            with self._cond:
                self.nacks.append(p)
            if pending:
                self._complete(key, p.command_status)
            return
        if pending is None or (p.command_id & 0x7FFFFFFF) != pending.command:
            self._error(conn, "%s (seq %d) answers nothing this SMSC sent"
                        % (p.name, p.sequence_number))
            return
        if p.command_id == DELIVER_SM_RESP:
            if p.command_status == 0 and p.body != b"\0":
                self._error(conn, "deliver_sm_resp body %r, not the empty "
                            "message_id (a single NUL)" % p.body)
            with self._cond:
                self.delivers.append((conn.id, p.sequence_number,
                                      p.command_status))
        elif p.body:
            self._error(conn, "%s with a body" % p.name)
        self._complete(key, p.command_status)
        if p.command_id == UNBIND_RESP:
            conn.bound = None
            self._finish(conn)

    def _complete(self, key, status):
        with self._cond:
            pending = self._pending.pop(key, None)
            if pending:
                pending.status = status
                pending.event.set()
            self._cond.notify_all()

    def _on_bind(self, conn, p):
        r = Reader(p.body)
        system_id = r.cstr("system_id")
        password = r.cstr("password")
        system_type = r.cstr("system_type")
        interface_version = r.u8("interface_version")
        addr_ton = r.u8("addr_ton")
        addr_npi = r.u8("addr_npi")
        address_range = r.cstr("address_range")
        r.end()
        bind = Bind(COMMAND_NAMES[p.command_id], system_id, password,
                    system_type, interface_version, addr_ton, addr_npi,
                    address_range, conn.id, p.sequence_number, ESME_ROK,
                    time.time())
        if conn.bound:
            bind.status = ESME_RALYBND
        elif len(system_id) >= MAX_SYSTEM_ID or system_id != self.system_id:
            bind.status = ESME_RINVSYSID
        elif len(password) >= MAX_PASSWORD or password != self.password:
            bind.status = ESME_RINVPASWD
        elif len(system_type) >= MAX_SYSTEM_TYPE:
            bind.status = ESME_RINVSYSTYP
        elif len(address_range) >= MAX_ADDRESS_RANGE:
            bind.status = ESME_RBINDFAIL
        elif self.bind_status:
            bind.status = self._hook(conn, self.bind_status, bind)
        body = cstr(self.smsc_id)
        if interface_version >= 0x34:
            body += tlv(TLV_SC_INTERFACE_VERSION, b"\x34")
        then = None
        if bind.status == ESME_ROK:
            def then():
                # Bound once the bind_resp is out, so that nothing (a
                # deliver_sm) can go before it.
                with self._cond:
                    conn.bound = BINDS[p.command_id]
                    self._cond.notify_all()
        elif bind.status != ESME_RALYBND:
            then = lambda: self._finish(conn)  # noqa: E731
            conn.closing = True     # nothing more is read from it
        with self._cond:
            self.binds.append(bind)
            self._cond.notify_all()
        self._respond(conn, p.command_id | 0x80000000, p.sequence_number,
                      bind.status, body, then)

    def _hook(self, conn, fn, arg):
        try:
            status = fn(arg)
            return ESME_ROK if status is None else int(status)
        except Exception as e:
            self._error(conn, "status hook raised %r" % e)
            return ESME_RSYSERR

    def _on_submit(self, conn, p):
        r = Reader(p.body)
        f = dict(service_type=r.cstr("service_type"),
                 source_addr_ton=r.u8("source_addr_ton"),
                 source_addr_npi=r.u8("source_addr_npi"),
                 source_addr=r.cstr("source_addr"),
                 dest_addr_ton=r.u8("dest_addr_ton"),
                 dest_addr_npi=r.u8("dest_addr_npi"),
                 destination_addr=r.cstr("destination_addr"),
                 esm_class=r.u8("esm_class"),
                 protocol_id=r.u8("protocol_id"),
                 priority_flag=r.u8("priority_flag"),
                 schedule_delivery_time=r.cstr("schedule_delivery_time"),
                 validity_period=r.cstr("validity_period"),
                 registered_delivery=r.u8("registered_delivery"),
                 replace_if_present_flag=r.u8("replace_if_present_flag"),
                 data_coding=r.u8("data_coding"),
                 sm_default_msg_id=r.u8("sm_default_msg_id"),
                 sm_length=r.u8("sm_length"))
        f["short_message"] = r.octets(f["sm_length"], "short_message")
        try:
            f["tlvs"], problems = r.tlvs()
        except Malformed as e:
            # The mandatory part was fine, so answer in kind (5.1.3).
            self._error(conn, "submit_sm: %s" % e)
            self._respond(conn, SUBMIT_SM_RESP, p.sequence_number, e.status)
            return
        sm = Submit(conn_id=conn.id, sequence_number=p.sequence_number,
                    message_id=None, status=ESME_ROK, time=time.time(), **f)
        status, why = self._check_submit(conn, sm)
        for problem in problems:
            self._error(conn, "submit_sm: %s" % problem)
        if why:
            self._error(conn, "submit_sm: %s" % why)
        if status == ESME_ROK and self.submit_status:
            status = self._hook(conn, self.submit_status, sm)
        sm.status = status
        if status == ESME_ROK:
            sm.message_id = "%010d" % next(self._message_ids)
        with self._cond:
            self.submits.append(sm)
            self._cond.notify_all()
        body = cstr(sm.message_id) if sm.message_id else b""
        if status == ESME_RTHROTTLED and why and "window" in why:
            self._respond(conn, SUBMIT_SM_RESP, p.sequence_number, status)
            return
        conn.outstanding += 1
        with self._lock:
            self.max_outstanding = max(self.max_outstanding,
                                       conn.outstanding)

        def answered():
            conn.outstanding -= 1
        if not self.respond:
            self._held.append((conn, p.sequence_number, status, body))
            return
        self._respond(conn, SUBMIT_SM_RESP, p.sequence_number, status, body,
                      answered)

    def _release(self):
        held, self._held = self._held, []
        for conn, seq, status, body in held:
            def answered(conn=conn):
                conn.outstanding -= 1
            self._respond(conn, SUBMIT_SM_RESP, seq, status, body, answered)
        return len(held)

    def _check_submit(self, conn, sm):
        """(status, why) for what the spec rules out in a submit_sm."""
        if conn.bound not in ("transmitter", "transceiver"):
            return ESME_RINVBNDSTS, "submit_sm while bound as %s" % conn.bound
        if self.window is not None and conn.outstanding >= self.window:
            return ESME_RTHROTTLED, "window of %d exceeded" % self.window
        if len(sm.service_type) >= MAX_SERVICE_TYPE:
            return ESME_RINVSERTYP, "service_type %r too long" % \
                sm.service_type
        if len(sm.source_addr) >= MAX_ADDR:
            return ESME_RINVSRCADR, "source_addr %r too long" % sm.source_addr
        if not sm.destination_addr or len(sm.destination_addr) >= MAX_ADDR:
            return ESME_RINVDSTADR, "destination_addr %r empty or too long" \
                % sm.destination_addr
        for name, status in (("schedule_delivery_time", ESME_RINVSCHED),
                             ("validity_period", ESME_RINVEXPIRY)):
            value = getattr(sm, name)
            if value and (len(value) != 16 or value[15] not in "+-R" or
                          not value[:15].isdigit()):
                return status, "%s %r is not YYMMDDhhmmsstnnp" % (name, value)
        if sm.priority_flag > 3:
            return ESME_RINVPRTFLG, "priority_flag %d" % sm.priority_flag
        if sm.sm_length > MAX_SHORT_MESSAGE:
            return ESME_RINVMSGLEN, "sm_length %d > 254" % sm.sm_length
        if sm.sm_length and TLV_MESSAGE_PAYLOAD in sm.tlvs:
            return ESME_RINVMSGLEN, "both short_message and message_payload"
        for tag, value in sm.tlvs.items():
            if tag in TLV_SIZES and len(value) != TLV_SIZES[tag]:
                return ESME_RINVPARLEN, "TLV 0x%04x of %d octets, not %d" % (
                    tag, len(value), TLV_SIZES[tag])
        sar = [t in sm.tlvs for t in (TLV_SAR_MSG_REF_NUM,
                                      TLV_SAR_TOTAL_SEGMENTS,
                                      TLV_SAR_SEGMENT_SEQNUM)]
        if any(sar) and not all(sar):
            return ESME_RMISSINGOPTPARAM, "an incomplete set of sar_* TLVs"
        if sm.udhi:
            try:
                udh_decode(sm.message)
            except ValueError as e:
                return ESME_RINVESMCLASS, "UDHI set but %s" % e
        return ESME_ROK, None



# --- a minimal client, for raw-socket tests -----------------------------

class Esme:
    """A bare SMPP client over one socket: send PDUs, read PDUs."""

    def __init__(self, port, host="127.0.0.1", timeout=5):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.timeout = timeout
        self.seq = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.sock.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, command_id, body=b"", seq=None, status=0):
        """Sends a PDU; returns its sequence_number."""
        if seq is None:
            self.seq += 1
            seq = self.seq
        self.sock.sendall(pdu(command_id, seq, body, status))
        return seq

    def _exact(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed after %d of %d octets" %
                                      (len(data), n))
            data += chunk
        return data

    def recv(self, timeout=None):
        """The next PDU; ConnectionError at EOF, TimeoutError if none."""
        self.sock.settimeout(timeout or self.timeout)
        try:
            head = self._exact(4)
            length = struct.unpack(">I", head)[0]
            return parse_pdu(head + self._exact(length - 4))
        except socket.timeout:
            raise TimeoutError("no PDU")

    def call(self, command_id, body=b""):
        """Sends a request and returns the response to it."""
        seq = self.send(command_id, body)
        while True:
            p = self.recv()
            if p.sequence_number == seq:
                return p

    def bind(self, system_id="vvm", password="secret",
             command=BIND_TRANSCEIVER, system_type=""):
        return self.call(command, bind_body(system_id, password, system_type))

    def submit(self, source_addr, destination_addr, short_message, **fields):
        return self.call(SUBMIT_SM, sm_body(source_addr, destination_addr,
                                            short_message, **fields))

    def closed(self, timeout=None):
        """True once the server has closed the connection (EOF)."""
        self.sock.settimeout(timeout or self.timeout)
        try:
            while True:
                if not self.sock.recv(65536):
                    return True
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True


def main():
    import argparse
    import signal
    ap = argparse.ArgumentParser(description="A test SMPP 3.4 SMSC.")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=2775)
    ap.add_argument("--system-id", default="vvm")
    ap.add_argument("--password", default="secret")
    ap.add_argument("--status", type=lambda s: int(s, 0), default=0,
                    help="command_status for every submit_sm")
    ap.add_argument("--delay", type=float, default=0,
                    help="seconds before each response")
    ap.add_argument("--window", type=int, default=None)
    ap.add_argument("--quiet", action="store_true",
                    help="print a count a second, not each submit")
    args = ap.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    with Smsc(args.system_id, args.password, args.port, args.window,
              host=args.host) as smsc:
        smsc.delay = args.delay
        if args.status:
            smsc.submit_status = lambda sm: args.status
        print("SMSC listening on %s:%d as %s/%s" % (
            args.host, smsc.port, args.system_id, args.password), flush=True)
        seen = {"binds": 0, "errors": 0, "total": 0, "last": 0}

        def report(final=False):
            with smsc._lock:
                binds = smsc.binds[seen["binds"]:]
                errors = smsc.errors[seen["errors"]:]
            seen["binds"] += len(binds)
            seen["errors"] += len(errors)
            for b in binds:
                print("conn %d %s %s/%s status 0x%x" % (
                    b.conn_id, b.command, b.system_id, b.password, b.status))
            for e in errors:
                print("ERROR", e)
            subs = smsc.take_submits()
            seen["total"] += len(subs)
            if args.quiet:
                if final or time.monotonic() - seen["last"] >= 1:
                    print("%d submits" % seen["total"], flush=True)
                    seen["last"] = time.monotonic()
                return
            for sm in subs:
                text = sm.text if sm.data_coding in (0, 1, 3, 8) \
                    else sm.payload.hex()
                print("conn %d seq %d id %s %s -> %s dcs 0x%02x esm 0x%02x "
                      "udh %s: %r" % (sm.conn_id, sm.sequence_number,
                                      sm.message_id, sm.source_addr,
                                      sm.destination_addr, sm.data_coding,
                                      sm.esm_class,
                                      [(i, v.hex()) for i, v in sm.udh],
                                      text), flush=True)
        while not stop.wait(0.2 if args.quiet else 0.05):
            report()
        report(final=True)
        print("%d submits in all" % seen["total"])


if __name__ == "__main__":
    main()
