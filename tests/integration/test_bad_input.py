"""Everything vvmfs must refuse (docs/fs-layout.md): each refusal has the
contract's errno, a readable user.vvm.error where the contract promises one,
and leaves the whole store exactly as it was.
"""
import errno
import os
import random
import re

import pytest

from conftest import MSISDN, deposit, amr_audio, voice_message
from vvmtest import (assert_unchanged, errno_name, errno_of, expect_errno,
                     flags, message_path, message_uids, read_profile,
                     readable, set_flags, snapshot, try_deposit,
                     write_profile, xattr)

GOOD = voice_message(1)


def without_header(message, name):
    return re.sub(rb"(?m)^" + name.encode() + rb":[^\r\n]*\r\n", b"", message,
                  count=1)


MALFORMED = {
    "no-from": without_header(GOOD, "From"),
    "no-date": without_header(GOOD, "Date"),
    "multipart-without-boundary": GOOD.replace(b'; boundary="b1"', b""),
    "missing-closing-boundary": GOOD.replace(b"--b1--\r\n", b""),
    "garbage-first-line": b"this line is no header field\r\n" + GOOD,
    "binary-header": b"\xff\xfe\x01\x02: \x80\x81\r\n" + GOOD,
    "nul-in-body": GOOD.replace(b"You have", b"You\0have"),
    "nul-only": bytes(64),
    "random-bytes": random.Random(20261122).randbytes(4096),
    "empty": b"",
    "text-without-header": b"hello, this is not a message\r\n",
}


@pytest.fixture
def store(vvmfs, subscriber):
    """A subscriber with messages in INBOX, Greetings and Saved."""
    inbox = subscriber / "INBOX"
    set_flags(message_path(inbox, deposit(inbox, voice_message(1))), "\\Seen")
    deposit(inbox, voice_message(2))
    deposit(subscriber / "Greetings", voice_message(3))
    (subscriber / "Saved").mkdir()
    deposit(subscriber / "Saved", voice_message(4))
    return vvmfs


def check_rejected(fs, mailbox, outcome, expected_errno, before, what):
    assert outcome.errno == expected_errno, "%s: expected %s, got %s at %s" % (
        what, errno_name(expected_errno), errno_name(outcome.errno),
        outcome.stage or "commit")
    if outcome.stage in ("write", "fsync"):
        assert readable(outcome.error), \
            "%s: user.vvm.error on the fd is %r" % (what, outcome.error)
        assert xattr(mailbox, "user.vvm.error") == outcome.error
    assert_unchanged(before, fs.mnt, what)


# --- messages ----------------------------------------------------------------

@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_message(store, subscriber, case):
    inbox = subscriber / "INBOX"
    before = snapshot(store.mnt)
    outcome = try_deposit(inbox, MALFORMED[case], name="bad.eml")
    check_rejected(store, inbox, outcome, errno.EINVAL, before, case)
    assert outcome.stage in ("write", "fsync")


def test_malformed_message_rejected_at_close(store, subscriber):
    """cp does not fsync: close() itself must fail, and say why."""
    inbox = subscriber / "INBOX"
    before = snapshot(store.mnt)
    outcome = try_deposit(inbox, MALFORMED["no-from"], use_fsync=False)
    check_rejected(store, inbox, outcome, errno.EINVAL, before, "close")
    assert readable(xattr(inbox, "user.vvm.error"))


def test_reason_names_the_problem(store, subscriber):
    inbox = subscriber / "INBOX"
    for case, word in (("no-from", "from"), ("no-date", "date")):
        outcome = try_deposit(inbox, MALFORMED[case])
        assert word in outcome.error.lower(), \
            "%s: reason %r does not mention %s" % (case, outcome.error, word)


def test_good_message_still_accepted_after_rejections(store, subscriber):
    inbox = subscriber / "INBOX"
    for case in ("no-from", "nul-in-body", "empty"):
        try_deposit(inbox, MALFORMED[case])
    assert deposit(inbox, GOOD) == 3
    assert message_uids(inbox) == [1, 2, 3]


# --- committed messages are immutable ------------------------------------------

IMMUTABLE_OPS = {
    "open-wronly": lambda p: os.close(os.open(p, os.O_WRONLY)),
    "open-rdwr": lambda p: os.close(os.open(p, os.O_RDWR)),
    "open-append": lambda p: os.close(os.open(p, os.O_WRONLY | os.O_APPEND)),
    "open-trunc": lambda p: os.close(os.open(p, os.O_WRONLY | os.O_TRUNC)),
    "truncate-0": lambda p: os.truncate(p, 0),
    "truncate-grow": lambda p: os.truncate(p, 1 << 20),
    "utime": lambda p: os.utime(p, (0, 0)),
    "touch": lambda p: os.utime(p, None),
}


@pytest.mark.parametrize("op", sorted(IMMUTABLE_OPS))
def test_committed_message_is_immutable(store, subscriber, op):
    path = message_path(subscriber / "INBOX", 1)
    assert os.stat(path).st_mode & 0o7777 == 0o644
    before = snapshot(store.mnt)
    expect_errno(errno.EPERM, IMMUTABLE_OPS[op], path)
    assert_unchanged(before, store.mnt, op)


# --- profile -----------------------------------------------------------------

BAD_PROFILE = [
    ("status", "X"), ("status", ""), ("status", "PU"), ("status", "p"),
    ("tui_password", "123"), ("tui_password", "1234567890123456"),
    ("tui_password", "12ab"), ("tui_password", "12 34"),
    ("tui_password", "-1234"),
    ("imap_user", ""), ("imap_user", "a b"), ("imap_user", "a;b"),
    ("imap_user", "a=b"), ("imap_user", "x" * 51), ("imap_user", "caf\u00e9"),
    ("imap_password", "pass word"), ("imap_password", "x" * 31),
    ("smtp_user", "a;b"), ("smtp_password", "a=b"),
    ("language", "x" * 17), ("language", "en us"), ("language", "en\0"),
    ("client_type", "a b"), ("client_prefix", ""),
    ("client_prefix", "x" * 31),
    ("options", "a\x01b"), ("options", "tab\there"), ("options", "x" * 257),
    ("options", b"\xff\xfe"),
    ("app_port", "17000"), ("app_port", "-1"), ("app_port", "80a"),
    ("app_port", ""), ("app_port", "1 2"),
    ("quota_storage_kb", "-1"), ("quota_messages", "1.5"),
    ("quota_voice_seconds", "9" * 23), ("quota_greeting_seconds", "abc"),
    ("quota_messages", ""),
    ("transcription", "yes"), ("transcription", ""), ("transcription", "of"),
    ("accept", "audio"), ("accept", "audio/amr,text"),
    ("accept", "audio/amr/x"), ("accept", "/amr"),
]

GOOD_PROFILE = [
    ("status", "B"), ("status", "U"), ("tui_password", "1234"),
    ("tui_password", "1" * 15), ("tui_password", ""), ("imap_user", "x" * 50),
    ("imap_password", "s3cr3t!"), ("language", "eng"),
    ("options", "any text, \u00fc too"), ("client_prefix", "//VVM"),
    ("app_port", "16999"), ("app_port", "0"), ("transcription", "on"),
    ("accept", "audio/amr, audio/x-wav;codec=1"), ("quota_messages", "7"),
]

PROFILE_KEYS = {
    "status": "P", "imap_user": MSISDN, "imap_password": "",
    "tui_password": "", "smtp_user": MSISDN, "smtp_password": "",
    "language": "", "options": "", "client_type": "", "client_prefix": "//VVM",
    "app_port": "0", "accept": "", "transcription": "off",
    "quota_storage_kb": "0", "quota_messages": "0",
    "quota_voice_seconds": "0", "quota_greeting_seconds": "0",
}
SECRETS = {"imap_password", "tui_password", "smtp_password"}

# non-default values set before a bad write, so that "unchanged" means more
# than "still the default"
PRESET = {"status": "R", "tui_password": "98765", "imap_password": "old",
          "language": "nld", "options": "old options", "app_port": "5499",
          "accept": "audio/amr", "transcription": "on",
          "quota_storage_kb": "100", "quota_messages": "100"}


def test_profile_defaults_and_modes(subscriber):
    profile = subscriber / "profile"
    assert sorted(os.listdir(profile)) == sorted(PROFILE_KEYS)
    for key, default in PROFILE_KEYS.items():
        assert read_profile(subscriber, key) == default.encode(), key
        mode = os.stat(profile / key).st_mode & 0o777
        assert mode == (0o600 if key in SECRETS else 0o644), key


@pytest.mark.parametrize("key,value", BAD_PROFILE,
                         ids=["%s=%r" % kv for kv in BAD_PROFILE])
def test_bad_profile_value(store, subscriber, key, value):
    if key in PRESET:
        write_profile(subscriber, key, PRESET[key])
    old = read_profile(subscriber, key)
    before = snapshot(store.mnt)
    expect_errno(errno.EINVAL, write_profile, subscriber, key, value)
    assert read_profile(subscriber, key) == old
    assert_unchanged(before, store.mnt, "%s=%r" % (key, value))


@pytest.mark.parametrize("key,value", GOOD_PROFILE,
                         ids=["%s=%r" % kv for kv in GOOD_PROFILE])
def test_good_profile_value(subscriber, key, value):
    write_profile(subscriber, key, value)
    assert read_profile(subscriber, key) == value.encode()


def truncate_only(subscriber, key):
    """`: > file`: open with O_TRUNC, write nothing, close."""
    errno_of(write_profile, subscriber, key, b"", newline=False)


def test_profile_truncate_alone_empties_only_if_valid(subscriber):
    write_profile(subscriber, "language", "nld")
    write_profile(subscriber, "status", "R")
    truncate_only(subscriber, "language")
    truncate_only(subscriber, "status")
    assert read_profile(subscriber, "language") == b""
    assert read_profile(subscriber, "status") == b"R"


def test_profile_append_is_refused(subscriber):
    """`>>` writes after the newline: a value with a newline inside."""
    write_profile(subscriber, "tui_password", "1234")
    for key in ("tui_password", "options"):
        old = read_profile(subscriber, key)
        expect_errno(errno.EINVAL, write_profile, subscriber, key, "5678",
                     append=True)
        assert read_profile(subscriber, key) == old


PROFILE_TREE_OPS = {
    "create": lambda p: os.close(os.open(p / "newkey", os.O_CREAT | os.O_WRONLY,
                                         0o644)),
    "unlink": lambda p: os.unlink(p / "status"),
    "rename": lambda p: os.rename(p / "status", p / "state"),
    "mkdir": lambda p: os.mkdir(p / "sub"),
}


@pytest.mark.parametrize("op", sorted(PROFILE_TREE_OPS))
def test_profile_files_are_fixed(store, subscriber, op):
    before = snapshot(store.mnt)
    expect_errno(errno.EPERM, PROFILE_TREE_OPS[op], subscriber / "profile")
    assert_unchanged(before, store.mnt, "profile " + op)


# --- names -------------------------------------------------------------------

BAD_MAILBOX_NAMES = [
    (".hidden", errno.EINVAL), ("..x", errno.EINVAL), (".changes", errno.EINVAL),
    ("ctl\x01", errno.EINVAL), ("new\nline", errno.EINVAL),
    ("tab\tname", errno.EINVAL), ("del\x7f", errno.EINVAL),
    ("inbox", errno.EINVAL), ("Inbox", errno.EINVAL), ("iNbOx", errno.EINVAL),
    (b"\xff\xfe", errno.EINVAL), ("x" * 256, errno.EINVAL),
    # existing names: the kernel or vvmfs answers EEXIST
    ("INBOX", errno.EEXIST), ("Greetings", errno.EEXIST),
    ("profile", errno.EEXIST), ("..", errno.EEXIST), (".", errno.EEXIST),
    ("Saved", errno.EEXIST),
    ("nested/deeper", errno.ENOENT),
]


def name_id(name):
    return repr(name)[:24]


@pytest.mark.parametrize("name,code", BAD_MAILBOX_NAMES,
                         ids=[name_id(n) for n, _ in BAD_MAILBOX_NAMES])
def test_bad_mailbox_name(store, subscriber, name, code):
    before = snapshot(store.mnt)
    target = os.path.join(os.fsencode(subscriber), os.fsencode(name))
    expect_errno(code, os.mkdir, target)
    assert_unchanged(before, store.mnt, "mkdir %r" % name)


RENAME_REFUSALS = [
    ("Saved", ".hidden", errno.EINVAL), ("Saved", "Inbox", errno.EINVAL),
    ("Saved", "ctl\x02", errno.EINVAL), ("Saved", "profile", errno.EINVAL),
    ("Saved", "Greetings", errno.EEXIST), ("INBOX", "Other", errno.EPERM),
    ("Greetings", "Other", errno.EPERM),
]


@pytest.mark.parametrize("src,dst,code", RENAME_REFUSALS,
                         ids=["%s->%s" % (s, name_id(d))
                              for s, d, _ in RENAME_REFUSALS])
def test_bad_mailbox_rename(store, subscriber, src, dst, code):
    before = snapshot(store.mnt)
    expect_errno(code, os.rename, subscriber / src, subscriber / dst)
    assert_unchanged(before, store.mnt, "rename %s %r" % (src, dst))


def test_mailbox_and_subscriber_structure_refusals(store, subscriber):
    other = store.mnt / "31699999999"
    other.mkdir()
    before = snapshot(store.mnt)
    expect_errno(errno.EPERM, os.mkdir, subscriber / "INBOX" / "Sub")
    expect_errno(errno.EXDEV, os.rename, subscriber / "Saved", other / "Saved")
    expect_errno(errno.EPERM, os.rename, subscriber, store.mnt / "31688888888")
    expect_errno(errno.EPERM, os.rename, message_path(subscriber / "INBOX", 1),
                 subscriber / "INBOX" / "renamed.eml")
    expect_errno(errno.EXDEV, os.rename, message_path(subscriber / "INBOX", 1),
                 other / "INBOX" / "moved.eml")
    expect_errno(errno.EEXIST, os.rename, message_path(subscriber / "INBOX", 1),
                 message_path(subscriber / "Saved", 1))
    assert_unchanged(before, store.mnt, "structure refusals")


BAD_MSISDNS = ["+31612345678", "0612345678", "1234567890123456",
               "3161234567a", "abc", " 31612345678", "316 12345678",
               "\u0663\u0661\u0666", "31612345678\n", "0", "-1"]


@pytest.mark.parametrize("name", BAD_MSISDNS, ids=name_id)
def test_bad_msisdn(vvmfs, subscriber, name):
    before = snapshot(vvmfs.mnt)
    expect_errno(errno.EINVAL, os.mkdir, vvmfs.mnt / name)
    assert_unchanged(before, vvmfs.mnt, "mkdir %r" % name)


@pytest.mark.parametrize("name", ["1", "123456789012345"])
def test_msisdn_length_limits_accepted(vvmfs, name):
    (vvmfs.mnt / name).mkdir()
    assert sorted(os.listdir(vvmfs.mnt / name)) == ["Greetings", "INBOX",
                                                    "profile"]


# --- removal -------------------------------------------------------------------

def test_rmdir_refusals(store, subscriber):
    before = snapshot(store.mnt)
    expect_errno(errno.ENOTEMPTY, os.rmdir, subscriber / "Saved")
    expect_errno(errno.ENOTEMPTY, os.rmdir, subscriber)
    assert_unchanged(before, store.mnt, "rmdir of non-empty mailboxes")
    os.unlink(message_path(subscriber / "Greetings", 1))
    before = snapshot(store.mnt)
    expect_errno(errno.EPERM, os.rmdir, subscriber / "Greetings")
    expect_errno(errno.ENOTEMPTY, os.rmdir, subscriber)
    assert_unchanged(before, store.mnt, "rmdir refusals")


def test_rmdir_empty_inbox_refused(subscriber, vvmfs):
    before = snapshot(vvmfs.mnt)
    expect_errno(errno.EPERM, os.rmdir, subscriber / "INBOX")
    expect_errno(errno.EPERM, os.rmdir, subscriber / "Greetings")
    assert_unchanged(before, vvmfs.mnt, "rmdir INBOX")


def test_rmdir_subscriber_once_empty(store, subscriber):
    for mailbox in ("INBOX", "Greetings", "Saved"):
        for uid in message_uids(subscriber / mailbox):
            os.unlink(message_path(subscriber / mailbox, uid))
    os.rmdir(subscriber)
    assert not subscriber.exists()
    assert MSISDN not in os.listdir(store.mnt)


# --- flags ---------------------------------------------------------------------

BAD_FLAGS = [
    ("INBOX", "\\Bogus"), ("INBOX", "+\\Bogus"), ("INBOX", "-\\Bogus"),
    ("INBOX", "\\Recent"), ("INBOX", "+\\Recent"), ("INBOX", "+\\Seen \\Bogus"),
    ("INBOX", "\\Seen $Junk"), ("INBOX", "Seen"), ("INBOX", "$CNS-Greeting-On"),
    ("INBOX", "+$CNS-Greeting-On"), ("INBOX", "+$AppleVM-ActiveGreeting"),
    ("Saved", "+$CNS-Greeting-On"),
]


@pytest.mark.parametrize("mailbox,value", BAD_FLAGS,
                         ids=["%s:%r" % mv for mv in BAD_FLAGS])
def test_bad_flags(store, subscriber, mailbox, value):
    path = message_path(subscriber / mailbox, 1)
    before = snapshot(store.mnt)
    expect_errno(errno.EINVAL, set_flags, path, value)
    assert_unchanged(before, store.mnt, "flags %r" % value)


GOOD_FLAGS = [
    ("INBOX", "\\Seen \\Answered", "\\Answered \\Seen"),
    ("INBOX", "+\\SEEN \\flagged", "\\Flagged \\Seen"),
    ("INBOX", "-\\Seen", ""),
    ("INBOX", "\\Draft \\Deleted \\Flagged \\Answered \\Seen",
     "\\Answered \\Flagged \\Deleted \\Seen \\Draft"),
    ("INBOX", "", ""),
    ("Greetings", "+$AppleVM-ActiveGreeting", "$CNS-Greeting-On"),
    ("Greetings", "+$cns-greeting-on \\Seen", "\\Seen $CNS-Greeting-On"),
]


@pytest.mark.parametrize("mailbox,value,shown", GOOD_FLAGS,
                         ids=["%s:%r" % g[:2] for g in GOOD_FLAGS])
def test_good_flags(store, subscriber, mailbox, value, shown):
    path = message_path(subscriber / mailbox, 1)
    set_flags(path, value)
    assert flags(path) == shown


# --- quotas --------------------------------------------------------------------

def voice(n, seconds=5, audio_bytes=0):
    return voice_message(n, duration=seconds,
                         audio=amr_audio(seconds, audio_bytes))


QUOTA_CASES = {
    # key: (limit, mailbox, messages that fit, the one that does not)
    "quota_messages": ("2", "INBOX", [voice(1), voice(2)], voice(3)),
    "quota_storage_kb": ("4", "INBOX", [voice(1)], voice(2, audio_bytes=6000)),
    "quota_voice_seconds": ("10", "INBOX", [voice(1, 6)], voice(2, 6)),
    "quota_greeting_seconds": ("10", "Greetings", [voice(1, 6)], voice(2, 6)),
}


@pytest.mark.parametrize("key", sorted(QUOTA_CASES))
def test_over_quota(vvmfs, subscriber, key):
    limit, name, fitting, extra = QUOTA_CASES[key]
    mailbox = subscriber / name
    write_profile(subscriber, key, limit)
    for data in fitting:
        deposit(mailbox, data)
    before = snapshot(vvmfs.mnt)
    outcome = try_deposit(mailbox, extra)
    check_rejected(vvmfs, mailbox, outcome, errno.EDQUOT, before, key)
    assert "quota" in outcome.error.lower(), outcome.error
    write_profile(subscriber, key, "0")
    assert deposit(mailbox, extra) == len(fitting) + 1


def test_voice_quota_ignores_greetings(vvmfs, subscriber):
    write_profile(subscriber, "quota_voice_seconds", "10")
    deposit(subscriber / "Greetings", voice(1, 30))
    assert deposit(subscriber / "INBOX", voice(2, 8)) == 1


# --- size limit ------------------------------------------------------------------

def test_max_message_size(vvmfs, subscriber):
    vvmfs.remount("max_message_size=100000")
    inbox = subscriber / "INBOX"
    big = voice(1, seconds=100, audio_bytes=150000)
    assert len(big) > 200000
    before = snapshot(vvmfs.mnt)
    outcome = try_deposit(inbox, big)
    check_rejected(vvmfs, inbox, outcome, errno.EFBIG, before, "200 KB")
    assert outcome.stage == "write", "EFBIG must come at the write"
    fits = voice(2, seconds=40, audio_bytes=60000)
    assert len(fits) < 100000
    assert deposit(inbox, fits) == 1
