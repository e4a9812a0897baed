#!/usr/bin/env python3
"""Interop: the daemon polls plugs simulated by tplink-smarthome-simulator (npm, MIT), a peer
this project did not write, and exports exactly the peer's values in base units.

The peer's readings are static and set to known values here. Its v2 model converts its
floats with floor(x * 1000), so e.g. the default 0.1256 A is sent as 125 mA = 0.125 A."""

import json
import os
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402
from harness import SYSINFO_AND_METER, close_to, plug_reading  # noqa: E402

PEER_PACKAGE = "tplink-smarthome-simulator"
PEER_VERSION = "5.0.1"
INTERVAL = 1.0

# name, peer device spec, expected meter in base units (None: no meter)
DEVICES = [
    ("peer_hs110", "hs110,power=12.5,voltage=230.25,current=0.125,total=2.5",
     {"power": 12.5, "voltage": 230.25, "current": 0.125, "energy": 2.5 * 3.6e6}),
    ("peer_hs110v2", "hs110v2,power=42.5,voltage=229.875,current=0.375,total=1.25",
     {"power": 42.5, "voltage": 229.875, "current": 0.375, "energy": 1250 * 3600.0}),
    # Defaults through the v2 floor(): 3.14 W, 122.049119 V, 0.1256 A, 51.493 kWh.
    ("peer_hs110v2_floor", "hs110v2",
     {"power": 3.14, "voltage": 122.049, "current": 0.125, "energy": 51493 * 3600.0}),
    ("peer_hs100", "hs100", None),
]
FAMILIES = {"power": "tplink_plug_power_watts", "voltage": "tplink_plug_voltage_volts",
            "current": "tplink_plug_current_amperes", "energy": "tplink_plug_energy_joules_total"}


def find_peer():
    node = shutil.which("node")
    if not node:
        harness.skip("node is not installed (needed for the npm interop peer)")
    candidates = [os.environ.get("TPLINK_SIMPEER_DIR"),
                  os.path.join(harness.build_dir(), "simpeer"),
                  os.path.join(harness.source_dir(), "build", "simpeer")]
    for d in filter(None, candidates):
        manifest = os.path.join(d, "node_modules", PEER_PACKAGE, "package.json")
        if os.path.isfile(manifest):
            with open(manifest, encoding="utf-8") as f:
                version = json.load(f).get("version")
            if version != PEER_VERSION:
                harness.skip(f"{manifest} is version {version}, want {PEER_VERSION} (run tools/run-tests)")
            return node, os.path.join(d, "node_modules")
    harness.skip(f"{PEER_PACKAGE} is not installed in {[c for c in candidates if c]} (tools/run-tests installs it)")


class Peer(harness.Process):
    def __init__(self, specs, timeout=15.0):
        node, modules = find_peer()
        script = os.path.join(harness.source_dir(), "tests", "interop", "peer", "sim-peer.js")
        env = dict(os.environ, NODE_PATH=modules)
        super().__init__("sim-peer", [node, script] + list(specs), env=env)
        self.devices = []
        deadline = time.monotonic() + timeout
        while True:
            line = self.read_line(max(0.0, deadline - time.monotonic()))
            if line == "ready all":
                break
            model, addr, port, device_id = line.split()[1:5]
            assert addr == harness.LOOPBACK, f"peer bound {addr}"
            self.devices.append({"model": model, "port": int(port), "id": device_id})
        assert len(self.devices) == len(specs)

    def set(self, index, key, value):
        self.send_line(f"set {index} {key} {value}")
        answer = self.read_line(5)
        assert answer == "ok", f"peer answered {answer!r} to set {index} {key} {value}"

    def reading(self, index):
        return plug_reading(harness.kasa_query(harness.LOOPBACK, self.devices[index]["port"],
                                               SYSINFO_AND_METER))


def test_daemon_reads_what_the_peer_says():
    peer = Peer([spec for _, spec, _ in DEVICES])
    plugs = [(name, peer.devices[i]["port"]) for i, (name, _, _) in enumerate(DEVICES)]
    daemon = harness.start_daemon(harness.inventory(plugs, interval="1s", timeout="500ms"))
    m = harness.wait_up(daemon, [name for name, _, _ in DEVICES], timeout=10)

    for i, (name, _, expected) in enumerate(DEVICES):
        dev = peer.reading(i)
        # The peer says what we configured (guards this test's own assumptions).
        if expected is None:
            assert dev["meter"] is None, f"{name}: the peer reports a meter"
        else:
            for key, want in expected.items():
                assert close_to(dev["meter"][key], want), f"{name}: peer {key} {dev['meter'][key]} != {want}"
        assert dev["relay"] == 1
        # The daemon says what the peer says.
        assert m.value("tplink_up", device=name, kind="plug") == 1
        assert m.value("tplink_plug_relay_on", device=name) == 1, f"{name}: relay"
        assert m.value("tplink_plug_wifi_rssi_dbm", device=name) == dev["rssi"], f"{name}: rssi"
        for key, family in FAMILIES.items():
            if expected is None:
                assert not m.has(family, device=name), f"{name} has no meter, yet {family} is exported"
                continue
            got = m.value(family, device=name)
            assert close_to(got, expected[key]), f"{name}: {family} = {got!r}, peer says {expected[key]!r}"
        labels = m.find("tplink_device_info", device=name)[0][0]
        assert labels.get("model") == dev["model"], f"{name}: model {labels.get('model')!r}"
        assert labels.get("hw_version") == dev["hw"], f"{name}: hw_version {labels.get('hw_version')!r}"
        assert labels.get("fw_version") == dev["fw"], f"{name}: fw_version {labels.get('fw_version')!r}"
        assert labels.get("alias") == dev["alias"], f"{name}: alias {labels.get('alias')!r}"
        assert labels.get("mac", "").lower() == dev["mac"].lower(), f"{name}: mac {labels.get('mac')!r}"
        errors = m.find("tplink_poll_errors_total", device=name)
        assert all(v == 0 for _, v in errors), f"{name}: poll errors against the peer: {errors}"

    # Changes on the peer reach /metrics within two intervals.
    peer.set(0, "relay", 0)
    peer.set(1, "power", 7.75)
    peer.set(1, "total", 2.0)

    def changed():
        m = daemon.metrics()
        energy = m.get("tplink_plug_energy_joules_total", device="peer_hs110v2")
        return m if (m.get("tplink_plug_relay_on", device="peer_hs110") == 0 and
                     m.get("tplink_plug_power_watts", device="peer_hs110v2") == 7.75 and
                     energy is not None and close_to(energy, 2000 * 3600.0)) else None
    m = harness.wait_until(changed, 2 * INTERVAL + 1, interval=0.05, message="peer changes in /metrics")
    assert m.value("tplink_plug_on_time_seconds", device="peer_hs110") == 0, "relay off: on_time 0"
    daemon.stop()
    peer.stop()


def test_hs300_outlets():
    """The peer's HS300: six outlets keyed by index with their own relays and meters (v2
    milli-units per outlet), no strip-level relay or reading; one outlet switched off on the
    peer changes only that outlet."""
    peer = Peer(["hs300"])
    powers = [10.5, 20.25, 0.5, 40.75, 5.125, 60.0]
    for i, p in enumerate(powers):
        peer.set(f"0/{i}", "power", p)
        peer.set(f"0/{i}", "voltage", 230.25)
        peer.set(f"0/{i}", "current", 0.125)
        peer.set(f"0/{i}", "total", 1.5 + i)
    daemon = harness.start_daemon(harness.inventory([("strip", peer.devices[0]["port"])],
                                                    interval="1s", timeout="800ms"))
    m = harness.wait_up(daemon, ["strip"], timeout=10)
    assert not m.has("tplink_plug_relay_on", device="strip"), "a strip has no relay of its own"
    assert not m.has("tplink_plug_power_watts", device="strip"), "no strip total"
    for i, p in enumerate(powers):
        outlet = str(i + 1)
        assert m.value("tplink_outlet_relay_on", device="strip", outlet=outlet) == 1, outlet
        assert close_to(m.value("tplink_outlet_power_watts", device="strip", outlet=outlet), p), \
            (outlet, m.value("tplink_outlet_power_watts", device="strip", outlet=outlet), p)
        assert close_to(m.value("tplink_outlet_voltage_volts", device="strip", outlet=outlet), 230.25)
        assert close_to(m.value("tplink_outlet_current_amperes", device="strip", outlet=outlet), 0.125)
        assert close_to(m.value("tplink_outlet_energy_joules_total", device="strip", outlet=outlet),
                        (1.5 + i) * 1000 * 3600.0)
        assert m.find("tplink_outlet_info", device="strip", outlet=outlet), outlet

    peer.set("0/1", "relay", 0)

    def switched():
        m = daemon.metrics()
        return m if m.get("tplink_outlet_relay_on", device="strip", outlet="2") == 0 else None
    m = harness.wait_until(switched, 2 * INTERVAL + 1.5, interval=0.05, message="outlet 2 off")
    for outlet in ("1", "3", "4", "5", "6"):
        assert m.value("tplink_outlet_relay_on", device="strip", outlet=outlet) == 1, outlet
    daemon.stop()
    peer.stop()


if __name__ == "__main__":
    find_peer()  # skip before starting anything when the peer is missing
    harness.run([test_daemon_reads_what_the_peer_says, test_hs300_outlets])
