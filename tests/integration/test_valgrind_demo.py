#!/usr/bin/env python3
"""The demo under valgrind: a few seconds of polling and scraping (plugs, one of them over
KLAP, and a switch),
then SIGTERM: exit status 0 and no definite leak or memory error."""
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def test_demo_clean_under_valgrind():
    if not shutil.which("valgrind"):
        harness.skip("valgrind is not installed (apt-get install valgrind)")
    port = harness.free_port()
    log = os.path.join(harness.make_temp_dir(), "valgrind.log")
    proc = subprocess.Popen(
        ["valgrind", "--leak-check=full", "--errors-for-leak-kinds=definite",
         "--error-exitcode=99", f"--log-file={log}",
         harness.binary("tplink_exporter"), "--demo",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        def scraped():
            try:
                status, _, body = harness.fetch(f"http://127.0.0.1:{port}/metrics", timeout=2)
            except OSError:
                return None
            text = body.decode("utf-8")
            ups = [line for line in text.splitlines() if line.startswith("tplink_up{")]
            return text if len(ups) >= 5 and all(line.endswith(" 1") for line in ups) else None
        text = harness.wait_until(scraped, 60, interval=0.5)
        assert 'kind="switch"' in text, "the demo has a switch"
        assert 'tplink_plug_power_watts{device="demo-tapo"}' in text, "the demo's KLAP plug"
        harness.fetch(f"http://127.0.0.1:{port}/metrics", headers={"Accept-Encoding": "gzip"},
                      timeout=5)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    report = open(log, encoding="utf-8", errors="replace").read()
    assert proc.returncode == 0, f"exit {proc.returncode}\n{report[-3000:]}"
    assert "ERROR SUMMARY: 0 errors" in report, report[-3000:]
    assert "definitely lost: 0 bytes" in report or "All heap blocks were freed" in report, \
        report[-3000:]


if __name__ == "__main__":
    harness.run([test_demo_clean_under_valgrind])
