#!/usr/bin/env python3
"""Interop over UDP and with the plug client: tplinkctl and the daemon's UDP transport against
tplink-smarthome-simulator (npm, MIT), whose UDP answers and short strip child ids over UDP
("00".."05") were written by someone else."""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)
import harness  # noqa: E402
from harness import LOOPBACK, close_to  # noqa: E402
from test_interop_peer import Peer, find_peer  # noqa: E402


def ctl(*args, timeout=20):
    p = subprocess.run([harness.binary("tplinkctl")] + [str(a) for a in args],
                       capture_output=True, timeout=timeout, check=False)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def ctl_json(*args):
    code, out, err = ctl(*args)
    assert code == 0, f"tplinkctl {' '.join(map(str, args))} exited {code}: {err}"
    return json.loads(out)


# Commands whose module and method the peer implements (reboot and reset are left alone).
COMMANDS = {"info": ("system", "get_sysinfo"), "on": ("system", "set_relay_state"),
            "off": ("system", "set_relay_state"), "energy": ("emeter", "get_realtime"),
            "cloudinfo": ("cnCloud", "get_info"), "wlanscan": ("netif", "get_scaninfo"),
            "time": ("time", "get_time"), "schedule": ("schedule", "get_rules"),
            "countdown": ("count_down", "get_rules"), "antitheft": ("anti_theft", "get_rules")}


def test_plug_client():
    peer = Peer(["hs110v2,power=42.5"])
    target = f"{LOOPBACK}:{peer.devices[0]['port']}"
    for extra in ([], ["-u"]):
        for cmd, (module, method) in COMMANDS.items():
            reply = ctl_json("plug", "-t", target, "-c", cmd, *extra)
            assert list(reply) == [module] and reply[module][method]["err_code"] == 0, (cmd, reply)
            if cmd in ("on", "off"):
                assert peer.reading(0)["relay"] == (cmd == "on"), cmd
        reply = ctl_json("plug", "-t", target, *extra, "-j",
                         '{"system":{"get_sysinfo":null},"emeter":{"get_realtime":{}},'
                         '"time":{"get_time":{}}}')
        assert list(reply) == ["system", "emeter", "time"], reply
        assert reply["emeter"]["get_realtime"]["power_mw"] == 42500
    code, out, err = ctl("discover", "--target", target, "-T", "0.5")
    assert code == 0, err
    assert out.splitlines()[1].split()[:2] == [target, "HS110(EU)"], out
    peer.stop()


def test_outlets():
    """Over UDP the peer sends child ids as their last two characters; tplinkctl must still
    address the right outlet, and one outlet's change leaves the others alone."""
    peer = Peer(["hs300"])
    for i in range(6):
        peer.set(f"0/{i}", "power", 10.0 + i)
    target = f"{LOOPBACK}:{peer.devices[0]['port']}"
    device_id = peer.devices[0]["id"]

    def states():
        si = harness.kasa_query(LOOPBACK, peer.devices[0]["port"],
                                {"system": {"get_sysinfo": {}}})["system"]["get_sysinfo"]
        return [c["state"] for c in si["children"]]

    for extra in ([], ["-u"]):
        assert states() == [1] * 6
        ctl_json("plug", "-t", target, "--outlet", "2", "-c", "off", *extra)
        assert states() == [1, 0, 1, 1, 1, 1]
        child = ctl_json("plug", "-t", target, "--outlet", "2", "-c", "info", *extra)
        assert child["id"] == device_id + "01" and child["state"] == 0, child
        ctl_json("plug", "-t", target, "--outlet", "2", "-c", "on", *extra)
        assert states() == [1] * 6
        energy = ctl_json("plug", "-t", target, "--outlet", "4", "-c", "energy", *extra)
        assert energy["emeter"]["get_realtime"]["power_mw"] == 13000, energy
    peer.stop()


def test_daemon_over_udp():
    peer = Peer(["hs110v2,power=42.5,total=1.25", "hs300"])
    for i in range(6):
        peer.set(f"1/{i}", "power", 5.5 * (i + 1))
    daemon = harness.start_daemon(harness.inventory(
        [{"name": "udp_plug", "port": peer.devices[0]["port"], "transport": "udp"},
         {"name": "udp_strip", "port": peer.devices[1]["port"], "transport": "udp"}],
        interval="1s", timeout="800ms"))
    m = harness.wait_up(daemon, ["udp_plug", "udp_strip"], timeout=10)
    assert m.value("tplink_plug_power_watts", device="udp_plug") == 42.5
    assert close_to(m.value("tplink_plug_energy_joules_total", device="udp_plug"), 1250 * 3600.0)

    def outlets():
        m = daemon.metrics()
        return m if all(m.get("tplink_outlet_power_watts", device="udp_strip", outlet=str(i + 1))
                        is not None for i in range(6)) else None
    m = harness.wait_until(outlets, 5, message="outlet readings over UDP")
    for i in range(6):
        got = m.value("tplink_outlet_power_watts", device="udp_strip", outlet=str(i + 1))
        assert close_to(got, 5.5 * (i + 1)), (i, got)
    errors = m.find("tplink_poll_errors_total", device="udp_plug")
    assert all(v == 0 for _, v in errors), errors
    daemon.stop()
    peer.stop()


if __name__ == "__main__":
    find_peer()  # skip before starting anything when the peer is missing
    harness.run([test_plug_client, test_outlets, test_daemon_over_udp])
