"""vvm-smsd under test: a mounted vvmfs with a provisioned subscriber and
vvm-imapd (imapd.Imapd), the test SMSC (smsc.Smsc), and vvm-smsd bound to
it, started and killed as a test needs."""
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import BUILD, MSISDN
from imapd import Imapd
from smsc import Smsc, reassemble

SMSD = BUILD / "shims" / "sms" / "vvm-smsd"
NUMBER = "+" + MSISDN          # as the SMSC gives the sender
SERVICE = "5555"               # the VVM service's number
# What STATUS tells the phone about this test deployment.
SMS = {"server": "127.0.0.1", "tui_number": "*86", "mo_number": SERVICE}
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                     "runtime error:")


def smsd_keys(smsc, **overrides):
    keys = {"mode": "smpp", "smsc_host": "127.0.0.1",
            "smsc_port": str(smsc.port), "system_id": smsc.system_id,
            "password": smsc.password, "source_addr": SERVICE,
            "poll_ms": "50", "reconnect_min": "1", "reconnect_max": "2",
            "response_timeout": "3", "enquire_link": "30"}
    keys.update({k: str(v) for k, v in overrides.items()})
    return keys


class SmsRig:
    """The whole SMS path. status is the subscriber's to begin with."""

    def __init__(self, root, status="P", smsd=None, sms=None, imap=None,
                 start=True):
        self.root = Path(root)
        self.smsc = Smsc()
        self.imapd = Imapd(root, status=status, imap=imap,
                           sms=dict(SMS, **(sms or {})),
                           smsd=smsd_keys(self.smsc, **(smsd or {})))
        self.fs = self.imapd.fs
        self.sub = self.imapd.sub
        self.config = self.imapd.config
        self.log = self.root / "smsd.log"
        self.proc = None
        if start:
            self.start()

    def start(self, *args):
        with open(self.log, "ab") as logf:
            self.proc = subprocess.Popen(
                [str(SMSD), "-c", str(self.config)] + list(args),
                stdin=subprocess.DEVNULL, stdout=logf, stderr=logf)
        return self.proc

    def stop(self):
        """SIGTERM, as systemd stops it: it must unbind and exit 0."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=15)
        assert rc == 0, "vvm-smsd exited %d: %s" % (rc, self.log_text())
        self.proc = None

    def kill(self):
        self.proc.kill()
        self.proc.wait(timeout=15)
        self.proc = None

    def log_text(self):
        return self.log.read_text(errors="replace") if self.log.exists() \
            else ""

    def mo(self, text, source=NUMBER, **kwargs):
        """A client SMS through the SMSC; the deliver_sm_resp status."""
        data = text.encode() if isinstance(text, str) else text
        return self.smsc.deliver(source, SERVICE, data, **kwargs)

    def outbox(self):
        box = self.fs.mnt / ".outbox" / "sms"
        return sorted(int(n) for n in os.listdir(box))

    def wait_outbox_empty(self, timeout=10):
        deadline = time.monotonic() + timeout
        while self.outbox():
            assert time.monotonic() < deadline, \
                "outbox not drained: %s\n%s" % (self.outbox(),
                                                self.log_text()[-3000:])
            time.sleep(0.05)

    def messages(self, n, timeout=10):
        """The first n whole messages the SMSC accepted, parts joined."""
        deadline = time.monotonic() + timeout
        while True:
            got = reassemble([s for s in self.smsc.submits if s.status == 0],
                             strict=False)
            if len(got) >= n:
                return got
            if time.monotonic() > deadline:
                raise TimeoutError("%d of %d messages:\n%s" % (
                    len(got), n, self.log_text()[-3000:]))
            time.sleep(0.05)

    def close(self):
        try:
            self.stop()
        finally:
            if self.proc is not None:
                self.kill()
            self.smsc.close()
            self.imapd.close()
        text = self.log_text()
        for marker in SANITIZER_MARKERS:
            assert marker not in text, text[-4000:]


def texts(messages):
    return [m.text for m in messages]


@pytest.fixture
def make_rig():
    rigs, roots = [], []

    def make(**kwargs):
        root = tempfile.TemporaryDirectory(prefix="vvm-sms-")
        roots.append(root)
        rigs.append(SmsRig(root.name, **kwargs))
        return rigs[-1]
    try:
        yield make
    finally:
        for rig in rigs:
            rig.close()
        for root in roots:
            root.cleanup()
