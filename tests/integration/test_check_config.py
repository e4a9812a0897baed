#!/usr/bin/env python3
"""tplink_exporter --check-config: exit 0 for a good inventory; exit 1 and exactly one
"FILE:LINE:COL: message" line on stderr for a bad one, pointing at the offending spot."""

import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def check_config(text):
    path = harness.write_inventory(text)
    proc = subprocess.run(
        [harness.binary("tplink_exporter"), "--check-config", f"--config.file={path}"],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode(), path


def assert_one_error(text, line, col=None, mentions=()):
    """Asserts exit 1 and a single stderr line PATH:LINE:COL: msg; returns the message."""
    rc, out, err, path = check_config(text)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == 1, f"exit {rc}, want 1; stderr: {err!r}"
    assert len(lines) == 1, f"want exactly one stderr line, got {lines!r}"
    m = re.fullmatch(re.escape(path) + r":(\d+):(\d+): (\S.*)", lines[0])
    assert m, f"not 'PATH:LINE:COL: message': {lines[0]!r}"
    got_line, got_col, msg = int(m.group(1)), int(m.group(2)), m.group(3)
    assert got_line == line, f"error on line {got_line}, want {line}: {lines[0]!r}"
    if col is not None:
        assert got_col == col, f"error at column {got_col}, want {col} (1-based): {lines[0]!r}"
    assert got_col >= 1, f"columns are 1-based: {lines[0]!r}"
    for word in mentions:
        assert word in msg, f"message should mention {word!r}: {msg!r}"
    return msg


GOOD = """\
defaults:
  interval: 1s
  timeout: 500ms
plugs:
  - name: kitchen
    host: 127.0.0.1
    port: 19999
  - {name: garage, host: 127.0.0.1}
"""


def test_good_inventory():
    rc, out, err, _ = check_config(GOOD)
    assert rc == 0, f"exit {rc} for a good inventory; stderr: {err!r}"


def test_duplicate_name():
    text = """\
defaults:
  interval: 1s
  timeout: 500ms
plugs:
  - name: kitchen
    host: 127.0.0.1
  - name: kitchen
    host: 127.0.0.2
"""
    assert text.splitlines()[6] == "  - name: kitchen"
    assert_one_error(text, line=7, mentions=("kitchen",))


def test_missing_host():
    text = """\
defaults:
  interval: 1s
plugs:
  - name: fine
    host: 127.0.0.1
  - name: hostless
    port: 9999
"""
    assert_one_error(text, line=6, mentions=("host",))


def test_bad_duration():
    text = """\
defaults:
  interval: fortnight
  timeout: 500ms
plugs:
  - name: a
    host: 127.0.0.1
"""
    # The value "fortnight" starts on line 2, column 13.
    assert_one_error(text, line=2, col=13)


def test_unknown_key():
    text = """\
defaults:
  interval: 1s
plugs:
  - name: a
    host: 127.0.0.1
    colour: red
"""
    assert_one_error(text, line=6, col=5, mentions=("colour",))


def test_missing_file():
    missing = os.path.join(harness.make_temp_dir(), "nope.yml")
    proc = subprocess.run(
        [harness.binary("tplink_exporter"), "--check-config", f"--config.file={missing}"],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
    lines = [ln for ln in proc.stderr.decode().splitlines() if ln.strip()]
    assert proc.returncode == 1, f"exit {proc.returncode} for a missing file"
    assert len(lines) == 1 and lines[0].startswith(missing + ":"), f"stderr: {lines!r}"


if __name__ == "__main__":
    harness.run([test_good_inventory, test_duplicate_name, test_missing_host,
                 test_bad_duration, test_unknown_key, test_missing_file])
