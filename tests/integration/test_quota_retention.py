"""Quota usage kept exact through every kind of change, and retention by
Expires (docs/fs-layout.md, "Quotas and retention").
"""
import email.utils
import errno
import os
import signal
import time

import pytest

from conftest import Vvmfs, deposit, amr_audio, voice_message
from vvmtest import (errno_of, mailboxes, message_path, message_uids, quota,
                     read_feed,
                     storage_kb_candidates, try_deposit, wait_for,
                     write_profile, xattr, xattr_int)

LIMITS = {"storage_kb": 1000, "messages": 50, "voice_seconds": 600,
          "greeting_seconds": 120}


class Usage:
    """The expected usage: per mailbox, uid -> (size, seconds)."""

    def __init__(self, subscriber):
        self.sub = subscriber
        self.boxes = {}

    def add(self, mailbox, uid, size, seconds):
        self.boxes.setdefault(mailbox, {})[uid] = (size, seconds)

    def remove(self, mailbox, uid):
        return self.boxes[mailbox].pop(uid)

    def all(self, where=lambda mb: True):
        return [v for mb, msgs in self.boxes.items() if where(mb)
                for v in msgs.values()]

    def check(self):
        sizes = [size for size, _ in self.all()]
        voice = sum(s for _, s in self.all(lambda mb: mb != "Greetings"))
        greeting = sum(s for _, s in self.all(lambda mb: mb == "Greetings"))
        dirs = [self.sub] + [self.sub / mb for mb in mailboxes(self.sub)]
        for path in dirs:
            got = quota(path)
            assert got["messages"] == (len(sizes), LIMITS["messages"]), path
            assert got["voice_seconds"] == (voice, LIMITS["voice_seconds"])
            assert got["greeting_seconds"] == (greeting,
                                               LIMITS["greeting_seconds"])
            used_kb, limit_kb = got["storage_kb"]
            assert limit_kb == LIMITS["storage_kb"]
            assert used_kb in storage_kb_candidates(sizes), \
                "storage_kb %d for sizes %r" % (used_kb, sizes)
        for mb in mailboxes(self.sub):
            msgs = self.boxes.get(mb, {})
            path = self.sub / mb
            assert message_uids(path) == sorted(msgs), mb
            assert xattr_int(path, "user.imap.messages") == len(msgs)
            assert xattr_int(path, "user.vvm.size") == sum(
                size for size, _ in msgs.values()), mb
            for uid, (size, _) in msgs.items():
                assert os.stat(message_path(path, uid)).st_size == size


@pytest.fixture
def limited(subscriber):
    for key, value in LIMITS.items():
        write_profile(subscriber, "quota_" + key, str(value))
    (subscriber / "Saved").mkdir()
    return Usage(subscriber)


def put(usage, mailbox, n, seconds, audio_bytes=0):
    data = voice_message(n, duration=seconds,
                         audio=amr_audio(seconds, audio_bytes))
    uid = deposit(usage.sub / mailbox, data)
    usage.add(mailbox, uid, len(data), seconds)
    return uid


def move(usage, src, uid, dst):
    os.rename(message_path(usage.sub / src, uid), usage.sub / dst / "m.eml")
    new_uid = message_uids(usage.sub / dst)[-1]
    usage.add(dst, new_uid, *usage.remove(src, uid))
    return new_uid


def expunge(usage, mailbox, uid):
    os.unlink(message_path(usage.sub / mailbox, uid))
    usage.remove(mailbox, uid)


def test_usage_exact_through_changes(vvmfs, limited):
    usage = limited
    usage.check()
    a = put(usage, "INBOX", 1, 5)
    b = put(usage, "INBOX", 2, 11, audio_bytes=3000)
    g = put(usage, "Greetings", 3, 7)
    put(usage, "Saved", 4, 3)
    usage.check()
    expunge(usage, "INBOX", a)
    usage.check()
    b = move(usage, "INBOX", b, "Saved")
    usage.check()
    b = move(usage, "Saved", b, "Greetings")     # voice -> greeting seconds
    usage.check()
    move(usage, "Greetings", g, "INBOX")         # greeting -> voice seconds
    usage.check()
    vvmfs.remount()
    usage.check()
    for mb in list(usage.boxes):
        for uid in list(usage.boxes[mb]):
            expunge(usage, mb, uid)
    usage.check()
    assert quota(usage.sub)["storage_kb"][0] == 0


def test_edquot_leaves_usage_alone(vvmfs, limited):
    usage = limited
    put(usage, "INBOX", 1, 5)
    write_profile(usage.sub, "quota_voice_seconds", "6")
    before = quota(usage.sub)
    outcome = try_deposit(usage.sub / "INBOX", voice_message(2, duration=5))
    assert outcome.errno == errno.EDQUOT, outcome
    assert quota(usage.sub) == before
    assert message_uids(usage.sub / "INBOX") == [1]
    assert xattr_int(usage.sub / "INBOX", "user.imap.uidnext") == 2


# --- retention -------------------------------------------------------------------

def with_expires(n, when):
    header = "Expires: %s\r\n" % email.utils.formatdate(when, usegmt=True)
    return voice_message(n, duration=4, extra_headers=header)


def test_expired_messages_are_purged(vvmfs, subscriber):
    vvmfs.remount("retention_interval=1")
    inbox = subscriber / "INBOX"
    expires = int(time.time()) + 6
    past = deposit(inbox, with_expires(1, expires - 3600))
    soon = deposit(inbox, with_expires(2, expires))
    kept = deposit(inbox, voice_message(3, duration=4))
    later = deposit(inbox, with_expires(4, expires + 3600))
    assert xattr_int(message_path(inbox, soon), "user.vvm.expires") == expires
    deposited = xattr_int(inbox, "user.imap.highestmodseq")
    assert wait_for(lambda: past not in message_uids(inbox), 4), \
        "an already expired message was not purged"
    assert time.time() < expires - 0.5, "too slow to check early purge"
    assert soon in message_uids(inbox), "purged before its Expires"
    assert wait_for(lambda: soon not in message_uids(inbox),
                    expires - time.time() + 5), \
        "message not purged within 5 s after Expires"
    assert message_uids(inbox) == [kept, later]
    assert xattr_int(inbox, "user.imap.messages") == 2
    got = quota(subscriber)
    assert got["messages"][0] == 2 and got["voice_seconds"][0] == 8
    sizes = [os.stat(message_path(inbox, u)).st_size for u in (kept, later)]
    assert got["storage_kb"][0] in storage_kb_candidates(sizes)
    feed = read_feed(inbox, deposited)
    assert feed.vanished == {past, soon} and feed.entries == {}
    assert feed.highestmodseq == xattr_int(inbox, "user.imap.highestmodseq")
    assert read_feed(inbox, feed.highestmodseq - 1).vanished == {soon}
    assert errno_of(xattr, message_path(inbox, kept),
                    "user.vvm.expires") == errno.ENODATA
    assert errno_of(os.stat, message_path(inbox, soon)) == errno.ENOENT


def test_new_subscribers_start_with_the_provision_defaults(tmp_path):
    """[provision] gives every new subscriber's profile its values in the
    commit that creates it; a subscriber's own value lasts, and a changed
    default reaches only those provisioned after the change."""
    config = tmp_path / "vvm.conf"
    config.write_text("[provision]\nquota_voice_seconds = 600\n"
                      "quota_messages = 40\nlanguage = nld\n"
                      "transcription = on\n")
    fs = Vvmfs(tmp_path).mount("config=%s" % config)
    try:
        first = fs.sub("31612345678")
        first.mkdir()
        profile = first / "profile"
        assert (profile / "quota_voice_seconds").read_text() == "600\n"
        assert (profile / "quota_messages").read_text() == "40\n"
        assert (profile / "quota_storage_kb").read_text() == "0\n"
        assert (profile / "language").read_text() == "nld\n"
        assert (profile / "transcription").read_text() == "on\n"
        assert (profile / "imap_user").read_text() == "31612345678\n"
        assert quota(first)["voice_seconds"] == (0, 600)
        (profile / "quota_messages").write_text("80")

        config.write_text("[provision]\nquota_voice_seconds = 1200\n")
        fs.remount("config=%s" % config)
        second = fs.sub("31612345679")
        second.mkdir()
        assert (second / "profile" / "quota_voice_seconds").read_text() \
            == "1200\n"
        assert (second / "profile" / "language").read_text() == "\n"
        assert (profile / "quota_voice_seconds").read_text() == "600\n"
        assert (profile / "quota_messages").read_text() == "80\n"
    finally:
        fs.kill(signal.SIGTERM)
