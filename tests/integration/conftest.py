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

TOP = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("VVM_BUILD_DIR", TOP / "build")).resolve()
VVMFS = BUILD / "vvmfs" / "vvmfs"
VVMADM = BUILD / "tools" / "vvmadm" / "vvmadm"
MSISDN = "31612345678"


def is_mounted(path):
    path = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


class Vvmfs:
    """One vvmfs daemon over one store; can be killed and mounted again."""

    def __init__(self, root):
        self.root = Path(root)
        self.store = self.root / "store"
        self.mnt = self.root / "mnt"
        self.log = self.root / "vvmfs.log"
        self.mnt.mkdir(parents=True, exist_ok=True)
        self.proc = None

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
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)
        self.proc = None
        if is_mounted(self.mnt):
            subprocess.run(["fusermount3", "-u", "-z", str(self.mnt)],
                           check=False)

    def unmount(self):
        """Clean unmount through SIGTERM, as an administrator would."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            rc = self.proc.wait(timeout=30)
            assert rc == 0, "vvmfs exited %d on SIGTERM: %s" % (
                rc, self.log.read_text()[-2000:])
        self.proc = None
        assert not is_mounted(self.mnt)

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


# AMR-NB frame types and their sizes with the ToC byte (RFC 4867).
AMR_FRAME_SIZES = {15: 1, 8: 6, 0: 13, 1: 14, 2: 16, 3: 18, 4: 20, 5: 21,
                   6: 27, 7: 32}


def amr_audio(seconds, size=0, fill=0):
    """AMR-NB lasting exactly `seconds` (50 frames a second), as vvmfs
    measures it at commit, of at least `size` bytes: the frames are of the
    smallest type that gets there."""
    frames = 50 * seconds
    for ft, n in sorted(AMR_FRAME_SIZES.items(), key=lambda kv: kv[1]):
        if n * frames >= size:
            break
    else:
        raise ValueError("%d bytes do not fit in %d s of AMR" % (size, seconds))
    return b"#!AMR\n" + (bytes([ft << 3 | 4]) + bytes([fill]) * (n - 1)) * frames


def voice_message(n=0, duration=5, audio=None,
                  extra_headers="", date="Sun, 22 Nov 2026 10:00:00 +0000"):
    """A VVM voice message shaped like the spec's deposit examples."""
    import base64
    if audio is None:
        audio = amr_audio(duration)
    body = base64.encodebytes(audio).decode().replace("\n", "\r\n")
    return ("From: +31600000001@example.net\r\n"
            "To: " + MSISDN + "@example.net\r\n"
            "Date: " + date + "\r\n"
            "Subject: voice mail " + str(n) + "\r\n"
            "Message-ID: <test-" + str(n) + "@vvm.test>\r\n"
            "Message-Context: voice-message\r\n"
            "Content-Duration: " + str(duration) + "\r\n"
            "MIME-Version: 1.0\r\n"
            + extra_headers +
            "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
            "\r\n"
            "--b1\r\n"
            "Content-Type: text/plain; charset=us-ascii\r\n"
            "\r\n"
            "You have a voice message.\r\n"
            "--b1\r\n"
            "Content-Type: audio/amr\r\n"
            "Content-Transfer-Encoding: base64\r\n"
            "Content-Disposition: attachment; filename=\"vm.amr\"\r\n"
            "Content-Duration: " + str(duration) + "\r\n"
            "\r\n" + body +
            "--b1--\r\n").encode()


def deposit(mailbox, data, name="new.eml"):
    """Writes a message the way a shim does and returns its UID."""
    fd = os.open(os.path.join(mailbox, name),
                 os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
        return int(os.getxattr(fd, "user.imap.uid"))
    finally:
        os.close(fd)
