"""The change feed (.changes/<N>) against a model of every change, and the
inotify events the mount raises (docs/fs-layout.md, "The change feed",
"inotify").
"""
import errno
import os
import subprocess

import pytest

from conftest import deposit, voice_message
from vvmtest import (EVENT_NAMES, IN_ATTRIB, IN_CLOSE_WRITE, IN_CREATE,
                     IN_DELETE, IN_MOVED_FROM, IN_MOVED_TO, Inotify,
                     canonical_flags,
                     errno_of, feed_text, flags, has_event, message_path,
                     message_uids, parse_feed, read_feed, set_flags, xattr_int)


class MailboxModel:
    """What the feed of one mailbox must say: every change takes the next
    modseq; expunges leave tombstones with theirs."""

    def __init__(self, path):
        self.path = path
        self.highest = 0
        self.uidnext = 1
        self.messages = {}      # uid -> [modseq, set of flags]
        self.tombstones = {}    # uid -> modseq

    def _bump(self):
        self.highest += 1
        return self.highest

    def add(self, uid, flag_set=()):
        assert uid == self.uidnext, "uid %d, expected %d" % (uid, self.uidnext)
        self.uidnext += 1
        self.messages[uid] = [self._bump(), set(flag_set)]

    def store(self, uid, op, names):
        current = self.messages[uid][1]
        new = {"+": current | names, "-": current - names, "": set(names)}[op]
        if new != current:
            self.messages[uid] = [self._bump(), new]

    def expunge(self, uid):
        del self.messages[uid]
        self.tombstones[uid] = self._bump()

    def expected(self, since):
        lines = ["uidvalidity %d" % xattr_int(self.path,
                                              "user.imap.uidvalidity"),
                 "uidnext %d" % self.uidnext,
                 "highestmodseq %d" % self.highest,
                 "messages %d" % len(self.messages)]
        vanished = sorted(u for u, m in self.tombstones.items() if m > since)
        if vanished and since > 0:      # a reader from 0 has nothing to forget
            lines.append("vanished " + ",".join(map(str, vanished)))
        for uid in sorted(self.messages):
            modseq, names = self.messages[uid]
            if modseq > since:
                lines.append(" ".join(filter(None, [
                    str(uid), str(modseq), canonical_flags(names)])))
        return parse_feed("\n".join(lines) + "\n")


@pytest.fixture
def boxes(subscriber):
    (subscriber / "Archive").mkdir()
    return {name: MailboxModel(subscriber / name)
            for name in ("INBOX", "Archive")}


def do_deposit(model, n):
    model.add(deposit(model.path, voice_message(n)))


def do_store(model, uid, op, *names):
    set_flags(message_path(model.path, uid), op + " ".join(names))
    model.store(uid, op, set(names))


def do_expunge(model, uid):
    os.unlink(message_path(model.path, uid))
    model.expunge(uid)


def do_move(src, dst, uid):
    names = src.messages[uid][1]
    os.rename(message_path(src.path, uid), dst.path / "moved.eml")
    assert message_uids(dst.path)[-1:] == [dst.uidnext]
    src.expunge(uid)
    dst.add(dst.uidnext, names)


def history(boxes):
    inbox, archive = boxes["INBOX"], boxes["Archive"]
    for n in range(4):
        do_deposit(inbox, n)
    do_store(inbox, 2, "+", "\\Seen")
    do_store(inbox, 2, "+", "\\Seen")           # no change, no modseq
    do_expunge(inbox, 1)
    do_store(inbox, 3, "+", "\\Flagged", "\\Answered")
    do_move(inbox, archive, 4)
    do_store(archive, 1, "", "\\Seen", "\\Deleted")
    do_deposit(inbox, 4)
    do_expunge(inbox, 5)
    do_store(inbox, 3, "-", "\\Answered")
    do_deposit(inbox, 5)


def check_feeds(boxes):
    """Compares every .changes/<N> of every mailbox with the model and
    reports all that differ at once."""
    wrong = []
    for name, model in boxes.items():
        for since in range(model.highest + 2):
            if read_feed(model.path, since) != model.expected(since):
                wrong.append("%s/.changes/%d:\n%s" % (
                    name, since, feed_text(model.path, since)))
    assert not wrong, "feeds that differ from the model:\n" + "\n".join(wrong)


def test_feed_matches_every_change(boxes):
    history(boxes)
    check_feeds(boxes)
    for model in boxes.values():
        assert xattr_int(model.path, "user.imap.highestmodseq") == model.highest
        for uid, (modseq, names) in model.messages.items():
            path = message_path(model.path, uid)
            assert xattr_int(path, "user.imap.modseq") == modseq
            assert flags(path) == canonical_flags(names)


def test_feed_survives_remount(vvmfs, boxes):
    history(boxes)
    texts = {n: [feed_text(m.path, s) for s in range(m.highest + 2)]
             for n, m in boxes.items()}
    vvmfs.remount()
    assert texts == {n: [feed_text(m.path, s) for s in range(m.highest + 2)]
                     for n, m in boxes.items()}
    do_deposit(boxes["INBOX"], 9)
    check_feeds(boxes)


def test_feed_is_hidden_and_read_only(boxes):
    inbox = boxes["INBOX"]
    do_deposit(inbox, 0)
    assert ".changes" not in os.listdir(inbox.path)
    assert message_uids(inbox.path) == [1]
    changes = inbox.path / ".changes" / "0"
    assert errno_of(changes.write_bytes, b"x") != 0
    assert errno_of(os.unlink, changes) != 0
    assert read_feed(inbox.path) == inbox.expected(0)


# --- inotify -------------------------------------------------------------------

@pytest.fixture
def watch():
    inotify = Inotify()
    yield inotify
    inotify.close()


def wait_event(inotify, mask, name, wd=None, timeout=5.0):
    events = inotify.wait(lambda evs: has_event(evs, mask, name, wd), timeout)
    assert has_event(events, mask, name, wd), \
        "no %s for %r; got %r" % (EVENT_NAMES[mask], name, events)
    return events


def test_cp_raises_create_and_close_write(subscriber, watch, tmp_path):
    inbox = subscriber / "INBOX"
    src = tmp_path / "voice.eml"
    src.write_bytes(voice_message())
    watch.watch(inbox)
    subprocess.run(["cp", str(src), str(inbox)], check=True, timeout=30)
    events = wait_event(watch, IN_CLOSE_WRITE, "voice.eml")
    kinds = [e.mask & (IN_CREATE | IN_CLOSE_WRITE) for e in events
             if e.name == "voice.eml"]
    assert IN_CREATE in kinds
    assert kinds.index(IN_CREATE) < kinds.index(IN_CLOSE_WRITE), events
    assert os.listdir(inbox) == ["1.eml"]


def test_watcher_learns_the_uid_from_the_feed(subscriber, watch):
    """After IN_CLOSE_WRITE of the name it saw, a watcher reads .changes."""
    inbox = subscriber / "INBOX"
    deposit(inbox, voice_message(0))
    known = read_feed(inbox)
    watch.watch(inbox)
    deposit(inbox, voice_message(1), name="tmp-17.eml")
    wait_event(watch, IN_CLOSE_WRITE, "tmp-17.eml")
    news = read_feed(inbox, known.highestmodseq)
    assert list(news.entries) == [known.uidnext]
    assert "tmp-17.eml" not in os.listdir(inbox)
    assert errno_of(os.stat, inbox / "tmp-17.eml") == errno.ENOENT


def test_rm_raises_delete(subscriber, watch):
    inbox = subscriber / "INBOX"
    uid = deposit(inbox, voice_message())
    watch.watch(inbox)
    os.unlink(message_path(inbox, uid))
    wait_event(watch, IN_DELETE, "%d.eml" % uid)


def test_setfattr_raises_attrib(subscriber, watch):
    inbox = subscriber / "INBOX"
    uid = deposit(inbox, voice_message())
    watch.watch(inbox)
    subprocess.run(["setfattr", "-n", "user.imap.flags", "-v", "+\\\\Seen",
                    message_path(inbox, uid)], check=True, timeout=30)
    wait_event(watch, IN_ATTRIB, "%d.eml" % uid)
    assert flags(message_path(inbox, uid)) == "\\Seen"


def test_mv_raises_moved_from_and_to(subscriber, watch):
    inbox, archive = subscriber / "INBOX", subscriber / "Archive"
    archive.mkdir()
    uid = deposit(inbox, voice_message())
    wd_inbox, wd_archive = watch.watch(inbox), watch.watch(archive)
    subprocess.run(["mv", message_path(inbox, uid), str(archive)], check=True,
                   timeout=30)
    events = wait_event(watch, IN_MOVED_TO, "1.eml", wd_archive)
    events += watch.read(0.2)
    moved_from = [e for e in events
                  if e.mask & IN_MOVED_FROM and e.wd == wd_inbox]
    moved_to = [e for e in events
                if e.mask & IN_MOVED_TO and e.wd == wd_archive]
    assert [e.name for e in moved_from] == ["%d.eml" % uid], events
    assert moved_from[0].cookie == moved_to[0].cookie != 0
    assert message_uids(archive) == [1] and message_uids(inbox) == []


def parse_full_feed(data):
    """{uid: (size, internaldate, envelope, bodystructure, body, sections,
    header)} from a .changes/<N>.full."""
    found, uid, pos = {}, None, 0
    while pos < len(data):
        end = data.index(b"\n", pos)
        line = data[pos:end].decode()
        pos = end + 1
        if line.startswith("+ "):
            size, date, *lens = map(int, line.split()[1:])
            parts = []
            for n in lens:
                parts.append(data[pos:pos + n])
                pos += n
            assert data[pos:pos + 1] == b"\n"
            pos += 1
            found[uid] = (size, date, *parts)
        elif line[:1].isdigit():
            uid = int(line.split()[0])
    return found


def test_full_feed_carries_what_fetch_needs(subscriber):
    inbox = subscriber / "INBOX"
    uids = [deposit(inbox, voice_message(i, extra_headers="X-N: %d\r\n" % i))
            for i in range(3)]
    os.setxattr(inbox / "2.eml", "user.imap.flags", b"\\Seen")
    full = parse_full_feed((inbox / ".changes" / "0.full").read_bytes())
    assert sorted(full) == uids
    for uid in uids:
        path = inbox / ("%d.eml" % uid)
        data = path.read_bytes()
        size, date, env, bs, body, sections, header = full[uid]
        assert size == len(data)
        assert date == int(os.getxattr(path, "user.imap.internaldate"))
        assert env == os.getxattr(path, "user.imap.envelope")
        assert bs == os.getxattr(path, "user.imap.bodystructure")
        assert body == os.getxattr(path, "user.imap.body")
        assert sections == os.getxattr(path, "user.imap.sections")
        assert header == data[:data.index(b"\r\n\r\n") + 4]
    # Since a modseq, only what changed, and the plain feed is unchanged.
    since = parse_full_feed((inbox / ".changes" / "3.full").read_bytes())
    assert sorted(since) == [2]
    plain = (inbox / ".changes" / "0").read_bytes()
    assert b"+ " not in plain
    with pytest.raises(FileNotFoundError):
        (inbox / ".changes" / "0.fullx").read_bytes()
