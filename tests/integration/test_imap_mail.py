"""vvm-imapd as a general IMAP server: FETCH and SEARCH in full, several
sessions and shell changes seen through the change feed, IDLE, a real
general-purpose client (curl), and abuse."""
import imaplib
import os
import re
import socket
import subprocess
import time

import pytest

from conftest import MSISDN, deposit, amr_audio, voice_message
from imapd import PASSWORD, Raw, imapd, make_imapd  # noqa: F401


def fill(server, n=3, **kw):
    return [deposit(server.inbox, voice_message(i, **kw)) for i in range(n)]


def test_fetch_items(imapd):
    fill(imapd, 2)
    data = (imapd.inbox / "1.eml").read_bytes()
    header, text = data.split(b"\r\n\r\n", 1)
    im = imapd.connect()
    im.select("INBOX")
    typ, resp = im.fetch("1", "(BODY.PEEK[HEADER] BODY.PEEK[TEXT])")
    assert typ == "OK"
    assert resp[0][1] == header + b"\r\n\r\n" and resp[1][1] == text
    typ, resp = im.fetch("1", "(BODY.PEEK[]<10.20>)")
    assert resp[0][0].endswith(b"BODY[]<10> {20}") and resp[0][1] == data[10:30]
    typ, resp = im.fetch("1", "(BODY.PEEK[1.MIME] BODY.PEEK[1])")
    assert resp[0][1] == b"Content-Type: text/plain; charset=us-ascii\r\n\r\n"
    # The CRLF before a boundary belongs to the boundary (RFC 2046).
    assert resp[1][1] == b"You have a voice message."
    typ, resp = im.fetch("1", "(ENVELOPE)")
    assert b'"voice mail 0"' in resp[0] and b'(NIL NIL "+31600000001" "example.net")' \
        in resp[0]
    typ, resp = im.fetch("1", "(BODY.PEEK[7])")
    assert resp[0].endswith(b"BODY[7] NIL)")
    typ, resp = im.fetch("1", "(BODY.PEEK[HEADER.FIELDS.NOT (FROM TO DATE "
                              "SUBJECT MESSAGE-ID)])")
    assert resp[0][1].startswith(b"Message-Context: voice-message\r\n")
    assert b"From:" not in resp[0][1]
    # A fetch without .PEEK sets \Seen and says so.
    assert os.getxattr(imapd.inbox / "2.eml", "user.imap.flags") == b""
    typ, resp = im.fetch("2", "(RFC822)")
    assert resp[0][1] == (imapd.inbox / "2.eml").read_bytes()
    assert b"FLAGS (\\Seen)" in resp[1]
    assert os.getxattr(imapd.inbox / "2.eml", "user.imap.flags") == b"\\Seen"
    typ, resp = im.fetch("1:2", "(FLAGS RFC822.SIZE)")
    assert resp == [b"1 (FLAGS () RFC822.SIZE %d)" % len(data),
                    b"2 (FLAGS (\\Seen) RFC822.SIZE %d)" % len(data)]
    with pytest.raises(imaplib.IMAP4.error, match="invalid message set"):
        im.fetch("5", "(FLAGS)")
    im.logout()


def test_examine_is_read_only(imapd):
    fill(imapd, 1)
    im = imapd.connect()
    typ, _ = im.select("INBOX", readonly=True)
    assert typ == "OK"
    im.fetch("1", "(BODY[])")
    assert os.getxattr(imapd.inbox / "1.eml", "user.imap.flags") == b""
    typ, _ = im.store("1", "+FLAGS", "(\\Deleted)")
    assert typ == "NO"
    im.logout()


def test_search(imapd):
    deposit(imapd.inbox, voice_message(1, date="Mon, 02 Mar 2026 08:00:00 "
                                               "+0100"))
    deposit(imapd.inbox, voice_message(2, audio=amr_audio(5, 4000)))
    deposit(imapd.inbox, voice_message(3, extra_headers="Cc: boss@example.net"
                                                         "\r\n"))
    os.setxattr(imapd.inbox / "2.eml", "user.imap.flags", b"\\Seen")
    im = imapd.connect()
    im.select("INBOX")

    def search(*criteria):
        typ, data = im.uid("SEARCH", *criteria)
        assert typ == "OK", (criteria, data)
        return [int(u) for u in data[0].split()]
    assert search("ALL") == [1, 2, 3]
    assert search("UNSEEN") == [1, 3]
    assert search("SEEN") == [2]
    assert search("SUBJECT", '"voice mail 2"') == [2]
    assert search("FROM", "31600000001") == [1, 2, 3]
    assert search("CC", "boss") == [3]
    assert search("HEADER", "Message-ID", "test-3@") == [3]
    assert search("LARGER", "3000") == [2]
    assert search("SMALLER", "3000") == [1, 3]
    assert search("SENTON", "2-Mar-2026") == [1]
    assert search("SENTSINCE", "1-Nov-2026") == [2, 3]
    assert search("SINCE", time.strftime("%d-%b-%Y", time.gmtime())) == \
        [1, 2, 3]
    assert search("BEFORE", "1-Jan-2000") == []
    assert search("OR", "SEEN", "CC", "boss") == [2, 3]
    assert search("NOT", "UID", "2:*") == [1]
    assert search("2:3", "UNSEEN") == [3]
    assert search("TEXT", '"voice message"') == [1, 2, 3]
    assert search("BODY", "test-1@") == []
    assert search("(UNSEEN", "NOT", "CC", "boss)") == [1]
    typ, data = im.search(None, "ALL")
    assert data == [b"1 2 3"]
    typ, data = im.uid("SEARCH", "CHARSET", "KOI8-R", "ALL")
    assert typ == "NO" and b"BADCHARSET" in data[0]
    with pytest.raises(imaplib.IMAP4.error, match="Unknown search key"):
        im.uid("SEARCH", "BOGUS")
    im.logout()


@pytest.fixture
def two_sessions(make_imapd):
    server = make_imapd(imap={"max_sessions": "2"})
    fill(server, 3)
    a, b = Raw(server.port), Raw(server.port)
    a.login()
    b.login()
    a.command("s", "SELECT INBOX")
    b.command("s", "SELECT INBOX")
    return server, a, b


def test_two_sessions_expunge(two_sessions):
    server, a, b = two_sessions
    a.command("d", "STORE 2 +FLAGS.SILENT (\\Deleted)")
    lines, _ = b.command("n", "NOOP")
    assert lines == ["* 2 FETCH (FLAGS (\\Deleted))"]
    lines, _ = a.command("e", "EXPUNGE")
    assert lines == ["* 2 EXPUNGE"]
    # Not during FETCH by sequence number; at the next NOOP.
    lines, tagged = b.command("f", "FETCH 1:* (UID)")
    assert "* 2 EXPUNGE" not in lines and tagged.startswith("f ")
    lines, _ = b.command("n", "NOOP")
    assert lines == ["* 2 EXPUNGE"]
    lines, _ = b.command("f", "FETCH 1:* (UID)")
    assert lines == ["* 1 FETCH (UID 1)", "* 2 FETCH (UID 3)"]


def test_shell_changes_seen_at_noop(two_sessions):
    server, a, b = two_sessions
    os.unlink(server.inbox / "1.eml")
    os.setxattr(server.inbox / "3.eml", "user.imap.flags", b"+\\Seen")
    deposit(server.inbox, voice_message(9))
    lines, _ = a.command("n", "NOOP")
    assert sorted(lines) == sorted(["* 1 EXPUNGE", "* 2 FETCH (FLAGS (\\Seen))",
                                    "* 3 EXISTS", "* 1 RECENT"]), lines
    # A UID command may be told of expunges at once.
    lines, _ = b.command("u", "UID FETCH 3 (FLAGS)")
    # The command answers from what the session knew, then the news.
    assert lines == ["* 3 FETCH (UID 3 FLAGS ())", "* 1 EXPUNGE",
                     "* 2 FETCH (UID 3 FLAGS (\\Seen))", "* 3 EXISTS",
                     "* 1 RECENT"], lines
    lines, _ = b.command("v", "UID FETCH 4 (FLAGS)")
    assert lines == ["* 3 FETCH (UID 4 FLAGS (\\Recent))"], lines


def test_idle_reports_changes_within_a_second(imapd):
    fill(imapd, 2)
    raw = Raw(imapd.port)
    raw.login()
    raw.command("s", "SELECT INBOX")
    raw.send("i IDLE\r\n")
    assert raw.line() == "+ idling"
    for change, expected in (
            (lambda: os.unlink(imapd.inbox / "1.eml"), "* 1 EXPUNGE"),
            (lambda: deposit(imapd.inbox, voice_message(5)), "* 2 EXISTS"),
            (lambda: os.setxattr(imapd.inbox / "3.eml", "user.imap.flags",
                                 b"\\Deleted"),
             "* 2 FETCH (FLAGS (\\Deleted \\Recent))")):
        change()
        started = time.monotonic()
        lines = [raw.line()]
        while lines[-1] != expected:
            lines.append(raw.line())
        assert time.monotonic() - started < 1.0, lines
    raw.send("DONE\r\n")
    assert raw.line() == "i OK IDLE terminated"


def test_curl_reads_flags_and_deletes(imapd):
    """curl as the general-purpose client: list, read, flag, delete."""
    fill(imapd, 2)
    url = "imap://127.0.0.1:%d/INBOX" % imapd.port
    auth = ["-u", "%s:%s" % (MSISDN, PASSWORD), "-s", "-S"]

    def curl(*args):
        return subprocess.run(["curl", "--max-time", "30"] + auth +
                              list(args), capture_output=True, check=True)
    listing = curl("imap://127.0.0.1:%d/" % imapd.port).stdout.decode()
    assert "INBOX" in listing and "Greetings" in listing
    body = curl(url + "/;UID=2").stdout
    assert body.replace(b"\r\n", b"\n") == \
        (imapd.inbox / "2.eml").read_bytes().replace(b"\r\n", b"\n")
    assert os.getxattr(imapd.inbox / "2.eml", "user.imap.flags") == b"\\Seen"
    curl(url, "-X", "UID STORE 1 +FLAGS (\\Deleted)")
    assert os.getxattr(imapd.inbox / "1.eml", "user.imap.flags") == \
        b"\\Deleted"
    curl(url, "-X", "EXPUNGE")
    assert sorted(os.listdir(imapd.inbox)) == ["2.eml"]


def test_session_limit_and_reconnect(imapd):
    a = Raw(imapd.port)
    a.login()
    b = Raw(imapd.port)
    _, tagged = b.command("l", "LOGIN %s %s" % (MSISDN, PASSWORD))
    assert tagged == "l NO [INUSE] too many sessions for this mailbox"
    a.command("z", "LOGOUT")
    a.close()
    # Right after LOGOUT the slot is free again, as Android reconnects.
    b.login()


def test_failed_login_throttling_across_processes(make_imapd):
    server = make_imapd(imap={"login_failures_max": "3",
                              "login_lockout": "300"})
    for _ in range(3):
        raw = Raw(server.port)
        _, tagged = raw.command("l", "LOGIN %s wrong" % MSISDN)
        assert tagged == "l NO invalid password"
        raw.close()
    count = os.getxattr(server.sub, "user.vvm.login_failures").split()[0]
    assert count == b"3"
    raw = Raw(server.port)
    _, tagged = raw.command("l", "LOGIN %s %s" % (MSISDN, PASSWORD))
    assert tagged.startswith("l NO [UNAVAILABLE]"), tagged
    os.setxattr(server.sub, "user.vvm.login_failures", b"0")
    raw.login()
    assert os.getxattr(server.sub, "user.vvm.login_failures").split()[0] \
        == b"0"


def logins(server, password, n, parallel):
    """n connections that each LOGIN, all at once or one after another;
    their tagged replies, in order."""
    clients = [Raw(server.port) for _ in range(n)]
    if parallel:
        for client in clients:
            client.send("l LOGIN %s %s\r\n" % (MSISDN, password))
        replies = [client.until("l")[1] for client in clients]
    else:
        replies = [client.command("l", "LOGIN %s %s" % (MSISDN, password))[1]
                   for client in clients]
    for client in clients:
        client.command("z", "LOGOUT")
        client.close()
    return replies


def test_parallel_logins_with_the_right_password_all_succeed(make_imapd):
    """More logins of one subscriber at once than failures are allowed:
    each waits for a turn to check its password instead of counting as
    a failure until it proves right."""
    server = make_imapd(imap={"max_sessions": "32",
                              "login_failures_max": "5"})
    for _ in range(3):
        assert logins(server, PASSWORD, 16, parallel=True) == \
            ["l OK LOGIN completed"] * 16
        assert os.getxattr(server.sub, "user.vvm.login_failures") == b"0 0"


def test_parallel_guesses_get_no_more_checks_than_serial_ones(make_imapd):
    server = make_imapd(imap={"max_sessions": "32",
                              "login_failures_max": "5",
                              "login_failure_delay_ms": "0"})
    refused = ["l NO invalid password"] * 5 + [
        "l NO [UNAVAILABLE] too many failed logins, try again later"] * 11
    count = "user.vvm.login_failures"
    for parallel in (True, False):
        assert sorted(logins(server, "wrong", 16, parallel)) == \
            sorted(refused), parallel
        assert os.getxattr(server.sub, count).split()[0] == b"5"
        # locked out: the right password is refused too
        assert logins(server, PASSWORD, 1, parallel)[0] == refused[-1]
        os.setxattr(server.sub, count, b"0")
    assert logins(server, PASSWORD, 1, False) == ["l OK LOGIN completed"]


def test_login_disabled_until_tls(make_imapd):
    server = make_imapd(tls=True, imap={"login_disabled": "true"})
    raw = Raw(server.port)
    assert "LOGINDISABLED" in raw.greeting
    _, tagged = raw.command("l", "LOGIN %s %s" % (MSISDN, PASSWORD))
    assert tagged.startswith("l NO [PRIVACYREQUIRED]")
    raw.starttls(server.cert)
    lines, _ = raw.command("c", "CAPABILITY")
    assert "LOGINDISABLED" not in lines[0] and "AUTH=PLAIN" in lines[0]
    raw.login()


def test_starttls_refuses_pipelined_commands(make_imapd):
    server = make_imapd(tls=True)
    raw = Raw(server.port)
    raw.send("a STARTTLS\r\nb LOGIN %s %s\r\n" % (MSISDN, PASSWORD))
    assert raw.line().startswith("a BAD")
    assert raw.line() == "b OK LOGIN completed"


def test_implicit_tls(make_imapd):
    import ssl
    server = make_imapd(tls=True, imap={"tls": "implicit"})
    ctx = ssl.create_default_context(cafile=str(server.cert))
    im = imaplib.IMAP4_SSL("127.0.0.1", server.port, ssl_context=ctx,
                           timeout=30)
    assert "STARTTLS" not in im.capabilities
    im.authenticate("PLAIN", lambda _: b"\0%s\0%s" % (MSISDN.encode(),
                                                      PASSWORD.encode()))
    assert im.select("INBOX")[0] == "OK"
    im.logout()


def test_autologout(make_imapd):
    server = make_imapd(imap={"idle_timeout": "1", "login_timeout": "1"})
    raw = Raw(server.port)
    assert raw.line() == "* BYE Login timeout"
    raw = Raw(server.port)
    raw.login()
    assert raw.line() == "* BYE Autologout; idle for too long"


def test_abuse_keeps_the_session_sane(imapd):
    raw = Raw(imapd.port)
    raw.send(b"a" * 100000 + b"\r\n")
    line = raw.line()
    assert "BAD" in line, line
    raw.send(b"b LOGIN {99999999}\r\n")
    assert raw.line().startswith("b BAD")
    raw.send(b"\x00\xff\xfe junk\r\n")
    assert "BAD" in raw.line()
    _, tagged = raw.command("c", "NOOP")
    assert tagged == "c OK NOOP completed"
    _, tagged = raw.command("d", "FETCH 1 FLAGS")
    assert tagged.startswith("d BAD")
    raw.login()
    _, tagged = raw.command("e", "FETCH 1 FLAGS")
    assert tagged.startswith("e BAD")
    raw.command("s", "SELECT INBOX")
    for cmd in ("FETCH 1:* (BODY[HEADER.FIELDS ()])", "STORE x FLAGS (\\Seen)",
                "UID FETCH 1 (BOGUS)", "SEARCH OR ALL", "UID"):
        _, tagged = raw.command("f", cmd)
        assert tagged.startswith("f BAD"), (cmd, tagged)


def test_secrets_never_logged(imapd):
    raw = Raw(imapd.port)
    raw.command("l", "LOGIN %s %s-wrong" % (MSISDN, PASSWORD))
    raw.login()
    raw.command("x", "XCHANGE_TUI_PWD PWD=9051 OLD_PWD=4826")
    raw.command("z", "LOGOUT")
    raw.close()
    imapd.inetd.close()
    log = (imapd.root / "imapd.log").read_text() if \
        (imapd.root / "imapd.log").exists() else ""
    for secret in (PASSWORD, "9051", "4826"):
        assert secret not in log


def test_expunge_uses_the_flags_in_the_store(two_sessions):
    server, a, b = two_sessions
    a.command("d", "STORE 1:2 +FLAGS.SILENT (\\Deleted)")
    b.command("n", "NOOP")
    # A takes \Deleted off message 1 after B saw it set.
    a.command("u", "STORE 1 -FLAGS.SILENT (\\Deleted)")
    lines, tagged = b.command("e", "EXPUNGE")
    assert tagged == "e OK EXPUNGE completed"
    assert "* 2 EXPUNGE" in lines and "* 1 EXPUNGE" not in lines, lines
    assert sorted(os.listdir(server.inbox)) == ["1.eml", "3.eml"]


def test_store_flags_without_parentheses(imapd):
    fill(imapd, 1)
    raw = Raw(imapd.port)
    raw.login()
    raw.command("s", "SELECT INBOX")
    lines, tagged = raw.command("a", "STORE 1 +FLAGS \\Seen \\Deleted")
    assert lines == ["* 1 FETCH (FLAGS (\\Deleted \\Seen))"], (lines, tagged)


def test_fetch_of_a_vanished_message_stays_well_formed(two_sessions):
    server, a, b = two_sessions
    os.unlink(server.inbox / "2.eml")
    lines, tagged = a.command("f", "FETCH 1:3 (FLAGS ENVELOPE)")
    assert tagged.startswith("f NO [EXPUNGEISSUED]"), tagged
    assert [l.split(" (")[0] for l in lines] == ["* 1 FETCH", "* 3 FETCH"]
    assert all(l.endswith(")") and " )" not in l for l in lines), lines
    # A UID command is told of the expunge and is not held up by it.
    lines, tagged = a.command("g", "UID FETCH 1:* (FLAGS)")
    assert tagged == "g OK FETCH completed"
    assert lines[0] == "* 2 EXPUNGE", lines


def test_search_fields_and_dates(imapd):
    deposit(imapd.inbox, voice_message(
        1, date="22 Nov 26 10:00:00 +0000 (UTC, really)",
        extra_headers="X-A: one\r\nX-A: alpha\r\n beta\r\n"))
    im = imapd.connect()
    im.select("INBOX")

    def search(*criteria):
        typ, data = im.uid("SEARCH", *criteria)
        assert typ == "OK", data
        return [int(u) for u in data[0].split()]
    assert search("SENTON", "22-Nov-2026") == [1]
    assert search("SENTBEFORE", "1-Jan-1990") == []
    assert search("HEADER", "X-A", '"alpha beta"') == [1]
    assert search("HEADER", "X-A", '"x-a"') == []
    assert search("HEADER", "X-A", '":"') == []
    typ, data = im.fetch("1", '(BODY.PEEK[HEADER.FIELDS ("X)A" X-A)])')
    assert typ == "OK"
    assert b'BODY[HEADER.FIELDS ("X)A" X-A)]' in data[0][0], data
    im.logout()


def test_login_deadline_and_invalid_commands(make_imapd):
    server = make_imapd(imap={"login_timeout": "2"})
    raw = Raw(server.port)
    started = time.monotonic()
    with pytest.raises(EOFError):
        while time.monotonic() - started < 10:
            raw.command("n", "NOOP")
            time.sleep(0.3)
    assert time.monotonic() - started < 4
    raw = Raw(server.port)
    raw.send("".join("b%d FROB\r\n" % i for i in range(12)))
    lines = []
    with pytest.raises(EOFError):
        while True:
            lines.append(raw.line())
    assert lines[-1] == "* BYE Too many invalid commands", lines
    assert len(lines) == 11


def test_list_wildcards_are_linear(imapd):
    raw = Raw(imapd.port)
    raw.login()
    started = time.monotonic()
    lines, tagged = raw.command("l", 'LIST "" "%s"' % ("%*" * 2000 + "q"))
    assert tagged == "l OK LIST completed" and lines == []
    assert time.monotonic() - started < 5


def test_recreated_mailbox_ends_the_session(imapd):
    saved = imapd.sub / "Saved"
    saved.mkdir()
    deposit(saved, voice_message(1))
    raw = Raw(imapd.port)
    raw.login()
    raw.command("s", "SELECT Saved")
    os.unlink(saved / "1.eml")
    saved.rmdir()
    saved.mkdir()
    deposit(saved, voice_message(2))
    raw.send("n NOOP\r\n")
    lines = []
    with pytest.raises(EOFError):
        while True:
            lines.append(raw.line())
    assert "* BYE mailbox was re-created; select it again" in lines, lines
