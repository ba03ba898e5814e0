"""Shared fixtures: a really mounted vvmfs on a fresh store per test.

The binaries come from the build directory named by VVM_BUILD_DIR (default
./build at the top of the tree), so `tools/vvm test` can run the same suite
against the plain and the ASan+UBSan builds.
"""
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from voicemsg import MSISDN, amr_audio, deposit, voice_message  # noqa: F401

TOP = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("VVM_BUILD_DIR", TOP / "build")).resolve()
VVMFS = BUILD / "vvmfs" / "vvmfs"
VVMADM = BUILD / "tools" / "vvmadm" / "vvmadm"


def is_mounted(path):
    path = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


class Vvmfs:
    """One vvmfs daemon over one store; can be killed and mounted again.

    Whenever the daemon stops, by SIGTERM or SIGKILL, mid-test or at
    teardown, `vvmadm fsck` checks the store it left: every commit is one
    atomic batch, so no stop may leave anything for fsck to find, and any
    finding fails the test. A test that damages a store on purpose says
    so with fsck=False."""

    def __init__(self, root, fsck=True):
        self.root = Path(root)
        self.store = self.root / "store"
        self.mnt = self.root / "mnt"
        self.log = self.root / "vvmfs.log"
        self.mnt.mkdir(parents=True, exist_ok=True)
        self.proc = None
        self.fsck = fsck

    def mount(self, *options):
        args = [str(VVMFS), "-f"]
        for opt in options:
            args += ["-o", opt]
        args += [str(self.store), str(self.mnt)]
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen(args, stdout=logf, stderr=logf,
                                     stdin=subprocess.DEVNULL)
        logf.close()
        deadline = time.monotonic() + 20
        while not is_mounted(self.mnt):
            if self.proc.poll() is not None:
                raise RuntimeError("vvmfs exited %d: %s" % (
                    self.proc.returncode, self.log.read_text()[-2000:]))
            if time.monotonic() > deadline:
                raise RuntimeError("vvmfs did not mount")
            time.sleep(0.02)
        return self

    def kill(self, sig=signal.SIGKILL):
        """Kills the daemon the hard way and clears the dead mount."""
        stopped = self.proc is not None
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)
        self.proc = None
        if is_mounted(self.mnt):
            subprocess.run(["fusermount3", "-u", "-z", str(self.mnt)],
                           check=False)
        if stopped:
            self.check_store()

    def unmount(self):
        """Clean unmount through SIGTERM, as an administrator would."""
        stopped = self.proc is not None
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            rc = self.proc.wait(timeout=30)
            assert rc == 0, "vvmfs exited %d on SIGTERM: %s" % (
                rc, self.log.read_text()[-2000:])
        self.proc = None
        assert not is_mounted(self.mnt)
        if stopped:
            self.check_store()

    def check_store(self):
        """vvmadm fsck of the store no vvmfs runs on any more."""
        if not self.fsck or not (self.store / "CURRENT").exists():
            return
        r = subprocess.run([str(VVMADM), "fsck", str(self.store)],
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, \
            "vvmadm fsck after vvmfs stopped (exit %d):\n%s%s" % (
                r.returncode, r.stdout, r.stderr)

    def remount(self, *options):
        self.unmount()
        return self.mount(*options)

    def sub(self, msisdn=MSISDN):
        return self.mnt / msisdn


@pytest.fixture
def vvmfs():
    with tempfile.TemporaryDirectory(prefix="vvmfs-test-") as root:
        fs = Vvmfs(root).mount()
        try:
            yield fs
        finally:
            fs.kill(signal.SIGTERM)


def server_factory(cls, prefix):
    """The body of a fixture that makes servers of cls, each in its own
    temporary directory, for tests that need their own config: yields the
    factory, then closes every server and removes its directory."""
    servers, roots = [], []

    def make(**kwargs):
        root = tempfile.TemporaryDirectory(prefix=prefix)
        roots.append(root)
        servers.append(cls(root.name, **kwargs))
        return servers[-1]
    try:
        yield make
    finally:
        for server in servers:
            server.close()
        for root in roots:
            root.cleanup()


@pytest.fixture
def subscriber(vvmfs):
    path = vvmfs.sub()
    path.mkdir()
    return path
