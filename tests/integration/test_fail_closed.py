"""Fail closed (issue 11): a malformed setting is never taken for its
default. Every daemon refuses to start with a malformed number or switch
in any section it reads, naming the file, the key and the value.
"""
import signal
import subprocess

import pytest

from conftest import Vvmfs
from imapd import IMAPD
from smsrig import SMSD
from smtpd import SMTPD

# (section, key, value) that must each stop the daemon named.
VVMFS_BAD = [
    ("vvmfs", "max_message_size", "32M"),
    ("vvmfs", "max_message_size", "0"),
    ("vvmfs", "retention_interval", "-5"),
    ("profile", "pin_min", "four"),
    ("profile", "pin_max", "100"),
    ("sms", "imap_port", "1143x"),
    ("sms", "smtp_port", "70000"),
    ("sms", "greeting_seconds", "1.5"),
    ("sms", "server_bare", "yes"),
    ("imap", "max_sessions", "-1"),
    ("smtp", "max_sessions", "two"),
    ("media", "max_seconds", "30s"),
]
IMAPD_BAD = [
    ("imap", "login_failures_max", "five"),
    ("imap", "login_lockout", "-300"),
    ("imap", "idle_timeout", "30m"),
    ("imap", "quota_soft_percent", "150"),
    ("imap", "login_disabled", "yes"),
    ("imap", "require_tui_init", "treu"),
    ("profile", "pin_min", ""),
]
SMTPD_BAD = [
    ("smtp", "require_auth", "ture"),
    ("smtp", "enforce_from", "no"),
    ("smtp", "dsn", "maybe"),
    ("smtp", "max_recipients", "0"),
    ("smtp", "max_errors", "10 errors"),
    ("smtp", "login_failures_max", "5;"),
    ("smtp", "data_timeout", "0x10"),
    # [smtp] falls back to [imap]'s throttle: a bad one there counts too
    ("imap", "login_failures_max", "lots"),
]
SMSD_BAD = [
    ("smsd", "poll_ms", "fast"),
    ("smsd", "smsc_port", "0"),
    ("smsd", "window", "+10"),
]


def write_config(path, sections):
    with open(path, "wb") as f:
        for name, keys in sections.items():
            f.write(b"[%s]\n" % name.encode())
            for k, v in keys.items():
                v = v if isinstance(v, bytes) else v.encode()
                f.write(b"%s = %s\n" % (k.encode(), v))


def expected(path, section, key, value):
    """The message every daemon prints for a bad number or switch."""
    what = "true or false" if key in (
        "server_bare", "login_disabled", "require_tui_init", "require_auth",
        "enforce_from", "dsn") else "a number from"
    return "%s: [%s] %s: '%s' is not %s" % (path, section, key,
                                           value.strip(), what)


@pytest.mark.parametrize("section,key,value", VVMFS_BAD)
def test_vvmfs_stops_at_a_malformed_number(tmp_path, section, key, value):
    config = tmp_path / "vvm.conf"
    write_config(config, {section: {key: value}})
    e = refused_mount(tmp_path, config)
    assert expected(config, section, key, value) in e
    assert "vvmfs exited 1" in e


def refused_mount(root, config):
    """What vvmfs says when it refuses to mount with config."""
    fs = Vvmfs(root)
    try:
        with pytest.raises(RuntimeError) as e:
            fs.mount("config=%s" % config)
    finally:
        fs.kill(signal.SIGTERM)   # should it have mounted after all
    return str(e.value)


def test_vvmfs_pins_out_of_order(tmp_path):
    config = tmp_path / "vvm.conf"
    write_config(config, {"profile": {"pin_min": "8", "pin_max": "6"}})
    assert "[profile] pin_min/pin_max out of order" in \
        refused_mount(tmp_path, config)


def test_vvmfs_takes_good_numbers(tmp_path):
    """The same keys well formed, at the ends of their ranges."""
    config = tmp_path / "vvm.conf"
    write_config(config, {
        "vvmfs": {"max_message_size": "4294967295",
                  "retention_interval": "86400"},
        "profile": {"pin_min": "1", "pin_max": "12"},
        "sms": {"imap_port": "65535", "smtp_port": "0",
                "greeting_seconds": "0", "server_bare": "TRUE"},
        "imap": {"max_sessions": " 2 "},
        "media": {"max_seconds": "1"},
    })
    fs = Vvmfs(tmp_path).mount("config=%s" % config)
    fs.kill(signal.SIGTERM)


def run_shim(argv):
    return subprocess.run([str(a) for a in argv], capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=30)


def shim_config(path, section, key, value):
    sections = {"imap": {"mount": str(path.parent)}}
    sections.setdefault(section, {})[key] = value
    write_config(path, sections)


@pytest.mark.parametrize("section,key,value", IMAPD_BAD)
def test_imapd_stops_at_a_malformed_number(tmp_path, section, key, value):
    config = tmp_path / "vvm.conf"
    shim_config(config, section, key, value)
    out = run_shim([IMAPD, "-c", config])
    assert out.returncode == 1
    assert out.stdout == "* BYE application error\n"
    assert "vvm-imapd: " + expected(config, section, key, value) \
        in out.stderr


@pytest.mark.parametrize("lmtp", [False, True])
@pytest.mark.parametrize("section,key,value", SMTPD_BAD)
def test_smtpd_stops_at_a_malformed_number(tmp_path, section, key, value,
                                          lmtp):
    config = tmp_path / "vvm.conf"
    shim_config(config, section, key, value)
    out = run_shim([SMTPD, "-c", config] + (["--lmtp"] if lmtp else []))
    assert out.returncode == 1
    assert out.stdout == "421 4.3.0 Service not available: configuration " \
                         "error\n"
    assert "vvm-smtpd: " + expected(config, section, key, value) \
        in out.stderr


def test_shims_take_good_values(tmp_path):
    """Well-formed values, white space around them included, start both
    shims (which then see the end of their input and exit 0)."""
    config = tmp_path / "vvm.conf"
    write_config(config, {
        "imap": {"mount": str(tmp_path), "login_failures_max": " 3 ",
                 "login_disabled": "True", "quota_soft_percent": "100",
                 "idle_timeout": "0"},
        "profile": {"pin_min": "6", "pin_max": "6"},
        "smtp": {"require_auth": "1", "max_errors": "0", "dsn": "false",
                 "max_message_size": "1073741824"},
    })
    for shim in (IMAPD, SMTPD):
        out = run_shim([shim, "-c", config])
        assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("section,key,value", SMSD_BAD)
def test_smsd_stops_at_a_malformed_number(tmp_path, section, key, value):
    config = tmp_path / "vvm.conf"
    write_config(config, {"imap": {"mount": str(tmp_path)},
                          "smsd": {"mode": "command", "sms_command": "true",
                                   key: value}})
    out = run_shim([SMSD, "-c", config])
    assert out.returncode == 1
    assert "vvm-smsd: " + expected(config, section, key, value) \
        in out.stderr


def test_unreadable_string_stops_every_daemon(tmp_path):
    """A value that is not UTF-8 reads as absent through GLib: for
    [imap] known_clients that is "any client". It stops them all."""
    config = tmp_path / "vvm.conf"
    write_config(config, {"imap": {"mount": str(tmp_path),
                                   "known_clients": b"vvm\xff"},
                          "smsd": {"mode": "command",
                                   "sms_command": "true"}})
    want = "%s: [imap] known_clients: 'vvm\\377' is not valid UTF-8" % config
    for argv in ([IMAPD, "-c", config], [SMTPD, "-c", config],
                 [SMSD, "-c", config]):
        out = subprocess.run([str(a) for a in argv], capture_output=True,
                             stdin=subprocess.DEVNULL, timeout=30)
        assert out.returncode == 1, argv
        assert want.encode() in out.stderr, out.stderr
    assert want in refused_mount(tmp_path, config)
