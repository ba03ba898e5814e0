"""Voice files for the lib/media tests, made at test time from real
speech (espeak-ng) with the tools Debian has (sox, gst-launch-1.0,
ffmpeg), QCP files (QCELP, EVRC: no encoder anywhere) built here, and
readers that measure what the worker wrote without lib/media's help:
WAV headers parsed here, durations from ffprobe, AMR frames counted from
their ToC bytes, PCM decoded by ffmpeg for comparing loudness envelopes.
"""
import array
import json
import math
import os
import random
import shutil
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from conftest import BUILD

WORKER = BUILD / "lib" / "media" / "vvm-media-worker"
TOOLS = ("espeak-ng", "sox", "soxi", "gst-launch-1.0", "ffmpeg", "ffprobe")
SPEECH = "Hello, this is a voicemail test. Call me back."

# Sizes of AMR storage frames, ToC byte included, by frame type.
AMR_NB_SIZES = (13, 14, 16, 18, 20, 21, 27, 32, 6, 1, 1, 1, 1, 1, 1, 1)
AMR_WB_SIZES = (18, 24, 33, 37, 41, 47, 51, 59, 61, 6, 1, 1, 1, 1, 1, 1)
AMR_NB_MAGIC = b"#!AMR\n"
AMR_WB_MAGIC = b"#!AMR-WB\n"

QCELP_GUID = bytes.fromhex("416d7f5e15b1d011ba9100805fb4b97e")
EVRC_GUID = bytes.fromhex("8dd489e67690b54691ef736a5100ceb4")

TARGETS = ("amr", "amr-wb", "wav-g711a", "wav-g711u", "wav")
# What each target's output must be: (container, WAV fmt code, bits).
TARGET_FORMAT = {
    "amr": ("amr", None, None),
    "amr-wb": ("amr-wb", None, None),
    "wav-g711a": ("wav", 6, 8),
    "wav-g711u": ("wav", 7, 8),
    "wav": ("wav", 1, 16),
}


def sanitized(build=BUILD):
    """True for a build with sanitizers, whose worker sets no RLIMIT_AS
    (AddressSanitizer reserves terabytes of address space)."""
    try:
        with open(Path(build) / "meson-info" / "intro-buildoptions.json") as f:
            options = json.load(f)
    except OSError:
        return False
    return any(o["name"] == "b_sanitize" and o["value"] not in ("none", "")
               for o in options)


def missing_tools():
    return [t for t in TOOLS if shutil.which(t) is None]


def require_tools_and_worker():
    """Fails, never skips, when what the tests need is not there: tools/vvm
    installs every tool and builds the worker."""
    missing = missing_tools()
    assert not missing, "missing tools: %s (tools/vvm installs them)" % (
        " ".join(missing))
    assert WORKER.exists(), "%s is not built" % WORKER


def plain_worker():
    """A worker built without sanitizers, which can set its memory budget
    as an address-space limit: this build's, or else the one of the build
    that VVM_PLAIN_BUILD_DIR names (tools/vvm test names its plain
    build). None when there is neither."""
    if not sanitized():
        return WORKER
    build = os.environ.get("VVM_PLAIN_BUILD_DIR")
    if not build or sanitized(build):
        return None
    path = Path(build) / "lib" / "media" / "vvm-media-worker"
    assert path.exists(), "%s is not built" % path
    return path


def run(*args, **kwargs):
    """Runs a tool that must succeed; returns its stdout."""
    r = subprocess.run([str(a) for a in args], capture_output=True,
                       timeout=60, **kwargs)
    if r.returncode != 0:
        raise RuntimeError("%s exited %d: %s" % (
            " ".join(str(a) for a in args), r.returncode,
            r.stderr.decode(errors="replace")[-2000:]))
    return r.stdout


@dataclass
class Source:
    name: str
    path: Path
    duration: float     # seconds of audio the file holds
    rate: int           # what a PCM target keeps
    speech: bool        # real speech (its loudness envelope can be compared)


# ---- QCP (RFC 3625) ----

def qcp_file(codec, packets=150, seed=3625, variable=True, rates=None,
             fmt_packet_size=None, data_length=None):
    """A QCP file of packets packets, each a rate byte and pseudo-random
    payload. rates: the rate byte of each packet (default all full rate).
    Returns (bytes, number of packets)."""
    rnd = random.Random(seed)
    if codec == "qcelp":
        guid, name, bps = QCELP_GUID, b"Qcelp 13K", 13000
        sizes = {0: 1, 1: 4, 2: 8, 3: 17, 4: 35}
        rate_map = [(34, 4), (16, 3), (7, 2), (3, 1), (0, 0)]
    elif codec == "evrc":
        guid, name, bps = EVRC_GUID, b"TIA IS-127 Enhanced Variable Rate Codec", 8500
        sizes = {0: 1, 1: 3, 3: 11, 4: 23}
        rate_map = [(22, 4), (10, 3), (2, 1), (0, 0)]
    else:
        raise ValueError(codec)
    full = sizes[4]
    fmt = struct.pack("<BB16sH80sHHHHHI", 1, 0, guid, 1,
                      name.ljust(80, b"\0"), bps,
                      full if fmt_packet_size is None else fmt_packet_size,
                      160, 8000, 16, len(rate_map))
    fmt += b"".join(struct.pack("BB", s, r) for s, r in rate_map).ljust(16, b"\0")
    fmt += bytes(20)
    assert len(fmt) == 150
    if rates is None:
        rates = [4] * packets
    data = b"".join(bytes([r]) + rnd.randbytes(sizes.get(r, 1) - 1)
                   for r in rates)
    body = (b"QLCM" + chunk(b"fmt ", fmt)
            + chunk(b"vrat", struct.pack("<II", int(variable), len(rates)))
            + chunk(b"data", data, data_length))
    return b"RIFF" + struct.pack("<I", len(body)) + body, len(rates)


def chunk(cid, body, declared=None):
    """A RIFF chunk, padded to an even length."""
    n = len(body) if declared is None else declared
    return cid + struct.pack("<I", n) + body + (b"\0" if len(body) & 1 else b"")


# ---- making the sources ----

def make_sources(d):
    """Writes one file of each decodable kind into d; returns
    {name: Source} and the 8 kHz speech every speech source came from."""
    d = Path(d)
    speech = d / "speech.wav"
    run("espeak-ng", "-s", "150", "-w", speech, SPEECH)
    pcm8 = d / "pcm8k.wav"
    pcm16 = d / "pcm16k.wav"
    pcm = d / "pcm.wav"
    run("sox", speech, "-b", "16", "-e", "signed-integer", "-c", "1", pcm)
    run("sox", pcm, "-r", "8000", pcm8)
    run("sox", pcm, "-r", "16000", pcm16)

    def soxi(path):
        return float(run("soxi", "-D", path).decode())

    def rate(path):
        return int(run("soxi", "-r", path).decode())

    dur8, dur16, dur = soxi(pcm8), soxi(pcm16), soxi(pcm)
    src = {}

    def add(name, path, duration, r, speech=True):
        src[name] = Source(name, path, duration, r, speech)

    # AMR-NB at sox's default mode (4.75 kbit/s frames) ...
    run("sox", pcm8, "-t", "amr-nb", d / "src.amr")
    add("amr-nb", d / "src.amr", dur8, 8000)
    # ... and at 12.2 kbit/s, copied into a 3GP.
    run("sox", pcm8, "-t", "amr-nb", "-C", "7", d / "src122.amr")
    run("ffmpeg", "-v", "error", "-y", "-i", d / "src122.amr", "-c:a", "copy",
        "-map_metadata", "-1", "-fflags", "+bitexact", "-f", "3gp",
        d / "src.3gp")
    add("3gp-amr", d / "src.3gp", dur8, 8000)
    # AMR-WB: the encoder writes bare frames; the storage magic goes first.
    raw = d / "src.awb-raw"
    run("gst-launch-1.0", "-q", "filesrc", "location=%s" % pcm16, "!",
        "wavparse", "!", "audioconvert", "!", "voamrwbenc", "!",
        "filesink", "location=%s" % raw)
    (d / "src.awb").write_bytes(AMR_WB_MAGIC + raw.read_bytes())
    add("amr-wb", d / "src.awb", dur16, 16000)
    # WAV: PCM at espeak's own rate, G.711 and GSM (wav49) at 8 kHz.
    add("wav-pcm16", pcm, dur, rate(pcm))
    run("sox", pcm8, "-e", "a-law", d / "src-alaw.wav")
    add("wav-alaw", d / "src-alaw.wav", dur8, 8000)
    run("sox", pcm8, "-e", "u-law", d / "src-ulaw.wav")
    add("wav-ulaw", d / "src-ulaw.wav", dur8, 8000)
    run("sox", pcm8, "-e", "gsm", d / "src-gsm.wav")
    add("wav-gsm", d / "src-gsm.wav", dur8, 8000)
    run("sox", pcm8, d / "src.gsm")
    add("gsm", d / "src.gsm", dur8, 8000)
    # QCELP and EVRC: noise, 150 packets of 20 ms.
    for codec in ("qcelp", "evrc"):
        data, packets = qcp_file(codec)
        (d / ("src-%s.qcp" % codec)).write_bytes(data)
        add("qcp-" + codec, d / ("src-%s.qcp" % codec), packets * 0.020,
            8000, speech=False)
    return src, pcm8


# ---- running the worker ----

@dataclass
class WorkerRun:
    returncode: int
    stdout: bytes
    stderr: str
    seconds: float


def worker(path, to, *options, timeout=60, env=None, binary=WORKER):
    """Runs the worker on the file at path (stdin is that file). Under
    AddressSanitizer its leak check is on: the worker suppresses GLib's
    one leak by design itself (vvm-media-worker.c)."""
    start = time.monotonic()
    with open(path, "rb") as f:
        r = subprocess.run([str(binary), "--to=" + to] + list(options),
                           stdin=f, capture_output=True, timeout=timeout,
                           env=env)
    return WorkerRun(r.returncode, r.stdout,
                     r.stderr.decode(errors="replace"),
                     time.monotonic() - start)


# ---- reading the output, independently of lib/media ----

def wav_parse(data):
    """The chunks of a RIFF WAVE file, checked strictly: the RIFF length
    is the file's, every chunk fits and is padded. Returns a dict with
    fmt (format, channels, rate, byte rate, block align, bits), fact
    (or None) and data (bytes)."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE", data[:16]
    riff_len = struct.unpack_from("<I", data, 4)[0]
    assert riff_len + 8 == len(data), (riff_len, len(data))
    pos, chunks = 12, {}
    while pos < len(data):
        assert len(data) - pos >= 8, "partial chunk header at %d" % pos
        cid = data[pos:pos + 4]
        n = struct.unpack_from("<I", data, pos + 4)[0]
        assert pos + 8 + n <= len(data), "chunk %r runs past the file" % cid
        chunks[cid] = data[pos + 8:pos + 8 + n]
        pos += 8 + n + (n & 1)
    assert pos == len(data)
    fmt = struct.unpack_from("<HHIIHH", chunks[b"fmt "])
    fact = chunks.get(b"fact")
    return {
        "fmt": fmt,
        "fact": struct.unpack("<I", fact)[0] if fact is not None else None,
        "data": chunks[b"data"],
    }


def amr_frames(data):
    """Counts the frames of an AMR or AMR-WB storage file from their ToC
    bytes. Returns (wideband, [frame types], trailing bytes that make no
    whole frame)."""
    if data.startswith(AMR_WB_MAGIC):
        wideband, sizes, pos = True, AMR_WB_SIZES, len(AMR_WB_MAGIC)
    elif data.startswith(AMR_NB_MAGIC):
        wideband, sizes, pos = False, AMR_NB_SIZES, len(AMR_NB_MAGIC)
    else:
        raise AssertionError("no AMR magic: %r" % data[:12])
    types = []
    while pos < len(data):
        toc = data[pos]
        assert toc & 0x83 == 0, "bad ToC 0x%02x at %d" % (toc, pos)
        size = sizes[(toc >> 3) & 15]
        if pos + size > len(data):
            break
        types.append((toc >> 3) & 15)
        pos += size
    return wideband, types, data[pos:]


def ffprobe_duration(path):
    """The duration ffprobe reads from a file's stream."""
    out = run("ffprobe", "-v", "error", "-select_streams", "a:0",
              "-show_entries", "stream=duration", "-of",
              "default=noprint_wrappers=1:nokey=1", path).decode().strip()
    return float(out)


def decode_pcm(path, rate=8000):
    """The audio of a file as 16-bit mono samples at rate, by ffmpeg."""
    out = run("ffmpeg", "-v", "error", "-i", path, "-f", "s16le", "-ac", "1",
              "-ar", str(rate), "-")
    samples = array.array("h")
    samples.frombytes(out[:len(out) & ~1])
    if sys.byteorder != "little":
        samples.byteswap()
    return samples


def envelope(samples, block=160):
    """RMS loudness per block (20 ms at 8 kHz)."""
    env = []
    for i in range(0, len(samples) - block + 1, block):
        s = samples[i:i + block]
        env.append(math.sqrt(sum(x * x for x in s) / block))
    return env


def correlation(a, b, max_lag=10):
    """The best Pearson correlation of two envelopes over small shifts of
    b, and that shift (in blocks)."""
    best = (-1.0, 0)
    for lag in range(-max_lag, max_lag + 1):
        pairs = [(a[i], b[i + lag]) for i in range(len(a))
                 if 0 <= i + lag < len(b)]
        if len(pairs) < 20:
            continue
        n = len(pairs)
        ma = sum(p[0] for p in pairs) / n
        mb = sum(p[1] for p in pairs) / n
        cov = sum((x - ma) * (y - mb) for x, y in pairs)
        va = sum((x - ma) ** 2 for x, _ in pairs)
        vb = sum((y - mb) ** 2 for _, y in pairs)
        if va == 0 or vb == 0:
            continue
        best = max(best, (cov / math.sqrt(va * vb), lag))
    return best


def tolerance(seconds):
    """How far a decoded duration may be from the source's."""
    return max(0.02 * seconds, 0.100)


def wav_file(fmt, channels, rate, bits, data, block=None, extra_fmt=b"",
             data_length=None, chunks_before=b""):
    """A WAV file with one fmt and one data chunk (data_length: what the
    data chunk declares, default the truth)."""
    block = block if block is not None else channels * bits // 8
    f = struct.pack("<HHIIHH", fmt, channels, rate,
                    (rate * block) & 0xffffffff, block, bits) + extra_fmt
    body = (b"WAVE" + chunk(b"fmt ", f) + chunks_before
            + chunk(b"data", data, data_length))
    return b"RIFF" + struct.pack("<I", len(body)) + body


def riff_chunks(data):
    """The chunks of a RIFF file that may be cut short: {id: (offset of
    the body, declared length)}, the first of each id."""
    pos, found = 12, {}
    while len(data) - pos >= 8:
        cid = data[pos:pos + 4]
        n = struct.unpack_from("<I", data, pos + 4)[0]
        found.setdefault(cid, (pos + 8, n))
        pos += 8 + n + (n & 1)
    return found


def whole_frames_duration(name, data):
    """Seconds of audio in the whole frames of data, a source of kind
    name that may be cut short; None when the header itself is cut (or
    for 3GP, whose frames only a demuxer finds)."""
    if name in ("amr-nb", "amr-wb"):
        magic = AMR_WB_MAGIC if name == "amr-wb" else AMR_NB_MAGIC
        if len(data) < len(magic):
            return None
        return len(amr_frames(data)[1]) * 0.020
    if name == "gsm":
        return len(data) // 33 * 0.020 if len(data) >= 33 else None
    if name.startswith("wav-") or name.startswith("qcp-"):
        chunks = riff_chunks(data)
        if b"fmt " not in chunks or b"data" not in chunks:
            return None
        off, declared = chunks[b"data"]
        avail = min(declared, len(data) - off)
        fmt_off = chunks[b"fmt "][0]
        if name.startswith("qcp-"):
            packet = struct.unpack_from("<H", data, fmt_off + 102)[0]
            return avail // packet * 0.020
        _, channels, rate, _, block, _ = struct.unpack_from(
            "<HHIIHH", data, fmt_off)
        if name == "wav-gsm":
            return avail // block * 320 / rate
        return avail // block / rate
    return None


def measure(data, to, path):
    """The decoded duration of a worker's output for target to (data,
    also written at path): ffprobe for WAV, frames x 20 ms for AMR."""
    if to.startswith("amr"):
        return len(amr_frames(data)[1]) * 0.020
    path.write_bytes(data)
    return ffprobe_duration(path)
