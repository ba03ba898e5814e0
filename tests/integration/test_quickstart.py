"""The README's quick start: `tools/vvm up` brings the service up (mount,
IMAP, SMTP, LMTP, vvm-smsd, a demo subscriber), `tools/vvm status` says
how to reach it, and it works as it says: the demo credentials log in
over IMAP with STARTTLS, and the STATUS and SYNC SMS a phone would get
land in var/sms.log. Every hint `up` prints under "Next:" runs as printed
and does what its comment says; the last one, `tools/vvm down`, stops all
of it."""
import email
import email.policy
import imaplib
import os
import re
import socket
import ssl
import subprocess
import time

from conftest import BUILD, TOP, is_mounted, voice_message, deposit

VVM = TOP / "tools" / "vvm"
EXAMPLE = TOP / "docs" / "examples" / "voice.eml"


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


def hints(text):
    """The hints under "Next:" in what `up` printed: (comment, command)
    pairs, a command with its continuation lines."""
    lines = [line.strip() for line in text.split("\nNext:\n", 1)[1]
             .splitlines() if line.strip()]
    pairs = []
    while lines:
        comment = lines.pop(0)
        assert comment.startswith("# "), comment
        command = [lines.pop(0)]
        while command[-1].endswith("\\"):
            command.append(lines.pop(0))
        pairs.append((comment[2:], "\n".join(command)))
    return pairs


def uids(inbox):
    return sorted(int(name.split(".")[0]) for name in os.listdir(inbox))


def subject(path):
    with open(path, "rb") as f:
        return email.message_from_binary_file(
            f, policy=email.policy.default)["Subject"]


class HintChecks:
    """What each hint says it does, checked against what it did: a method
    per hint, in the order printed, named by the hint's comment."""

    def __init__(self, state, demo):
        self.state = state
        self.demo = demo
        self.sub = state / "mnt" / demo
        self.inbox = self.sub / "INBOX"
        self.before = None

    def before_each(self):
        self.before = uids(self.inbox)

    def new_message(self):
        """The one message the hint deposited."""
        after = uids(self.inbox)
        assert after[:-1] == self.before, (self.before, after)
        return self.inbox / ("%d.eml" % after[-1])

    def checks(self):
        return {
            "the demo subscriber's mailboxes, as directories": self.mailboxes,
            "deposit a voice message by copying it in": self.copied,
            "the INBOX's messages: UID, size, arrival, flags": self.vvmadm_ls,
            "the same messages over IMAP with STARTTLS: UID, flags, envelope":
                self.imap_list,
            "an IMAP session with STARTTLS, to type commands into "
            "(a LOGIN ...)": self.imap_session,
            "deposit a voice message as an MTA does, over LMTP": self.lmtp,
            "send one as the demo subscriber's phone does: SMTP, STARTTLS, "
            "AUTH": self.smtp,
            "the STATUS and SYNC SMS a phone would have got": self.sms_log,
            "stop and unmount": self.down,
        }

    def mailboxes(self, out):
        assert sorted(out.split()) == sorted(os.listdir(self.sub))
        assert {"INBOX", "Greetings"} <= set(out.split())

    def copied(self, out):
        assert self.new_message().read_bytes() == EXAMPLE.read_bytes()

    def vvmadm_ls(self, out):
        rows = [line.split("\t") for line in out.splitlines()]
        assert [int(r[0]) for r in rows] == self.before, out
        for r in rows:
            size = (self.inbox / ("%s.eml" % r[0])).stat().st_size
            assert int(r[1]) == size and r[2].endswith("Z"), r

    def imap_list(self, out):
        listed = re.findall(r"^\* \d+ FETCH \(UID (\d+) FLAGS \([^)]*\) "
                            r"ENVELOPE \(", out, re.M)
        assert [int(u) for u in listed] == self.before, out
        assert subject(EXAMPLE) in out

    def imap_session(self, out):
        assert "Verify return code: 0 (ok)" in out, out

    def lmtp(self, out):
        assert subject(self.new_message()) == subject(EXAMPLE)

    def smtp(self, out):
        with open(self.new_message(), "rb") as f:
            sent = email.message_from_binary_file(f)
        assert sent.get_all("From") == [self.demo + "@localhost"]
        assert sent["Subject"] == subject(EXAMPLE)

    def sms_log(self, out):
        assert re.search(r"//VVM:STATUS:st=R;", out), out
        for uid in self.before:
            assert ":SYNC:ev=NM;id=%d;" % uid in out, (uid, out)

    def down(self, out):
        assert not is_mounted(self.state / "mnt")

    def wait(self, comment):
        """What a hint shows may come after the one before returned: the
        SYNC SMS of its deposits."""
        if comment.startswith("the STATUS and SYNC SMS"):
            log = self.state / "sms.log"
            wait_for(lambda: all(":SYNC:ev=NM;id=%d;" % uid in log.read_text()
                                 for uid in uids(self.inbox)))


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
        # The deployment's default quota, in the spec's multi-resource
        # form with the voice resource a phone shows.
        typ, data = imap.getquotaroot("INBOX")
        assert typ == "OK", data
        quota = data[1][0].decode()
        assert re.fullmatch(r'"" \(STORAGE 0 51200 STORAGE-soft 0 46080 '
                            r'MESSAGE 0 100 MESSAGE-soft 0 90 '
                            r'voice 0 3600 voice-soft 0 3240 '
                            r'x-voice-greeting 0 300 '
                            r'x-voice-greeting-soft 0 270\)', quota), quota
        imap.logout()

        # The STATUS the demo subscriber got, with its credentials, then
        # the SYNC of a deposit.
        log = state / "sms.log"
        wait_for(lambda: log.exists() and "st=R" in log.read_text())
        assert ";pw=%s;" % password in log.read_text()
        uid = deposit(mnt / demo / "INBOX", voice_message(1))
        wait_for(lambda: ":SYNC:ev=NM;id=%d;" % uid in log.read_text())

        # Every hint, as printed, from elsewhere than the top of the tree.
        checks = HintChecks(state, demo)
        printed = hints(up.stdout)
        assert [comment for comment, _ in printed] == list(checks.checks())
        for comment, command in printed:
            checks.wait(comment)
            checks.before_each()
            r = subprocess.run(["bash", "-c", command], env=env,
                               cwd=tmp_path, stdin=subprocess.DEVNULL,
                               capture_output=True, text=True, timeout=120)
            assert r.returncode == 0, (command, r.stdout, r.stderr)
            checks.checks()[comment](r.stdout)
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
