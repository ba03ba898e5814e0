"""vvm-imapd as the phone's VVM client uses it: the complete session the
spec describes, the spec's exact texts, and what Android's OMTP client
depends on. The shim runs as inetd runs it, over a real mount."""
import base64
import os
import re

import pytest

from conftest import MSISDN, deposit, amr_audio, voice_message
from imapd import (PASSWORD, PIN, Raw, b64, digest_md5_response,  # noqa
                   imapd, make_imapd)

GREETING = (b"From: " + MSISDN.encode() + b"@example.net\r\n"
            b"Date: Sun, 22 Nov 2026 10:00:00 +0000\r\n"
            b"Subject: greeting\r\n"
            b"X-CNS-Greeting-Type: normal-greeting\r\n"
            b"Message-Context: x-voice-greeting\r\n"
            b"Content-Duration: 4\r\n"
            b"MIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=\"g\"\r\n\r\n"
            b"--g\r\nContent-Type: audio/amr\r\n"
            b"Content-Transfer-Encoding: base64\r\n"
            b"Content-Duration: 4\r\n\r\n"
            + base64.encodebytes(amr_audio(4, 300)).replace(b"\n", b"\r\n")
            + b"--g--\r\n")


def digest_login(raw, user=MSISDN, password=PASSWORD, tag="A1"):
    """AUTHENTICATE DIGEST-MD5 the way Android does, with the rspauth
    continuation before the tagged OK. Returns the tagged line."""
    raw.send("%s AUTHENTICATE DIGEST-MD5\r\n" % tag)
    line = raw.line()
    assert line.startswith("+ "), line
    challenge = base64.b64decode(line[2:])
    response, rspauth = digest_md5_response(challenge, user, password)
    raw.send(b64(response) + "\r\n")
    line = raw.line()
    if not line.startswith("+ "):
        return line
    assert base64.b64decode(line[2:]).decode() == "rspauth=" + rspauth
    raw.send("\r\n")
    return raw.line()


def outbox(server):
    box = server.fs.mnt / ".outbox" / "sms"
    return [(box / n).read_text() for n in sorted(os.listdir(box), key=int)]


def test_complete_vvm_client_session(make_imapd):
    server = make_imapd(tls=True)
    (server.sub / "profile" / "status").write_text("P")
    (server.sub / "profile" / "status").write_text("N")
    for i in range(3):
        deposit(server.inbox, voice_message(i))
    raw = Raw(server.port)
    assert "STARTTLS" in raw.greeting
    lines, tagged = raw.command("C1", "CAPABILITY")
    caps = lines[0].split()
    assert "AUTH=DIGEST-MD5" in caps and "STARTTLS" in caps
    assert "AUTH=PLAIN" not in caps, "PLAIN must wait for TLS"
    assert all(c == c.upper() for c in caps[2:]), caps

    raw.starttls(server.cert)
    lines, tagged = raw.command("C2", "CAPABILITY")
    assert "STARTTLS" not in lines[0] and "AUTH=PLAIN" in lines[0]
    assert digest_login(raw) == "A1 OK AUTHENTICATE completed"

    lines, tagged = raw.command("S1", "SELECT INBOX")
    assert "* 3 EXISTS" in lines and tagged.startswith("S1 OK [READ-WRITE]")
    lines, tagged = raw.command("S2", "UID SEARCH 1:* NOT DELETED")
    assert lines == ["* SEARCH 1 2 3"] and tagged == "S2 OK SEARCH completed"

    raw.send("F1 UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE "
             "BODY.PEEK[HEADER.FIELDS (FROM TO DATE SUBJECT "
             "MESSAGE-CONTEXT CONTENT-DURATION)] BODYSTRUCTURE)\r\n")
    for uid in (1, 2, 3):
        line = raw.line()
        m = re.match(r"\* (\d) FETCH \(UID (\d) FLAGS \(\) INTERNALDATE "
                     r"\"[^\"]+\" RFC822.SIZE (\d+) BODY\[HEADER.FIELDS "
                     r"\(FROM TO DATE SUBJECT MESSAGE-CONTEXT "
                     r"CONTENT-DURATION\)\] \{(\d+)\}$", line)
        assert m and int(m.group(2)) == uid, line
        assert int(m.group(3)) == os.path.getsize(server.inbox /
                                                  ("%d.eml" % uid))
        header = raw.read(int(m.group(4)))
        assert header.startswith(b"From: +31600000001@example.net\r\n")
        assert b"Content-Duration: 5\r\n" in header
        assert header.endswith(b"\r\n\r\n")
        rest = raw.line()
        assert rest.startswith(' BODYSTRUCTURE (("TEXT" "PLAIN"')
        assert '("AUDIO" "AMR"' in rest and rest.endswith(")")
    assert raw.line() == "F1 OK FETCH completed"

    # BODY.PEEK[2] leaves \Seen alone.
    raw.send("F2 UID FETCH 1 BODY.PEEK[2]\r\n")
    m = re.match(r"\* 1 FETCH \(UID 1 BODY\[2\] \{(\d+)\}$", raw.line())
    audio = base64.b64decode(raw.read(int(m.group(1))))
    assert audio == amr_audio(5)
    assert raw.line() == ")" and raw.line() == "F2 OK FETCH completed"
    assert os.getxattr(server.inbox / "1.eml", "user.imap.flags") == b""

    lines, tagged = raw.command("T1", "UID STORE 1 +FLAGS.SILENT (\\SEEN)")
    assert tagged == "T1 OK STORE completed"
    assert os.getxattr(server.inbox / "1.eml", "user.imap.flags") == b"\\Seen"
    lines, tagged = raw.command("T2", "UID STORE 1 +FLAGS (\\DELETED)")
    assert lines == ["* 1 FETCH (UID 1 FLAGS (\\Deleted \\Seen))"]
    lines, tagged = raw.command("E1", "EXPUNGE")
    assert lines == ["* 1 EXPUNGE"] and tagged == "E1 OK EXPUNGE completed"
    assert not (server.inbox / "1.eml").exists()

    lines, tagged = raw.command("Q1", "GETQUOTAROOT INBOX")
    assert lines[0] == '* QUOTAROOT "INBOX" ""'
    assert lines[1].startswith('* QUOTA "" (') and tagged.startswith("Q1 OK")

    raw.send("G1 APPEND Greetings ($CNS-Greeting-On) {%d+}\r\n" % len(GREETING))
    raw.send(GREETING + b"\r\n")
    _, tagged = raw.until("G1")
    m = re.match(r"G1 OK \[APPENDUID (\d+) (\d+)\] APPEND completed", tagged)
    assert m, tagged
    greeting = server.sub / "Greetings" / ("%s.eml" % m.group(2))
    assert greeting.read_bytes() == GREETING
    assert os.getxattr(greeting, "user.imap.flags") == b"$CNS-Greeting-On"
    assert m.group(1) == os.getxattr(server.sub / "Greetings",
                                     "user.imap.uidvalidity").decode()

    _, tagged = raw.command("P1", "XCHANGE_TUI_PWD PWD=5937 OLD_PWD=%s" % PIN)
    assert tagged == "P1 OK password changed successfully"
    assert (server.sub / "profile" / "tui_password").read_text() == "5937\n"

    before = len(outbox(server))
    _, tagged = raw.command("N1", "XCLOSE_NUT")
    assert tagged == "N1 OK NUT closed"
    assert (server.sub / "profile" / "status").read_text() == "R\n"
    sms = outbox(server)
    assert len(sms) == before + 1 and "kind STATUS" in sms[-1]
    assert ":STATUS:st=R;" in sms[-1]

    raw.send("L1 LOGOUT\r\n")
    assert raw.line().startswith("* BYE")
    assert raw.line() == "L1 OK LOGOUT completed"
    raw.close()


@pytest.mark.parametrize("status,text", [
    ("U", "NO service is not provisioned"),
    ("P", "NO service is not activated"),
    ("B", "NO user is blocked"),
])
def test_login_refused_by_status(make_imapd, status, text):
    server = make_imapd(status=status)
    raw = Raw(server.port)
    _, tagged = raw.command("a", "LOGIN %s %s" % (MSISDN, PASSWORD))
    assert tagged == "a " + text
    assert digest_login(raw, tag="b") == "b " + text


def test_login_refusals(imapd):
    raw = Raw(imapd.port)
    _, tagged = raw.command("a", "LOGIN 31699999999 %s" % PASSWORD)
    assert tagged == "a NO unknown user"
    _, tagged = raw.command("b", "LOGIN %s wrong" % MSISDN)
    assert tagged == "b NO invalid password"
    _, tagged = raw.command("c", "LOGIN nonsense@x %s" % PASSWORD)
    assert tagged == "c NO unknown user"
    assert digest_login(raw, password="wrong", tag="d") == \
        "d NO invalid password"
    assert digest_login(raw, user="31699999999", tag="e") == \
        "e NO unknown user"
    _, tagged = raw.command("f", "SELECT INBOX")
    assert tagged.startswith("f BAD"), "not logged in yet"


def test_mailbox_not_initialized_and_unknown_client(make_imapd):
    server = make_imapd(imap={"require_tui_init": "true",
                              "known_clients": "vvm.android,apple"})
    (server.sub / "profile" / "client_type").write_text("other.client")
    raw = Raw(server.port)
    _, tagged = raw.command("a", "LOGIN %s %s" % (MSISDN, PASSWORD))
    assert tagged == "a NO unknown client"
    (server.sub / "profile" / "client_type").write_text("vvm.android.8")
    open(server.sub / "profile" / "tui_password", "w").close()
    _, tagged = raw.command("b", "LOGIN %s %s" % (MSISDN, PASSWORD))
    assert tagged == "b NO mailbox not initialized"
    (server.sub / "profile" / "tui_password").write_text(PIN)
    _, tagged = raw.command("c", "LOGIN %s %s" % (MSISDN, PASSWORD))
    assert tagged == "c OK LOGIN completed"


def test_tui_password_login(make_imapd):
    server = make_imapd(imap={"password": "tui_password"})
    raw = Raw(server.port)
    _, tagged = raw.command("a", "LOGIN %s %s" % (MSISDN, PASSWORD))
    assert tagged == "a NO invalid password"
    _, tagged = raw.command("b", "LOGIN %s %s" % (MSISDN, PIN))
    assert tagged == "b OK LOGIN completed"


@pytest.mark.parametrize("command,reply", [
    ("XCHANGE_TUI_PWD PWD=5937 OLD_PWD=%s" % PIN,
     "OK password changed successfully"),
    ("XCHANGE_TUI_PWD PWD=59 OLD_PWD=%s" % PIN, "NO password too short"),
    ("XCHANGE_TUI_PWD PWD=5937593759375937 OLD_PWD=%s" % PIN,
     "NO password too long"),
    ("XCHANGE_TUI_PWD PWD=1234 OLD_PWD=%s" % PIN, "NO password too weak"),
    ("XCHANGE_TUI_PWD PWD=7777 OLD_PWD=%s" % PIN, "NO password too weak"),
    ("XCHANGE_TUI_PWD PWD=5937 OLD_PWD=1111", "NO old password mismatch"),
    ("XCHANGE_TUI_PWD PWD=59a7 OLD_PWD=%s" % PIN,
     "NO password contains invalid characters"),
    ("XCHANGE_TUI_PWD PWD=5937", "NO unknown command"),
    ("XCHANGE_TUI_PWD 5937 %s" % PIN, "NO unknown command"),
    ("CHANGE_TUI_PWD PWD=5937 OLD_PWD=%s" % PIN,
     "OK password changed successfully"),
    ("XCHANGE_VM_LANG LANG=fre", "OK language changed successfully"),
    ("CHANGE_VM_LANG Lang=eng.1", "OK language changed successfully"),
    ("XCHANGE_VM_LANG LANG=deu", "NO invalid language"),
    ("XCHANGE_VM_LANG LANG=english", "NO invalid language"),
    ("XCHANGE_VM_LANG", "NO unknown command"),
    ("XCHANGE_GEN_OPTIONS_STRING OPTIONSSTRING=aaff",
     "OK optionsstring changed successfully"),
    ("XCHANGE_GEN_OPTIONS_STRING OPTIONSSTRING=zz", "NO invalid value"),
    ("XCHANGE_GEN_OPTIONS_STRING", "NO unknown command"),
    ("XCLOSE_NUT", "OK NUT closed"),
    ("CLOSE_NUT", "OK NUT closed"),
    ("XCLOSE_NUT now", "NO unknown command"),
    ("XTRANSCRIBE UID=1", "NO transcription service not available"),
    ("XTRANSCRIBE UID=99", "NO invalid UID"),
    ("XTRANSCRIBE", "NO unknown command"),
    ("XTRANSCRIPTION_SERVICE STATE=START EXP_DATE=2027-01-25 "
     "SUB_DURATION=12", "NO Transcription service unreachable"),
    ("XTRANSCRIPTION_SERVICE STATE=MAYBE", "NO unknown command"),
    ("XTRANSCRIPTION_SERVICE STATE=STOP SUB_DURATION=25",
     "NO unknown command"),
])
def test_self_care(make_imapd, command, reply):
    server = make_imapd(sms={"languages": "eng|eng.1|fre"},
                        status="N")
    deposit(server.inbox, voice_message(1))
    raw = Raw(server.port)
    raw.login()
    raw.command("s", "SELECT INBOX")
    # A change waiting to be told must not come before a self-care reply.
    deposit(server.inbox, voice_message(2))
    lines, tagged = raw.command("CNS1", command)
    assert lines == [] and tagged == "CNS1 " + reply
    profile = server.sub / "profile"
    if "PWD" in command:
        pin = "5937" if reply.startswith("OK") else PIN
        assert (profile / "tui_password").read_text() == pin + "\n"
    if "LANG" in command and reply.startswith("OK"):
        assert (profile / "language").read_text() == \
            command.split("=")[1] + "\n"
    if "OPTIONS" in command and reply.startswith("OK"):
        assert (profile / "options").read_text() == "aaff\n"
    if "NUT" in command:
        assert (profile / "status").read_text() == \
            ("R\n" if reply.startswith("OK") else "N\n")
    lines, tagged = raw.command("n", "NOOP")
    assert "* 2 EXISTS" in lines


def test_flags_the_spec_allows(imapd):
    deposit(imapd.inbox, voice_message(1))
    deposit(imapd.sub / "Greetings", GREETING)
    raw = Raw(imapd.port)
    raw.login()
    raw.command("s", "SELECT INBOX")
    for flags in ("(\\Flagged)", "(\\Answered)", "($Junk)",
                  "($CNS-Greeting-On)"):
        _, tagged = raw.command("a", "STORE 1 +FLAGS %s" % flags)
        assert tagged == "a NO command not allowed", flags
    lines, tagged = raw.command("b", "STORE 1 FLAGS (\\seen \\DELETED \\Recent)")
    assert lines == ["* 1 FETCH (FLAGS (\\Deleted \\Seen))"], lines
    raw.command("s", "SELECT Greetings")
    lines, tagged = raw.command("c", "STORE 1 +FLAGS ($AppleVM-ActiveGreeting)")
    assert lines == ["* 1 FETCH (FLAGS ($CNS-Greeting-On))"]
    assert os.getxattr(imapd.sub / "Greetings" / "1.eml",
                       "user.imap.flags") == b"$CNS-Greeting-On"


def test_append_and_status_rules(imapd):
    raw = Raw(imapd.port)
    raw.login()
    msg = voice_message(1)
    raw.send(b"a APPEND INBOX {%d+}\r\n" % len(msg) + msg + b"\r\n")
    assert raw.until("a")[1] == "a NO command not allowed"
    raw.send(b"b APPEND inbox (\\Seen) {%d+}\r\n" % len(msg) + msg + b"\r\n")
    assert raw.until("b")[1] == "b NO command not allowed"
    raw.send(b"c APPEND Greetings (\\Flagged) {%d+}\r\n" % len(GREETING) +
             GREETING + b"\r\n")
    assert raw.until("c")[1] == "c NO command not allowed"
    raw.send(b"d APPEND Nowhere {%d+}\r\n" % len(GREETING) + GREETING +
             b"\r\n")
    assert raw.until("d")[1].startswith("d NO [TRYCREATE]")
    raw.send(b"e APPEND Greetings {8+}\r\nnot mail\r\n")
    tagged = raw.until("e")[1]
    assert tagged.startswith("e NO [PARSE]"), tagged
    assert os.listdir(imapd.inbox) == [] and \
        os.listdir(imapd.sub / "Greetings") == []
    _, tagged = raw.command("f", "STATUS Greetings (MESSAGES)")
    assert tagged == "f NO command not allowed"
    lines, tagged = raw.command("g", "STATUS inbox (MESSAGES UNSEEN UIDNEXT "
                                     "UIDVALIDITY RECENT)")
    assert re.fullmatch(r'\* STATUS "INBOX" \(MESSAGES 0 UNSEEN 0 UIDNEXT 1 '
                        r'UIDVALIDITY \d+ RECENT 0\)', lines[0]), lines


def test_android_quirks(imapd):
    for i in range(2):
        deposit(imapd.inbox, voice_message(i))
    raw = Raw(imapd.port)
    raw.login()
    lines, tagged = raw.command("a", 'SELECT "inbox"')
    assert "* 2 EXISTS" in lines and tagged.startswith("a OK")
    # Pipelined: answered strictly in order.
    raw.send("p1 NOOP\r\np2 UID STORE 1 +FLAGS (\\SEEN)\r\n"
             "p3 UID FETCH 1 (FLAGS)\r\np4 NOOP\r\n")
    seen = [raw.line() for _ in range(6)]
    assert seen == ["p1 OK NOOP completed",
                    "* 1 FETCH (UID 1 FLAGS (\\Seen))",
                    "p2 OK STORE completed",
                    "* 1 FETCH (UID 1 FLAGS (\\Seen))",
                    "p3 OK FETCH completed",
                    "p4 OK NOOP completed"], seen
    raw.send("z LOGOUT\r\n")
    assert raw.line().startswith("* BYE ")
    assert raw.line() == "z OK LOGOUT completed"


def test_metadata(imapd):
    raw = Raw(imapd.port)
    raw.login()
    lines, tagged = raw.command(
        "a", 'GETMETADATA "" /private/VVM/GreetingTypesAllowed')
    assert lines == ['* METADATA "" (/private/VVM/GreetingTypesAllowed '
                     'personal,voiceSignature)']
    assert tagged == "a OK GETMETADATA complete"
    _, tagged = raw.command(
        "b", 'SETMETADATA "" (/private/VVM/Accept "audio/amr,audio/wav; '
             'codec=g711a")')
    assert tagged == "b OK SETMETADATA complete"
    assert (imapd.sub / "profile" / "accept").read_text() == \
        "audio/amr,audio/wav; codec=g711a\n"
    lines, _ = raw.command("c", 'GETMETADATA "" (/private/VVM/Accept)')
    assert lines == ['* METADATA "" (/private/VVM/Accept '
                     '"audio/amr,audio/wav; codec=g711a")']
    _, tagged = raw.command("d", 'SETMETADATA "" (/private/VVM/Accept '
                                 '"not a type")')
    assert tagged == "d BAD invalid parameter"
    assert (imapd.sub / "profile" / "accept").read_text().startswith(
        "audio/amr")
    _, tagged = raw.command("e", 'GETMETADATA "" /private/VVM/Bogus')
    assert tagged == "e BAD GETMETADATA invalid parameter"
    _, tagged = raw.command("f", 'GETMETADATA "" /shared/comment')
    assert tagged == "f BAD GETMETADATA command not allowed"
    _, tagged = raw.command("g", 'GETMETADATA (DEPTH 1) "" /private/VVM/Accept')
    assert tagged == "g BAD GETMETADATA command not allowed"
    _, tagged = raw.command("h", 'SETMETADATA "" '
                                 '(/private/VVM/GreetingTypesAllowed "x")')
    assert tagged == "h BAD invalid parameter"
    _, tagged = raw.command("i", 'SETMETADATA "" (/private/VVM/Accept '
                                 'audio/amr)')
    assert tagged == "i BAD invalid parameter", "a value is a string"
    _, tagged = raw.command("j", 'SETMETADATA "" (/private/VVM/Accept '
                                 '"audio/amr; codec=\\"x\\"")')
    assert tagged == "j OK SETMETADATA complete"
    lines, _ = raw.command("k", 'GETMETADATA "" /private/VVM/Accept')
    assert lines == ['* METADATA "" (/private/VVM/Accept '
                     '"audio/amr; codec=\\"x\\"")'], lines


def test_quota_resources(imapd):
    profile = imapd.sub / "profile"
    (profile / "quota_storage_kb").write_text("1000")
    (profile / "quota_messages").write_text("40")
    (profile / "quota_voice_seconds").write_text("600")
    (profile / "quota_greeting_seconds").write_text("120")
    deposit(imapd.inbox, voice_message(1, duration=7))
    deposit(imapd.sub / "Greetings", GREETING)
    usage = os.getxattr(imapd.sub, "user.vvm.quota").decode()
    kb = int(re.search(r"storage_kb (\d+) 1000", usage).group(1))
    assert kb > 0
    raw = Raw(imapd.port)
    raw.login()
    lines, tagged = raw.command("a", 'GETQUOTA ""')
    assert lines == ['* QUOTA "" (STORAGE %d 1000 STORAGE-soft %d 900 '
                     'MESSAGE 2 40 MESSAGE-soft 2 36 voice 7 600 '
                     'voice-soft 7 540 x-voice-greeting 4 120 '
                     'x-voice-greeting-soft 4 108)' % (kb, kb)], lines
    _, tagged = raw.command("b", 'GETQUOTA "other"')
    assert tagged.startswith("b NO")
    _, tagged = raw.command("c", "GETQUOTAROOT Nowhere")
    assert tagged.startswith("c NO [NONEXISTENT]")


def test_unsupported_commands(imapd):
    raw = Raw(imapd.port)
    raw.login()
    for cmd in ("CREATE Saved", "DELETE Greetings", "RENAME a b",
                "SUBSCRIBE INBOX", "SETQUOTA \"\" (STORAGE 1)", "XYZZY"):
        _, tagged = raw.command("a", cmd)
        assert tagged == "a NO command not allowed", cmd
    raw.command("s", "SELECT INBOX")
    for cmd in ("COPY 1 Greetings", "MOVE 1 Greetings", "UID COPY 1 x"):
        _, tagged = raw.command("b", cmd)
        assert tagged == "b NO command not allowed", cmd


def test_empty_password_never_logs_in(imapd):
    open(imapd.sub / "profile" / "imap_password", "w").close()
    raw = Raw(imapd.port)
    _, tagged = raw.command("a", 'LOGIN %s ""' % MSISDN)
    assert tagged == "a NO invalid password"
    assert digest_login(raw, password="", tag="b") == "b NO invalid password"


@pytest.mark.parametrize("status", ["B", "P"])
def test_close_nut_does_not_undo_a_block(imapd, status):
    raw = Raw(imapd.port)
    raw.login()
    (imapd.sub / "profile" / "status").write_text(status)
    _, tagged = raw.command("n", "XCLOSE_NUT")
    assert tagged == "n NO system error"
    assert (imapd.sub / "profile" / "status").read_text() == status + "\n"


def test_tui_password_guesses_are_counted(make_imapd):
    server = make_imapd(imap={"login_failures_max": "3",
                              "login_lockout": "300"})
    raw = Raw(server.port)
    raw.login()
    for _ in range(3):
        _, tagged = raw.command("p", "XCHANGE_TUI_PWD PWD=5937 OLD_PWD=0000")
        assert tagged == "p NO old password mismatch"
    _, tagged = raw.command("p", "XCHANGE_TUI_PWD PWD=5937 OLD_PWD=%s" % PIN)
    assert tagged == "p NO system error", "locked out, even when right"
    assert (server.sub / "profile" / "tui_password").read_text() == PIN + "\n"
    assert os.getxattr(server.sub, "user.vvm.login_failures").split()[0] \
        == b"3"
