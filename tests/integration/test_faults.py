#!/usr/bin/env python3
"""Faulty devices are isolated: each failure gets its reason, healthy devices keep their
schedule, scrapes stay fast, a device recovers when its fault goes, nothing leaks, and a
failed device's readings expire after two intervals while tplink_up 0 stays.

test_each_fault runs every simulated plug fault at once, one plug each, in one daemon."""

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


# One plug per fault, all faulty at once in one daemon, and the reason each must get.
# A reset after part of a reply counts as protocol, like a close after part of one: the device
# started answering, so it was reachable ("connect" is for refused or cut before any byte).
FAULT_REASONS = {
    "refuse": "connect",
    "close": "connect",
    "hang": "timeout",
    "drip": "timeout",  # one byte a second never makes a reply within the 500 ms timeout
    "garbage": "protocol",
    "truncated": "protocol",
    "huge_length": "protocol",
    "bad_json": "protocol",
    "reset": "protocol",
    "device_error": "device",
}
HEALTHY = [("ok-v2", "hs110v2"), ("ok-v1", "hs110v1"), ("ok-hs100", "hs100")]


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def quiet_fds(pid, samples=8, pause=0.1):
    """The fewest descriptors over a few samples: a poll in flight holds a socket."""
    least = None
    for _ in range(samples):
        n = open_fds(pid)
        least = n if least is None else min(least, n)
        time.sleep(pause)
    return least


def polls(m, names):
    return {n: m.value("tplink_polls_total", device=n) for n in names}


def test_each_fault():
    faults = list(FAULT_REASONS)
    names = [n for n, _ in HEALTHY] + [f"f-{f}" for f in faults]
    profiles = [p for _, p in HEALTHY] + ["hs110v2"] * len(faults)
    sim = harness.start_sim([harness.plug_spec(p) for p in profiles])
    daemon = harness.start_daemon(harness.inventory(
        [(n, sim.port(i)) for i, n in enumerate(names)], interval="1s", timeout="500ms"))
    harness.wait_up(daemon, names, timeout=5)
    fds_before = quiet_fds(daemon.pid)
    before = daemon.metrics()
    for n in names:
        assert not any(errors_by_reason(before, n).values()), f"{n}: errors before any fault"

    # 1. Every fault at once, each on its own plug: tplink_up 0 with the fault's reason, and
    #    no error of another reason.
    for i, f in enumerate(faults):
        sim.fault(len(HEALTHY) + i, f)

    def settled():
        m = daemon.metrics()
        pending = [f for f in faults
                   if not (m.get("tplink_up", device=f"f-{f}") == 0
                           and errors_by_reason(m, f"f-{f}").get(FAULT_REASONS[f], 0) > 0)]
        return m if not pending else None
    harness.wait_until(settled, 3 * INTERVAL + 2, interval=0.1,
                       message="every fault reported as tplink_up 0 with an error")

    # 2. While the faults last: healthy plugs keep their cadence within 10% and stay up,
    #    scrapes stay fast (p99 of 30 under 100 ms), faulty plugs are polled on schedule too.
    m0 = daemon.metrics()
    t0 = time.monotonic()
    latencies = []
    while len(latencies) < 30 or time.monotonic() - t0 < 12 * INTERVAL:
        t = time.monotonic()
        status, _, body = daemon.fetch("/metrics")
        latencies.append(time.monotonic() - t)
        assert status == 200
        harness.parse_metrics(body.decode("utf-8"))
        time.sleep(0.3)
    m1 = daemon.metrics()
    elapsed = time.monotonic() - t0
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
    assert p99 < 0.1, f"scrape p99 {p99 * 1000:.0f} ms over {len(latencies)} scrapes"
    a, b = polls(m0, names), polls(m1, names)
    want = elapsed / INTERVAL
    for n in names:
        got = b[n] - a[n]
        assert abs(got - want) <= 0.1 * want, \
            f"{n}: {got:.0f} polls in {elapsed:.1f} s, want {want:.1f} within 10%"
    for n, _ in HEALTHY:
        assert m1.value("tplink_up", device=n) == 1, f"{n} went down beside the faults"
        assert not any(errors_by_reason(m1, n).values()), f"{n}: {errors_by_reason(m1, n)}"
    for f in faults:
        name = f"f-{f}"
        errs = errors_by_reason(m1, name)
        wrong = {r: v for r, v in errs.items() if v > 0 and r != FAULT_REASONS[f]}
        assert not wrong, f"{f}: errors {wrong}, want only {FAULT_REASONS[f]}"
        assert m1.value("tplink_up", device=name) == 0, f"{f}: up during the fault"
        # Every poll in the window failed, with the fault's reason (a poll is counted when it
        # starts and its error when it ends: one may be in flight at either snapshot).
        polled = b[name] - a[name]
        failed = errs[FAULT_REASONS[f]] - errors_by_reason(m0, name).get(FAULT_REASONS[f], 0)
        assert abs(failed - polled) <= 1, \
            f"{f}: {failed} {FAULT_REASONS[f]} errors for {polled} polls"
        assert not m1.has("tplink_plug_power_watts", device=name), \
            f"{f}: readings older than two intervals still exported"

    # 3. Faults cleared: every plug is back within two intervals.
    for i in range(len(faults)):
        sim.fault(len(HEALTHY) + i, "none")
    t_clear = time.monotonic()
    back = {}

    def recovered():
        m = daemon.metrics()
        now = time.monotonic() - t_clear
        for f in faults:
            if f not in back and m.get("tplink_up", device=f"f-{f}") == 1:
                back[f] = now
        return m if len(back) == len(faults) else None
    m = harness.wait_until(recovered, 2 * INTERVAL + 1, interval=0.05,
                           message="every plug to recover after its fault cleared")
    slow = {f: round(t, 2) for f, t in back.items() if t > 2 * INTERVAL}
    assert not slow, f"recovered later than two intervals: {slow}"
    for f in faults:
        assert m.has("tplink_plug_power_watts", device=f"f-{f}"), f"{f}: no reading after recovery"

    # 4. Nothing leaked: once the polls settle, the daemon holds the descriptors it held
    #    before the faults.
    time.sleep(INTERVAL)
    fds_after = quiet_fds(daemon.pid)
    assert fds_after == fds_before, f"daemon descriptors {fds_before} before, {fds_after} after"
    daemon.stop(timeout=5)
    sim.stop()


if __name__ == "__main__":
    harness.run([test_faults, test_each_fault])
