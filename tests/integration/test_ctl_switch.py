#!/usr/bin/env python3
"""`tplinkctl switch` (the real binary) against tplinksim's switch web UI.

The main subject is the saved real TL-SG108E v3 pages, served by the simulator
(pages=DIR): the expected outputs below are written by hand from the values in
tests/fixtures/easy-smart/sg108e-v3/PortStatisticsRpm.htm and SystemInfoRpm.htm, in the
format essstat prints. The password is random per run and never printed: outputs are
checked for it, and failure messages mask it."""

import datetime
import json
import os
import re
import secrets
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

PASSWORD = "Ctl-" + secrets.token_hex(8)
WRONG = "Wrong-" + secrets.token_hex(8)
MASK = "<password>"

# PortStatisticsRpm.htm of the saved TL-SG108E v3:
#   state:[1,1,1,1,1,1,1,1,0,0], link_status:[6,0,0,0,0,0,0,0,0,0],
#   pkts:[106,0,987,0, 0,…] (TxGood, TxBad, RxGood, RxBad per port)
PORT_LINES = ["1;Enabled;1000M Full;106,0,987,0"] + [
    f"{p};Enabled;Link Down;0,0,0,0" for p in range(2, 9)]
ONELINE_FIELDS = "8,1,1,6,106,0,987,0," + ",".join(f"{p},1,0,0,0,0,0" for p in range(2, 9))
JSON_PORTS = [{"port": 1, "state": 1, "link_status": 6, "TxGoodPkt": 106, "TxBadPkt": 0,
               "RxGoodPkt": 987, "RxBadPkt": 0}] + [
    {"port": p, "state": 1, "link_status": 0, "TxGoodPkt": 0, "TxBadPkt": 0, "RxGoodPkt": 0,
     "RxBadPkt": 0} for p in range(2, 9)]
# SystemInfoRpm.htm of the same switch, in the page's order.
INFO = [("descriStr", "TL-SG108E"), ("macStr", "B0:4E:26:37:E9:59"), ("ipStr", "192.168.0.99"),
        ("netmaskStr", "255.255.255.0"), ("gatewayStr", "0.0.0.0"),
        ("firmwareStr", "1.0.0 Build 20160722 Rel.50167"), ("hardwareStr", "TL-SG108E 3.0")]
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


def mask(text):
    return text.replace(PASSWORD, MASK).replace(WRONG, MASK)


def fixture_dir():
    return os.path.join(harness.source_dir(), "tests", "fixtures", "easy-smart", "sg108e-v3")


def start_sim(model="TL-SG108E", saved=True):
    spec = f"switch:{model}@{harness.LOOPBACK}:0,password={PASSWORD},seed=5"
    if saved:
        spec += f",pages={fixture_dir()}"
    sim = harness.start_sim([spec])
    sim.argv = [mask(a) for a in sim.argv]  # failure reports print argv
    return sim


def target(sim):
    return f"{harness.LOOPBACK}:{sim.port(0)}"


def snapshot(sim):
    sim.send_line("switch 0 snapshot")
    line = sim.read_line(5)
    answer = sim.read_line(5)
    assert answer == "ok", f"snapshot answered {answer!r} after {line!r}"
    return json.loads(line)


class Result:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.out = proc.stdout.decode("utf-8", "replace")
        self.err = proc.stderr.decode("utf-8", "replace")

    def __str__(self):
        return mask(f"exit {self.rc}\n--- stdout\n{self.out}--- stderr\n{self.err}")


def ctl(*args, password=PASSWORD, env_password=None, timeout=30):
    """Runs tplinkctl switch ARGS; -p PASSWORD first unless password is None."""
    argv = [harness.binary("tplinkctl"), "switch"]
    if password is not None:
        argv += ["-p", password]
    argv += list(args)
    env = {k: v for k, v in os.environ.items() if k != "TPLINK_PASSWORD"}
    if env_password is not None:
        env["TPLINK_PASSWORD"] = env_password
    proc = subprocess.run(argv, capture_output=True, timeout=timeout, env=env,
                          stdin=subprocess.DEVNULL)
    r = Result(proc)
    for secret in (PASSWORD, WRONG):
        assert secret not in r.out and secret not in r.err, f"a password was printed:\n{r}"
    return r


def ok(r):
    assert r.rc == 0, f"tplinkctl switch failed:\n{r}"
    return r.out


def check_timestamp(line):
    assert TIMESTAMP.fullmatch(line), f"not a timestamp line: {line!r}"
    when = datetime.datetime.strptime(line, "%Y-%m-%d %H:%M:%S")
    drift = abs((datetime.datetime.now() - when).total_seconds())
    assert drift < 60, f"timestamp {line} is not the local time now"


def test_default_format_of_saved_page():
    sim = start_sim()
    before = snapshot(sim)["requests"]
    out = ok(ctl(target(sim)))
    lines = out.split("\n")
    assert lines[-1] == "", f"output does not end with a newline: {out!r}"
    check_timestamp(lines[0])
    assert lines[1:-1] == ["max_port_num=8"] + PORT_LINES, f"output:\n{out}"
    after = snapshot(sim)
    rq = after["requests"]
    # GET /, POST, the statistics page, GET /Logout.htm: logged out when done
    assert rq["logon"] == before["logon"] + 1 and rq["logout"] == before["logout"] + 1, rq
    assert rq["PortStatisticsRpm"] == before["PortStatisticsRpm"] + 1, rq
    assert rq["SystemInfoRpm"] == before["SystemInfoRpm"], rq
    assert after["session"] is False, "the session is still held after tplinkctl switch"
    sim.stop()


def test_statsonly_oneline_json_lld():
    sim = start_sim()
    t = target(sim)
    assert ok(ctl("-s", t)) == "\n".join(PORT_LINES) + "\n"

    out = ok(ctl("-1", t))
    assert out.endswith("\n") and out.count("\n") == 1, f"-1 is not one line: {out!r}"
    ts, rest = out[:19], out[19:-1]
    check_timestamp(ts)
    assert rest == "," + ONELINE_FIELDS, f"-1 output: {out!r}"

    out = ok(ctl("-j", t))
    assert json.loads(out) == JSON_PORTS, f"-j output:\n{out}"
    # the layout of Python's json.dumps(indent=2), which essstat prints
    assert out == json.dumps(JSON_PORTS, indent=2) + "\n", f"-j layout:\n{out}"

    out = ok(ctl("-l", t))
    want = {"data": [{"{#" + k.upper() + "}": (str(v) if k == "port" else v) for k, v in p.items()}
                     for p in JSON_PORTS]}
    assert json.loads(out) == want, f"-l output:\n{out}"
    sim.stop()


def test_single_value():
    sim = start_sim()
    t = target(sim)
    cases = [("1", "TxGoodPkt", "106"), ("1", "RxGoodPkt", "987"), ("1", "TxBadPkt", "0"),
             ("1", "RxBadPkt", "0"), ("1", "link_status", "6"), ("1", "state", "1"),
             ("8", "link_status", "0"), ("8", "state", "1")]
    for port, metric, value in cases:
        assert ok(ctl("-P", port, "-M", metric, t)) == value + "\n", f"-P {port} -M {metric}"
    r = ctl("-P", "9", "-M", "state", t)
    assert r.rc == 1 and "invalid port number" in r.err and r.out == "", str(r)
    r = ctl("-P", "1", "-M", "bytes", t)
    assert r.rc == 1 and "invalid metric" in r.err, str(r)
    r = ctl("-P", "1", t)
    assert r.rc == 2, str(r)
    sim.stop()


def test_info():
    sim = start_sim()
    t = target(sim)
    before = snapshot(sim)["requests"]
    out = ok(ctl("-i", t))
    assert out == "".join(f"{k}: {v}\n" for k, v in INFO), f"-i output:\n{out}"
    rq = snapshot(sim)["requests"]
    assert rq["SystemInfoRpm"] == before["SystemInfoRpm"] + 1, rq
    assert rq["PortStatisticsRpm"] == before["PortStatisticsRpm"], rq
    assert json.loads(ok(ctl("-i", "-j", t))) == dict(INFO)
    sim.stop()


def test_generated_page_matches_simulator():
    """A generated TL-SG1024DE (tmp_info) page: each value lies between the simulator's
    snapshots before and after the run."""
    sim = start_sim("TL-SG1024DE", saved=False)
    a = snapshot(sim)
    out = ok(ctl("-s", target(sim)))
    b = snapshot(sim)
    lines = out.splitlines()
    assert len(lines) == 24, f"-s printed {len(lines)} lines"
    names = {0: "Link Down", 2: "10M Half", 3: "10M Full", 4: "100M Half", 5: "100M Full",
             6: "1000M Full"}
    for i, line in enumerate(lines):
        m = re.fullmatch(r"(\d+);(Enabled|Disabled);([^;]+);(\d+),(\d+),(\d+),(\d+)", line)
        assert m, f"bad port line {line!r}"
        pa, pb = a["ports"][i], b["ports"][i]
        assert int(m.group(1)) == i + 1
        assert m.group(2) == ("Enabled" if pb["enabled"] else "Disabled"), line
        assert m.group(3) == names[pb["link"]], line
        for j, key in enumerate(("TxGoodPkt", "TxBadPkt", "RxGoodPkt", "RxBadPkt")):
            v = int(m.group(4 + j))
            assert pa["pkts"][key] <= v <= pb["pkts"][key], \
                f"port {i + 1} {key} {v}, simulator {pa['pkts'][key]}..{pb['pkts'][key]}"
    sim.stop()


def test_wrong_password():
    sim = start_sim()
    t = target(sim)
    r = ctl(t, password=WRONG)
    assert r.rc == 1 and r.out == "", str(r)
    assert "login refused: wrong user name or password (errType 1)" in r.err, str(r)
    assert t in r.err, f"the error does not name the switch:\n{r}"
    assert len(r.err.strip().splitlines()) == 1, f"more than one line:\n{r}"
    rq = snapshot(sim)["requests"]
    assert rq["logon"] == 1 and rq["PortStatisticsRpm"] == 0, rq
    sim.stop()


def test_password_sources():
    sim = start_sim()
    t = target(sim)
    # TPLINK_PASSWORD
    out = ok(ctl("-s", t, password=None, env_password=PASSWORD))
    assert out == "\n".join(PORT_LINES) + "\n"
    # --password-file (first line; the newline is not part of it)
    path = os.path.join(harness.make_temp_dir(), "switch.password")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(PASSWORD + "\n")
    out = ok(ctl("-s", "--password-file", path, t, password=None))
    assert out == "\n".join(PORT_LINES) + "\n"
    # -p wins over TPLINK_PASSWORD; a wrong one in the environment is not used
    assert ok(ctl("-s", t, env_password=WRONG)) == out
    # no password at all: usage error naming the ways to give one, nothing sent
    before = snapshot(sim)["requests"]["all"]
    r = ctl("-s", t, password=None)
    assert r.rc == 2 and "TPLINK_PASSWORD" in r.err and "--password-file" in r.err, str(r)
    r = ctl("-s", "--password-file", path + ".missing", t, password=None)
    assert r.rc == 2 and "cannot open the password file" in r.err, str(r)
    assert snapshot(sim)["requests"]["all"] == before
    sim.stop()


if __name__ == "__main__":
    harness.run([test_default_format_of_saved_page, test_statsonly_oneline_json_lld,
                 test_single_value, test_info, test_generated_page_matches_simulator,
                 test_wrong_password, test_password_sources])
