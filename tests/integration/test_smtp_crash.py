"""vvm-smtpd's durability promise: a client never gets 250 for a message
that is not stored whole, whichever process dies. vvm-smtpd is killed with
SIGKILL at random points of DATA and of the commit; vvmfs is killed under
concurrent deposits and mounted again. Every acknowledged message must then
be in its recipient's INBOX byte for byte; any other stored message must
also be whole (a message in flight may land without its 250)."""
import random
import re
import signal
import socket
import threading
import time

from smtpd import (RCPT2, SENDER, address, digest_md5, make_smtpd,  # noqa
                   voice)

MSGID = re.compile(rb"^Message-ID: <(crash-[\w-]+)@vvm\.test>\r$", re.M)
TIME_BUDGET = 60


def message(tag):
    """A distinct message, with enough audio that its commit takes a
    moment."""
    return re.sub(rb"Message-ID: <[^>]*>",
                  b"Message-ID: <crash-%s@vvm.test>" % tag.encode(),
                  voice(duration=30 + len(tag) % 7), count=1) + \
        b"X-Pad: " + tag.encode() + b"\r\n"


def start_transaction(server):
    raw = server.raw()
    raw.command("EHLO phone")
    assert digest_md5(raw)[0] == 235
    assert raw.code("MAIL FROM:<%s>" % address(SENDER)) == "250 2.1.0 Ok"
    assert raw.code("RCPT TO:<%s>" % address(RCPT2)) == "250 2.1.5 Ok"
    assert raw.code("DATA").startswith("354 ")
    return raw


def final_reply(raw):
    """The reply to the end of DATA, or None when the connection died."""
    try:
        return raw.reply()[-1]
    except (EOFError, OSError):
        return None


def stored(server, msisdn=RCPT2):
    """Message-ID -> stored bytes."""
    result = {}
    for data in server.messages(msisdn):
        m = MSGID.search(data)
        assert m, data[:300]
        assert m.group(1).decode() not in result, "stored twice"
        result[m.group(1).decode()] = data
    return result


def assert_whole(server, sent, acked):
    got = stored(server)
    for tag in acked:
        assert "crash-" + tag in got, "acknowledged but not stored: " + tag
    for msgid, data in got.items():
        tag = msgid[len("crash-"):]
        # The original bytes follow the Return-Path and Received fields;
        # the X-Pad field after the closing boundary is part of them.
        assert data.endswith(sent[tag]), tag
        assert data.startswith(b"Return-Path: ")


def test_shim_killed_mid_data_and_mid_commit(make_smtpd):
    server = make_smtpd()
    rng = random.Random(7)
    sent, acked = {}, []
    deadline = time.monotonic() + TIME_BUDGET
    for i in range(30):
        if time.monotonic() > deadline:
            break
        tag = "shim-%d" % i
        data = message(tag) + b".\r\n"
        sent[tag] = data[:-3]
        raw = start_transaction(server)
        proc = server.inetd.procs[-1]
        if i % 3 == 0:
            # Mid-DATA: part of the message, then the kill.
            raw.send(data[:rng.randrange(1, len(data) - 3)])
            time.sleep(0.02)
        else:
            # At the commit: the whole message, then a kill some time into
            # the delivery.
            raw.send(data)
            time.sleep(rng.uniform(0, 0.03))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        reply = final_reply(raw)
        if reply is not None and reply.startswith("250 "):
            acked.append(tag)
        raw.close()
    assert_whole(server, sent, acked)
    # Messages cut off mid-DATA can never have been stored.
    for tag in stored(server):
        assert int(tag.rsplit("-", 1)[1]) % 3 != 0, tag


def deposit_until_error(server, name, sent, acked, stop):
    """One client depositing in a loop until the store dies under it."""
    n = 0
    while not stop.is_set():
        tag = "%s-%d" % (name, n)
        n += 1
        data = message(tag)
        sent[tag] = data
        try:
            raw = start_transaction(server)
            raw.send(data + b".\r\n")
            reply = final_reply(raw)
            raw.close()
        except (AssertionError, EOFError, OSError, socket.timeout):
            return
        if reply is None or not reply.startswith("250 "):
            return
        acked.append(tag)


def test_vvmfs_killed_under_deposits(make_smtpd):
    server = make_smtpd()
    rng = random.Random(11)
    sent, acked = {}, []
    for rnd in range(4):
        stop = threading.Event()
        threads = [threading.Thread(
            target=deposit_until_error,
            args=(server, "fs%d-c%d" % (rnd, c), sent, acked, stop))
            for c in range(4)]
        for t in threads:
            t.start()
        time.sleep(rng.uniform(0.3, 0.8))
        server.fs.kill(signal.SIGKILL)
        stop.set()
        for t in threads:
            t.join(timeout=60)
            assert not t.is_alive()
        server.fs.mount("config=%s" % server.config)
    assert acked, "no deposit succeeded at all"
    assert_whole(server, sent, acked)
