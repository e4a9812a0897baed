#!/usr/bin/env python3
"""Prometheus' own checker accepts the daemon's real /metrics output (with a hostile alias
and failing devices in it), and the harness' strict parser rejects what promtool rejects
plus what promtool 2.42 misses (duplicate series, interleaved families)."""

import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

NASTY_ALIAS = 'tab\there "quoted" back\\slash\nnew line ünïcödé'


def promtool():
    path = shutil.which("promtool")
    if not path:
        harness.skip("promtool not found (apt-get install prometheus)")
    return path


def promtool_check(text):
    proc = subprocess.run([promtool(), "check", "metrics"], input=text.encode("utf-8"),
                          capture_output=True, timeout=30)
    return proc.returncode, (proc.stdout + proc.stderr).decode("utf-8", "replace")


def assert_promtool_clean(text, what):
    rc, out = promtool_check(text)
    assert rc == 0 and out.strip() == "", f"promtool on {what}: exit {rc}\n{out}\n--- input:\n{text}"
    harness.parse_metrics(text)


def test_real_output():
    promtool()
    profiles = [("a_hs100", "hs100", None), ("b_hs110v1", "hs110v1", None),
                ("c_hs110v2", "hs110v2", NASTY_ALIAS)]
    sim = harness.start_sim([harness.plug_spec(p, alias=alias) for _, p, alias in profiles])
    plugs = [(name, sim.port(i)) for i, (name, _, _) in enumerate(profiles)]
    plugs.append(("d_refused", harness.free_port()))  # brings tplink_poll_errors_total in
    daemon = harness.start_daemon(harness.inventory(plugs, interval="1s", timeout="500ms"))
    harness.wait_up(daemon, [name for name, _, _ in profiles], timeout=10)
    harness.wait_until(lambda: (daemon.metrics().get("tplink_poll_errors_total", device="d_refused",
                                                     reason="connect") or 0) > 0,
                       6, message="d_refused to count a connect error")
    text = daemon.metrics_text()
    assert harness.escape_label_value(NASTY_ALIAS) in text, "the nasty alias is not in the output"
    assert_promtool_clean(text, "/metrics with plugs")
    daemon.stop()
    sim.stop()


def test_demo_output():
    promtool()
    daemon = harness.start_daemon(args=["--demo"])
    m = harness.wait_until(lambda: (lambda m: m if m.find("tplink_up") and
                                    any(v == 1 for _, v in m.find("tplink_up")) else None)(daemon.metrics()),
                           10, message="a demo device to come up")
    assert m.find("tplink_device_info"), "--demo exports no devices"
    assert_promtool_clean(daemon.metrics_text(), "/metrics of --demo")
    daemon.stop()


GOOD = """\
# HELP x_total Things, with "quotes" and a \\\\ and a \\n in help.
# TYPE x_total counter
x_total{a="1",b="q\\"\\\\\\n"} 1
x_total{a="2"} 2.5e3
# HELP y Gauge.
# TYPE y gauge
y NaN
y{z="+Inf"} +Inf
"""

# Rejected by promtool (parse errors) and by the harness parser.
BOTH_REJECT = {
    "unescaped quote": '# HELP y h\n# TYPE y gauge\ny{a="x"y"} 1\n',
    "TYPE after samples": "# HELP y h\ny 1\n# TYPE y gauge\n",
    "no final newline": "# HELP y h\n# TYPE y gauge\ny 1",
    "bad HELP escape": "# HELP y h\\q\n# TYPE y gauge\ny 1\n",
    "info type": "# HELP y_info h\n# TYPE y_info info\ny_info 1\n",
    "bad label escape": '# HELP y h\n# TYPE y gauge\ny{a="\\t"} 1\n',
    "bad value": "# HELP y h\n# TYPE y gauge\ny one\n",
}
# promtool 2.42 misses these; the harness parser must not.
ONLY_HARNESS_REJECTS = {
    "duplicate series": "# HELP y h\n# TYPE y gauge\ny{a=\"1\"} 1\ny{a=\"1\"} 2\n",
    "interleaved families": ("# HELP y h\n# TYPE y gauge\ny{a=\"1\"} 1\n# HELP w h\n# TYPE w gauge\n"
                             "w 1\ny{a=\"2\"} 1\n"),
    "reserved label": "# HELP y h\n# TYPE y gauge\ny{__a=\"1\"} 1\n",
}


def test_parser_agrees_with_promtool():
    promtool()
    rc, out = promtool_check(GOOD)
    assert rc == 0, f"promtool rejects the good sample: {out}"
    m = harness.parse_metrics(GOOD)
    assert m.value("x_total", a="1", b='q"\\\n') == 1
    assert m.value("x_total", a="2") == 2500
    assert m.help["x_total"] == 'Things, with "quotes" and a \\ and a \n in help.'
    assert m.value("y", z="+Inf") == float("inf")
    assert m.types == {"x_total": "counter", "y": "gauge"}
    for what, text in BOTH_REJECT.items():
        rc, out = promtool_check(text)
        assert rc != 0, f"promtool accepted {what!r}: {text!r}"
        try:
            harness.parse_metrics(text)
        except harness.FormatError:
            pass
        else:
            raise AssertionError(f"harness parser accepted {what!r}: {text!r}")
    for what, text in ONLY_HARNESS_REJECTS.items():
        try:
            harness.parse_metrics(text)
        except harness.FormatError:
            pass
        else:
            raise AssertionError(f"harness parser accepted {what!r}: {text!r}")


if __name__ == "__main__":
    harness.run([test_parser_agrees_with_promtool, test_real_output, test_demo_output])
