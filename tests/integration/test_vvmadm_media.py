"""vvmadm media info and media convert (docs/vvmadm.1.md): what the
probe prints for each voice format, the errors, and transcodes through
vvm-media-worker with their failure modes. No mount is needed: the audio
is made at test time with sox and espeak-ng.
"""
import os
import shutil
import struct
import subprocess

import pytest

from conftest import BUILD, VVMADM

WORKER = BUILD / "lib" / "media" / "vvm-media-worker"


@pytest.fixture(scope="module", autouse=True)
def tools_and_worker():
    """Fails, never skips, without them: tools/vvm installs the tools and
    builds the worker."""
    missing = [t for t in ("sox", "soxi", "espeak-ng")
               if shutil.which(t) is None]
    assert not missing, "missing tools: %s (tools/vvm installs them)" % (
        " ".join(missing))
    assert WORKER.exists(), "%s is not built" % WORKER


@pytest.fixture(scope="module")
def worker_runs(tmp_path_factory):
    """The worker transcodes here at all, before the tests that need it
    say so one by one: a worker that cannot run (a leak report of an ASan
    build once was) fails here with its stderr."""
    d = tmp_path_factory.mktemp("worker")
    sample = d / "probe.wav"
    sox("-n", "-r", 8000, "-c", 1, "-e", "a-law", sample, "synth", 0.1,
        "sine", 440)
    with open(sample, "rb") as f:
        r = subprocess.run([str(WORKER), "--to=amr"], stdin=f,
                           capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode(errors="replace")


def adm(*args, input=None, cwd=None):
    """Runs vvmadm with bytes in and out; returns the CompletedProcess."""
    return subprocess.run([str(VVMADM)] + [str(a) for a in args],
                          capture_output=True, input=input, cwd=cwd,
                          timeout=120)


def info(*files, status=0):
    """media info as a list of {key: value} records."""
    r = adm("media", "info", *files)
    assert r.returncode == status, (r.returncode, r.stdout, r.stderr)
    records = []
    for block in r.stdout.decode().split("\n\n"):
        record = {}
        for line in block.splitlines():
            key, _, value = line.partition(" ")
            assert key not in record, block
            record[key] = value
        records.append(record)
    return records


def convert(src, to, *extra, status=0):
    r = adm("media", "convert", src, "--to", to, "--worker", WORKER, *extra)
    assert r.returncode == status, (r.returncode, r.stderr)
    return r


def sox(*args):
    subprocess.run(["sox"] + [str(a) for a in args], check=True,
                   capture_output=True)


def wav_fmt(data):
    """The fmt code, rate and bits of a RIFF WAVE, read from its bytes."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    pos = 12
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        if cid == b"fmt ":
            code, channels, rate = struct.unpack("<HHI", data[pos + 8:pos + 16])
            bits = struct.unpack("<H", data[pos + 22:pos + 24])[0]
            return code, channels, rate, bits
        pos += 8 + size + (size & 1)
    raise AssertionError("no fmt chunk")


@pytest.fixture(scope="module")
def audio(tmp_path_factory):
    """The test files, made once: name -> Path."""
    d = tmp_path_factory.mktemp("media")
    files = {}

    def make(name, *effect, fmt_args=()):
        path = d / name
        sox("-n", *fmt_args, path, "synth", *effect)
        files[name] = path

    make("alaw.wav", 3, "sine", 440,
         fmt_args=("-r", 8000, "-c", 1, "-e", "a-law"))
    make("ulaw.wav", 3, "sine", 440,
         fmt_args=("-r", 8000, "-c", 1, "-e", "mu-law"))
    make("pcm16k.wav", 2.5, "sine", 440,
         fmt_args=("-r", 16000, "-c", 1, "-b", 16, "-e", "signed"))
    make("pcm-stereo.wav", 1.25, "sine", 440,
         fmt_args=("-r", 8000, "-c", 2, "-b", 16, "-e", "signed"))
    make("tone.gsm", 2, "sine", 440, fmt_args=("-r", 8000, "-c", 1))
    # sox names the AMR-NB writer by its extension.
    make("tone.amr-nb", 3, "sine", 440, fmt_args=("-r", 8000, "-c", 1))
    files["tone.amr"] = d / "tone.amr"
    os.rename(files.pop("tone.amr-nb"), files["tone.amr"])
    speech = d / "speech-22k.wav"
    subprocess.run(["espeak-ng", "-w", str(speech),
                    "You have one new voice message."], check=True,
                   capture_output=True)
    files["speech.wav"] = d / "speech.wav"
    sox(speech, "-r", 8000, "-c", 1, "-e", "a-law", files["speech.wav"])
    (d / "junk").write_bytes(b"this is not audio, only some text\n" * 20)
    files["junk"] = d / "junk"
    (d / "empty").write_bytes(b"")
    files["empty"] = d / "empty"
    return files


# --- media info ------------------------------------------------------------

def test_info_wav_alaw(audio):
    [rec] = info(audio["alaw.wav"])
    assert rec == {
        "file": str(audio["alaw.wav"]),
        "container": "WAV",
        "codec": "G.711 A-law",
        "mime": "audio/wav; codec=g711a",
        "rate": "8000",
        "channels": "1",
        "bits": "8",
        "wav_format": "6",
        "frames": "24000",
        "duration_ms": "3000",
        "content_duration": "3",
        "truncated": "no",
    }
    # The keys come in a fixed order, for scripts that read lines.
    r = adm("media", "info", audio["alaw.wav"])
    keys = [line.split(" ")[0] for line in r.stdout.decode().splitlines()]
    assert keys == ["file", "container", "codec", "mime", "rate", "channels",
                    "bits", "wav_format", "frames", "duration_ms",
                    "content_duration", "truncated"]


def test_info_wav_ulaw_and_pcm(audio):
    ulaw, pcm, stereo = info(audio["ulaw.wav"], audio["pcm16k.wav"],
                             audio["pcm-stereo.wav"])
    assert ulaw["codec"] == "G.711 mu-law"
    assert ulaw["mime"] == "audio/wav; codec=g711u"
    assert ulaw["wav_format"] == "7"
    assert pcm["codec"] == "PCM"
    assert pcm["mime"] == "audio/wav"
    assert (pcm["rate"], pcm["bits"], pcm["wav_format"]) == \
        ("16000", "16", "1")
    assert (pcm["frames"], pcm["duration_ms"], pcm["content_duration"]) == \
        ("40000", "2500", "3")
    assert (stereo["channels"], stereo["frames"], stereo["duration_ms"]) == \
        ("2", "10000", "1250")
    assert stereo["content_duration"] == "1"


def test_info_amr(audio):
    [rec] = info(audio["tone.amr"])
    assert rec["container"] == "AMR"
    assert rec["codec"] == "AMR-NB"
    assert rec["mime"] == "audio/amr"
    assert (rec["rate"], rec["channels"]) == ("8000", "1")
    # 20 ms frames; no bits or fmt code outside WAV.
    assert (rec["frames"], rec["duration_ms"]) == ("150", "3000")
    assert "bits" not in rec and "wav_format" not in rec
    assert rec["truncated"] == "no"


def test_info_raw_gsm(audio):
    [rec] = info(audio["tone.gsm"])
    assert rec["container"] == "GSM"
    assert rec["codec"] == "GSM 06.10"
    # Served only after a transcode: no MIME type of its own.
    assert "mime" not in rec
    assert (rec["frames"], rec["duration_ms"], rec["content_duration"]) == \
        ("100", "2000", "2")


def test_info_speech(audio):
    [rec] = info(audio["speech.wav"])
    samples = int(subprocess.run(["soxi", "-s", str(audio["speech.wav"])],
                                 capture_output=True, check=True).stdout)
    assert rec["frames"] == str(samples)
    assert rec["duration_ms"] == str(samples * 1000 // 8000)
    # Rounded to the nearest second, as vvmfs writes it at commit.
    assert rec["content_duration"] == \
        str(max(1, (samples * 1000 // 8000 + 500) // 1000))


def test_info_truncated(audio, tmp_path):
    cut = tmp_path / "cut.amr"
    data = audio["tone.amr"].read_bytes()
    # Mode 0 frames of 13 bytes: keep 40 and 5 bytes of the 41st.
    cut.write_bytes(data[:6 + 13 * 40 + 5])
    [rec] = info(cut)
    assert rec["truncated"] == "yes"
    assert (rec["frames"], rec["duration_ms"]) == ("40", "800")


def test_info_content_duration_at_least_one(tmp_path):
    tiny = tmp_path / "tiny.wav"
    sox("-n", "-r", 8000, "-c", 1, "-b", 16, "-e", "signed", tiny,
        "synth", "0.1", "sine", 440)
    [rec] = info(tiny)
    assert rec["duration_ms"] == "100"
    assert rec["content_duration"] == "1"


def test_info_stdin(audio):
    r = adm("media", "info", "-", input=audio["ulaw.wav"].read_bytes())
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().splitlines()[:3] == [
        "file -", "container WAV", "codec G.711 mu-law"]


def test_info_not_audio(audio):
    r = adm("media", "info", audio["junk"], audio["alaw.wav"],
            audio["empty"])
    assert r.returncode == 1
    junk, alaw, empty = r.stdout.decode().split("\n\n")
    assert junk.splitlines() == ["file " + str(audio["junk"]),
                                 "error no audio format recognized"]
    # The good file in between is still described in full.
    assert "codec G.711 A-law" in alaw.splitlines()
    assert empty.splitlines() == ["file " + str(audio["empty"]),
                                  "error empty"]
    err = r.stderr.decode().splitlines()
    assert err == ["vvmadm: media info %s: no audio format recognized"
                   % audio["junk"],
                   "vvmadm: media info %s: empty" % audio["empty"]]


def test_info_missing_file(tmp_path):
    [rec] = info(tmp_path / "nothing.wav", status=1)
    assert rec == {"file": str(tmp_path / "nothing.wav"),
                   "error": "No such file or directory"}


def test_info_corrupt_amr(audio, tmp_path):
    bad = tmp_path / "bad.amr"
    data = bytearray(audio["tone.amr"].read_bytes())
    data[6 + 13 * 10] = 0xff      # a ToC byte with the F and padding bits
    bad.write_bytes(bytes(data))
    [rec] = info(bad, status=1)
    assert rec["error"] == "bad AMR frame header"


def test_usage():
    for args in (["media"], ["media", "info"], ["media", "bogus", "x"],
                 ["media", "convert"], ["media", "convert", "a", "b",
                                        "--to", "amr"],
                 ["media", "info", "--to", "amr", "x"]):
        r = adm(*args)
        assert r.returncode == 2, (args, r.stderr)
        assert r.stderr.startswith(b"vvmadm: ") or \
            r.stderr.startswith(b"usage: vvmadm"), r.stderr
    r = adm("--help")
    assert b"media" in r.stdout
    r = adm("media", "--help")
    assert r.returncode == 0 and b"convert FILE --to TYPE" in r.stdout
    r = adm("media", "convert", "--help")
    assert r.returncode == 0 and b"--max-seconds" in r.stdout


# --- media convert ---------------------------------------------------------

@pytest.mark.usefixtures("worker_runs")
def test_convert_wav_to_amr(audio, tmp_path):
    out = tmp_path / "out.amr"
    r = convert(audio["alaw.wav"], "amr", "-o", out)
    assert r.stdout == b""
    data = out.read_bytes()
    assert data.startswith(b"#!AMR\n")
    assert not (tmp_path / "out.amr.tmp").exists()
    [rec] = info(out)
    assert (rec["codec"], rec["frames"]) == ("AMR-NB", "150")
    # 12.2 kbit/s: 32-byte frames, ToC of mode 7.
    assert data[6] == 7 << 3 | 4


@pytest.mark.usefixtures("worker_runs")
def test_convert_amr_to_g711u_stdout(audio):
    r = convert(audio["tone.amr"], "wav-g711u")
    code, channels, rate, bits = wav_fmt(r.stdout)
    assert (code, channels, rate, bits) == (7, 1, 8000, 8)


@pytest.mark.usefixtures("worker_runs")
def test_convert_mime_type(audio, tmp_path):
    out = tmp_path / "out.wav"
    convert(audio["tone.amr"], "audio/wav; codec=g711a", "-o", out)
    assert wav_fmt(out.read_bytes())[0] == 6
    convert(audio["tone.amr"], 'audio/WAV; codec="g711u"', "-o", out)
    assert wav_fmt(out.read_bytes())[0] == 7
    convert(audio["alaw.wav"], "audio/amr-wb", "-o", out)
    assert out.read_bytes().startswith(b"#!AMR-WB\n")


@pytest.mark.usefixtures("worker_runs")
def test_convert_gsm_and_speech(audio, tmp_path):
    out = tmp_path / "gsm.wav"
    convert(audio["tone.gsm"], "wav", "-o", out)
    assert wav_fmt(out.read_bytes()) == (1, 1, 8000, 16)
    [rec] = info(out)
    assert rec["duration_ms"] == "2000"
    if "speech.wav" in audio:
        convert(audio["speech.wav"], "amr", "-o", out)
        [src, dst] = info(audio["speech.wav"], out)
        assert dst["container"] == "AMR"
        assert abs(int(dst["duration_ms"]) - int(src["duration_ms"])) <= 40


@pytest.mark.usefixtures("worker_runs")
def test_convert_stdin_and_dash_output(audio):
    r = adm("media", "convert", "-", "--to", "amr", "-o", "-",
            "--worker", WORKER, input=audio["ulaw.wav"].read_bytes())
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(b"#!AMR\n")


def test_convert_bad_to(audio, tmp_path):
    out = tmp_path / "out"
    for to in ("mp3", "audio/mpeg", "audio/wav; codec=g729", ""):
        r = convert(audio["alaw.wav"], to, "-o", out, status=2)
        assert r.stderr.startswith(b"vvmadm: media convert: --to"), r.stderr
    r = adm("media", "convert", audio["alaw.wav"], "--worker", WORKER)
    assert r.returncode == 2 and b"--to is required" in r.stderr
    r = convert(audio["alaw.wav"], "amr", "--max-seconds", "0", status=2)
    assert not out.exists()


@pytest.mark.usefixtures("worker_runs")
def test_convert_corrupt_input(audio, tmp_path):
    out = tmp_path / "out.wav"
    for name, data, reason in (
            ("junk", audio["junk"].read_bytes(), "no audio format recognized"),
            ("empty", b"", "empty"),
            ("bad.amr", audio["tone.amr"].read_bytes()[:6] + b"\xff" * 50,
             "bad AMR frame header")):
        src = tmp_path / name
        src.write_bytes(data)
        r = convert(src, "wav-g711u", "-o", out, status=1)
        assert r.stderr.decode() == "vvmadm: convert %s: %s\n" % (src, reason)
        assert r.stdout == b""
        assert sorted(p.name for p in tmp_path.iterdir()
                      if p.name.startswith("out")) == []


@pytest.mark.usefixtures("worker_runs")
def test_convert_failure_keeps_old_output(audio, tmp_path):
    out = tmp_path / "out.amr"
    out.write_bytes(b"old")
    convert(audio["junk"], "amr", "-o", out, status=1)
    assert out.read_bytes() == b"old"
    assert not (tmp_path / "out.amr.tmp").exists()


def test_convert_missing_input(tmp_path):
    r = convert(tmp_path / "none.wav", "amr", "-o", tmp_path / "o", status=1)
    assert r.stderr.decode() == "vvmadm: convert %s: No such file or " \
        "directory\n" % (tmp_path / "none.wav")
    assert not (tmp_path / "o").exists()


def test_convert_worker_fails(audio, tmp_path):
    out = tmp_path / "out.amr"
    r = adm("media", "convert", audio["alaw.wav"], "--to", "amr", "-o", out,
            "--worker", "/bin/false")
    assert r.returncode == 1
    assert r.stderr.decode() == (
        "vvmadm: convert %s: the media worker failed (/bin/false exited "
        "with status 1)\n" % audio["alaw.wav"])
    assert list(tmp_path.iterdir()) == []

    chatty = tmp_path / "chatty-worker"
    chatty.write_text("#!/bin/sh\necho 'plugin exploded' >&2\nexit 3\n")
    chatty.chmod(0o755)
    r = adm("media", "convert", audio["alaw.wav"], "--to", "amr", "-o", out,
            "--worker", chatty)
    assert r.returncode == 1
    assert r.stderr.decode().endswith(
        ": plugin exploded (%s exited with status 3)\n" % chatty)

    missing = tmp_path / "no-such-worker"
    r = adm("media", "convert", audio["alaw.wav"], "--to", "amr", "-o", out,
            "--worker", missing)
    assert r.returncode == 1
    assert r.stderr.decode() == (
        "vvmadm: convert %s: cannot start %s: No such file or directory\n"
        % (audio["alaw.wav"], missing))
    assert not out.exists()


def test_convert_max_seconds(audio, tmp_path):
    slow = tmp_path / "slow-worker"
    slow.write_text("#!/bin/sh\nexec sleep 30\n")
    slow.chmod(0o755)
    out = tmp_path / "out.amr"
    r = adm("media", "convert", audio["alaw.wav"], "--to", "amr", "-o", out,
            "--worker", slow, "--max-seconds", "1")
    assert r.returncode == 1
    assert r.stderr.decode() == ("vvmadm: convert %s: transcoding took "
                                 "longer than the budget\n"
                                 % audio["alaw.wav"])
    assert not out.exists() and not (tmp_path / "out.amr.tmp").exists()


@pytest.mark.usefixtures("worker_runs")
def test_convert_worker_from_config(audio, tmp_path):
    out = tmp_path / "out.amr"
    conf = tmp_path / "vvm.conf"
    conf.write_text("[media]\nworker=%s\n" % WORKER)
    r = adm("media", "convert", audio["alaw.wav"], "--to", "amr", "-o", out,
            "--config", conf)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes().startswith(b"#!AMR\n")
    # --worker wins over the config file.
    conf.write_text("[media]\nworker=/bin/false\n")
    r = adm("media", "convert", audio["alaw.wav"], "--to", "amr", "-o", out,
            "--config", conf, "--worker", WORKER)
    assert r.returncode == 0, r.stderr
    r = adm("media", "convert", audio["alaw.wav"], "--to", "amr", "-o", out,
            "--config", conf)
    assert r.returncode == 1 and b"/bin/false" in r.stderr
    r = adm("media", "convert", audio["alaw.wav"], "--to", "amr", "-o", out,
            "--config", tmp_path / "missing.conf")
    assert r.returncode == 1
    assert r.stderr.startswith(b"vvmadm: media convert: "), r.stderr
    assert b"missing.conf" in r.stderr


def test_convert_refuses_terminal(audio):
    import pty
    master, slave = pty.openpty()
    try:
        r = subprocess.run([str(VVMADM), "media", "convert",
                            str(audio["alaw.wav"]), "--to", "amr",
                            "--worker", str(WORKER)],
                           stdout=slave, stderr=subprocess.PIPE, timeout=60)
    finally:
        os.close(slave)
        os.close(master)
    assert r.returncode == 2
    assert b"terminal" in r.stderr
