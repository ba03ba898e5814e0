"""Every ```sh block of docs/fs-layout.md, run as printed and in order on one
mount, plus the UID/UIDVALIDITY rules the recipes rely on (RFC 3501 2.3.1.1).
"""
import os
import re
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import TOP, Vvmfs, deposit, voice_message
from vvmtest import (flags, message_path, message_uids, parse_feed,
                     read_feed, set_flags, subscriber_state, xattr, xattr_int)

DOC = TOP / "docs" / "fs-layout.md"
VOICE_PLACEHOLDER = "/usr/share/vvm-test/voice.eml"
EXPECT_FAIL = "# expect-fail"


def sh_blocks(text):
    """(line number of the fence, body) of each ```sh block, in order."""
    blocks, body, start = [], None, 0
    for number, line in enumerate(text.split("\n"), 1):
        if body is None and line.strip() == "```sh":
            body, start = [], number
        elif body is not None and line.strip() == "```":
            blocks.append((start, "\n".join(body) + "\n"))
            body = None
        elif body is not None:
            body.append(line)
    assert body is None, "unterminated ```sh block at line %d" % start
    return blocks


BLOCKS = sh_blocks(DOC.read_text())
RESULTS = {}     # fence line -> (CompletedProcess, subscriber state after)


@pytest.fixture(scope="module")
def recipe_fs():
    """One mount shared by all blocks, and a voice message outside it."""
    with tempfile.TemporaryDirectory(prefix="vvmfs-recipes-") as root:
        voice = os.path.join(root, "voice.eml")
        with open(voice, "wb") as f:
            f.write(voice_message())
        fs = Vvmfs(root).mount()
        fs.voice = voice
        try:
            yield fs
        finally:
            fs.kill(signal.SIGTERM)


def run_block(fs, body):
    script = "set -e\n" + body.replace(VOICE_PLACEHOLDER, fs.voice)
    return subprocess.run(["bash", "-c", script], cwd=fs.mnt,
                          env=dict(os.environ, MOUNT=str(fs.mnt)),
                          capture_output=True, text=True, timeout=30)


def test_doc_has_recipes():
    assert len(BLOCKS) >= 10, "fs-layout.md lost its ```sh recipes"
    assert any(b.startswith(EXPECT_FAIL) for _, b in BLOCKS)


@pytest.mark.parametrize("line,body", BLOCKS,
                         ids=["L%d" % line for line, _ in BLOCKS])
def test_recipe(recipe_fs, line, body):
    result = run_block(recipe_fs, body)
    try:
        state = subscriber_state(recipe_fs.sub())
    except OSError as e:
        state = e
    RESULTS[line] = (result, state)
    report = "block at line %d:\n%s\nexit %d\nstdout: %s\nstderr: %s" % (
        line, body, result.returncode, result.stdout, result.stderr)
    if body.startswith(EXPECT_FAIL):
        assert result.returncode != 0, "expected to fail, " + report
    else:
        assert result.returncode == 0, report


def recipe_result(snippet):
    """The recorded outcome of the block containing snippet."""
    lines = [line for line, body in BLOCKS if snippet in body]
    assert len(lines) == 1, "no single recipe contains %r" % snippet
    assert lines[0] in RESULTS, "the recipe with %r did not run" % snippet
    result, state = RESULTS[lines[0]]
    assert not isinstance(state, OSError), \
        "mount unreadable after the recipe with %r: %s" % (snippet, state)
    return result, state


def stdout_lines(result):
    return result.stdout.split("\n")


# --- what the key recipes must have printed and left ------------------------

def test_recipe_provision(recipe_fs):
    result, state = recipe_result("mkdir 31612345678\n")
    assert sorted(stdout_lines(result)[:-1]) == ["Greetings", "INBOX",
                                                 "profile"]
    assert set(state) == {"Greetings", "INBOX"}


def test_recipe_pin_is_secret(recipe_fs):
    result, _ = recipe_result("stat -c %a")
    assert stdout_lines(result)[:2] == ["R", "600"]


def test_recipe_cp_gives_1_eml(recipe_fs):
    result, state = recipe_result("cp " + VOICE_PLACEHOLDER)
    assert stdout_lines(result)[0] == "1.eml", result.stdout
    assert re.search(r"\n1\n?\Z", result.stdout), "uid: %r" % result.stdout
    inbox = state["INBOX"]
    assert inbox["uids"] == [1] and inbox["flags"] == {1: ""}
    assert (inbox["uidnext"], inbox["messages"], inbox["unseen"]) == (2, 1, 1)


def test_recipe_rejected_junk_leaves_nothing(recipe_fs):
    _, before = recipe_result("cp " + VOICE_PLACEHOLDER)
    _, after = recipe_result("printf 'not a message")
    assert after["INBOX"] == before["INBOX"]
    result, _ = recipe_result("user.vvm.error --only-values")
    assert result.stdout.strip(), "no reason left in user.vvm.error"


def test_recipe_seen_flag(recipe_fs):
    result, state = recipe_result("-v '+\\\\Seen'")
    assert re.fullmatch(r"\\Seen\n?0\n?", result.stdout), result.stdout
    assert state["INBOX"]["flags"] == {1: "\\Seen"}
    assert state["INBOX"]["unseen"] == 0


def test_recipe_bogus_flag_changes_nothing(recipe_fs):
    _, before = recipe_result("-v '+\\\\Seen'")
    _, after = recipe_result("\\\\Bogus")
    assert after == before


def test_recipe_move_then_remove(recipe_fs):
    result, state = recipe_result("mv 31612345678/INBOX/1.eml")
    lines = stdout_lines(result)
    assert lines[0] == "1.eml", result.stdout
    assert lines[1] == "\\Seen", "flags after move: %r" % result.stdout
    assert result.stdout.rstrip("\n") == "1.eml\n\\Seen", \
        "Archive not empty after rm: %r" % result.stdout
    for name in ("INBOX", "Archive"):
        assert state[name]["uids"] == [] and state[name]["messages"] == 0
        assert state[name]["uidnext"] == 2


def test_recipe_feed(recipe_fs):
    result, state = recipe_result("cat 31612345678/INBOX/.changes/0")
    feed = parse_feed(result.stdout)
    assert feed.entries == {} and feed.vanished == set()
    # the move out (modseq 3) is remembered for a reader that knew modseq 2
    assert read_feed(recipe_fs.sub() / "INBOX", 2).vanished == {1}
    assert feed.uidnext == 2 and feed.messages == 0
    assert feed.uidvalidity == state["INBOX"]["uidvalidity"]
    # deposit, +\Seen, move out: three changes, one modseq each
    assert feed.highestmodseq == 3 == state["INBOX"]["highestmodseq"]


def test_recipe_quota(recipe_fs):
    result, _ = recipe_result("getfattr -n user.vvm.quota")
    assert result.stdout.split("\n")[:4] == [
        "storage_kb 0 5000", "messages 0 0", "voice_seconds 0 0",
        "greeting_seconds 0 0"], result.stdout


def test_recipe_session_slots(recipe_fs):
    result, _ = recipe_result("ls 31612345678/.sessions")
    assert result.stdout == "imap\nlogin\nsmtp\nsessions 1\nlimit 1\n"
    result, _ = recipe_result("os.O_RDONLY)        # this session")
    assert result.stdout == "sessions 1\nlimit 1\n"


def test_recipe_login_failures(recipe_fs):
    result, _ = recipe_result("-v + 31612345678")
    count, when = result.stdout.split("\n")[0].split(" ")
    assert count == "2" and abs(int(when) - time.time()) < 600
    assert result.stdout.split("\n")[1:] == ["0 0", ""]
    assert xattr(recipe_fs.sub(), "user.vvm.login_failures") == "0 0"


def test_recipe_state_survives_remount(recipe_fs):
    sub = recipe_fs.sub()
    before = subscriber_state(sub)
    feeds = {mb: read_feed(sub / mb) for mb in before}
    recipe_fs.remount()
    assert subscriber_state(sub) == before
    assert {mb: read_feed(sub / mb) for mb in before} == feeds


# --- the same rules on fresh stores, beyond what the recipes print -----------

def cp(src, dst):
    subprocess.run(["cp", str(src), str(dst)], check=True, timeout=30)


def test_cp_commits_under_uid_name(subscriber, tmp_path):
    src = tmp_path / "voice.eml"
    src.write_bytes(voice_message())
    cp(src, subscriber / "INBOX")
    assert os.listdir(subscriber / "INBOX") == ["1.eml"]
    out = subprocess.run(["getfattr", "-n", "user.imap.uid", "--only-values",
                          str(subscriber / "INBOX" / "1.eml")],
                         capture_output=True, text=True, check=True)
    assert out.stdout == "1"
    assert (subscriber / "INBOX" / "1.eml").read_bytes() == voice_message()


def test_mv_takes_next_uid_and_keeps_flags(subscriber):
    inbox, archive = subscriber / "INBOX", subscriber / "Archive"
    archive.mkdir()
    for n in range(2):
        deposit(archive, voice_message(n))
    uid = deposit(inbox, voice_message(9))
    set_flags(message_path(inbox, uid), "\\Flagged \\Seen")
    date = xattr(message_path(inbox, uid), "user.imap.internaldate")
    high = xattr_int(inbox, "user.imap.highestmodseq")
    os.rename(message_path(inbox, uid), archive / "moved.eml")
    assert sorted(os.listdir(archive)) == ["1.eml", "2.eml", "3.eml"]
    moved = message_path(archive, 3)
    assert flags(moved) == "\\Flagged \\Seen"
    assert xattr(moved, "user.imap.internaldate") == date
    assert xattr_int(moved, "user.imap.uid") == 3
    assert message_uids(inbox) == []
    assert xattr_int(archive, "user.imap.uidnext") == 4
    assert xattr_int(inbox, "user.imap.uidnext") == 2
    assert read_feed(inbox, high).vanished == {1}


def test_rm_expunges(subscriber):
    inbox = subscriber / "INBOX"
    uids = [deposit(inbox, voice_message(n)) for n in range(3)]
    high = xattr_int(inbox, "user.imap.highestmodseq")
    os.unlink(message_path(inbox, uids[1]))
    assert message_uids(inbox) == [1, 3]
    assert xattr_int(inbox, "user.imap.messages") == 2
    assert not os.path.exists(message_path(inbox, uids[1]))
    assert read_feed(inbox, high).vanished == {2}
    assert xattr_int(inbox, "user.imap.highestmodseq") == high + 1


def test_uids_never_reused_across_remount(vvmfs, subscriber):
    inbox = subscriber / "INBOX"
    for n in range(3):
        deposit(inbox, voice_message(n))
    validity = xattr_int(inbox, "user.imap.uidvalidity")
    os.unlink(message_path(inbox, 3))     # the highest uid
    assert xattr_int(inbox, "user.imap.uidnext") == 4
    vvmfs.remount()
    assert xattr_int(inbox, "user.imap.uidnext") == 4
    assert xattr_int(inbox, "user.imap.uidvalidity") == validity
    assert deposit(inbox, voice_message(3)) == 4
    vvmfs.remount()
    assert message_uids(inbox) == [1, 2, 4]
    assert xattr_int(inbox, "user.imap.uidnext") == 5
    assert xattr_int(inbox, "user.imap.uidvalidity") == validity


def test_recreated_mailbox_gets_new_uidvalidity(vvmfs, subscriber):
    saved = subscriber / "Saved"
    seen = set()
    for round_ in range(3):
        saved.mkdir()
        validity = xattr_int(saved, "user.imap.uidvalidity")
        assert validity not in seen, "UIDVALIDITY %d reused" % validity
        seen.add(validity)
        assert xattr_int(saved, "user.imap.uidnext") == 1
        saved.rmdir()
        if round_ == 1:
            vvmfs.remount()
    others = {xattr_int(subscriber / mb, "user.imap.uidvalidity")
              for mb in ("INBOX", "Greetings")}
    assert not seen & others and len(others) == 2


def test_rename_keeps_uids_and_uidvalidity(vvmfs, subscriber):
    saved = subscriber / "Saved"
    saved.mkdir()
    uid = deposit(saved, voice_message())
    before = subscriber_state(subscriber)["Saved"]
    saved.rename(subscriber / "Kept")
    vvmfs.remount()
    after = subscriber_state(subscriber)["Kept"]
    assert after["uidvalidity"] == before["uidvalidity"]
    assert after["uids"] == [uid] and after["uidnext"] == before["uidnext"]
    assert not saved.exists()


def test_highestmodseq_only_grows_across_remount(vvmfs, subscriber):
    inbox = subscriber / "INBOX"
    uid = deposit(inbox, voice_message())
    set_flags(message_path(inbox, uid), "+\\Seen")
    high = xattr_int(inbox, "user.imap.highestmodseq")
    vvmfs.remount()
    assert xattr_int(inbox, "user.imap.highestmodseq") == high
    set_flags(message_path(inbox, uid), "-\\Seen")
    assert xattr_int(inbox, "user.imap.highestmodseq") > high
    assert xattr_int(message_path(inbox, uid), "user.imap.modseq") > high
