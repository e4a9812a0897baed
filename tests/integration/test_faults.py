#!/usr/bin/env python3
"""Faulty devices are isolated: each failure gets its reason, healthy devices keep their
schedule, scrapes stay fast, a device recovers when its fault goes, and a failed device's
readings expire after two intervals while tplink_up 0 stays."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

INTERVAL = 1.0
TIMEOUT = 0.5
# name, tplinksim profile, fault at start, acceptable poll error reasons
SIMULATED = [
    ("healthy", "hs110v2", None, ()),
    ("hanging", "hs110v1", "hang", ("timeout",)),
    ("garbled", "hs110v2", "garbage", ("protocol",)),
    ("closing", "hs100", "close", ("connect", "protocol")),
]
REFUSED = ("refused", ("connect",))  # an inventory entry with nobody listening
REASONS = ("timeout", "connect", "protocol", "device", "auth")


def errors_by_reason(m, name):
    return {labels["reason"]: v for labels, v in m.find("tplink_poll_errors_total", device=name)}


def check_failing(m, name, allowed):
    """tplink_up 0 and errors only of the allowed reasons (at least one)."""
    up = m.get("tplink_up", device=name)
    errs = errors_by_reason(m, name)
    wrong = {r: v for r, v in errs.items() if v > 0 and r not in allowed}
    assert not wrong, f"{name}: errors with reasons {wrong}, want only {allowed}"
    for reason in errs:
        assert reason in REASONS, f"{name}: unknown reason {reason!r}"
    return up == 0 and sum(errs.get(r, 0) for r in allowed) > 0


def test_faults():
    sim = harness.start_sim([harness.plug_spec(profile, fault=fault)
                             for _, profile, fault, _ in SIMULATED])
    refused_port = harness.free_port()
    plugs = [(name, sim.port(i)) for i, (name, _, _, _) in enumerate(SIMULATED)]
    plugs.append((REFUSED[0], refused_port))
    daemon = harness.start_daemon(harness.inventory(plugs, interval="1s", timeout="500ms"))
    failing = [(name, allowed) for name, _, fault, allowed in SIMULATED if fault] + [REFUSED]

    # 1. Every fault shows as tplink_up 0 with its own reason; the healthy plug is up.
    def settled():
        m = daemon.metrics()
        ok = m.get("tplink_up", device="healthy") == 1
        for name, allowed in failing:
            ok = check_failing(m, name, allowed) and ok
        return m if ok else None
    m = harness.wait_until(settled, 4 * INTERVAL + 3, interval=0.1,
                           message="faults reported with their reasons")
    for name, _ in failing:
        assert not m.has("tplink_plug_power_watts", device=name), \
            f"{name} never answered, yet has a power reading"
        assert m.get("tplink_up", device=name, kind="plug") == 0

    # 2. The healthy plug keeps its schedule and its polls stay quick.
    a = m.value("tplink_polls_total", device="healthy")
    t0 = time.monotonic()
    time.sleep(4 * INTERVAL)
    m = daemon.metrics()
    elapsed = time.monotonic() - t0
    b = m.value("tplink_polls_total", device="healthy")
    assert elapsed / INTERVAL - 1.5 <= b - a <= elapsed / INTERVAL + 1.5, \
        f"healthy: polls_total {a} -> {b} in {elapsed:.1f}s; want about one per {INTERVAL}s"
    assert m.value("tplink_up", device="healthy") == 1
    assert all(v == 0 for v in errors_by_reason(m, "healthy").values()), errors_by_reason(m, "healthy")
    assert m.value("tplink_poll_duration_seconds", device="healthy") < 0.25
    for name, allowed in failing:
        assert check_failing(m, name, allowed), f"{name} should still be failing"

    # 3. Scrapes never wait on devices.
    latencies = []
    for _ in range(20):
        t = time.monotonic()
        status, _, body = daemon.fetch("/metrics")
        latencies.append(time.monotonic() - t)
        assert status == 200
        harness.parse_metrics(body.decode("utf-8"))
        time.sleep(0.05)
    assert max(latencies) < 0.1, f"slowest of 20 scrapes took {max(latencies) * 1000:.0f} ms"

    # 4. Clearing a fault at runtime brings the device back within two intervals.
    for i, (name, _, fault, _) in enumerate(SIMULATED):
        if fault:
            sim.fault(i, "none")
    t_cleared = time.monotonic()
    recovered = [name for name, _, fault, _ in SIMULATED if fault]
    m = harness.wait_up(daemon, recovered, timeout=2 * INTERVAL + 1.0)
    assert time.monotonic() - t_cleared <= 2 * INTERVAL + 1.0
    assert m.has("tplink_plug_power_watts", device="hanging"), "recovered hs110v1 has no power reading"
    assert m.value("tplink_up", device=REFUSED[0]) == 0

    # 5. A device that fails again keeps tplink_up 0, but its readings go once they are older
    #    than two intervals (and not before).
    index = [name for name, _, _, _ in SIMULATED].index("hanging")
    sim.fault(index, "refuse")

    def down():
        m = daemon.metrics()
        return (m, time.time()) if m.get("tplink_up", device="hanging") == 0 else None
    m, seen_down = harness.wait_until(down, 2 * INTERVAL + 1, interval=0.05,
                                      message="hanging to go down after 'refuse'")
    last_ok = m.value("tplink_last_poll_success_timestamp_seconds", device="hanging")
    if seen_down - last_ok < 1.5 * INTERVAL:
        assert m.has("tplink_plug_power_watts", device="hanging"), \
            f"readings vanished {seen_down - last_ok:.2f}s after the last success (< 2 intervals)"

    def expired():
        m = daemon.metrics()
        return m if not m.has("tplink_plug_power_watts", device="hanging") else None
    # Expiry may be checked on render or on the next failed poll: allow one more interval.
    deadline = last_ok + 3 * INTERVAL + 0.7 - time.time()
    m = harness.wait_until(expired, max(deadline, 0.5), interval=0.05,
                           message="readings of the failed device to expire")
    gone_after = time.time() - last_ok
    assert gone_after >= 2 * INTERVAL - 0.2, f"readings expired after only {gone_after:.2f}s"
    for family in ("tplink_plug_relay_on", "tplink_plug_voltage_volts",
                   "tplink_plug_current_amperes", "tplink_plug_energy_joules_total"):
        assert not m.has(family, device="hanging"), f"stale {family} still exported"
    assert m.value("tplink_up", device="hanging") == 0, "tplink_up must stay while readings expire"
    assert errors_by_reason(m, "hanging").get("connect", 0) > 0, "refused polls count as connect"
    assert m.value("tplink_up", device="healthy") == 1

    # 6. SIGTERM with a poll stuck on a hanging device still exits 0 promptly.
    sim.fault(0, "hang")
    time.sleep(INTERVAL + 0.1)
    daemon.stop(timeout=5)
    sim.stop()


if __name__ == "__main__":
    harness.run([test_faults])
