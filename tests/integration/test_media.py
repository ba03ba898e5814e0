"""lib/media's transcoding worker (vvm-media-worker) on real audio: every
source format the server takes to every format it produces, checked by
measuring the output without lib/media (WAV headers parsed here, ffprobe
for WAV durations, AMR frames counted from their ToC bytes, the speech's
loudness envelope compared after decoding with ffmpeg); and every kind of
bad input, which must end in a clear one-line reason and an errno exit
status, within the budget, never in a crash.

The sources are made at test time (mediafixtures.py): espeak-ng speech
converted by sox, gst-launch-1.0 and ffmpeg; QCELP and EVRC, which no
Debian tool encodes, are QCP files of pseudo-random packets built here.
"""
import errno
import os
import random
import signal
import struct
import subprocess

import pytest

from mediafixtures import (AMR_NB_MAGIC, AMR_WB_MAGIC, TARGET_FORMAT,
                           TARGETS, WORKER, amr_frames, correlation,
                           decode_pcm, envelope, ffprobe_duration,
                           make_sources, measure, plain_worker, qcp_file,
                           require_tools_and_worker, run, tolerance,
                           wav_file, wav_parse, whole_frames_duration,
                           worker)

SOURCES = ("amr-nb", "amr-wb", "3gp-amr", "wav-pcm16", "wav-alaw",
           "wav-ulaw", "wav-gsm", "gsm", "qcp-qcelp", "qcp-evrc")
# What ffprobe must call each source: the generators made what we think.
SOURCE_CODEC = {
    "amr-nb": "amr_nb", "amr-wb": "amr_wb", "3gp-amr": "amr_nb",
    "wav-pcm16": "pcm_s16le", "wav-alaw": "pcm_alaw", "wav-ulaw": "pcm_mulaw",
    "wav-gsm": "gsm_ms", "gsm": "gsm", "qcp-qcelp": "qcelp",
    "qcp-evrc": "evrc",
}
# The frame type every frame of the worker's AMR output has: AMR-NB
# 12.2 kbit/s, AMR-WB 12.65 kbit/s (vvm-media.h).
AMR_MODE = {"amr": 7, "amr-wb": 2}
# Exit statuses the worker may fail with (vvm-media-worker.c).
FAILURES = {errno.EINVAL, errno.EFBIG, errno.ENOTSUP, errno.EIO}
# Bad input runs under this CPU budget and must end well within it.
CPU = 10
UTF8 = dict(os.environ, LC_ALL="C.UTF-8")


@pytest.fixture(scope="session", autouse=True)
def tools_and_worker():
    require_tools_and_worker()


@pytest.fixture(scope="session")
def media(tmp_path_factory):
    """The sources, made once: ({name: Source}, speech envelope)."""
    d = tmp_path_factory.mktemp("media")
    sources, pcm8 = make_sources(d)
    return sources, envelope(decode_pcm(pcm8))


def assert_clean_failure(r, statuses=FAILURES):
    """The worker failed the way it promises: an errno exit status and
    one line on stderr that says why, no output, no signal."""
    assert r.returncode >= 0, "worker died of signal %d: %s" % (
        -r.returncode, r.stderr)
    assert r.returncode in statuses, "exit %d: %s" % (r.returncode,
                                                      r.stderr)
    reason = r.stderr.strip()
    assert reason, "no reason on stderr"
    assert "\n" not in reason, "reason is not one line: %r" % r.stderr
    assert r.stdout == b"", "output on failure"


def assert_output_format(data, to, rate=None):
    """The output is the target's container and codec, well formed."""
    container, fmt_code, bits = TARGET_FORMAT[to]
    if container == "wav":
        wav = wav_parse(data)
        code, channels, wav_rate, byte_rate, block, wav_bits = wav["fmt"]
        assert (code, channels, wav_bits) == (fmt_code, 1, bits), wav["fmt"]
        if rate is not None:
            assert wav_rate == rate, wav["fmt"]
        assert block == bits // 8 and byte_rate == wav_rate * block
        assert len(wav["data"]) % block == 0
        if code != 1:
            # RIFF asks a fact chunk of non-PCM: the sample count.
            assert wav["fact"] == len(wav["data"]) // block
        assert wav["data"], "no audio"
        return
    wideband, types, trailing = amr_frames(data)
    assert data.startswith(AMR_WB_MAGIC if to == "amr-wb" else AMR_NB_MAGIC)
    assert wideband == (to == "amr-wb")
    assert types, "no frames"
    assert set(types) == {AMR_MODE[to]}, sorted(set(types))
    assert trailing == b"", "bytes after the last frame: %r" % trailing


# ---- the sources themselves ----

@pytest.mark.parametrize("name", SOURCES)
def test_source_is_what_it_claims(media, name):
    """ffprobe agrees on each generated source's codec, and on its
    duration where it measures rather than estimates it (raw AMR with
    DTX and QCP it estimates from a bit rate: their frames are counted
    here)."""
    sources, _ = media
    s = sources[name]
    codec = run("ffprobe", "-v", "error", "-select_streams", "a:0",
                "-show_entries", "stream=codec_name", "-of", "csv=p=0",
                s.path).decode().strip()
    assert codec == SOURCE_CODEC[name]
    if name in ("amr-nb", "amr-wb", "qcp-qcelp", "qcp-evrc"):
        measured = whole_frames_duration(name, s.path.read_bytes())
    else:
        measured = ffprobe_duration(s.path)
    assert abs(measured - s.duration) <= tolerance(s.duration)
    assert 2.9 <= s.duration <= 4.5


# ---- every source to every target ----

@pytest.mark.parametrize("to", TARGETS)
@pytest.mark.parametrize("name", SOURCES)
def test_round_trip(media, name, to, tmp_path):
    sources, speech = media
    s = sources[name]
    r = worker(s.path, to)
    assert r.returncode == 0, "exit %d: %s" % (r.returncode, r.stderr)
    # G.711 is 8 kHz; PCM keeps the source's rate.
    rate = s.rate if to == "wav" else 8000 if to.startswith("wav") else None
    assert_output_format(r.stdout, to, rate)
    out = tmp_path / ("out." + ("amr" if to.startswith("amr") else "wav"))
    duration = measure(r.stdout, to, out)
    assert abs(duration - s.duration) <= tolerance(s.duration), (
        "decoded %.3f s of a %.3f s source" % (duration, s.duration))
    if s.speech:
        # The speech survives: its loudness over time matches the
        # original's, at most 60 ms apart.
        out.write_bytes(r.stdout)
        corr, lag = correlation(speech, envelope(decode_pcm(out)))
        assert corr >= 0.9 and abs(lag) <= 3, (corr, lag)


def test_amr_wb_output_is_whole_frames(media):
    """150 packets of QCELP make 150 AMR-WB frames: 9 + 150 x 33 bytes,
    an odd length, which must stay as it is (RIFF pads chunks to even
    lengths; AMR has no such rule, and a pad byte would be the ToC of a
    frame that is not there)."""
    sources, _ = media
    r = worker(sources["qcp-qcelp"].path, "amr-wb")
    assert r.returncode == 0, r.stderr
    _, types, trailing = amr_frames(r.stdout)
    assert len(types) == 150
    assert trailing == b"", "bytes after the last frame: %r" % trailing


# ---- bad input ----

def assert_decoded_or_refused(r, to, out, max_duration, what):
    """The worker either decoded what was decodable (no more than
    max_duration, within tolerance), or refused cleanly; within the
    budget, never killed."""
    assert r.returncode >= 0, "%s: worker died of signal %d: %s" % (
        what, -r.returncode, r.stderr)
    assert r.seconds < CPU, "%s took %.1f s" % (what, r.seconds)
    if r.returncode != 0:
        assert_clean_failure(r)
        return None
    assert_output_format(r.stdout, to)
    duration = measure(r.stdout, to, out)
    if max_duration is not None:
        assert duration <= max_duration + tolerance(max_duration), (
            "%s: decoded %.3f s of at most %.3f s" % (what, duration,
                                                      max_duration))
    return duration


@pytest.mark.parametrize("to", TARGETS)
@pytest.mark.parametrize("name", SOURCES)
def test_truncated_in_half(media, name, to, tmp_path):
    """Cut in half, a file decodes its whole frames (no more, and for the
    formats whose frames we can count here, about all of them) or is
    refused."""
    sources, _ = media
    s = sources[name]
    data = s.path.read_bytes()
    cut = data[:len(data) // 2]
    path = tmp_path / "cut"
    path.write_bytes(cut)
    expected = whole_frames_duration(name, cut)
    r = worker(path, to, "--cpu-seconds=%d" % CPU)
    duration = assert_decoded_or_refused(
        r, to, tmp_path / "out", expected if expected is not None
        else s.duration, "%s cut to %d bytes" % (name, len(cut)))
    if name != "3gp-amr":
        # Our parser finds the frames of every format but 3GP in a cut
        # file: they must decode.
        assert duration is not None, "refused: %s" % r.stderr
        assert abs(duration - expected) <= tolerance(expected), (
            duration, expected)


@pytest.mark.parametrize("name", SOURCES)
def test_truncated_to_10_bytes(media, name, tmp_path):
    sources, _ = media
    path = tmp_path / "cut"
    path.write_bytes(sources[name].path.read_bytes()[:10])
    r = worker(path, "wav", "--cpu-seconds=%d" % CPU)
    assert_clean_failure(r, {errno.EINVAL})


def amr_nb_body(media):
    sources, _ = media
    return sources["amr-nb"].path.read_bytes()[len(AMR_NB_MAGIC):]


def bad_headers(media):
    """Files whose first bytes name no format the worker knows."""
    sources, _ = media
    amr = amr_nb_body(media)
    pcm = sources["wav-pcm16"].path.read_bytes()
    qcp = sources["qcp-qcelp"].path.read_bytes()
    return {
        "amr-xx": b"#!AMR-XX\n" + amr,
        "amr-multichannel": b"#!AMR_MC1.0\n" + bytes([0, 0, 0, 1]) + amr,
        "amr-no-newline": b"#!AMR" + amr,
        "amr-lowercase": b"#!amr\n" + amr,
        "rifx": b"RIFX" + pcm[4:],
        "riff-wavx": pcm[:8] + b"WAVX" + pcm[12:],
        "riff-qlcx": qcp[:8] + b"QLCX" + qcp[12:],
        "riff-short": b"RIFF\0\0\0\0WAV",
        "wav-no-fmt": b"RIFF" + struct.pack("<I", 12) + b"WAVEdata" + bytes(4),
        "wav-data-before-fmt": (pcm[:12] + b"data" + struct.pack("<I", 2)
                                + b"\0\0" + pcm[12:]),
        "qcp-unknown-codec": qcp[:22] + bytes(16) + qcp[38:],
        "ftyp-only": struct.pack(">I", 16) + b"ftyp3gp4" + bytes(4),
        "text": b"This is not audio at all.\n" * 40,
    }


def test_bad_headers(media, tmp_path):
    for name, data in bad_headers(media).items():
        path = tmp_path / name
        path.write_bytes(data)
        for to in ("amr", "wav"):
            r = worker(path, to, "--cpu-seconds=%d" % CPU)
            assert r.returncode == errno.EINVAL, "%s: %d %s" % (
                name, r.returncode, r.stderr)
            assert_clean_failure(r, {errno.EINVAL})


@pytest.mark.parametrize("to", TARGETS)
def test_empty(tmp_path, to):
    path = tmp_path / "empty"
    path.write_bytes(b"")
    r = worker(path, to)
    assert_clean_failure(r, {errno.EINVAL})
    assert r.stderr.strip() == "empty"


@pytest.mark.parametrize("seed", (0, 1, 2))
def test_random_bytes(tmp_path, seed):
    path = tmp_path / "random"
    path.write_bytes(random.Random(seed).randbytes(65536))
    r = worker(path, "amr", "--cpu-seconds=%d" % CPU)
    assert_clean_failure(r, {errno.EINVAL})


@pytest.mark.parametrize("name", ("wav-pcm16", "wav-alaw", "wav-gsm"))
def test_wav_data_claims_4gb(media, name, tmp_path):
    """A data chunk that declares 4 GB: the bytes that are there decode
    (or the file is refused), in no more time or memory than they need.
    The RIFF length claims 4 GB too."""
    sources, _ = media
    s = sources[name]
    data = bytearray(s.path.read_bytes())
    i = data.find(b"data")
    data[i + 4:i + 8] = b"\xff\xff\xff\xff"
    data[4:8] = b"\xff\xff\xff\xff"
    path = tmp_path / "big.wav"
    path.write_bytes(bytes(data))
    for to in ("wav", "amr"):
        r = worker(path, to, "--cpu-seconds=%d" % CPU)
        duration = assert_decoded_or_refused(r, to, tmp_path / "out",
                                             s.duration, name)
        assert duration is None or abs(duration - s.duration) <= tolerance(
            s.duration)


@pytest.mark.parametrize("name", SOURCES)
def test_corrupted(media, name, tmp_path):
    """One byte in a hundred overwritten past the header, three ways:
    whatever the decoders make of it, the worker ends cleanly and in
    time with a well-formed output or a reason."""
    sources, _ = media
    data = sources[name].path.read_bytes()
    for seed in range(3):
        rnd = random.Random(seed)
        bad = bytearray(data)
        for _ in range(len(bad) // 100 + 1):
            bad[rnd.randrange(64, len(bad))] = rnd.randrange(256)
        path = tmp_path / ("bad%d" % seed)
        path.write_bytes(bytes(bad))
        to = TARGETS[seed]
        r = worker(path, to, "--cpu-seconds=%d" % CPU)
        assert r.returncode >= 0, "%s/%d: signal %d: %s" % (
            name, seed, -r.returncode, r.stderr)
        assert r.seconds < CPU
        if r.returncode == 0:
            assert_output_format(r.stdout, to)
        else:
            assert_clean_failure(r)


# ---- budgets ----

@pytest.mark.parametrize("name", SOURCES)
def test_max_duration(media, name):
    sources, _ = media
    r = worker(sources[name].path, "wav", "--max-duration-ms=1000")
    assert_clean_failure(r, {errno.EFBIG})


@pytest.mark.parametrize("to", ("amr", "wav"))
@pytest.mark.parametrize("name", SOURCES)
def test_max_duration_just_enough(media, name, to):
    """A duration budget 100 ms past the source's lets it through: the
    worker's two checks (the probe's duration, the decoded timestamps)
    agree with the audio."""
    sources, _ = media
    s = sources[name]
    limit = int(s.duration * 1000) + 100
    r = worker(s.path, to, "--max-duration-ms=%d" % limit)
    assert r.returncode == 0, r.stderr


def test_max_duration_wav49_16k(tmp_path):
    """A wav49 block is 320 samples at the fmt rate: 20 ms at 16 kHz. The
    decoded timestamps must say 2 s, within a 3 s budget."""
    path = tmp_path / "gsm16k.wav"
    path.write_bytes(wav_file(0x31, 1, 16000, 0, random.Random(2).randbytes(
        65 * 100), block=65))
    r = worker(path, "wav", "--max-duration-ms=3000")
    assert r.returncode == 0, r.stderr
    assert abs(measure(r.stdout, "wav", tmp_path / "out.wav") - 2.0) <= 0.1


@pytest.mark.parametrize("to", TARGETS)
def test_max_output(media, to):
    sources, _ = media
    r = worker(sources["amr-nb"].path, to, "--max-output=100")
    assert_clean_failure(r, {errno.EFBIG})


@pytest.mark.parametrize("to", TARGETS)
def test_max_output_fits(media, to):
    """With --max-output the exact size of the output, the transcode
    succeeds; one byte less, it fails with EFBIG."""
    sources, _ = media
    path = sources["wav-alaw"].path
    size = len(worker(path, to).stdout)
    r = worker(path, to, "--max-output=%d" % size)
    assert r.returncode == 0, r.stderr
    assert len(r.stdout) == size


@pytest.mark.parametrize("to", ("wav-g711a", "amr"))
def test_max_output_counts_the_container(media, to):
    """--max-output one byte short of the whole output must fail: the
    limit is on the file the caller gets."""
    sources, _ = media
    path = sources["wav-alaw"].path
    size = len(worker(path, to).stdout)
    r = worker(path, to, "--max-output=%d" % (size - 1))
    assert r.returncode == errno.EFBIG, "exit %d, %d bytes of at most %d" % (
        r.returncode, len(r.stdout), size - 1)


def test_low_rate_wav_stays_in_cpu_budget(tmp_path):
    """3600 bytes of 8-bit PCM at 1 Hz claim an hour: resampled to AMR's
    8 kHz that is 29 million samples to encode. The worker must stop at
    its CPU budget (killed by the rlimit, or refusing) and not run on."""
    path = tmp_path / "slow.wav"
    path.write_bytes(wav_file(1, 1, 1, 8, random.Random(1).randbytes(3600)))
    r = worker(path, "amr", "--cpu-seconds=2", timeout=60)
    assert r.seconds < 8, "%.1f s" % r.seconds
    if r.returncode < 0:
        assert -r.returncode in (signal.SIGKILL, signal.SIGXCPU)
    elif r.returncode != 0:
        assert_clean_failure(r)


def test_memory_budget_ends_promptly(media):
    """Past its memory budget the worker ends promptly and never hangs (it
    takes 0.2 s with memory enough). When it exits, it exits cleanly
    (ENOMEM when GStreamer cannot start a thread, which would otherwise
    deadlock it). It may also die: GLib aborts when malloc fails, and
    gst-libav's QCELP decoder crashes at 256 MB here; that is what the
    worker is a separate process for, and media-worker.c reports it.

    The budget is an address-space limit, which a sanitized worker cannot
    set (AddressSanitizer reserves terabytes of it): against an ASan build
    this runs the worker of the plain build that VVM_PLAIN_BUILD_DIR names,
    as tools/vvm test does, and is skipped only when none is named."""
    binary = plain_worker()
    if binary is None:
        pytest.skip("an ASan worker has no memory budget; "
                    "VVM_PLAIN_BUILD_DIR names a plain build to run")
    sources, _ = media
    for name, mb in (("qcp-qcelp", 256), ("qcp-qcelp", 128),
                     ("3gp-amr", 32), ("amr-nb", 16), ("amr-nb", 8)):
        try:
            r = worker(sources[name].path, "wav", "--memory-mb=%d" % mb,
                       timeout=3, binary=binary)
        except subprocess.TimeoutExpired:
            pytest.fail("%s at %d MB: the worker hangs" % (name, mb))
        if r.returncode > 0:
            assert_clean_failure(r, FAILURES | {errno.ENOMEM})


# ---- the command line and odd WAVs ----

def test_stdin_must_be_a_file(media):
    sources, _ = media
    data = sources["amr-nb"].path.read_bytes()
    r = subprocess.run([str(WORKER), "--to=wav"], input=data,
                       capture_output=True, timeout=60)
    assert r.returncode == errno.EINVAL
    assert r.stderr.decode().strip() == "standard input must be a file"


@pytest.mark.parametrize("args", (
    [], ["--to=mp3"], ["--to=audio/qcelp"], ["--to=audio/wav; codec=mp3"],
    ["--to=wav", "--bogus"], ["--to=wav", "--max-output=many"]))
def test_bad_command_line(media, args):
    sources, _ = media
    with open(sources["amr-nb"].path, "rb") as f:
        r = subprocess.run([str(WORKER)] + args, stdin=f,
                           capture_output=True, timeout=60)
    assert r.returncode == errno.EINVAL, r
    reason = r.stderr.decode().strip()
    assert reason and "\n" not in reason, reason
    assert r.stdout == b""


@pytest.mark.parametrize("to,fmt", (
    ("audio/amr", "amr"), ("audio/AMR-WB", "amr-wb"),
    ("audio/wav; codec=g711a", "wav-g711a"),
    ('audio/wav; codec="g711u"', "wav-g711u"),
    ("audio/wav; codec=\u201cg711a\u201d", "wav-g711a"),
    ("audio/x-wav", "wav"), ("WAV-G711U", "wav-g711u")))
def test_target_as_mime_type(media, to, fmt):
    """--to takes a MIME type too (media-worker.c only ever passes
    tokens), in any case, quoted, in a UTF-8 locale with the spec's
    typographic quotes."""
    sources, _ = media
    r = worker(sources["gsm"].path, to, env=UTF8)
    assert r.returncode == 0, r.stderr
    assert_output_format(r.stdout, fmt)


def test_unsupported_wav_codec(tmp_path):
    """A WAV of a codec we do not decode (MP3, fmt 0x55): ENOTSUP."""
    path = tmp_path / "mp3.wav"
    path.write_bytes(wav_file(0x55, 1, 8000, 0, bytes(2000), block=1))
    r = worker(path, "amr")
    assert_clean_failure(r, {errno.ENOTSUP})


@pytest.mark.parametrize("fmt,channels,rate,bits", (
    (1, 2, 8000, 16), (1, 1, 8000, 8), (1, 1, 44100, 16), (6, 2, 16000, 8),
    (7, 1, 11025, 8)))
def test_odd_wavs_decode(tmp_path, fmt, channels, rate, bits):
    """Stereo, 8-bit, other rates: one second decodes to one second of
    mono."""
    block = channels * bits // 8
    data = random.Random(fmt).randbytes(rate * block)
    path = tmp_path / "in.wav"
    path.write_bytes(wav_file(fmt, channels, rate, bits, data))
    for to in ("wav", "amr"):
        r = worker(path, to)
        assert r.returncode == 0, r.stderr
        assert_output_format(r.stdout, to, rate if to == "wav" else None)
        assert abs(measure(r.stdout, to, tmp_path / "out") - 1.0) <= 0.1


@pytest.mark.parametrize("fmt,channels,ok", (
    (1, 3, True), (1, 6, True), (1, 8, True), (1, 10, False), (6, 3, False),
    (7, 4, False)))
def test_multichannel_wav(tmp_path, fmt, channels, ok):
    """PCM up to 7.1 is mixed down to mono; more channels, or G.711 past
    stereo (its decoders drop the positions), is refused with ENOTSUP."""
    bits = 16 if fmt == 1 else 8
    data = random.Random(3).randbytes(8000 * channels * bits // 8)
    path = tmp_path / "multi.wav"
    path.write_bytes(wav_file(fmt, channels, 8000, bits, data))
    r = worker(path, "wav")
    if not ok:
        assert_clean_failure(r, {errno.ENOTSUP})
        assert ("with %d channels is not supported" % channels
                in r.stderr)
        return
    assert r.returncode == 0, r.stderr
    assert_output_format(r.stdout, "wav", 8000)
    assert abs(measure(r.stdout, "wav", tmp_path / "out.wav") - 1.0) <= 0.1


def test_wall_clock_of_its_own(tmp_path):
    """Without media-worker.c watching, the worker still stops at its
    wall-clock budget: ETIMEDOUT and one line, not a hang."""
    path = tmp_path / "slow.wav"
    path.write_bytes(wav_file(1, 1, 1, 8, random.Random(1).randbytes(3600)))
    r = worker(path, "amr", "--wall-seconds=1", "--cpu-seconds=60",
               timeout=30)
    assert_clean_failure(r, {errno.ETIMEDOUT})
    assert r.seconds < 5, "%.1f s" % r.seconds


def test_qcp_variable_rates(tmp_path):
    """QCP packets of every rate each codec has: every packet is 20 ms."""
    for codec, rates in (("qcelp", [0, 1, 2, 3, 4]), ("evrc", [0, 1, 3, 4])):
        seq = [rates[i % len(rates)] for i in range(100)]
        data, packets = qcp_file(codec, rates=seq)
        path = tmp_path / ("%s.qcp" % codec)
        path.write_bytes(data)
        r = worker(path, "wav")
        assert r.returncode == 0, "%s: %s" % (codec, r.stderr)
        assert_output_format(r.stdout, "wav", 8000)
        duration = measure(r.stdout, "wav", tmp_path / "out.wav")
        assert abs(duration - packets * 0.020) <= tolerance(2.0), (
            codec, duration)


def test_qcp_bad_rate_byte(tmp_path):
    """EVRC has no quarter rate (rate byte 2): the file is refused."""
    data, _ = qcp_file("evrc", rates=[4, 4, 2, 4])
    path = tmp_path / "bad.qcp"
    path.write_bytes(data)
    r = worker(path, "wav")
    assert_clean_failure(r, {errno.EINVAL})
