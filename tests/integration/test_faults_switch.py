#!/usr/bin/env python3
"""Faulty Easy Smart switches are isolated too: each fault gets its reason, a refused login
backs off instead of storming the switch, healthy devices keep their cadence, scrapes stay
fast, the switch recovers once its fault is gone (after the back-off, for a login that was
refused), and nothing leaks.

Reasons: HTTP 500 is a page that is neither the login page nor the data, so protocol; a page
slower than the timeout is timeout; a login page that never lets us in (errType 0), a wrong
password (errType 1) and full login slots (errType 3) are auth. The collector backs off 30 s
after a login that was not accepted and at least 300 s after errType 1-4, so this test waits
out the 30 s one and, for the 300 s ones, asserts that no further login is tried."""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

PASSWORD = "fault-test-pw"
BACKOFF_NOT_ACCEPTED = 30.0  # collectors/easysmart/session.h ES_BACKOFF_MIN_S
# name, model, tplinksim fault, expected reason, interval (s), timeout (s)
SWITCHES = [
    ("sw-ok", "TL-SG108E", None, None, 1, 0.5),
    ("sw-http500", "TL-SG105E", "http500", "protocol", 1, 0.5),
    ("sw-slow", "TL-SG108E", "slow", "timeout", 3, 2),
    ("sw-endless", "TL-SG108E", "endless_login", "auth", 1, 0.5),
    ("sw-wrongpw", "TL-SG1016DE", "wrong_credentials", "auth", 1, 0.5),
    ("sw-full", "TL-SG108PE", "users_full", "auth", 1, 0.5),
]
PLUGS = [("ok-plug", "hs110v2")]
AUTH_LONG = ("sw-wrongpw", "sw-full")  # back-off of 300 s or more: must not log in again


def errors_by_reason(m, name):
    return {labels["reason"]: v for labels, v in m.find("tplink_poll_errors_total", device=name)}


def sim_command(sim, line, timeout=5.0):
    sim.send_line(line)
    answer = sim.read_line(timeout)
    if not answer.startswith("ok"):
        raise AssertionError(f"tplinksim: {line!r} answered {answer!r}")
    return answer


def logons(sim, index, timeout=5.0):
    """POST /logon.cgi requests the switch has seen (from tplinksim's snapshot line)."""
    sim.send_line(f"switch {index} snapshot")
    line = sim.read_line(timeout)
    answer = sim.read_line(timeout)
    if answer != "ok":
        raise AssertionError(f"tplinksim: 'switch {index} snapshot' answered {line!r} {answer!r}")
    return int(json.loads(line)["requests"]["logon"])


def quiet_fds(pid, samples=8, pause=0.1):
    least = None
    for _ in range(samples):
        n = len(os.listdir(f"/proc/{pid}/fd"))
        least = n if least is None else min(least, n)
        time.sleep(pause)
    return least


def test_switch_faults():
    specs = [harness.plug_spec(p) for _, p in PLUGS]
    specs += [f"switch:{model}@{harness.LOOPBACK}:0,password={PASSWORD},slow=10"
              for _, model, _, _, _, _ in SWITCHES]
    sim = harness.start_sim(specs)
    plugs = [(n, sim.port(i)) for i, (n, _) in enumerate(PLUGS)]
    switches = [{"name": n, "port": sim.port(len(PLUGS) + i), "password": PASSWORD,
                 "interval": f"{iv}s", "timeout": f"{int(to * 1000)}ms"}
                for i, (n, _, _, _, iv, to) in enumerate(SWITCHES)]
    daemon = harness.start_daemon(harness.inventory(plugs, interval="1s", timeout="500ms",
                                                    switches=switches))
    names = [n for n, _ in PLUGS] + [s[0] for s in SWITCHES]
    index = {s[0]: i for i, s in enumerate(SWITCHES)}
    spec = {s[0]: s for s in SWITCHES}
    faulty = [s[0] for s in SWITCHES if s[2]]
    healthy = [n for n in names if n not in faulty]
    harness.wait_up(daemon, names, timeout=8)
    fds_before = quiet_fds(daemon.pid)

    # 1. Faults on. Full login slots only matter at the next login: a reboot ends the session.
    for name in faulty:
        sim_command(sim, f"switch {index[name]} fault {spec[name][2]}")
    sim_command(sim, f"switch {index['sw-full']} reboot")
    t_faults = time.monotonic()
    first_seen = {}

    def settled():
        m = daemon.metrics()
        for name in faulty:
            reason = spec[name][3]
            if (name not in first_seen and m.get("tplink_up", device=name) == 0
                    and errors_by_reason(m, name).get(reason, 0) > 0):
                first_seen[name] = time.monotonic()
        return m if len(first_seen) == len(faulty) else None
    harness.wait_until(settled, 3 + 2 + 2, interval=0.1,
                       message="every switch fault reported as tplink_up 0 with its reason")
    auth_logons = {n: logons(sim, index[n]) for n in ("sw-endless",) + AUTH_LONG}

    # 2. While the faults last: healthy devices keep their cadence within 10% and scrapes stay
    #    fast; each faulty switch fails with its own reason only.
    m0 = daemon.metrics()
    t0 = time.monotonic()
    latencies = []
    while len(latencies) < 30 or time.monotonic() - t0 < 12:
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
    for name in healthy:
        got = m1.value("tplink_polls_total", device=name) - m0.value("tplink_polls_total", device=name)
        assert abs(got - elapsed) <= 0.1 * elapsed, \
            f"{name}: {got:.0f} polls in {elapsed:.1f} s at a 1 s interval"
        assert m1.value("tplink_up", device=name) == 1, f"{name} went down beside the faults"
        assert not any(errors_by_reason(m1, name).values()), f"{name}: {errors_by_reason(m1, name)}"
    for name in faulty:
        reason = spec[name][3]
        errs = errors_by_reason(m1, name)
        wrong = {r: v for r, v in errs.items() if v > 0 and r != reason}
        assert not wrong, f"{name}: errors {wrong}, want only {reason}"
        assert m1.value("tplink_up", device=name) == 0, f"{name} up during its fault"
        # Faulty switches are still polled on schedule (a back-off fails a poll at once).
        iv = spec[name][4]
        got = m1.value("tplink_polls_total", device=name) - m0.value("tplink_polls_total", device=name)
        assert abs(got - elapsed / iv) <= max(1.0, 0.1 * elapsed / iv), \
            f"{name}: {got:.0f} polls in {elapsed:.1f} s at a {iv} s interval"
    for name, before in auth_logons.items():
        now = logons(sim, index[name])
        assert now == before, f"{name}: {now - before} more logins during the back-off"

    # 3. Faults off. HTTP 500 and the slow page recover within two intervals; the refused
    #    logins stay backed off.
    t_clear = time.monotonic()
    for name in faulty:
        sim_command(sim, f"switch {index[name]} fault none")
    quick = ["sw-http500", "sw-slow"]
    back = {}

    def recovered():
        m = daemon.metrics()
        for name in quick:
            if name not in back and m.get("tplink_up", device=name) == 1:
                back[name] = time.monotonic() - t_clear
        return m if len(back) == len(quick) else None
    harness.wait_until(recovered, 2 * 3 + 1, interval=0.05,
                       message="http500 and slow switches to recover")
    late = {n: round(t, 2) for n, t in back.items() if t > 2 * spec[n][4]}
    assert not late, f"recovered later than two intervals: {late}"

    # 4. The login that was not accepted (errType 0) is retried once its 30 s back-off ends,
    #    not before, and then succeeds with at most one more login (none when the switch still
    #    holds the session for our address, as classic firmware does).
    t_refused = first_seen["sw-endless"]
    earliest = t_faults + BACKOFF_NOT_ACCEPTED - 0.5
    m = daemon.metrics()
    assert m.value("tplink_up", device="sw-endless") == 0 or time.monotonic() >= earliest, \
        "sw-endless recovered inside its back-off"

    def endless_up():
        m = daemon.metrics()
        return (m, time.monotonic()) if m.get("tplink_up", device="sw-endless") == 1 else None
    deadline = t_refused + BACKOFF_NOT_ACCEPTED + 2 * spec["sw-endless"][4] + 1
    m, t_up = harness.wait_until(endless_up, max(deadline - time.monotonic(), 1), interval=0.1,
                                 message="sw-endless to log in again after its back-off")
    assert t_up >= earliest, f"sw-endless logged in {earliest - t_up:.1f} s before the back-off ended"
    extra = logons(sim, index["sw-endless"]) - auth_logons["sw-endless"]
    assert extra <= 1, f"sw-endless: {extra} logins to recover after the back-off, want <= 1"

    # 5. The refused ones (errType 1 and 3) are still backed off: down, auth only, no login.
    for name in AUTH_LONG:
        assert m.value("tplink_up", device=name) == 0, f"{name} logged in inside its back-off"
        errs = errors_by_reason(m, name)
        assert set(r for r, v in errs.items() if v > 0) == {"auth"}, f"{name}: {errs}"
        now = logons(sim, index[name])
        assert now == auth_logons[name], f"{name}: {now - auth_logons[name]} logins in its back-off"
    for name in healthy + quick:
        assert m.value("tplink_up", device=name) == 1, f"{name} is down at the end"

    # 6. Nothing leaked.
    fds_after = quiet_fds(daemon.pid)
    assert fds_after == fds_before, f"daemon descriptors {fds_before} before, {fds_after} after"
    daemon.stop(timeout=5)
    sim.stop()


if __name__ == "__main__":
    harness.run([test_switch_faults])
