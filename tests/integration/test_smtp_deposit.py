"""vvm-smtpd as VVM clients deposit with it: the extension list, STARTTLS
and DIGEST-MD5 as in the spec's Example B, the deposit of Example J read
back over IMAP, multiple recipients with partial failure and the DSN in
the sender's INBOX, forwards, pipelining, CHUNKING, the limits and every
refusal in its enhanced status code. The shim runs as inetd runs it, over
a real mount; the clients are Python's smtplib and imaplib."""
import base64
import email
import hashlib
import hmac
import email.policy
import imaplib
import smtplib
import socket
import ssl
import subprocess
import time

import pytest

from imapd import make_cert
from smtpd import (DOMAIN, HOST, RCPT2, RCPT3, SENDER, SMTP_PASSWORD, SMTPD,
                   address, digest_md5, make_smtpd, voice)  # noqa: F401

EXTENSIONS = ["PIPELINING", "SIZE 10485760", "8BITMIME",
              "ENHANCEDSTATUSCODES", "DSN", "CHUNKING"]


def logged_in(server, tls=False):
    client = smtplib.SMTP("127.0.0.1", server.port, local_hostname="phone",
                          timeout=30)
    server.clients.append(client)
    if tls:
        client.starttls(context=ssl.create_default_context(
            cafile=str(server.cert)))
    client.ehlo("phone")
    code, text = digest_md5(client)
    assert (code, text) == (235, "2.7.0 Authentication successful")
    return client


def test_ehlo_lists_exactly_the_extensions(make_smtpd):
    server = make_smtpd(tls=True)
    raw = server.raw()
    assert raw.greeting == ["220 %s ESMTP vvm ready" % HOST]
    before = raw.command("EHLO phone.example")
    assert before == ["250-" + HOST] + ["250-" + e for e in EXTENSIONS] + [
        "250-STARTTLS", "250-AUTH DIGEST-MD5", "250 HELP"]
    raw.starttls(server.cert)
    after = raw.command("EHLO phone.example")
    assert after == ["250-" + HOST] + ["250-" + e for e in EXTENSIONS] + [
        "250-AUTH DIGEST-MD5 SCRAM-SHA-256 PLAIN LOGIN", "250 HELP"]
    assert raw.code("QUIT") == "221 2.0.0 Bye"


def test_cram_md5_by_config(make_smtpd):
    server = make_smtpd(smtp={"cram_md5": "true"})
    raw = server.raw()
    assert "250-AUTH DIGEST-MD5 CRAM-MD5" in raw.command("EHLO x")


def test_parallel_auths_with_the_right_password_all_succeed(make_smtpd):
    """More AUTHs of one subscriber at once than failures are allowed:
    they take turns to check, shared with IMAP, and none is refused."""
    server = make_smtpd(smtp={"cram_md5": "true"})
    clients = [server.raw() for _ in range(16)]
    challenges = []
    for client in clients:
        client.command("EHLO pbx")
        reply = client.code("AUTH CRAM-MD5")
        assert reply.startswith("334 "), reply
        challenges.append(base64.b64decode(reply[4:]))
    for client, challenge in zip(clients, challenges):
        digest = hmac.new(SMTP_PASSWORD.encode(), challenge,
                          hashlib.md5).hexdigest()
        client.send(base64.b64encode(
            ("%s %s" % (SENDER, digest)).encode()).decode() + "\r\n")
    assert [client.reply() for client in clients] == \
        [["235 2.7.0 Authentication successful"]] * 16


def test_starttls_digest_md5_and_example_j_read_back_over_imap(make_smtpd):
    server = make_smtpd(tls=True, imap=True)
    client = logged_in(server, tls=True)
    message = voice(to=(RCPT2,))
    refused = client.sendmail(address(SENDER), [address(RCPT2)], message)
    assert refused == {}
    client.quit()

    imap = server.imap_login(RCPT2)
    imap.select("INBOX")
    typ, data = imap.uid("FETCH", "1", "(BODY.PEEK[HEADER.FIELDS (FROM TO "
                         "DATE MESSAGE-CONTEXT CONTENT-DURATION IMPORTANCE "
                         "EXPIRES MESSAGE-ID)] BODY.PEEK[2] BODY.PEEK[2.MIME])")
    assert typ == "OK"
    header, part, mime = data[0][1], data[1][1], data[2][1]
    sent = email.message_from_bytes(message, policy=email.policy.compat32)
    got = email.message_from_bytes(header, policy=email.policy.compat32)
    for name in ("From", "To", "Date", "Message-Context", "Content-Duration",
                 "Importance", "Expires", "Message-ID"):
        assert got[name] == sent[name], name
    attachment = sent.get_payload()[1]
    assert part.replace(b"\r\n", b"") == \
        attachment.get_payload().replace("\r\n", "").encode()
    assert b"Content-Duration: 18" in mime
    stored = server.messages(RCPT2)[0]
    assert stored.startswith(b"Return-Path: <%s>\r\nReceived: from phone "
                             b"(127.0.0.1) by %s with ESMTPSA\r\n"
                             % (address(SENDER).encode(), HOST.encode()))
    assert stored.endswith(message)


def test_multi_recipient_partial_failure_and_dsn(make_smtpd):
    server = make_smtpd()
    quota = server.fs.sub(RCPT3) / "profile" / "quota_messages"
    quota.write_text("1")
    server.inbox(RCPT3).joinpath("first.eml").write_bytes(
        voice(to=(RCPT3,)))
    client = logged_in(server)
    recipients = [address(RCPT2), address(RCPT3), address("31600000009")]
    refused = client.sendmail(address(SENDER), recipients,
                              voice(to=(RCPT2, RCPT3)),
                              rcpt_options=["NOTIFY=FAILURE",
                                            "ORCPT=rfc822;" + recipients[1]])
    assert refused == {recipients[2]: (
        550, b"5.1.1 <31600000009@example.com>: Recipient address "
             b"rejected: no such subscriber")}
    assert len(server.messages(RCPT2)) == 1
    assert len(server.messages(RCPT3)) == 1, "nothing past the quota"

    dsns = server.messages(SENDER)
    assert len(dsns) == 1
    dsn = email.message_from_bytes(dsns[0], policy=email.policy.compat32)
    assert dsn.get_content_type() == "multipart/report"
    assert dsn.get_param("report-type") == "delivery-status"
    assert dsn["Message-Context"] == "voice-message"
    assert dsn["To"] == address(SENDER)
    assert dsn["From"] == address(RCPT3)
    parts = dsn.get_payload()
    assert [p.get_content_type() for p in parts] == [
        "text/plain", "message/delivery-status", "message/rfc822"]
    status = parts[1].get_payload()
    fields = {}
    for block in status[1:]:
        fields.update(block.items())
    assert fields["Final-Recipient"] == "rfc822; " + address(RCPT3)
    assert fields["Original-Recipient"] == "rfc822; " + address(RCPT3)
    assert fields["Action"] == "failed"
    assert fields["Status"] == "5.2.2"
    assert fields["Diagnostic-Code"].startswith("smtp; 552 5.2.2")
    assert status[0]["Reporting-MTA"] == "dns; " + HOST
    original = parts[2].get_payload()[0]
    assert original["Message-Context"] == "voice-message"


def test_single_recipient_over_quota_is_552_and_nothing_stored(make_smtpd):
    server = make_smtpd()
    (server.fs.sub(RCPT2) / "profile" / "quota_storage_kb").write_text("1")
    client = logged_in(server)
    with pytest.raises(smtplib.SMTPDataError) as e:
        client.sendmail(address(SENDER), [address(RCPT2)], voice())
    assert e.value.smtp_code == 552
    assert e.value.smtp_error.startswith(b"5.2.2 Mailbox full")
    assert server.messages(RCPT2) == []
    assert server.messages(SENDER) == [], "no DSN: the client was told"


def test_success_dsn_on_request(make_smtpd):
    server = make_smtpd()
    client = logged_in(server)
    client.sendmail(address(SENDER), [address(RCPT2)], voice(),
                    mail_options=["RET=HDRS", "ENVID=env+2B1"],
                    rcpt_options=["NOTIFY=SUCCESS,FAILURE"])
    dsn = email.message_from_bytes(server.messages(SENDER)[0],
                                   policy=email.policy.compat32)
    status = dsn.get_payload()[1].get_payload()
    assert status[0]["Original-Envelope-Id"] == "env+1"
    assert status[1]["Action"] == "delivered"
    assert dsn.get_payload()[2].get_content_type() == "text/rfc822-headers"


def test_notify_never_sends_no_dsn(make_smtpd):
    server = make_smtpd()
    (server.fs.sub(RCPT3) / "profile" / "quota_storage_kb").write_text("1")
    client = logged_in(server)
    client.sendmail(address(SENDER), [address(RCPT2), address(RCPT3)],
                    voice(), rcpt_options=["NOTIFY=NEVER"])
    assert len(server.messages(RCPT2)) == 1
    assert server.messages(SENDER) == []


def test_forward_keeps_the_original_as_message_rfc822(make_smtpd):
    server = make_smtpd(imap=True)
    original = voice(sender=RCPT3, to=(SENDER,), subject="the original",
                     boundary="original-boundary")
    forward_part = ("Content-Type: message/rfc822\r\n"
                    "Content-Disposition: inline\r\n\r\n"
                    + original.decode())
    message = voice(to=(RCPT2,), headers="X-CNS-Messaging-Action: forward\r\n",
                    parts=None)
    message = message.replace(
        b"------=_Part_6_16713087.1135179290661--\r\n",
        b"------=_Part_6_16713087.1135179290661\r\n"
        + forward_part.encode()
        + b"------=_Part_6_16713087.1135179290661--\r\n")
    client = logged_in(server)
    assert client.sendmail(address(SENDER), [address(RCPT2)], message) == {}
    imap = server.imap_login(RCPT2)
    imap.select("INBOX")
    typ, data = imap.uid("FETCH", "1", "(BODYSTRUCTURE BODY.PEEK[3])")
    assert typ == "OK"
    assert b'"MESSAGE" "RFC822"' in data[0][0]
    # BODY[3] ends where the delimiter's CRLF begins.
    assert data[0][1] == original[:-2]


def test_forward_of_a_private_message_is_refused(make_smtpd):
    server = make_smtpd()
    original = voice(sender=RCPT3, to=(SENDER,),
                     headers="Sensitivity: Private\r\n",
                     boundary="original-boundary")
    message = voice(headers="X-CNS-Messaging-Action: forward\r\n").replace(
        b"------=_Part_6_16713087.1135179290661--\r\n",
        b"------=_Part_6_16713087.1135179290661\r\n"
        b"Content-Type: message/rfc822\r\n\r\n" + original +
        b"------=_Part_6_16713087.1135179290661--\r\n")
    client = logged_in(server)
    with pytest.raises(smtplib.SMTPDataError) as e:
        client.sendmail(address(SENDER), [address(RCPT2)], message)
    assert (e.value.smtp_code, e.value.smtp_error) == (
        554, b"5.7.1 a private message cannot be forwarded")
    assert server.messages(RCPT2) == []


def test_pipelined_transaction_answers_in_order(make_smtpd):
    server = make_smtpd()
    raw = server.raw()
    raw.command("EHLO phone")
    assert digest_md5(raw)[0] == 235
    raw.send("MAIL FROM:<%s> SIZE=4000\r\nRCPT TO:<%s>\r\n"
             "RCPT TO:<31600000009@%s>\r\nRCPT TO:<%s>\r\nDATA\r\n"
             % (address(SENDER), address(RCPT2), DOMAIN, address(RCPT3)))
    assert [raw.reply() for _ in range(5)] == [
        ["250 2.1.0 Ok"], ["250 2.1.5 Ok"],
        ["550 5.1.1 <31600000009@example.com>: Recipient address rejected: "
         "no such subscriber"],
        ["250 2.1.5 Ok"], ["354 End data with <CR><LF>.<CR><LF>"]]
    raw.send(voice() + b".\r\nRSET\r\nNOOP\r\nQUIT\r\n")
    assert raw.reply()[0].startswith("250 2.0.0 Ok: stored as ")
    assert raw.reply() == ["250 2.0.0 Ok"]
    assert raw.reply() == ["250 2.0.0 Ok"]
    assert raw.reply() == ["221 2.0.0 Bye"]
    assert len(server.messages(RCPT2)) == len(server.messages(RCPT3)) == 1


def test_bdat_chunks(make_smtpd):
    server = make_smtpd()
    raw = server.raw()
    raw.command("EHLO phone")
    assert digest_md5(raw)[0] == 235
    message = voice()
    half = len(message) // 2
    raw.send("MAIL FROM:<%s> BODY=8BITMIME\r\nRCPT TO:<%s>\r\n"
             % (address(SENDER), address(RCPT2)))
    assert raw.reply() == ["250 2.1.0 Ok"] and raw.reply() == ["250 2.1.5 Ok"]
    raw.send(b"BDAT %d\r\n" % half + message[:half])
    assert raw.reply() == ["250 2.0.0 %d octets received" % half]
    raw.send(b"BDAT %d LAST\r\n" % (len(message) - half) + message[half:])
    assert raw.reply()[0].startswith("250 2.0.0 Ok: stored as ")
    assert server.messages(RCPT2)[0].endswith(message)
    assert raw.code("DATA") == "503 5.5.1 Error: need MAIL command"


def test_size_over_the_limit(make_smtpd):
    server = make_smtpd(smtp={"max_message_size": "800"})
    assert len(voice()) > 800
    raw = server.raw()
    assert "250-SIZE 800" in raw.command("EHLO phone")
    assert digest_md5(raw)[0] == 235
    assert raw.code("MAIL FROM:<%s> SIZE=801" % address(SENDER)) == \
        "552 5.3.4 Message size exceeds fixed limit"
    # A client that does not announce the size is stopped after DATA.
    assert raw.code("MAIL FROM:<%s>" % address(SENDER)) == "250 2.1.0 Ok"
    assert raw.code("RCPT TO:<%s>" % address(RCPT2)) == "250 2.1.5 Ok"
    assert raw.code("DATA").startswith("354 ")
    raw.send(voice() + b".\r\n")
    assert raw.reply() == ["552 5.3.4 Message size exceeds fixed limit"]
    assert server.messages(RCPT2) == []
    assert raw.code("NOOP") == "250 2.0.0 Ok"


@pytest.mark.parametrize("mangle, reply", [
    (lambda m: m.replace(b"------=_Part_6_16713087.1135179290661--\r\n", b""),
     b"5.6.0 malformed MIME"),
    (lambda m: m.replace(b"Message-Context: voice-message",
                         b"Message-Context: fax-message"),
     b"5.6.1 only voice messages can be deposited"),
    (lambda m: m.replace(b"Content-Duration: 18\r\nExpires",
                         b"Expires"),
     b"5.6.0 no Content-Duration"),
    (lambda m: m.replace(b"From: 31612345678@", b"From: 31600000001@"),
     b"5.7.1 From does not match the authenticated subscriber"),
    (lambda m: m.replace(b"Content-Transfer-Encoding: base64",
                         b"Content-Transfer-Encoding: 7bit"),
     b"5.6.0 voice attachment 2 is not base64"),
])
def test_refused_deposits_store_nothing(make_smtpd, mangle, reply):
    server = make_smtpd()
    client = logged_in(server)
    with pytest.raises(smtplib.SMTPDataError) as e:
        client.sendmail(address(SENDER), [address(RCPT2)], mangle(voice()))
    assert e.value.smtp_code in (550, 554)
    assert e.value.smtp_error.startswith(reply), e.value.smtp_error
    assert server.messages(RCPT2) == []
    assert client.noop()[0] == 250, "the session goes on"


def test_bad_sequences(make_smtpd):
    server = make_smtpd()
    raw = server.raw()
    assert raw.code("MAIL FROM:<%s>" % address(SENDER)) == \
        "503 5.5.1 Error: send HELO/EHLO first"
    raw.command("EHLO phone")
    assert raw.code("MAIL FROM:<%s>" % address(SENDER)) == \
        "530 5.7.0 Authentication required"
    assert raw.code("RCPT TO:<%s>" % address(RCPT2)) == \
        "503 5.5.1 Error: need MAIL command"
    assert raw.code("DATA") == "503 5.5.1 Error: need MAIL command"
    assert digest_md5(raw)[0] == 235
    assert raw.code("AUTH DIGEST-MD5") == \
        "503 5.5.1 Error: already authenticated"
    assert raw.code("MAIL FROM:<%s>" % address(SENDER)) == "250 2.1.0 Ok"
    assert raw.code("MAIL FROM:<%s>" % address(SENDER)) == \
        "503 5.5.1 Error: nested MAIL command"
    assert raw.code("DATA") == "554 5.5.1 Error: no valid recipients"
    assert raw.code("RSET") == "250 2.0.0 Ok"
    assert raw.code("VRFY %s" % address(RCPT2)).startswith("252 2.5.2 ")
    assert raw.code("EXPN list") == "502 5.5.1 Error: EXPN not supported"
    assert raw.command("HELP")[-1] == "214 2.0.0 End of HELP info"
    assert raw.code("FOO") == "500 5.5.2 Error: command not recognized"
    assert raw.code("MAIL FROM:<a b@c>") == \
        "501 5.1.7 Bad sender address syntax"


def test_auth_failures_and_throttling_shared_with_imap(make_smtpd):
    server = make_smtpd(tls=True, imap=True,
                        imap_config={"login_failures_max": "3"})
    raw = server.raw()
    raw.command("EHLO phone")
    assert raw.code("AUTH PLAIN " + base64.b64encode(
        b"\0%s\0%s" % (SENDER.encode(), SMTP_PASSWORD.encode())).decode()) \
        == "538 5.7.11 Encryption required for requested authentication " \
           "mechanism"
    assert raw.code("AUTH NTLM") == "504 5.5.4 Unrecognized authentication type"
    assert raw.code("AUTH DIGEST-MD5 !!!").startswith("501 5.5.2 ")
    assert raw.code("AUTH DIGEST-MD5").startswith("334 ")
    assert raw.code("*") == "501 5.7.0 Authentication aborted"
    for _ in range(3):
        assert digest_md5(raw, password="wrong") == (
            535, "5.7.8 Authentication credentials invalid")
    assert digest_md5(raw, password=SMTP_PASSWORD) == (
        454, "4.7.0 Too many failed authentications, try again later")
    # The count lives in vvmfs: IMAP refuses the right password too.
    with pytest.raises(imaplib.IMAP4.error) as e:
        server.imap_login(SENDER)
    assert "too many failed logins" in str(e.value)


def test_refused_by_provisioning_status(make_smtpd):
    server = make_smtpd()
    (server.fs.sub(SENDER) / "profile" / "status").write_text("B")
    raw = server.raw()
    raw.command("EHLO phone")
    assert digest_md5(raw) == (535, "5.7.1 user is blocked")
    raw.command("QUIT")
    raw = server.raw()
    raw.command("EHLO phone")
    (server.fs.sub(SENDER) / "profile" / "status").write_text("R")
    assert digest_md5(raw)[0] == 235
    assert raw.code("MAIL FROM:<%s>" % address(SENDER)) == "250 2.1.0 Ok"
    assert raw.code("RCPT TO:<%s>" % address(RCPT2)) == "250 2.1.5 Ok"
    (server.fs.sub(RCPT3) / "profile" / "status").write_text("B")
    assert raw.code("RCPT TO:<%s>" % address(RCPT3)) == \
        "550 5.2.1 <%s>: Mailbox disabled" % address(RCPT3)


def test_plain_after_starttls_and_implicit_tls(make_smtpd):
    server = make_smtpd(tls=True)
    client = smtplib.SMTP("127.0.0.1", server.port, timeout=30)
    server.clients.append(client)
    client.starttls(context=ssl.create_default_context(
        cafile=str(server.cert)))
    client.login(SENDER, SMTP_PASSWORD)
    assert client.sendmail(address(SENDER), [address(RCPT2)], voice()) == {}

    implicit = make_smtpd(implicit_tls=True)
    client = smtplib.SMTP_SSL("127.0.0.1", implicit.port, timeout=30,
                              context=ssl.create_default_context(
                                  cafile=str(implicit.cert)))
    implicit.clients.append(client)
    client.login(SENDER, SMTP_PASSWORD)
    assert client.sendmail(address(SENDER), [address(RCPT2)], voice()) == {}
    assert len(implicit.messages(RCPT2)) == 1


def test_starttls_refuses_pipelined_plaintext(make_smtpd):
    server = make_smtpd(tls=True)
    raw = server.raw()
    raw.command("EHLO phone")
    raw.send("STARTTLS\r\nMAIL FROM:<%s>\r\n" % address(SENDER))
    assert raw.reply() == ["554 5.5.1 Error: commands pipelined after "
                           "STARTTLS"]
    assert raw.closed()


def test_limits_line_length_errors_and_recipients(make_smtpd):
    server = make_smtpd(smtp={"max_recipients": "2", "max_errors": "4"})
    raw = server.raw()
    raw.command("EHLO phone")
    assert raw.code("NOOP " + "x" * 20000) == "500 5.5.6 Line too long"
    assert raw.code("NOOP") == "250 2.0.0 Ok", "the rest of it was dropped"
    assert digest_md5(raw)[0] == 235
    raw.code("MAIL FROM:<%s>" % address(SENDER))
    raw.code("RCPT TO:<%s>" % address(RCPT2))
    raw.code("RCPT TO:<%s>" % address(RCPT3))
    assert raw.code("RCPT TO:<%s>" % address(SENDER)) == \
        "452 4.5.3 Error: too many recipients"
    raw.code("FOO")
    assert raw.code("BAR") == "500 5.5.2 Error: command not recognized"
    assert raw.reply() == ["421 4.7.0 %s Error: too many errors" % HOST]
    assert raw.closed()


def test_idle_timeout(make_smtpd):
    server = make_smtpd(smtp={"idle_timeout": "1"})
    raw = server.raw()
    time.sleep(1.5)
    assert raw.reply() == ["421 4.4.2 %s Error: timeout exceeded" % HOST]
    assert raw.closed()


def transaction(server):
    """A raw session, authenticated, in DATA for one recipient."""
    raw = server.raw()
    raw.command("EHLO phone")
    assert digest_md5(raw)[0] == 235
    raw.code("MAIL FROM:<%s>" % address(SENDER))
    raw.code("RCPT TO:<%s>" % address(RCPT2))
    assert raw.code("DATA").startswith("354")
    return raw


DOTTED = voice(parts=[
    "Content-Type: text/plain\r\n\r\n..leading dot\r\n.\r\n",
    ("Content-Type: audio/amr\r\nContent-Transfer-Encoding: base64\r\n"
     "Content-Disposition: attachment; filename=\"a.amr\"\r\n"
     "Content-Duration: 0\r\n\r\nIyFBTVIK\r\n")])


def test_dot_stuffing_is_undone(make_smtpd):
    server = make_smtpd()
    raw = transaction(server)
    # What a client sends: every line starting with "." gets another.
    stuffed = DOTTED.replace(b"\r\n.", b"\r\n..")
    raw.send(stuffed + b".\r\n")
    assert raw.reply()[0].startswith("250 2.0.0 ")
    assert server.messages(RCPT2)[0].endswith(DOTTED)


def test_only_crlf_dot_crlf_ends_data(make_smtpd):
    server = make_smtpd()
    raw = transaction(server)
    # "\n.\r\n" and "\r\n.\n" are message text, not the end (SMTP
    # smuggling): the commands after them are not run.
    smuggled = DOTTED.replace(
        b"..leading dot\r\n.\r\n",
        b"x\n.\r\nMAIL FROM:<x@y>\r\n.\nRSET\r\n")
    raw.send(smuggled + b".\r\n")
    assert raw.reply() == ["554 5.6.0 bare LF in message"]
    assert raw.code("NOOP") == "250 2.0.0 Ok"
    assert server.messages(RCPT2) == []


def test_subject_override(make_smtpd):
    server = make_smtpd(smtp={"subject": "Voice message"})
    client = logged_in(server)
    client.sendmail(address(SENDER), [address(RCPT2)],
                    voice(subject="client's own"))
    stored = server.messages(RCPT2)[0]
    assert b"\r\nSubject: Voice message\r\n" in stored
    assert b"client's own" not in stored


def test_swaks_starttls_digest_md5_deposit(make_smtpd, tmp_path):
    """A second, independent client: swaks (Perl's Authen::SASL) with
    STARTTLS and DIGEST-MD5, as the spec's Example B."""
    server = make_smtpd(tls=True)
    message = tmp_path / "voice.eml"
    message.write_bytes(voice())
    out = subprocess.run(
        ["swaks", "--server", "127.0.0.1:%d" % server.port, "--tls",
         "--tls-ca-path", str(server.cert), "--auth", "DIGEST-MD5",
         "--auth-user", SENDER, "--auth-password", SMTP_PASSWORD,
         "--from", address(SENDER), "--to", address(RCPT2),
         "--data", "@%s" % message, "--timeout", "30"],
        capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "<~  235 2.7.0 Authentication successful" in out.stdout
    assert "<~  250 2.0.0 Ok: stored as " in out.stdout
    assert voice() in server.messages(RCPT2)[0]


def test_postmaster_and_session_limit(make_smtpd):
    # vvmfs reads [smtp] max_sessions from the same file.
    server = make_smtpd(smtp={"postmaster": RCPT3, "domains": DOMAIN,
                              "max_sessions": "1"})
    raw = server.raw()
    raw.command("EHLO phone")
    assert digest_md5(raw)[0] == 235
    # A second authenticated session of the same subscriber is refused.
    other = server.raw()
    other.command("EHLO phone")
    assert digest_md5(other) == (
        454, "4.7.0 Too many sessions for this subscriber")
    assert raw.code("MAIL FROM:<%s>" % address(SENDER)) == "250 2.1.0 Ok"
    assert raw.code("RCPT TO:<Postmaster>") == "250 2.1.5 Ok"
    assert raw.code("RCPT TO:<postmaster@%s>" % DOMAIN) == "250 2.1.5 Ok"
    assert raw.code("RCPT TO:<%s@elsewhere.net>" % RCPT2) == \
        "550 5.1.2 <%s@elsewhere.net>: Recipient domain not served here" \
        % RCPT2
    assert raw.code("DATA").startswith("354 ")
    raw.send(voice() + b".\r\n")
    assert raw.reply()[0].startswith("250 2.0.0 ")
    assert len(server.messages(RCPT3)) == 1, "one copy for both names"


def test_malformed_bdat_closes_the_connection(make_smtpd):
    server = make_smtpd()
    raw = server.raw()
    raw.command("EHLO phone")
    # The chunk's bytes must never run as commands.
    raw.send("BDAT 12 LASTX\r\nNOOP\r\nQUIT\r\n")
    assert raw.reply() == ["421 4.5.0 %s Error: malformed BDAT, closing"
                           % HOST]
    assert raw.closed()
    raw = server.raw()
    raw.command("EHLO phone")
    assert raw.code("BDAT 99999999999") == \
        "421 4.5.0 %s Error: BDAT out of sequence, closing" % HOST
    assert raw.closed()


def test_junk_commands_count_past_a_hundred(make_smtpd):
    server = make_smtpd(smtp={"max_errors": "3"})
    raw = server.raw()
    raw.command("EHLO phone")
    raw.send("NOOP\r\n" * 102)
    replies = [raw.reply() for _ in range(102)]
    assert replies == [["250 2.0.0 Ok"]] * 102
    assert raw.code("NOOP") == "250 2.0.0 Ok"
    assert raw.reply() == ["421 4.7.0 %s Error: too many errors" % HOST]
    assert raw.closed()


def test_starttls_after_auth_is_refused(make_smtpd):
    server = make_smtpd(tls=True)
    raw = server.raw()
    raw.command("EHLO phone")
    assert digest_md5(raw)[0] == 235
    assert "250-STARTTLS" not in raw.command("EHLO phone")
    assert raw.code("STARTTLS") == "503 5.5.1 Error: STARTTLS after AUTH"


def test_config_errors_and_tls_keys_from_imap(make_smtpd):
    server = make_smtpd()
    bad = server.root / "bad.conf"
    bad.write_text(server.config.read_text().replace(
        "[smtp]\n", "[smtp]\nmax_message_size = 10M\n"))
    out = subprocess.run([str(SMTPD), "-c", str(bad)], capture_output=True,
                         text=True, stdin=subprocess.DEVNULL, timeout=20)
    assert out.returncode == 1
    # (text mode turns the CRLF into "\n")
    assert out.stdout == "421 4.3.0 Service not available: configuration " \
                         "error\n"
    assert "[smtp] max_message_size: '10M' is not a number" in out.stderr
    # Each TLS key falls back to [imap]'s on its own.
    cert, key = make_cert(server.root)
    mixed = server.root / "mixed.conf"
    mixed.write_text(server.config.read_text()
                     .replace("[smtp]\n", "[smtp]\ntls = implicit\n")
                     .replace("[imap]\n", "[imap]\ntls_cert = %s\n"
                              "tls_key = %s\n" % (cert, key)))
    ctx = ssl.create_default_context(cafile=str(cert))
    ours, theirs = socket.socketpair()
    proc = subprocess.Popen([str(SMTPD), "-c", str(mixed)], stdin=theirs,
                            stdout=theirs)
    theirs.close()
    try:
        ours.settimeout(20)
        tls = ctx.wrap_socket(ours, server_hostname="localhost")
        assert tls.recv(100).startswith(b"220 %s ESMTP" % HOST.encode())
        tls.sendall(b"QUIT\r\n")
        assert tls.recv(100) == b"221 2.0.0 Bye\r\n"
        assert proc.wait(timeout=20) == 0
    finally:
        ours.close()
