"""vvm-smsd when things go wrong: the SMSC down, refusing, throttling or
silent; vvm-smsd killed mid-drain; the mount gone under an MO; bad PDUs.
Nothing queued is lost, nothing is sent twice while the SMSC accepts, and
vvm-smsd never dies of it."""
import os
import re
import signal
import time
from collections import Counter

import pytest

from conftest import deposit, voice_message
from smsrig import make_rig  # noqa: F401 (fixture)
from smsc import (ESME_ROK, ESME_RSYSERR, ESME_RTHROTTLED, ESME_RX_P_APPN,
                  ESME_RX_T_APPN)

SYNC_ID = re.compile(r":SYNC:ev=NM;id=(\d+);")


def ready_rig(make_rig, **kwargs):
    """Status R, the STATUS of getting there sent, bound."""
    rig = make_rig(status="R", **kwargs)
    rig.smsc.wait_binds(1, timeout=10)
    rig.wait_outbox_empty()
    rig.smsc.take_submits()
    return rig


def sync_ids(submits):
    """UIDs of the SYNC NM among accepted submits, with repeats."""
    ids = []
    for s in submits:
        m = SYNC_ID.search(s.text) if s.status == ESME_ROK else None
        if m:
            ids.append(int(m.group(1)))
    return ids


def deposit_many(rig, n, first=0):
    return [deposit(rig.imapd.inbox, voice_message(first + i))
            for i in range(n)]


def test_smsc_down_for_30s(make_rig):
    """The SMSC down for 30 s while 100 notifications are queued: all
    arrive once it is back, none twice, after reconnects spaced by the
    growing pause (1, 2, 2 ... s)."""
    rig = ready_rig(make_rig)
    rig.smsc.down()
    down_at = time.monotonic()
    uids = deposit_many(rig, 100)
    assert len(rig.outbox()) == 100
    time.sleep(max(0, 30 - (time.monotonic() - down_at)))
    binds_before = len(rig.smsc.binds)
    rig.smsc.up()
    rig.smsc.wait_binds(binds_before + 1, timeout=10)
    rig.wait_outbox_empty(timeout=30)
    ids = sync_ids(rig.smsc.submits)
    assert sorted(ids) == sorted(uids)
    assert "connection closed" in rig.log_text()


def test_sigkill_mid_drain_loses_nothing(make_rig):
    """vvm-smsd killed with SIGKILL while the SMSC is answering slowly:
    after a restart every notification arrives. Only what was in flight at
    the kill may arrive twice: the window's 5, and what the SMSC had
    accepted but was not removed yet (a removal batch commits while the
    next one gathers, a few milliseconds here)."""
    rig = ready_rig(make_rig, smsd={"window": 5})
    rig.stop()
    uids = deposit_many(rig, 150)
    rig.smsc.delay = 0.01
    rig.start()
    rig.smsc.wait_for(lambda: len(rig.smsc.submits) >= 60, timeout=30)
    rig.kill()
    rig.smsc.delay = 0
    rig.start()
    rig.wait_outbox_empty(timeout=30)
    counts = Counter(sync_ids(rig.smsc.submits))
    assert set(counts) == set(uids)
    twice = [uid for uid, n in counts.items() if n > 1]
    assert len(twice) <= 20, twice


def test_refused_entry_goes_again_others_do_not_wait(make_rig):
    """A submit refused (ESME_RSYSERR) goes again after the pause; the
    entries behind it go meanwhile."""
    rig = ready_rig(make_rig)
    refused = []

    def answer(submit):
        if not refused:
            refused.append(submit)
            return ESME_RSYSERR
        return ESME_ROK
    rig.smsc.submit_status = answer
    uids = deposit_many(rig, 3)
    rig.wait_outbox_empty(timeout=15)
    accepted = [s for s in rig.smsc.submits if s.status == ESME_ROK]
    assert sorted(sync_ids(accepted)) == uids
    # The refused one came last, at least 2 s after it was refused.
    refused_uid = int(SYNC_ID.search(refused[0].text).group(1))
    assert sync_ids(accepted)[-1] == refused_uid
    assert accepted[-1].time - refused[0].time >= 1.9
    assert "SMSC refused a short message" in rig.log_text()


def test_throttled_waits_a_second(make_rig):
    rig = ready_rig(make_rig)
    throttled = []

    def answer(submit):
        if len(throttled) < 3:
            throttled.append(submit.time)
            return ESME_RTHROTTLED
        return ESME_ROK
    rig.smsc.submit_status = answer
    uids = deposit_many(rig, 3)
    rig.wait_outbox_empty(timeout=15)
    assert sorted(sync_ids(rig.smsc.submits)) == uids
    accepted = [s.time for s in rig.smsc.submits if s.status == ESME_ROK]
    assert min(accepted) - throttled[0] >= 0.9


def test_unanswered_submits_end_the_bind(make_rig):
    """No submit_sm_resp within response_timeout: the link is dead. vvm-smsd
    drops it, binds again and sends what had no answer."""
    rig = ready_rig(make_rig)
    rig.smsc.respond = False
    [uid] = deposit_many(rig, 1)
    rig.smsc.wait_submits(1)
    rig.smsc.wait_binds(2, timeout=10)
    rig.smsc.respond = True
    rig.wait_outbox_empty(timeout=10)
    # Once unanswered on the first bind, once answered on the second.
    first, again = rig.smsc.submits
    assert sync_ids([first, again]) == [uid, uid]
    assert first.conn_id != again.conn_id
    assert "the SMSC stopped answering" in rig.log_text()


def test_smsc_unbind_and_dropped_connection(make_rig):
    rig = ready_rig(make_rig)
    rig.smsc.unbind()
    rig.smsc.wait_binds(2, timeout=10)
    rig.smsc.drop_connections()
    rig.smsc.wait_binds(3, timeout=10)
    uids = deposit_many(rig, 2)
    rig.wait_outbox_empty()
    assert sorted(sync_ids(rig.smsc.submits)) == uids
    assert rig.smsc.errors == []


def test_bind_refused_backs_off(make_rig):
    """A wrong password: the bind is retried, each time after a longer
    pause (1, 2, 4 s with reconnect_max 4), and nothing is lost."""
    rig = make_rig(status="R", smsd={"password": "wrong",
                                     "reconnect_max": 4})
    time.sleep(6)
    refused = [b for b in rig.smsc.binds if b.status != ESME_ROK]
    assert 2 <= len(refused) <= 4, [b.time for b in refused]
    gaps = [b.time - a.time for a, b in zip(refused, refused[1:])]
    assert all(later >= earlier * 0.9 for earlier, later in
               zip(gaps, gaps[1:])), gaps
    assert len(rig.outbox()) == 2
    assert "refused the bind" in rig.log_text()


def test_mo_when_the_mount_is_gone(make_rig):
    """An Activate while vvmfs is down cannot be applied: the deliver_sm
    gets a temporary error so that the SMSC brings it again, and applies
    once vvmfs is back."""
    rig = make_rig()
    rig.smsc.wait_binds(1)
    rig.fs.kill(signal.SIGKILL)
    status = rig.mo("Activate:pv=13;ct=vvm-test;pt=5499;//VVM")
    assert status == ESME_RX_T_APPN
    time.sleep(1)
    rig.fs.mount("config=%s" % rig.config)
    assert rig.mo("Activate:pv=13;ct=vvm-test;pt=5499;//VVM") == ESME_ROK
    [msg] = rig.messages(1)
    assert msg.text.startswith("//VVM:STATUS:st=N;")
    # A second of failing scans is one line, and one when it is back.
    log = rig.log_text()
    assert log.count("cannot read %s" % (rig.fs.mnt / ".outbox" / "sms")) \
        == 1, log
    assert "is readable again" in log


def test_bad_deliver_sm_is_refused_not_fatal(make_rig):
    """A deliver_sm whose UDH runs past its end is refused for good
    (ESME_RX_P_APPN); vvm-smsd stays bound and goes on."""
    rig = ready_rig(make_rig)
    assert rig.mo(b"\x09\x05\x04", esm_class=0x40) == ESME_RX_P_APPN
    assert rig.mo("STATUS") == ESME_ROK
    [msg] = rig.messages(1)
    assert ":STATUS:st=R;" in msg.text
    assert "deliver_sm refused" in rig.log_text()
    assert len(rig.smsc.binds) == 1


def test_outbox_entry_removed_by_hand(make_rig):
    """An administrator removes a pending entry: it is not sent, and the
    others are."""
    rig = ready_rig(make_rig)
    rig.stop()
    uids = deposit_many(rig, 3)
    first = rig.outbox()[0]
    os.unlink(rig.fs.mnt / ".outbox" / "sms" / str(first))
    rig.start()
    rig.wait_outbox_empty()
    assert sorted(sync_ids(rig.smsc.submits)) == uids[1:]


@pytest.mark.parametrize("keys,error", [
    ({"mode": "pigeon"}, "[smsd] mode: smpp, command or http"),
    ({"smsc_port": "0"},
     "[smsd] smsc_port: '0' is not a number from 1 to 65535"),
    ({"window": "many"}, "window"),
    ({"des3_key": "00"}, "[smsd] des3_key: 48 hexadecimal digits"),
    ({"system_id": "x" * 16}, "[smsd] system_id: at most 15 characters"),
    ({"mode": "http"}, "[smsd] http_url is needed in this mode"),
    ({"mode": "command", "sms_command": "'unclosed"},
     "[smsd] sms_command: not a command line"),
])
def test_bad_config_stops_it_at_start(make_rig, keys, error):
    rig = make_rig(smsd=keys, start=False)
    proc = rig.start()
    assert proc.wait(timeout=10) == 1
    assert error in rig.log_text()
    rig.proc = None
