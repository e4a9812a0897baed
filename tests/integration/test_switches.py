#!/usr/bin/env python3
"""The daemon polls simulated Easy Smart switches (tplinksim) over HTTP on loopback, and
/metrics says what the switches show.

The simulator's "switch INDEX snapshot" command gives each port's state, link code, the
four page counters (uint32, as the page shows them now), the true 64-bit totals and the
requests served per page. Counters move all the time, so an exported value is compared
with snapshots taken before and after the poll that produced it.

The switch password is random per run, reaches the daemon through a password_file, and is
never printed: failure reports mask it."""

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

PASSWORD = "Sw-" + secrets.token_hex(8)
WRONG = "Bad-" + secrets.token_hex(8)
MASK = "<password>"
INTERVAL = 1.0
MODELS = [("sg105e", "TL-SG105E"), ("sg108e", "TL-SG108E"), ("sg1016de", "TL-SG1016DE"),
          ("sg1024de", "TL-SG1024DE")]
POE_MODELS = [("sg108pe", "TL-SG108PE"), ("sg1016pe", "TL-SG1016PE")]
KEYS = ("TxGoodPkt", "TxBadPkt", "RxGoodPkt", "RxBadPkt")
COUNTERS = {"TxGoodPkt": "tplink_switch_port_transmit_packets_total",
            "TxBadPkt": "tplink_switch_port_transmit_errors_total",
            "RxGoodPkt": "tplink_switch_port_receive_packets_total",
            "RxBadPkt": "tplink_switch_port_receive_errors_total"}
# link_status code -> (bytes per second, full duplex), per the Easy Smart reference
LINK = {0: (0, 0), 2: (1.25e6, 0), 3: (1.25e6, 1), 4: (12.5e6, 0), 5: (12.5e6, 1),
        6: (125e6, 1)}
WRAP = 2 ** 32
HEADROOM = 2 * 10 ** 6  # over 2 min at the fastest generated rate (15 k packets/s)


def mask(text):
    return text.replace(PASSWORD, MASK).replace(WRONG, MASK)


def password_file(secret):
    path = os.path.join(harness.make_temp_dir("tplink-pw-"), "switch.password")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")
    return path


def switch_spec(model, **opts):
    spec = f"switch:{model}@{harness.LOOPBACK}:0,password={PASSWORD},seed=3"
    for key, value in opts.items():
        spec += f",{key}={value}"
    return spec


def start(devices, secret=PASSWORD, sim_opts=None, timeout="1s"):
    """tplinksim with one switch per (name, model) and the daemon polling them all."""
    sim_opts = sim_opts or {}
    sim = harness.start_sim([switch_spec(model, **sim_opts.get(name, {}))
                             for name, model in devices])
    sim.argv = [mask(a) for a in sim.argv]  # failure reports print argv
    pw = password_file(secret)
    inv = harness.inventory(switches=[{"name": name, "port": sim.port(i), "password_file": pw}
                                      for i, (name, _) in enumerate(devices)],
                            interval=f"{INTERVAL:g}s", timeout=timeout)
    daemon = harness.start_daemon(inv)
    return sim, daemon


def snapshot(sim, index):
    sim.send_line(f"switch {index} snapshot")
    line = sim.read_line(5)
    answer = sim.read_line(5)
    assert answer == "ok", f"snapshot answered {answer!r} after {line!r}"
    return json.loads(line)


def sim_command(sim, line):
    sim.send_line(line)
    answer = sim.read_line(5)
    assert answer == "ok", f"tplinksim: {line!r} answered {answer!r}"


def success_ts(m, name):
    return m.get("tplink_last_poll_success_timestamp_seconds", device=name) or 0.0


def no_secret_in(text, what):
    for secret in (PASSWORD, WRONG):
        assert secret not in text, f"a password appears in {what}"


def observe_polls(sim, daemon, names, count, on_poll=None, timeout=None):
    """Watches /metrics and, right after each completed poll of each device (its success
    timestamp moves), takes the simulator's snapshot of that device. Returns
    {name: [(metrics, snapshot), ...]} with count + 1 observations per device, and checks
    that no poll went unobserved (tplink_polls_total rises by one each time), so the page
    of observation k was served between snapshots k-1 and k. on_poll(name, k, snap) runs
    right after snapshot k."""
    index = {name: i for i, name in enumerate(names)}
    obs = {name: [] for name in names}
    last = {name: success_ts(daemon.metrics(), name) for name in names}
    deadline = time.monotonic() + (timeout or (count + 3) * INTERVAL + 10)
    while any(len(v) <= count for v in obs.values()):
        assert time.monotonic() < deadline, \
            f"polls not observed in time: {({n: len(v) for n, v in obs.items()})}"
        m = daemon.metrics()
        for name in names:
            ts = success_ts(m, name)
            if ts == last[name] or len(obs[name]) > count:
                continue
            last[name] = ts
            snap = snapshot(sim, index[name])
            obs[name].append((m, snap))
            if on_poll:
                on_poll(name, len(obs[name]) - 1, snap)
        time.sleep(0.02)
    for name in names:
        polls = [m.value("tplink_polls_total", device=name) for m, _ in obs[name]]
        for a, b in zip(polls, polls[1:]):
            assert b == a + 1, f"{name}: a poll went unobserved (tplink_polls_total {polls})"
    return obs


def counter_values(m, name, n_ports):
    return {(p, key): m.value(COUNTERS[key], device=name, port=str(p))
            for p in range(1, n_ports + 1) for key in KEYS}


# --------------------------------------------------------------------------------------------


def test_metrics_match_simulator():
    """Acceptance 2: every port's state and counters, for each of the four models."""
    sim, daemon = start(MODELS)
    names = [n for n, _ in MODELS]
    harness.wait_up(daemon, names, timeout=15)
    before = [snapshot(sim, i) for i in range(len(MODELS))]
    for (name, model), snap in zip(MODELS, before):
        for port in snap["ports"]:
            for key in ("TxGoodPkt", "RxGoodPkt"):
                assert port["pkts"][key] < WRAP - HEADROOM, \
                    f"{model} port {port['port']} {key} starts near 2^32: pick another seed"
    t0 = time.time()
    # Two polls after t0: the second started after the first ended, so after `before`.
    first = harness.wait_until(
        lambda: (lambda m: {n: success_ts(m, n) for n in names}
                 if all(success_ts(m, n) > t0 for n in names) else None)(daemon.metrics()),
        3 * INTERVAL + 5, message="a poll of every switch")
    m = harness.wait_until(
        lambda: (lambda m: m if all(success_ts(m, n) > first[n] for n in names) else None)(
            daemon.metrics()),
        3 * INTERVAL + 5, message="a second poll of every switch")
    after = [snapshot(sim, i) for i in range(len(MODELS))]

    for i, (name, model) in enumerate(MODELS):
        a, b = before[i], after[i]
        n = len(b["ports"])
        assert n == {"TL-SG105E": 5, "TL-SG108E": 8, "TL-SG1016DE": 16, "TL-SG1024DE": 24}[model]
        assert m.value("tplink_up", device=name, kind="switch") == 1
        info = m.find("tplink_device_info", device=name)
        assert len(info) == 1 and info[0][0]["model"] == model, f"{name}: device_info {info}"
        for family in ("tplink_switch_port_enabled", "tplink_switch_port_link_up",
                       "tplink_switch_port_speed_bytes", "tplink_switch_port_full_duplex",
                       *COUNTERS.values()):
            ports = sorted(int(labels["port"]) for labels, _ in m.find(family, device=name))
            assert ports == list(range(1, n + 1)), f"{name}: {family} has ports {ports}"
        for pa, pb in zip(a["ports"], b["ports"]):
            p = pb["port"]
            assert (pa["enabled"], pa["link"]) == (pb["enabled"], pb["link"])
            speed, full = LINK[pb["link"]]
            got = {k: m.value(f"tplink_switch_port_{k}", device=name, port=str(p))
                   for k in ("enabled", "link_up", "speed_bytes", "full_duplex")}
            want = {"enabled": int(pb["enabled"]), "link_up": int(pb["link"] != 0),
                    "speed_bytes": speed, "full_duplex": full}
            assert got == want, f"{model} port {p}: metrics {got}, simulator {want}"
            for key in KEYS:
                v = m.value(COUNTERS[key], device=name, port=str(p))
                lo, hi = pa["pkts"][key], pb["pkts"][key]
                assert lo <= v <= hi, f"{model} port {p} {key}: {v:.0f}, simulator {lo}..{hi}"
                if pb["link"] == 0:  # a port without link carries nothing: exact
                    assert lo == hi == v, f"{model} port {p} {key} moved without a link"
        assert m.value("tplink_switch_statistics_resets_total", device=name) == 0
    no_secret_in(daemon.metrics_text(), "/metrics")
    daemon.stop()
    no_secret_in(daemon.stderr_text(), "the daemon's log")
    sim.stop()


def test_steady_state_request_count():
    """Acceptance 2: once logged in, a poll is one HTTP request (two on PoE models)."""
    devices = MODELS + POE_MODELS[:1]
    names = [n for n, _ in devices]
    sim, daemon = start(devices)
    harness.wait_up(daemon, names, timeout=15)
    polls = 5
    obs = observe_polls(sim, daemon, names, polls)
    for name, model in devices:
        r0, r1 = obs[name][0][1]["requests"], obs[name][-1][1]["requests"]
        delta = {k: r1[k] - r0[k] for k in r0}
        poe = (name, model) in POE_MODELS
        print(f"  {model}: {polls} polls, {delta['all']} requests: " +
              ", ".join(f"{k} +{v}" for k, v in delta.items() if k != "all"), flush=True)
        want = {"all": polls * (2 if poe else 1), "root": 0, "logon": 0, "logout": 0,
                "PortStatisticsRpm": polls, "SystemInfoRpm": 0, "PortSettingRpm": 0,
                "PoeConfigRpm": polls if poe else 0, "other": 0}
        assert delta == want, f"{model}: requests over {polls} polls {delta}, want {want}"
        assert r0["logon"] == 1, f"{model}: {r0['logon']} logins"
    daemon.stop()
    sim.stop()


def test_wrong_password():
    """Acceptance 4: tplink_up 0, reason auth, one log line naming the device and errType,
    never the password, and no login POST during the back-off."""
    name = "sw_wrong"
    sim, daemon = start([(name, "TL-SG108E")], secret=WRONG)
    m = harness.wait_until(
        lambda: (lambda m: m if m.get("tplink_up", device=name) == 0 and
                 (m.get("tplink_poll_errors_total", device=name, reason="auth") or 0) >= 1
                 else None)(daemon.metrics()),
        3 * INTERVAL + 5, message="a refused login")
    polls = m.value("tplink_polls_total", device=name)
    harness.wait_until(lambda: daemon.metrics().value("tplink_polls_total", device=name) >= polls + 4,
                       6 * INTERVAL + 5, message="four more polls")
    time.sleep(0.2)  # a backed-off poll fails at once; let the last one finish
    m = daemon.metrics()
    snap = snapshot(sim, 0)
    rq = snap["requests"]
    assert rq["logon"] == 1 and rq["root"] == 1 and rq["all"] == 2, \
        f"requests during the back-off: {rq}"
    assert m.value("tplink_up", device=name) == 0
    auth = m.value("tplink_poll_errors_total", device=name, reason="auth")
    assert auth >= 5, f"auth errors {auth}"
    others = [(labels["reason"], v) for labels, v in m.find("tplink_poll_errors_total", device=name)
              if labels["reason"] != "auth" and v]
    assert not others, f"other errors: {others}"
    no_secret_in(daemon.metrics_text(), "/metrics")
    daemon.stop()
    log = daemon.stderr_text()
    no_secret_in(log, "the daemon's log")
    no_secret_in(sim.stderr_text(), "the simulator's log")
    lines = [line for line in log.splitlines() if "errType" in line or "refused" in line]
    assert len(lines) == 1, "want one log line about the refusal, got:\n" + "\n".join(lines)
    line = lines[0]
    for part in (f'device="{name}"', "level=warn", "errType 1", "wrong user name or password",
                 "next attempt in 300 s"):
        assert part in line, f"{part!r} missing from the log line: {line}"
    print(f"  the log line: {line}", flush=True)
    sim.stop()


def _client_login(port, source):
    """A second admin, from another loopback address: GET /, POST /logon.cgi, then a data
    GET. Returns the body of the data page."""
    import http.client
    body = urllib.parse.urlencode({"username": "admin", "password": PASSWORD, "cpassword": "",
                                   "logon": "Login"})

    def request(method, path, data=None):
        conn = http.client.HTTPConnection(harness.LOOPBACK, port, timeout=5,
                                          source_address=(source, 0))
        try:
            headers = {"Content-Type": "application/x-www-form-urlencoded"} if data else {}
            conn.request(method, path, body=data, headers=headers)
            return conn.getresponse().read().decode("latin-1")
        finally:
            conn.close()

    request("GET", "/")
    request("POST", "/logon.cgi", body)
    return request


def test_second_client_survived():
    """Acceptance 4: another client takes the only admin session; the daemon logs in again
    at its next poll and stays up."""
    devices = [("sw_ip", "TL-SG108E"), ("sw_cookie", "TL-SG105E")]
    names = [n for n, _ in devices]
    sim, daemon = start(devices, sim_opts={"sw_cookie": {"session": "cookie"}})
    harness.wait_up(daemon, names, timeout=15)

    # 1. A browser-like client at 127.0.0.2 logs in to sw_ip and evicts the daemon.
    request = _client_login(sim.port(0), "127.0.0.2")
    page = request("GET", "/PortStatisticsRpm.htm")
    assert "all_info" in page, "the second client did not get the session"
    assert snapshot(sim, 0)["requests"]["logon"] == 2  # the daemon's, the client's
    t0 = time.time()
    m = harness.wait_until(
        lambda: (lambda m: m if success_ts(m, "sw_ip") > t0 else None)(daemon.metrics()),
        3 * INTERVAL + 5, message="the daemon's next poll of sw_ip")
    assert m.value("tplink_up", device="sw_ip") == 1
    assert snapshot(sim, 0)["requests"]["logon"] == 3, "the daemon did not log in again"
    page = request("GET", "/PortStatisticsRpm.htm")
    assert "logonInfo" in page and "all_info" not in page, \
        "the second client still holds the session after the daemon's poll"

    # 2. tplinkctl switch in the middle (cookie sessions: its login evicts the daemon's).
    env = {k: v for k, v in os.environ.items()}
    env["TPLINK_PASSWORD"] = PASSWORD
    proc = subprocess.run([harness.binary("tplinkctl"), "switch", "-s",
                           f"{harness.LOOPBACK}:{sim.port(1)}"], capture_output=True, timeout=30,
                          env=env, stdin=subprocess.DEVNULL)
    out = mask(proc.stdout.decode() + proc.stderr.decode())
    assert proc.returncode == 0, f"tplinkctl switch: exit {proc.returncode}\n{out}"
    assert len(proc.stdout.decode().splitlines()) == 5
    t1 = time.time()
    m = harness.wait_until(
        lambda: (lambda m: m if success_ts(m, "sw_cookie") > t1 else None)(daemon.metrics()),
        3 * INTERVAL + 5, message="the daemon's next poll of sw_cookie")
    assert m.value("tplink_up", device="sw_cookie") == 1
    rq = snapshot(sim, 1)["requests"]
    assert rq["logon"] == 3, f"logins on sw_cookie: {rq['logon']} (daemon, tplinkctl, daemon)"
    for name in names:
        errors = sum(v for _, v in m.find("tplink_poll_errors_total", device=name))
        assert errors == 0, f"{name}: {errors} failed polls"
    daemon.stop()
    log = daemon.stderr_text()
    for name in names:
        assert any(f'device="{name}"' in line and "session lost" in line
                   for line in log.splitlines()), f"{name}: no 'session lost' in the log"
    no_secret_in(log, "the daemon's log")
    sim.stop()


def test_wrap_and_reboot():
    """Acceptance 3: counters wrapping within seconds and a reboot mid-way: the exported
    counters never decrease, the reboot counts as one reset, and the increase over the
    window is what the simulated switch carried."""
    name = "sw_wrap"
    sim, daemon = start([(name, "TL-SG108E")], sim_opts={name: {"wrap": 8}})
    harness.wait_up(daemon, [name], timeout=15)
    reboot_at, polls = 7, 12
    rebooted = {}

    def on_poll(_, k, snap):
        if k == reboot_at:
            sim_command(sim, "switch 0 reboot")
            rebooted["snap"] = snapshot(sim, 0)

    obs = observe_polls(sim, daemon, [name], polls, on_poll)[name]
    n = len(obs[0][1]["ports"])
    values = [counter_values(m, name, n) for m, _ in obs]
    snaps = [s for _, s in obs]

    for k in range(1, len(values)):
        for key, v in values[k].items():
            assert v >= values[k - 1][key], \
                f"port {key[0]} {key[1]} went down at poll {k}: {values[k - 1][key]:.0f} -> {v:.0f}"
    resets = [m.value("tplink_switch_statistics_resets_total", device=name) for m, _ in obs]
    assert resets == [0] * (reboot_at + 1) + [1] * (polls - reboot_at), f"resets_total {resets}"

    wraps = [(p["port"], key) for k in range(1, reboot_at + 1)
             for p, q in zip(snaps[k - 1]["ports"], snaps[k]["ports"])
             for key in KEYS if q["pkts"][key] < p["pkts"][key]]
    assert wraps, "no page counter wrapped before the reboot"
    wrapped_exported = [key for key, v in values[reboot_at].items() if v >= WRAP]
    print(f"  {len(wraps)} page counter wraps before the reboot; {len(wrapped_exported)} "
          f"exported counters above 2^32", flush=True)

    # Exactly: each observation's snapshot names the statistics page that poll read (one
    # more page served each time) with the switch's true totals at that moment. Between two
    # pages the exported counter grows by what the switch carried, wraps included; across
    # the reboot by what the page counted since it.
    served = [s["stats_served"] for s in snaps]
    assert [x["n"] - served[0]["n"] for x in served] == list(range(polls + 1)), \
        f"pages served per observation: {[x['n'] for x in served]}"
    for k in range(1, polls + 1):
        for p in range(1, n + 1):
            for c, key in enumerate(KEYS):
                grown = values[k][(p, key)] - values[k - 1][(p, key)]
                if k == reboot_at + 1:
                    want = served[k]["pkts"][p - 1][c]
                else:
                    want = served[k]["total"][p - 1][c] - served[k - 1]["total"][p - 1][c]
                assert grown == want, \
                    f"poll {k} port {p} {key}: exported grew by {grown:.0f}, the switch by {want}"

    # The same from snapshots alone: the page of observation k was served between snapshots
    # k-1 and k. What fell between the last page before the reboot and the reboot itself is
    # seen by nobody.
    r = rebooted["snap"]
    for p in range(1, n + 1):
        for key in KEYS:
            def total(s):
                return s["ports"][p - 1]["total"][key]
            grown = values[polls][(p, key)] - values[1][(p, key)]
            unseen_max = total(r) - total(snaps[reboot_at - 1])
            lo = total(snaps[polls - 1]) - total(snaps[1]) - unseen_max
            hi = total(snaps[polls]) - total(snaps[0])
            assert lo <= grown <= hi, \
                f"port {p} {key} grew by {grown:.0f}; the switch carried {lo}..{hi}"
    daemon.stop()
    sim.stop()


def demo_switch(daemon):
    """The name of --demo's switch once it is up, and the metrics then."""
    def up():
        m = daemon.metrics()
        names = [labels["device"] for labels, v in m.find("tplink_up", kind="switch") if v == 1]
        return (names[0], m) if names else None
    return harness.wait_until(up, 15, interval=0.1, message="the demo switch to come up")


def test_demo_switch():
    """Acceptance 1: --demo shows a switch with per-port counters, link states and speeds,
    and the counters move."""
    daemon = harness.start_daemon(args=["--demo"])
    name, m = demo_switch(daemon)
    ports = sorted(int(labels["port"]) for labels, _ in
                   m.find("tplink_switch_port_link_up", device=name))
    assert len(ports) >= 5 and ports == list(range(1, len(ports) + 1)), f"demo ports {ports}"
    up = [p for p in ports if m.value("tplink_switch_port_link_up", device=name, port=str(p))]
    assert up, "no demo port has a link"
    for p in ports:
        speed = m.value("tplink_switch_port_speed_bytes", device=name, port=str(p))
        assert (speed > 0) == (p in up), f"port {p}: speed {speed}"
        for family in COUNTERS.values():
            assert m.value(family, device=name, port=str(p)) >= 0
    ts = success_ts(m, name)
    m2 = harness.wait_until(lambda: (lambda m2: m2 if success_ts(m2, name) > ts else None)(
        daemon.metrics()), 30, interval=0.2, message="a second poll of the demo switch")
    key = "tplink_switch_port_receive_packets_total"
    grew = [p for p in up if m2.value(key, device=name, port=str(p)) >
            m.value(key, device=name, port=str(p))]
    assert grew, "no demo port's counters moved between polls"
    daemon.stop()


def test_promtool_clean():
    promtool = shutil.which("promtool")
    if not promtool:
        harness.skip("promtool not found (apt-get install prometheus)")
    devices = MODELS + POE_MODELS
    names = [n for n, _ in devices]
    sim, daemon = start(devices)
    m = harness.wait_up(daemon, names, timeout=15)
    for name, _ in POE_MODELS:
        assert m.find("tplink_switch_port_poe_power_watts", device=name), f"{name}: no PoE"
    text = daemon.metrics_text()
    proc = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                          capture_output=True, timeout=30)
    out = (proc.stdout + proc.stderr).decode("utf-8", "replace")
    assert proc.returncode == 0 and out.strip() == "", f"promtool: exit {proc.returncode}\n{out}"
    parsed = harness.parse_metrics(text)
    for family in COUNTERS.values():
        assert parsed.types[family] == "counter", family
    assert parsed.types["tplink_switch_statistics_resets_total"] == "counter"
    daemon.stop()
    sim.stop()

    demo = harness.start_daemon(args=["--demo"])
    demo_switch(demo)
    proc = subprocess.run([promtool, "check", "metrics"], input=demo.metrics_text().encode(),
                          capture_output=True, timeout=30)
    out = (proc.stdout + proc.stderr).decode("utf-8", "replace")
    assert proc.returncode == 0 and out.strip() == "", f"promtool on --demo: {out}"
    demo.stop()


if __name__ == "__main__":
    # promtool last: without it the script ends as skipped after the others ran.
    harness.run([test_metrics_match_simulator, test_steady_state_request_count,
                 test_wrong_password, test_second_client_survived, test_wrap_and_reboot,
                 test_demo_switch, test_promtool_clean])
