"""Parallel processes in one mailbox: depositors, flag setters, an expunger
and a reader of .changes/0, all at once. A deterministic plan fixes the
final state; a lost update, a wrong counter or a modseq going backwards
fails the test.
"""
import errno
import multiprocessing
import os
import random
import time
from concurrent.futures import ProcessPoolExecutor

from conftest import deposit, voice_message
from vvmtest import (canonical_flags, feed_text, flags, message_path,
                     message_uids, parse_feed, quota, read_feed, set_flags,
                     try_deposit, xattr_int)

INITIAL = 30                                   # uids 1..30 before the run
EXPUNGED = {3, 7, 11, 15, 19, 23, 27}
FLAG_OWNERS = ["\\Seen", "\\Flagged", "\\Answered", "\\Deleted"]
PASSES = 10
DEPOSITORS = 2
DEPOSITS_EACH = 25
SEED = 20261122


def flag_plan(flag):
    """PASSES sweeps over all initial uids, in the same order for every
    owner so that they hit the same message at the same time."""
    rng = random.Random("%d %s" % (SEED, flag))
    return [[(uid, rng.choice("+-")) for uid in range(1, INITIAL + 1)]
            for _ in range(PASSES)]


def planned_flags(uid):
    """The flags uid must end with: each owner's last operation wins."""
    return {flag for flag in FLAG_OWNERS
            if flag_plan(flag)[-1][uid - 1][1] == "+"}


# --- the workers (run in forked processes) -------------------------------------

def flag_worker(inbox, flag):
    """Applies flag_plan(flag); returns (changes made, errors)."""
    has, gone, changes, errors = {}, set(), 0, []
    for sweep in flag_plan(flag):
        for uid, op in sweep:
            try:
                set_flags(message_path(inbox, uid), op + flag)
            except OSError as e:
                if e.errno == errno.ENOENT and uid in EXPUNGED:
                    gone.add(uid)
                else:
                    errors.append("%s%s on %d: %s" % (op, flag, uid, e))
                continue
            if uid in gone:
                errors.append("%s on %d succeeded after ENOENT" % (flag, uid))
            if has.get(uid, False) != (op == "+"):
                has[uid] = op == "+"
                changes += 1
    return changes, errors


def expunge_worker(inbox):
    rng = random.Random(SEED)
    errors = []
    for uid in rng.sample(sorted(EXPUNGED), len(EXPUNGED)):
        time.sleep(rng.uniform(0, 0.03))
        try:
            os.unlink(message_path(inbox, uid))
        except OSError as e:
            errors.append("unlink %d: %s" % (uid, e))
    return errors


def deposit_worker(inbox, worker):
    """Deposits; odd ones with APPEND flags. Returns [(uid, flags)]."""
    done = []
    for n in range(DEPOSITS_EACH):
        draft = "\\Draft" if n % 2 else None
        outcome = try_deposit(inbox, voice_message("d%d-%d" % (worker, n)),
                              name="w%d-%d.eml" % (worker, n),
                              flags_before=draft)
        assert outcome.errno == 0, outcome
        done.append((outcome.uid, draft or ""))
    return done


def feed_reader(inbox, ready, stop):
    """Reads .changes/0 until told to stop; checks each read on the spot.
    Returns (errors, samples) with one sample per new highestmodseq."""
    errors, samples, last_high, last_modseq = [], [], 0, {}
    while True:
        stopping = os.path.exists(stop)
        try:
            text = feed_text(inbox)
            feed = parse_feed(text)
        except (OSError, AssertionError) as e:
            errors.append("read: %r" % e)
            break
        if not os.path.exists(ready):
            open(ready, "w").close()
        modseqs = [m for m, _ in feed.entries.values()]
        if feed.highestmodseq < last_high:
            errors.append("highestmodseq %d after %d" % (feed.highestmodseq,
                                                         last_high))
        if len(set(modseqs)) != len(modseqs):
            errors.append("duplicate modseq in feed:\n" + text)
        if modseqs and max(modseqs) > feed.highestmodseq:
            errors.append("modseq above highestmodseq:\n" + text)
        if feed.messages != len(feed.entries):
            errors.append("messages %d for %d lines" % (feed.messages,
                                                        len(feed.entries)))
        for uid, (modseq, _) in feed.entries.items():
            if modseq < last_modseq.get(uid, 0):
                errors.append("uid %d modseq went back to %d" % (uid, modseq))
            last_modseq[uid] = modseq
        if feed.highestmodseq != last_high or not samples:
            samples.append(feed)
        last_high = feed.highestmodseq
        if stopping:
            return errors, samples


# --- the test ----------------------------------------------------------------------

def run_all(inbox, tmp_path):
    ready, stop = str(tmp_path / "ready"), str(tmp_path / "stop")
    ctx = multiprocessing.get_context("fork")
    workers = len(FLAG_OWNERS) + DEPOSITORS + 2
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        reader = pool.submit(feed_reader, str(inbox), ready, stop)
        deadline = time.monotonic() + 20
        while not os.path.exists(ready) and not reader.done():
            assert time.monotonic() < deadline, "feed reader never started"
            time.sleep(0.01)
        flaggers = [pool.submit(flag_worker, str(inbox), f)
                    for f in FLAG_OWNERS]
        expunger = pool.submit(expunge_worker, str(inbox))
        depositors = [pool.submit(deposit_worker, str(inbox), w)
                      for w in range(DEPOSITORS)]
        flag_results = [f.result(timeout=120) for f in flaggers]
        expunge_errors = expunger.result(timeout=120)
        deposited = [d for f in depositors for d in f.result(timeout=120)]
        open(stop, "w").close()
        reader_errors, samples = reader.result(timeout=60)
    return flag_results, expunge_errors, deposited, reader_errors, samples


def test_parallel_writers_in_one_mailbox(subscriber, tmp_path):
    inbox = subscriber / "INBOX"
    for n in range(INITIAL):
        deposit(inbox, voice_message(n))
    start_high = xattr_int(inbox, "user.imap.highestmodseq")

    flag_results, expunge_errors, deposited, reader_errors, samples = \
        run_all(inbox, tmp_path)
    errors = [e for _, errs in flag_results for e in errs]
    assert errors + expunge_errors + reader_errors == []

    # every planned outcome, none lost
    new_uids = [uid for uid, _ in deposited]
    assert len(set(new_uids)) == len(new_uids), "a uid given twice"
    assert min(new_uids) == INITIAL + 1
    expected = {uid: canonical_flags(planned_flags(uid))
                for uid in range(1, INITIAL + 1) if uid not in EXPUNGED}
    expected.update(deposited)
    assert message_uids(inbox) == sorted(expected)
    got = {uid: flags(message_path(inbox, uid)) for uid in expected}
    lost = {uid: (got[uid], want) for uid, want in expected.items()
            if got[uid] != want}
    assert not lost, "uid: (got, expected) %r" % lost

    # counters
    final = read_feed(inbox)
    assert xattr_int(inbox, "user.imap.messages") == len(expected)
    assert final.messages == len(expected)
    assert xattr_int(inbox, "user.imap.unseen") == sum(
        "\\Seen" not in f.split() for f in got.values())
    assert quota(subscriber)["messages"][0] == len(expected)
    assert final.uidnext == max(new_uids) + 1

    # one modseq per change, nothing skipped, nothing shared
    changes = sum(n for n, _ in flag_results)
    assert final.highestmodseq == (start_high + len(deposited) +
                                   len(EXPUNGED) + changes)
    assert xattr_int(inbox, "user.imap.highestmodseq") == final.highestmodseq
    assert read_feed(inbox, start_high).vanished == EXPUNGED
    assert {uid: f for uid, (_, f) in final.entries.items()} == expected
    modseqs = [m for m, _ in final.entries.values()]
    assert len(set(modseqs)) == len(modseqs)
    for uid, (modseq, _) in final.entries.items():
        assert xattr_int(message_path(inbox, uid), "user.imap.modseq") == modseq

    check_changes_since_mid_run(inbox, samples, final, start_high,
                                set(range(1, INITIAL + 1)) | set(new_uids))


def check_changes_since_mid_run(inbox, samples, final, start_high, all_uids):
    """.changes/N for an N seen mid-run lists exactly what changed since."""
    middle = [s for s in samples
              if start_high < s.highestmodseq < final.highestmodseq]
    assert middle, "the reader saw no state between start and end: %r" % [
        s.highestmodseq for s in samples]
    for seen in (middle[len(middle) // 2], middle[0], middle[-1]):
        since = seen.highestmodseq
        got = read_feed(inbox, since)
        want = {uid: e for uid, e in final.entries.items() if e[0] > since}
        assert got.entries == want, ".changes/%d lines" % since
        present_then = set(seen.entries)
        born_later = {u for u in all_uids if u >= seen.uidnext}
        vanished = (present_then | born_later) - set(final.entries)
        assert got.vanished == vanished, ".changes/%d vanished" % since
        assert (got.uidnext, got.highestmodseq, got.messages) == (
            final.uidnext, final.highestmodseq, final.messages)
