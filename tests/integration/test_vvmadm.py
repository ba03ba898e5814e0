"""vvmadm through a real mount: every subcommand, its output, its exit
status (0 ok, 1 refused or failed, 2 usage) and its error reports
(docs/vvmadm.1.md), checked against what the mount itself says.
"""
import os
import re
import select
import shutil
import signal
import subprocess
import time
from pathlib import Path

from conftest import MSISDN, VVMADM, voice_message

OTHER = "31687654321"


def adm(fs, *args, env=None, input=None):
    """Runs vvmadm on the test's mount; returns the CompletedProcess."""
    return subprocess.run([str(VVMADM), "-m", str(fs.mnt)] + list(args),
                          capture_output=True, text=True, env=env,
                          input=input, timeout=60)


def ok(fs, *args):
    r = adm(fs, *args)
    assert r.returncode == 0, "vvmadm %s: %d %s" % (args, r.returncode,
                                                     r.stderr)
    return r.stdout


def failed(fs, *args, status=1):
    r = adm(fs, *args)
    assert r.returncode == status, "vvmadm %s: %d %s%s" % (
        args, r.returncode, r.stdout, r.stderr)
    assert r.stderr.startswith("vvmadm: "), r.stderr
    return r.stderr


def xattr(path, name):
    return os.getxattr(path, name).decode().rstrip("\n")


def uids(mailbox):
    return sorted(int(n[:-4]) for n in os.listdir(mailbox)
                  if re.fullmatch(r"[1-9][0-9]*\.eml", n))


def ls(fs, *args):
    """vvmadm ls as {uid: (size, date, flags)}."""
    out = {}
    for line in ok(fs, "ls", *args).splitlines():
        uid, size, date, flags = line.split("\t")
        out[int(uid)] = (int(size), date, flags)
    return out


def profile(fs, msisdn, *extra):
    return dict(line.split("=", 1)
                for line in ok(fs, "get", msisdn, *extra).splitlines())


def write_message(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def snapshot(mailbox):
    """uid -> (bytes, flags, mtime) of every message in a mailbox."""
    return {uid: ((mailbox / ("%d.eml" % uid)).read_bytes(),
                  xattr(mailbox / ("%d.eml" % uid), "user.imap.flags"),
                  int((mailbox / ("%d.eml" % uid)).stat().st_mtime))
            for uid in uids(mailbox)}


# --- usage -----------------------------------------------------------------

def test_usage_errors(vvmfs):
    assert adm(vvmfs).returncode == 2
    assert adm(vvmfs, "frobnicate").returncode == 2
    assert adm(vvmfs, "ls").returncode == 2
    assert adm(vvmfs, "get", MSISDN, "a", "b").returncode == 2
    assert adm(vvmfs, "deliver", MSISDN, "--bogus", "f").returncode == 2
    assert adm(vvmfs, "expunge", MSISDN, "INBOX", "x").returncode == 2
    # Arguments that would leave the mount are refused before any call.
    assert adm(vvmfs, "ls", "../..").returncode == 2
    assert adm(vvmfs, "ls", MSISDN, "../profile").returncode == 2
    assert "COMMAND" in ok(vvmfs, "--help")


def test_mount_from_environment(vvmfs, subscriber):
    env = dict(os.environ, VVM_MOUNT=str(vvmfs.mnt))
    r = subprocess.run([str(VVMADM), "subscribers"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout == MSISDN + "\n"


# --- subscribers and profiles -----------------------------------------------

def test_provision_get_set(vvmfs):
    ok(vvmfs, "provision", MSISDN, "status=R", "language=nl",
       "tui_password=4321", "imap_password=s3cret")
    sub = vvmfs.sub()
    assert (sub / "profile" / "status").read_text() == "R\n"
    assert sorted(os.listdir(sub)) == ["Greetings", "INBOX", "profile"]

    values = profile(vvmfs, MSISDN)
    assert values["status"] == "R"
    assert values["language"] == "nl"
    assert values["imap_user"] == MSISDN
    assert values["client_prefix"] == "//VVM"
    # Secrets stay out unless asked for.
    assert "tui_password" not in values and "imap_password" not in values
    assert "s3cret" not in ok(vvmfs, "get", MSISDN)
    secrets = profile(vvmfs, MSISDN, "--secrets")
    assert secrets["tui_password"] == "4321"
    assert secrets["imap_password"] == "s3cret"
    assert ok(vvmfs, "get", MSISDN, "status") == "R\n"
    assert "4321" not in failed(vvmfs, "get", MSISDN, "tui_password")
    assert ok(vvmfs, "get", MSISDN, "tui_password", "--secrets") == "4321\n"

    ok(vvmfs, "set", MSISDN, "status=B", "app_port=5499",
       "options=a b=c")
    assert ok(vvmfs, "get", MSISDN, "status") == "B\n"
    assert (sub / "profile" / "app_port").read_text() == "5499\n"
    assert ok(vvmfs, "get", MSISDN, "options") == "a b=c\n"

    # A refused value leaves the old one; the valid ones still apply.
    err = failed(vvmfs, "set", MSISDN, "status=X", "language=de")
    assert "vvmadm: set status: invalid value\n" in err
    assert ok(vvmfs, "get", MSISDN, "status") == "B\n"
    assert ok(vvmfs, "get", MSISDN, "language") == "de\n"
    err = failed(vvmfs, "set", MSISDN, "tui_password=12ab")
    assert err == "vvmadm: set tui_password: invalid value\n"
    assert profile(vvmfs, MSISDN, "--secrets")["tui_password"] == "4321"

    assert "No such file" in failed(vvmfs, "set", MSISDN, "nosuchkey=1")
    assert adm(vvmfs, "set", MSISDN, "status").returncode == 2
    assert "No such file" in failed(vvmfs, "get", OTHER)


def test_provision_refusals(vvmfs):
    # vvmfs refuses the name; vvmadm says why in the common format.
    err = failed(vvmfs, "provision", "0612345678")
    assert err.startswith("vvmadm: provision 0612345678: Invalid argument")
    assert failed(vvmfs, "provision", "+31612345678", status=2)
    ok(vvmfs, "provision", MSISDN)
    assert "File exists" in failed(vvmfs, "provision", MSISDN)
    # A bad value undoes the provisioning, so the line can be rerun.
    err = failed(vvmfs, "provision", OTHER, "status=R", "app_port=99999")
    assert "vvmadm: set app_port: invalid value" in err
    assert not vvmfs.sub(OTHER).exists()
    ok(vvmfs, "provision", OTHER, "status=R", "app_port=9999")
    assert ok(vvmfs, "subscribers") == "%s\n%s\n" % (MSISDN, OTHER)


def test_mailboxes_and_quota(vvmfs, subscriber, tmp_path):
    ok(vvmfs, "set", MSISDN, "quota_messages=2", "quota_voice_seconds=100")
    (subscriber / "Saved").mkdir()
    msg = write_message(tmp_path, "m", voice_message(1, duration=7))
    ok(vvmfs, "deliver", MSISDN, msg)
    rows = {}
    for line in ok(vvmfs, "mailboxes", MSISDN).splitlines():
        name, *numbers = line.split("\t")
        rows[name] = [int(n) for n in numbers]
    assert sorted(rows) == ["Greetings", "INBOX", "Saved"]
    for name, row in rows.items():
        box = subscriber / name
        assert row == [int(xattr(box, "user.imap." + a)) for a in
                       ("messages", "unseen", "uidnext", "uidvalidity",
                        "highestmodseq")]
    assert rows["INBOX"][:3] == [1, 1, 2]
    assert rows["Saved"][:3] == [0, 0, 1]

    quota = dict((line.split()[0], line.split()[1:])
                 for line in ok(vvmfs, "quota", MSISDN).splitlines())
    assert quota["messages"] == ["1", "2"]
    assert quota["voice_seconds"] == ["7", "100"]
    assert ok(vvmfs, "quota", MSISDN).rstrip("\n") == \
        xattr(subscriber, "user.vvm.quota")

    ok(vvmfs, "deliver", MSISDN, msg)
    err = failed(vvmfs, "deliver", MSISDN, msg)
    assert "Disk quota exceeded (" in err
    assert "No such file" in failed(vvmfs, "mailboxes", OTHER)


# --- messages -----------------------------------------------------------------

def test_deliver_ls_flags_move_expunge(vvmfs, subscriber, tmp_path):
    data = voice_message(1)
    first = write_message(tmp_path, "one.eml", data)
    second = write_message(tmp_path, "two.eml", voice_message(2))
    out = ok(vvmfs, "deliver", MSISDN, first, second, "--flags", "\\Flagged")
    assert out == "%s/INBOX/1\n%s/INBOX/2\n" % (MSISDN, MSISDN)
    inbox = subscriber / "INBOX"
    assert (inbox / "1.eml").read_bytes() == data
    assert xattr(inbox / "1.eml", "user.imap.flags") == "\\Flagged"

    listing = ls(vvmfs, MSISDN)
    assert sorted(listing) == [1, 2]
    size, date, flags = listing[1]
    assert size == len(data) and flags == "\\Flagged"
    mtime = int((inbox / "1.eml").stat().st_mtime)
    assert date == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(mtime))
    assert ls(vvmfs, MSISDN, "INBOX") == listing

    # Standard input, another mailbox, and several flags.
    out = subprocess.run([str(VVMADM), "-m", str(vvmfs.mnt), "deliver",
                          MSISDN, "-", "--mailbox", "Greetings", "--flags",
                          "\\Seen $CNS-Greeting-On"],
                         input=voice_message(3), capture_output=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout == ("%s/Greetings/1\n" % MSISDN).encode()
    assert xattr(subscriber / "Greetings" / "1.eml",
                 "user.imap.flags") == "\\Seen $CNS-Greeting-On"

    assert ok(vvmfs, "flags", MSISDN, "INBOX", "1", "+\\Seen") == \
        "\\Flagged \\Seen\n"
    assert ok(vvmfs, "flags", MSISDN, "INBOX", "1", "-\\Flagged") == \
        "\\Seen\n"
    assert ok(vvmfs, "flags", MSISDN, "INBOX", "1", "\\Answered",
              "\\Seen") == "\\Answered \\Seen\n"
    assert ok(vvmfs, "flags", MSISDN, "INBOX", "1") == "\\Answered \\Seen\n"
    assert ok(vvmfs, "flags", MSISDN, "INBOX", "2", "--", "-\\Flagged") == \
        "\n"
    err = failed(vvmfs, "flags", MSISDN, "INBOX", "1", "\\Bogus")
    assert "Invalid argument" in err
    assert xattr(inbox / "1.eml", "user.imap.flags") == "\\Answered \\Seen"
    # The greeting flag belongs to Greetings only.
    failed(vvmfs, "flags", MSISDN, "INBOX", "1", "+$CNS-Greeting-On")
    assert "No such file" in failed(vvmfs, "flags", MSISDN, "INBOX", "9",
                                    "+\\Seen")

    (subscriber / "Archive").mkdir()
    ok(vvmfs, "deliver", MSISDN, second, "--mailbox", "Archive")
    assert ok(vvmfs, "move", MSISDN, "INBOX", "1", "Archive") == \
        "%s/Archive/2\n" % MSISDN
    assert uids(inbox) == [2]
    assert (subscriber / "Archive" / "2.eml").read_bytes() == data
    assert ls(vvmfs, MSISDN, "Archive")[2][2] == "\\Answered \\Seen"
    assert ls(vvmfs, MSISDN, "Archive")[2][1] == date
    assert "No such file" in failed(vvmfs, "move", MSISDN, "INBOX", "1",
                                    "Archive")
    failed(vvmfs, "move", MSISDN, "INBOX", "2", "INBOX")

    ok(vvmfs, "expunge", MSISDN, "Archive", "1", "2")
    assert uids(subscriber / "Archive") == []
    assert ls(vvmfs, MSISDN, "Archive") == {}
    err = failed(vvmfs, "expunge", MSISDN, "Archive", "2")
    assert err.startswith("vvmadm: expunge Archive/2: No such file")


def test_deliver_rejected(vvmfs, subscriber, tmp_path):
    good = write_message(tmp_path, "good", voice_message(1))
    bad = write_message(tmp_path, "bad",
                        b"Subject: no From, no Date\r\n\r\nhello\r\n")
    r = adm(vvmfs, "deliver", MSISDN, bad, good)
    assert r.returncode == 1
    assert r.stdout == "%s/INBOX/1\n" % MSISDN
    line = r.stderr.splitlines()[0]
    assert line.startswith("vvmadm: deliver %s: Invalid argument (" % bad)
    reason = xattr(subscriber / "INBOX", "user.vvm.error")
    assert line == "vvmadm: deliver %s: Invalid argument (%s)" % (bad, reason)
    assert uids(subscriber / "INBOX") == [1]
    # Refused flags store nothing, and no temporary name is left behind.
    err = failed(vvmfs, "deliver", MSISDN, good, "--flags", "\\Recent")
    assert "Invalid argument" in err
    assert os.listdir(subscriber / "INBOX") == ["1.eml"]
    assert "No such file" in failed(vvmfs, "deliver", MSISDN,
                                    str(tmp_path / "missing"))


# --- Maildir and mbox ---------------------------------------------------------

def test_export_import_maildir(vvmfs, subscriber, tmp_path):
    flags = ["\\Seen", "\\Answered \\Flagged", "", "\\Deleted \\Draft"]
    for n, f in enumerate(flags):
        path = write_message(tmp_path, "m%d" % n, voice_message(n))
        ok(vvmfs, "deliver", MSISDN, path, *(["--flags", f] if f else []))
    ok(vvmfs, "expunge", MSISDN, "INBOX", "3")
    original = snapshot(subscriber / "INBOX")

    maildir = tmp_path / "Maildir"
    assert ok(vvmfs, "export", MSISDN, "INBOX", str(maildir)) == \
        "3 messages exported\n"
    assert os.listdir(maildir / "tmp") == [] == os.listdir(maildir / "new")
    files = sorted(os.listdir(maildir / "cur"))
    infos = {1: "S", 2: "FR", 4: "DT"}
    assert len(files) == 3
    for uid, (data, _, mtime) in original.items():
        name = "%d.%d.vvm:2,%s" % (mtime, uid, infos[uid])
        assert name in files
        assert (maildir / "cur" / name).read_bytes() == data
        assert int((maildir / "cur" / name).stat().st_mtime) == mtime

    # Exporting again after a flag change replaces, never duplicates.
    ok(vvmfs, "flags", MSISDN, "INBOX", "1", "+\\Flagged")
    ok(vvmfs, "export", MSISDN, "INBOX", str(maildir))
    files = sorted(os.listdir(maildir / "cur"))
    assert len(files) == 3
    assert any(f.endswith(".1.vvm:2,FS") for f in files)
    original = snapshot(subscriber / "INBOX")

    (subscriber / "Restored").mkdir()
    assert ok(vvmfs, "import", MSISDN, "Restored", str(maildir)) == \
        "3 imported, 0 failed\n"
    restored = snapshot(subscriber / "Restored")
    # Same bytes, flags and dates, in the same order.
    assert list(restored.values()) == list(original.values())
    assert sorted(restored) == [1, 2, 3]


def test_export_import_greeting_keyword(vvmfs, subscriber, tmp_path):
    path = write_message(tmp_path, "g", voice_message(1))
    ok(vvmfs, "deliver", MSISDN, path, "--mailbox", "Greetings",
       "--flags", "$CNS-Greeting-On")
    maildir = tmp_path / "greetings"
    ok(vvmfs, "export", MSISDN, "Greetings", str(maildir))
    assert (maildir / "dovecot-keywords").read_text() == \
        "0 $CNS-Greeting-On\n"
    [name] = os.listdir(maildir / "cur")
    assert name.endswith(":2,a")
    ok(vvmfs, "expunge", MSISDN, "Greetings", "1")
    ok(vvmfs, "import", MSISDN, "Greetings", str(maildir))
    assert ls(vvmfs, MSISDN, "Greetings")[2][2] == "$CNS-Greeting-On"
    # Outside Greetings vvmfs refuses the flag, so the message is refused.
    r = adm(vvmfs, "import", MSISDN, "INBOX", str(maildir))
    assert r.returncode == 1 and r.stdout == "0 imported, 1 failed\n"
    assert uids(subscriber / "INBOX") == []


def test_import_foreign_maildir(vvmfs, subscriber, tmp_path):
    maildir = tmp_path / "foreign"
    for sub in ("tmp", "new", "cur"):
        (maildir / sub).mkdir(parents=True)
    lf = voice_message(1).replace(b"\r\n", b"\n")
    (maildir / "new" / "1700000000.M1P1.host").write_bytes(lf)
    (maildir / "cur" / "1700000001.M2P1.host:2,FSb").write_bytes(
        voice_message(2))
    (maildir / "tmp" / "1700000002.M3P1.host").write_bytes(b"partial")
    (maildir / "dovecot-keywords").write_text("1 $Junk\n")
    os.utime(maildir / "new" / "1700000000.M1P1.host", (0, 1700000000))
    r = adm(vvmfs, "import", MSISDN, "INBOX", str(maildir))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "2 imported, 0 failed\n"
    assert "$Junk" in r.stderr
    listing = ls(vvmfs, MSISDN)
    assert listing[1][1] == "2023-11-14T22:13:20Z" and listing[1][2] == ""
    assert listing[2][2] == "\\Flagged \\Seen"
    assert (subscriber / "INBOX" / "1.eml").read_bytes() == voice_message(1)


def mbox_entry(sender, date, message):
    """One mboxrd entry: From_ line, quoted body, separating empty line."""
    body = re.sub(rb"(?m)^(>*From )", rb">\1", message)
    return b"From " + sender + b" " + date + b"\n" + body + b"\n"


def test_import_mbox(vvmfs, subscriber, tmp_path):
    first = voice_message(1).replace(
        b"You have a voice message.\r\n",
        b"You have a voice message.\r\nFrom here on\r\n>From quoted\r\n")
    first = first.replace(b"MIME-Version", b"Status: RO\r\nMIME-Version")
    invalid = b"Subject: no sender, no date\r\n\r\nbody\r\n"
    third = voice_message(3).replace(b"MIME-Version",
                                     b"X-Status: F\r\nMIME-Version")
    mbox = tmp_path / "old.mbox"
    mbox.write_bytes(
        mbox_entry(b"a@example.net", b"Sun Nov 22 10:00:00 2026", first) +
        mbox_entry(b"b@example.net", b"Sun Nov 22 10:05:00 2026", invalid) +
        mbox_entry(b"c@example.net", b"Mon Nov 23 08:30:00 2026", third))

    r = adm(vvmfs, "import", MSISDN, "INBOX", str(mbox))
    assert r.returncode == 1
    assert r.stdout == "2 imported, 1 failed\n"
    [line] = r.stderr.splitlines()
    reason = xattr(subscriber / "INBOX", "user.vvm.error")
    assert reason
    # The bad message is named by the line of its From_ line.
    start = mbox.read_bytes().split(b"\n").index(
        b"From b@example.net Sun Nov 22 10:05:00 2026") + 1
    assert line == "vvmadm: import %s:%d: Invalid argument (%s)" % (
        mbox, start, reason)

    inbox = subscriber / "INBOX"
    assert uids(inbox) == [1, 2]
    assert (inbox / "1.eml").read_bytes() == first
    assert (inbox / "2.eml").read_bytes() == third
    listing = ls(vvmfs, MSISDN)
    assert listing[1][1:] == ("2026-11-22T10:00:00Z", "\\Seen")
    assert listing[2][1:] == ("2026-11-23T08:30:00Z", "\\Flagged")

    (tmp_path / "junk").write_bytes(b"this is not an mbox\n")
    err = failed(vvmfs, "import", MSISDN, "INBOX", str(tmp_path / "junk"))
    assert "not an mbox" in err
    assert "No such file" in failed(vvmfs, "import", MSISDN, "Nowhere",
                                    str(mbox))


# --- removing subscribers, fsck -------------------------------------------------

def test_deprovision(vvmfs, subscriber, tmp_path):
    msg = write_message(tmp_path, "m", voice_message(1))
    ok(vvmfs, "deliver", MSISDN, msg)
    ok(vvmfs, "deliver", MSISDN, msg, "--mailbox", "Greetings")
    (subscriber / "Saved").mkdir()
    (subscriber / "Empty").mkdir()
    ok(vvmfs, "deliver", MSISDN, msg, "--mailbox", "Saved")

    err = failed(vvmfs, "deprovision", MSISDN)
    assert err.startswith("vvmadm: deprovision %s: Directory not empty ("
                          % MSISDN)
    assert "--purge" in err
    assert uids(subscriber / "Saved") == [1]

    ok(vvmfs, "deprovision", MSISDN, "--purge")
    assert not subscriber.exists()
    assert ok(vvmfs, "subscribers") == ""
    assert "No such file" in failed(vvmfs, "deprovision", MSISDN)

    ok(vvmfs, "provision", OTHER)
    ok(vvmfs, "deprovision", OTHER)
    assert not vvmfs.sub(OTHER).exists()


def test_fsck(vvmfs, subscriber, tmp_path):
    msg = write_message(tmp_path, "m", voice_message(1))
    ok(vvmfs, "deliver", MSISDN, msg, msg)
    ok(vvmfs, "expunge", MSISDN, "INBOX", "1")
    # The store's lock keeps fsck off a store in use, read-only or not.
    for repair in ([], ["--repair"]):
        r = subprocess.run([str(VVMADM), "fsck"] + repair +
                           [str(vvmfs.store)],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 2 and r.stderr.startswith("vvmadm: fsck ")
        assert "in use" in r.stderr, r.stderr
    vvmfs.unmount()
    r = subprocess.run([str(VVMADM), "fsck", str(vvmfs.store)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run([str(VVMADM), "fsck", "--repair", str(vvmfs.store)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run([str(VVMADM), "fsck", str(tmp_path / "nostore")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.startswith("vvmadm: fsck ")
    assert subprocess.run([str(VVMADM), "fsck"], capture_output=True,
                          timeout=60).returncode == 2
    # The store is whole after the check: mount it again and look.
    vvmfs.mount()
    assert ls(vvmfs, MSISDN) and sorted(ls(vvmfs, MSISDN)) == [2]


# --- docs/admin.md ----------------------------------------------------------------

ADMIN_GUIDE = Path(__file__).resolve().parents[2] / "docs" / "admin.md"
WATCH = "# runs until interrupted\n"


def guide_env(fs):
    return dict(os.environ, MOUNT=str(fs.mnt), VVM_MOUNT=str(fs.mnt),
                PATH=str(VVMADM.parent) + os.pathsep + os.environ["PATH"])


def watch_recipe(fs, block, cwd):
    """Runs the watch loop, delivers a message, and expects the loop to
    print the change feed line of its UID."""
    proc = subprocess.Popen(["bash", "-e", "-c", block], cwd=cwd,
                            env=guide_env(fs), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    out = b""
    try:
        time.sleep(0.5)   # inotifywait sets its watch
        uid = ok(fs, "deliver", MSISDN, str(cwd / "voice.eml")).strip()
        uid = uid.split("/")[-1]
        want = re.compile(rb"(?m)^%s [0-9]+( |$)" % uid.encode())
        for attempt in range(10):
            deadline = time.monotonic() + 1
            while not want.search(out) and time.monotonic() < deadline:
                if select.select([proc.stdout], [], [], 0.2)[0]:
                    out += os.read(proc.stdout.fileno(), 65536)
            if want.search(out):
                break
            # The watch was not set yet: any later event reports the
            # message too, as the loop prints all changes since it began.
            ok(fs, "flags", MSISDN, "INBOX", uid,
               "+\\Flagged" if attempt % 2 == 0 else "-\\Flagged")
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        rest, err = proc.communicate(timeout=10)
    assert want.search(out + rest), (out + rest, err)


def test_admin_guide_recipes(vvmfs, tmp_path):
    """Every sh block of docs/admin.md, in order, as printed."""
    missing = [t for t in ("inotifywait", "getfattr")
               if shutil.which(t) is None]
    assert not missing, "missing %s (tools/vvm installs inotify-tools " \
        "and attr)" % " ".join(missing)
    (tmp_path / "voice.eml").write_bytes(voice_message(1))
    (tmp_path / "subscribers.csv").write_text(
        "31611111111,nl,1111\n31622222222,en,2222\n")
    blocks = re.findall(r"```sh\n(.*?)```", ADMIN_GUIDE.read_text(), re.S)
    assert len(blocks) > 10
    outputs = []
    for block in blocks:
        if block.startswith(WATCH):
            watch_recipe(vvmfs, block, tmp_path)
            continue
        r = subprocess.run(["bash", "-e", "-c", block], cwd=tmp_path,
                           env=guide_env(vvmfs), capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0, "%s\n%s" % (block, r.stderr)
        outputs.append(r.stdout)

    # The hot backup came back whole, secrets included.
    sub = vvmfs.sub()
    assert (sub / "INBOX" / "1.eml").read_bytes() == voice_message(1)
    assert (sub / "profile" / "tui_password").read_text() == "4321\n"
    assert (vvmfs.sub(OTHER) / "profile" / "language").read_text() == "nl\n"
    # The CSV provisioned, the purge removed one of them, and the
    # duration search found the 5-second messages.
    assert (vvmfs.sub("31622222222") / "profile" / "language").read_text() \
        == "en\n"
    assert not vvmfs.sub("31611111111").exists()
    assert any(re.search(r"(?m)^5\t.*/INBOX/1\.eml$", out) for out in outputs)
