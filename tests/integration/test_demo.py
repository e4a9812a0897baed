#!/usr/bin/env python3
"""--demo: every simulated device comes up, the KLAP plug (a Tapo P110 in the SMART dialect,
on the in-process KLAP simulator) among them with a power reading, and the demo account's
password shows nowhere: not in /metrics, not in the log."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

DEMO_PASSWORD = "demo-kasa-password"  # daemon/demo.c: not a secret, but kept out of logs too
PLUGS = ["demo-kettle", "demo-fridge", "demo-lamp", "demo-tapo"]


def test_demo_klap_plug():
    daemon = harness.start_daemon(args=["--demo", "--log.level=debug"])
    m = harness.wait_up(daemon, PLUGS, timeout=20)
    labels = m.find("tplink_device_info", device="demo-tapo")
    assert len(labels) == 1 and labels[0][0]["model"] == "P110", labels
    assert m.value("tplink_plug_relay_on", device="demo-tapo") == 1
    power = m.value("tplink_plug_power_watts", device="demo-tapo")
    assert 20 < power < 27, f"demo-tapo power {power}"  # p110: 23.8 W, within the 10 % walk
    assert m.value("tplink_plug_energy_month_joules", device="demo-tapo") > 0
    text = daemon.metrics_text()
    assert DEMO_PASSWORD not in text, "the demo password reached /metrics"
    daemon.stop()
    assert DEMO_PASSWORD not in daemon.stderr_text(), "the demo password reached the log"


if __name__ == "__main__":
    harness.run([test_demo_klap_plug])
