#!/usr/bin/env python3
"""tplinkctl plug against tplinksim's klap: and aes: devices on loopback: IOT JSON over KLAP
v1, SMART JSON over KLAP (P110) and AES (KP125M), and protocol auto falling back from a
closed legacy port. Read and switch from the command line (credentials from a file or the
environment) and from an inventory; wrong credentials and a dead port give one line naming
the device; no password shows in any output or in argv."""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

LO = h.LOOPBACK
USER = "owner@example.com"
PASSWORD = "Ctl-Klap-Secret-5512"
WRONG = "Ctl-Wr0ng-Secret-7730"

SPECS = [
    f"klap:hs110v1@{LO}:0,version=1,user={USER},password={PASSWORD}",
    f"klap:p110@{LO}:0,version=2,user={USER},password={PASSWORD}",
    f"aes:kp125m@{LO}:0,version=2,user={USER},password={PASSWORD}",
]
IOT, P110, KP125M = 0, 1, 2


def ctl(*args, env=None, timeout=30):
    full = dict(os.environ)
    full.pop("TPLINK_KASA_USERNAME", None)
    full.pop("TPLINK_KASA_PASSWORD", None)
    full.update(env or {})
    argv = [h.binary("tplinkctl")] + [str(a) for a in args]
    for a in argv:
        assert PASSWORD not in a and WRONG not in a, "a password in tplinkctl's argv"
    p = subprocess.run(argv, capture_output=True, timeout=timeout, check=False, env=full)
    out, err = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
    for secret in (PASSWORD, WRONG):
        assert secret not in out and secret not in err, "a password in tplinkctl's output"
    return p.returncode, out, err


def creds_file(password):
    path = os.path.join(h.make_temp_dir("tplink-ctl-creds-"), "kasa.cred")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(f"{USER}\n{password}\n")
    return path


def plug(*args, **kw):
    code, out, err = ctl("plug", *args, **kw)
    assert code == 0, f"tplinkctl plug {args} exited {code}: {err}"
    assert err == "", err
    return json.loads(out)


def device_on(sim, index, cred):
    """The relay, as the device itself reports it."""
    proto = "aes" if index == KP125M else "klap"
    reply = plug("-t", f"{LO}:{sim.port(index)}", "--protocol", proto, "--credentials-file", cred)
    if index == IOT:
        return reply["system"]["get_sysinfo"]["relay_state"] == 1
    return reply["result"]["device_on"]


def test_command_line():
    sim = h.start_sim(SPECS)
    cred = creds_file(PASSWORD)
    iot, p110, kp = (f"{LO}:{sim.port(i)}" for i in (IOT, P110, KP125M))

    # info: the device's own reply, indented, as for a legacy plug.
    code, out, err = ctl("plug", "-t", iot, "--protocol", "klap", "--credentials-file", cred)
    assert code == 0, err
    assert out.startswith("{\n  \"system\""), out
    si = json.loads(out)["system"]["get_sysinfo"]
    assert si["model"] == "HS110(EU)" and si["alias"] == "Fridge", si
    r = plug("-t", p110, "--protocol", "klap", "--credentials-file", cred, "-c", "info")
    assert r["error_code"] == 0 and r["result"]["model"] == "P110", r
    r = plug("-t", kp, "--protocol", "aes", "--credentials-file", cred)
    assert r["error_code"] == 0 and r["result"]["model"] == "KP125M", r

    # The same from the environment instead of a file.
    env = {"TPLINK_KASA_USERNAME": USER, "TPLINK_KASA_PASSWORD": PASSWORD}
    r = plug("-t", kp, "--protocol", "aes", "-c", "energy", env=env)
    assert r["error_code"] == 0 and r["result"]["month_energy"] >= 12840, r

    # --raw prints the reply on one line.
    code, out, err = ctl("plug", "-t", p110, "--protocol", "klap", "--credentials-file", cred,
                         "-c", "energy", "--raw")
    assert code == 0 and out.count("\n") == 1 and json.loads(out)["error_code"] == 0, (out, err)

    # on/off reach each device in its dialect.
    for index, target, proto in ((IOT, iot, "klap"), (P110, p110, "klap"), (KP125M, kp, "aes")):
        plug("-t", target, "--protocol", proto, "--credentials-file", cred, "-c", "off")
        assert device_on(sim, index, cred) is False, index
        plug("-t", target, "--protocol", proto, "--credentials-file", cred, "-c", "on")
        assert device_on(sim, index, cred) is True, index

    # -j is sent as given: SMART JSON to the AES plug.
    r = plug("-t", kp, "--protocol", "aes", "--credentials-file", cred, "-j",
             '{"method":"get_device_info"}')
    assert r["result"]["model"] == "KP125M", r

    # auto: the legacy port refuses, KLAP on --http-port answers.
    closed = h.free_port()
    r = plug("-t", f"{LO}:{closed}", "--protocol", "auto", "--http-port", sim.port(P110),
             "--credentials-file", cred)
    assert r["result"]["model"] == "P110", r

    # A command the device lacks: its reply, and one line naming the device.
    code, out, err = ctl("plug", "-t", p110, "--protocol", "klap", "--credentials-file", cred,
                         "-c", "antitheft")
    assert code == 1 and json.loads(out)["error_code"] == -1002, (out, err)
    assert err.count("\n") == 1 and p110 in err and "error_code -1002" in err, err

    # Wrong credentials, a dead port: one line naming the device, exit 1, nothing on stdout.
    wrong = creds_file(WRONG)
    for target, proto in ((p110, "klap"), (kp, "aes")):
        code, out, err = ctl("plug", "-t", target, "--protocol", proto, "--credentials-file",
                             wrong, "-T", "3")
        assert code == 1 and out == "", (code, out, err)
        assert err.count("\n") == 1 and err.startswith(f"tplinkctl: {target}: error:"), err
        assert USER not in err, err
    code, out, err = ctl("plug", "-t", f"{LO}:{closed}", "--protocol", "klap",
                         "--credentials-file", cred, "-T", "2")
    assert code == 1 and out == "" and err.count("\n") == 1 and f"{LO}:{closed}" in err, err

    # Option misuse.
    for args, words in (
            (["-t", p110, "--credentials-file", cred], "--protocol"),
            (["-t", p110, "--protocol", "klap", "-u"], "legacy"),
            (["-t", p110, "--protocol", "klap", "--outlet", "1"], "legacy"),
            (["-t", p110, "--protocol", "xor"], "--protocol"),
            (["-t", p110, "--protocol", "klap", "--http-port", "80"], "--http-port"),
            (["-t", p110, "--protocol", "auto", "--http-port", "0"], "--http-port")):
        code, out, err = ctl("plug", *args)
        assert code == 2 and words in err.split("\n")[0], (args, code, err)
    code, out, err = ctl("plug", "-t", p110, "--protocol", "klap",
                         env={"TPLINK_KASA_USERNAME": USER})
    assert code == 2 and "TPLINK_KASA_PASSWORD" in err, err
    missing = os.path.join(h.make_temp_dir(), "none.cred")
    code, out, err = ctl("plug", "-t", p110, "--protocol", "klap", "--credentials-file", missing)
    assert code == 2 and missing in err and err.count("\n") == 1, err
    sim.terminate()


def test_inventory():
    sim = h.start_sim(SPECS)
    cred = creds_file(PASSWORD)
    closed = h.free_port()
    plugs = [
        {"name": "iot", "protocol": "klap", "http_port": sim.port(IOT), "credentials_file": cred},
        {"name": "tapo", "port": closed, "http_port": sim.port(P110), "credentials_file": cred},
        {"name": "kp", "protocol": "aes", "http_port": sim.port(KP125M), "credentials_file": cred},
    ]
    path = h.write_inventory(h.inventory(plugs, interval="5s", timeout="2s"))

    code, out, err = ctl("plug", "--config.file", path, "--all", "-c", "off")
    assert code == 0, err
    assert out.splitlines() == ["iot: off", "tapo: off", "kp: off"], out
    for index in (IOT, P110, KP125M):
        assert device_on(sim, index, cred) is False, index
    code, out, err = ctl("plug", "--config.file", path, "tapo", "kp", "-c", "on")
    assert code == 0 and out.splitlines() == ["tapo: on", "kp: on"], (out, err)
    assert device_on(sim, P110, cred) and device_on(sim, KP125M, cred)
    assert device_on(sim, IOT, cred) is False

    # A read: one line per plug, the name and the reply.
    code, out, err = ctl("plug", "--config.file", path, "--all", "-c", "info")
    assert code == 0, err
    lines = dict(line.split(": ", 1) for line in out.splitlines())
    assert json.loads(lines["iot"])["system"]["get_sysinfo"]["model"] == "HS110(EU)"
    assert json.loads(lines["tapo"])["result"]["model"] == "P110"
    assert json.loads(lines["kp"])["result"]["model"] == "KP125M"

    # Wrong credentials for one plug: its line says so, the others work, exit 1.
    bad = dict(plugs[2], credentials_file=creds_file(WRONG))
    path = h.write_inventory(h.inventory(plugs[:2] + [bad], interval="5s", timeout="2s"))
    code, out, err = ctl("plug", "--config.file", path, "--all", "-c", "on")
    lines = out.splitlines()
    assert code == 1 and lines[:2] == ["iot: on", "tapo: on"], (out, err)
    assert lines[2].startswith("kp: error:") and len(lines) == 3, lines
    code, out, err = ctl("plug", "--config.file", path, "--all", "--protocol", "klap")
    assert code == 2 and "inventory" in err, err
    sim.terminate()


if __name__ == "__main__":
    h.run([test_command_line, test_inventory])
