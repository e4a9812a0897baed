#!/usr/bin/env python3
"""tplinkctl discover and plug -b with real broadcasts -- to a subnet's broadcast address and
to 255.255.255.255 -- inside a network namespace made for the test.

The namespace has its loopback and a veth pair whose both ends stay in it (192.0.2.1/24, a
documentation network), so every datagram stays inside. Plugs are tplinksim devices on
127.0.0.2..5 port 9999, as plugs on a LAN all use 9999; they answer broadcasts from their own
address. Needs root and iproute2 (skipped otherwise; under CI=true that is a failure). The
namespace is deleted however the test ends."""

import atexit
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

NS = f"tplink-disc-{os.getpid()}"
SUBNET_ADDR = "192.0.2.1"
SUBNET_BCAST = "192.0.2.255"
PLUGS = [("hs110v2", "127.0.0.2", "Kitchen"), ("hs100", "127.0.0.3", "Desk lamp"),
         ("hs110v1", "127.0.0.4", "Fridge"), ("kp115", "127.0.0.5", "Washer")]
HEADER = ["HOST", "MODEL", "HARDWARE", "FIRMWARE", "MAC", "ALIAS", "METER", "RELAY", "PROTOCOL"]
_created = False


def ip(*args, check=True):
    p = subprocess.run(["ip"] + list(args), capture_output=True, timeout=20, check=False)
    if check and p.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {p.stderr.decode().strip()}")
    return p


def delete_namespace():
    global _created
    if _created:
        ip("netns", "del", NS, check=False)
        _created = False


def make_namespace():
    global _created
    if os.geteuid() != 0:
        h.skip("network namespaces need root")
    if not shutil.which("ip"):
        h.skip("iproute2 (ip) is not installed")
    p = ip("netns", "add", NS, check=False)
    if p.returncode != 0:
        h.skip(f"cannot create a network namespace: {p.stderr.decode().strip()}")
    _created = True
    atexit.register(delete_namespace)
    ip("-n", NS, "link", "set", "lo", "up")
    ip("-n", NS, "link", "add", "veth0", "type", "veth", "peer", "name", "veth1")
    ip("-n", NS, "addr", "add", f"{SUBNET_ADDR}/24", "brd", "+", "dev", "veth0")
    ip("-n", NS, "link", "set", "veth0", "up")
    ip("-n", NS, "link", "set", "veth1", "up")
    # 255.255.255.255 leaves by the default route: veth0, whose peer is in here too.
    ip("-n", NS, "route", "add", "default", "dev", "veth0")


def in_ns(argv):
    return ["ip", "netns", "exec", NS] + list(argv)


def ctl(*args, timeout=20):
    p = subprocess.run(in_ns([h.binary("tplinkctl")] + [str(a) for a in args]),
                       capture_output=True, timeout=timeout, check=False)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def start_sim(broadcast):
    specs = [f"plug:{prof}@{addr}:9999,alias={alias}" for prof, addr, alias in PLUGS]
    sim = h.Process("tplinksim", in_ns([h.binary("tplinksim"), "--broadcast", broadcast] + specs))
    h.wait_until(lambda: "ready all" in sim.stdout_lines or not sim.alive(), 10,
                 message="tplinksim ready")
    assert sim.alive(), sim.stderr_tail()
    return sim


def table(out):
    lines = out.rstrip("\n").split("\n")
    starts = [lines[0].index(c) for c in HEADER]
    return [dict(zip(HEADER, [l[a:b].strip() for a, b in zip(starts, starts[1:] + [None])]))
            for l in lines[1:]]


def check_found(out):
    rows = table(out)
    assert [r["HOST"] for r in rows] == [addr for _, addr, _ in PLUGS], out  # port 9999: not shown
    assert [r["ALIAS"] for r in rows] == [alias for _, _, alias in PLUGS]
    assert [r["METER"] for r in rows] == ["yes", "no", "yes", "yes"]
    return rows


def relays():
    states = []
    for _, addr, _ in PLUGS:
        code, out, err = ctl("plug", "-t", addr, "-c", "info", "--raw", "-T", "2")
        assert code == 0, err
        states.append(json.loads(out)["system"]["get_sysinfo"]["relay_state"])
    return states


def test_subnet_broadcast():
    sim = start_sim(SUBNET_BCAST)
    code, out, err = ctl("discover", "--target", SUBNET_BCAST, "-T", "1")
    assert code == 0, err
    check_found(out)
    # From a chosen source address too.
    code, out, err = ctl("discover", "--target", SUBNET_BCAST, "--source", SUBNET_ADDR, "-T", "1")
    assert code == 0, err
    check_found(out)

    code, inv, err = ctl("discover", "--target", SUBNET_BCAST, "-T", "1", "--inventory")
    assert code == 0, err
    assert "port:" not in inv, inv  # every plug is on 9999
    path = h.write_inventory(inv)
    p = subprocess.run([h.binary("tplink_exporter"), "--check-config", f"--config.file={path}"],
                       capture_output=True, timeout=20, check=False)
    assert p.returncode == 0, (p.stderr, inv)
    names = [l.split('"')[1] for l in inv.splitlines() if l.startswith("  - name: ")]
    assert names == ["Kitchen", "Desk-lamp", "Fridge", "Washer"], inv

    # plug -b to the subnet: every plug switches.
    code, out, err = ctl("plug", "-b", "-t", SUBNET_BCAST, "-c", "off", "-T", "1", "--raw")
    assert code == 0, err
    assert [l.split(" ")[0] for l in out.splitlines()] == [f"{a}:9999" for _, a, _ in PLUGS]
    assert relays() == [0, 0, 0, 0]
    sim.stop()


def test_limited_broadcast_default():
    """No --target: 255.255.255.255:9999, the default, as on a real LAN."""
    sim = start_sim("255.255.255.255")
    code, out, err = ctl("discover", "-T", "1")
    assert code == 0, err
    check_found(out)
    code, out, err = ctl("plug", "-b", "-c", "on", "-T", "1")
    assert code == 0, err
    assert out.count("set_relay_state") == 4, out
    assert relays() == [1, 1, 1, 1]
    sim.stop()


if __name__ == "__main__":
    try:
        make_namespace()
        h.run([test_subnet_broadcast, test_limited_broadcast_default])
    finally:
        delete_namespace()
