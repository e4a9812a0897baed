#!/usr/bin/env python3
"""The daemon polls simulated plugs (tplinksim) and /metrics says what the devices say.

Every reading is compared with a direct query of the simulated device (harness Kasa client)
made before and after the daemon's poll: the exported value must lie within the range the
device showed, widened by 5% for readings that move."""

import gzip
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import SYSINFO_AND_METER, plug_reading, within_seen  # noqa: E402

INTERVAL = 1.0
PLUGS = [("p_hs100", "hs100"), ("p_hs110v1", "hs110v1"), ("p_hs110v2", "hs110v2")]
METER_FAMILIES = ("tplink_plug_power_watts", "tplink_plug_voltage_volts",
                  "tplink_plug_current_amperes", "tplink_plug_energy_joules_total")
METER_KEYS = dict(zip(METER_FAMILIES, ("power", "voltage", "current", "energy")))
NASTY_ALIAS = 'Küche "7" \\ a\nb'  # quote, backslash, newline and UTF-8; no comma


def start(plugs=PLUGS, aliases=None):
    aliases = aliases or {}
    sim = harness.start_sim([harness.plug_spec(profile, alias=aliases.get(name))
                             for name, profile in plugs])
    inv = harness.inventory([(name, sim.port(i)) for i, (name, _) in enumerate(plugs)],
                            interval="1s", timeout="500ms")
    daemon = harness.start_daemon(inv)
    harness.wait_up(daemon, [name for name, _ in plugs], timeout=10)
    return sim, daemon


def fresh_metrics(daemon, name, since):
    """Metrics once device `name` has had a successful poll after wall time `since`."""
    def polled():
        m = daemon.metrics()
        ts = m.get("tplink_last_poll_success_timestamp_seconds", device=name)
        return m if ts is not None and ts > since else None
    return harness.wait_until(polled, 3 * INTERVAL + 2, interval=0.05,
                              message=f"a poll of {name} after t={since:.3f}")


def test_readings_match_devices():
    sim, daemon = start()
    for i, (name, profile) in enumerate(PLUGS):
        t0 = time.time()
        before = plug_reading(sim.query(i, SYSINFO_AND_METER))
        m = fresh_metrics(daemon, name, t0)
        after = plug_reading(sim.query(i, SYSINFO_AND_METER))

        assert m.value("tplink_up", device=name, kind="plug") == 1
        relay = m.value("tplink_plug_relay_on", device=name)
        assert relay in (before["relay"], after["relay"]), f"{name}: relay {relay}, device {before['relay']}"
        rssi = m.value("tplink_plug_wifi_rssi_dbm", device=name)
        assert within_seen(rssi, [before["rssi"], after["rssi"]], 0), f"{name}: rssi {rssi}"
        on_time = m.value("tplink_plug_on_time_seconds", device=name)
        assert before["on_time"] - 1 <= on_time <= after["on_time"] + 1, \
            f"{name}: on_time {on_time}, device said {before['on_time']}..{after['on_time']}"

        if profile == "hs100":
            assert before["meter"] is None, "the hs100 profile should have no energy meter"
            for family in METER_FAMILIES:
                assert not m.has(family, device=name), f"{name} has no meter, yet {family} is exported"
            continue
        assert before["meter"] is not None, f"{profile} should have an energy meter"
        for family, key in METER_KEYS.items():
            value = m.value(family, device=name)
            seen = [before["meter"][key], after["meter"][key]]
            assert within_seen(value, seen), f"{name}: {family} = {value}, device said {seen}"
        for family in METER_FAMILIES + ("tplink_plug_relay_on", "tplink_plug_on_time_seconds",
                                        "tplink_plug_wifi_rssi_dbm"):
            labels = m.find(family, device=name)[0][0]
            assert set(labels) == {"device"}, f"{family} labels {sorted(labels)}, want only device"
    daemon.stop()
    sim.stop()


def test_families_and_types():
    sim, daemon = start()
    m = daemon.metrics()
    want = {
        "tplink_up": "gauge", "tplink_device_info": "gauge",
        "tplink_poll_duration_seconds": "gauge",
        "tplink_last_poll_success_timestamp_seconds": "gauge",
        "tplink_polls_total": "counter", "tplink_plug_relay_on": "gauge",
        "tplink_plug_on_time_seconds": "gauge", "tplink_plug_wifi_rssi_dbm": "gauge",
        "tplink_plug_power_watts": "gauge", "tplink_plug_voltage_volts": "gauge",
        "tplink_plug_current_amperes": "gauge", "tplink_plug_energy_joules_total": "counter",
        "tplink_exporter_build_info": "gauge",
    }
    for family, kind in want.items():
        assert m.types.get(family) == kind, f"{family}: TYPE {m.types.get(family)}, want {kind}"
        assert m.help.get(family, "").strip(), f"{family} has no HELP text"
    builds = m.find("tplink_exporter_build_info")
    assert len(builds) == 1 and builds[0][1] == 1, f"build_info: {builds}"
    assert set(builds[0][0]) == {"version", "revision"} and builds[0][0]["version"], builds
    for name, _ in PLUGS:
        d = m.value("tplink_poll_duration_seconds", device=name)
        assert 0 <= d < 0.5, f"{name}: poll duration {d}s outside [0, timeout)"
        ts = m.value("tplink_last_poll_success_timestamp_seconds", device=name)
        assert abs(time.time() - ts) < 3 * INTERVAL + 2, f"{name}: last success {ts} is not recent"
        errors = m.find("tplink_poll_errors_total", device=name)
        assert all(v == 0 for _, v in errors), f"{name}: errors from a healthy device: {errors}"
    daemon.stop()
    sim.stop()


def test_device_info_and_label_escaping():
    plugs = PLUGS + [("p_nasty", "hs110v1")]
    sim, daemon = start(plugs, aliases={"p_nasty": NASTY_ALIAS})
    m = daemon.metrics()
    for i, (name, _) in enumerate(plugs):
        dev = plug_reading(sim.query(i, SYSINFO_AND_METER))
        infos = m.find("tplink_device_info", device=name)
        assert len(infos) == 1, f"{name}: {len(infos)} device_info series"
        labels, value = infos[0]
        assert value == 1
        want = {"device": name, "kind": "plug", "model": dev["model"], "hw_version": dev["hw"],
                "fw_version": dev["fw"], "alias": dev["alias"]}
        for key, expected in want.items():
            assert labels.get(key) == expected, f"{name}: {key}={labels.get(key)!r}, want {expected!r}"
        assert labels.get("mac", "").lower() == dev["mac"].lower(), f"{name}: mac {labels.get('mac')!r}"
    assert plug_reading(sim.query(3, SYSINFO_AND_METER))["alias"] == NASTY_ALIAS
    # The raw exposition carries the escaped form, on one line.
    raw = daemon.metrics_text()
    escaped = 'alias="' + harness.escape_label_value(NASTY_ALIAS) + '"'
    assert escaped == 'alias="Küche \\"7\\" \\\\ a\\nb"'
    assert escaped in raw, f"escaped alias {escaped!r} not in the exposition"
    daemon.stop()
    sim.stop()


def test_counters_advance():
    sim, daemon = start()
    m1 = daemon.metrics()
    t1 = time.monotonic()
    time.sleep(3 * INTERVAL)
    m2 = daemon.metrics()
    elapsed = time.monotonic() - t1
    for name, profile in PLUGS:
        a = m1.value("tplink_polls_total", device=name)
        b = m2.value("tplink_polls_total", device=name)
        assert elapsed / INTERVAL - 1.5 <= b - a <= elapsed / INTERVAL + 1.5, \
            f"{name}: polls_total went {a} -> {b} in {elapsed:.1f}s at a {INTERVAL}s interval"
        ts1 = m1.value("tplink_last_poll_success_timestamp_seconds", device=name)
        ts2 = m2.value("tplink_last_poll_success_timestamp_seconds", device=name)
        assert ts2 > ts1, f"{name}: last success timestamp did not advance ({ts1} -> {ts2})"
        if profile != "hs100":
            e1 = m1.value("tplink_plug_energy_joules_total", device=name)
            e2 = m2.value("tplink_plug_energy_joules_total", device=name)
            assert e2 >= e1, f"{name}: energy counter went down {e1} -> {e2}"
    daemon.stop()
    sim.stop()


def test_http_endpoints():
    sim, daemon = start(PLUGS[:1])
    status, headers, body = daemon.fetch("/metrics")
    assert status == 200
    ctype = headers.get("content-type", "")
    assert ctype.startswith("text/plain") and "version=0.0.4" in ctype, f"Content-Type {ctype!r}"
    harness.parse_metrics(body.decode("utf-8"))
    status, headers, body = daemon.fetch("/")
    assert status == 200 and b"/metrics" in body, f"landing page: {status} {body[:200]!r}"
    assert headers.get("content-type", "").startswith("text/html"), headers.get("content-type")
    status, _, _ = daemon.fetch("/nope")
    assert status == 404, f"/nope answered {status}"
    daemon.stop()
    sim.stop()


def test_gzip_when_asked():
    """gzip only when Accept-Encoding allows it; the body inflates to a valid exposition
    with the same series as the plain one."""
    sim, daemon = start(PLUGS)
    harness.wait_up(daemon, [p[0] for p in PLUGS])
    _, plain_headers, plain = daemon.fetch("/metrics")
    assert "content-encoding" not in plain_headers, plain_headers
    status, headers, body = daemon.fetch("/metrics", headers={"Accept-Encoding": "gzip"})
    assert status == 200 and headers.get("content-encoding") == "gzip", headers
    assert "accept-encoding" in headers.get("vary", "").lower(), headers
    text = gzip.decompress(body).decode("utf-8")
    assert len(body) < len(text) / 3, (len(body), len(text))
    zipped = harness.parse_metrics(text)
    unzipped = harness.parse_metrics(plain.decode("utf-8"))
    assert set(zipped.types) == set(unzipped.types)
    _, headers, _ = daemon.fetch("/metrics", headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert "content-encoding" not in headers, headers
    daemon.stop()
    sim.stop()


def test_sigterm_exits_zero_promptly():
    sim, daemon = start(PLUGS[:1])
    t = time.monotonic()
    daemon.stop(timeout=5)  # asserts exit status 0
    assert time.monotonic() - t < 5
    sim.stop()


if __name__ == "__main__":
    harness.run([test_readings_match_devices, test_families_and_types,
                 test_device_info_and_label_escaping, test_counters_advance,
                 test_http_endpoints, test_gzip_when_asked, test_sigterm_exits_zero_promptly])
