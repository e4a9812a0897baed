#!/usr/bin/env python3
"""tplinkctl plug against tplinksim over loopback: every command of the original client over
TCP and UDP, -j with several modules, --raw, -s, -b to the loopback broadcast, strip outlets,
errors, and on/off for inventory plugs in parallel. Also the daemon polling a plug over UDP."""

import json
import os
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

LO = h.LOOPBACK


def ctl(*args, timeout=20):
    """Runs tplinkctl; returns (exit status, stdout, stderr)."""
    p = subprocess.run([h.binary("tplinkctl")] + [str(a) for a in args], capture_output=True,
                       timeout=timeout, check=False)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def ctl_json(*args):
    code, out, err = ctl(*args)
    assert code == 0, f"tplinkctl {' '.join(map(str, args))} exited {code}: {err}"
    return json.loads(out)


def test_profile():
    """hs110v2 plus replies for the modules the built-in profile lacks, so every command of
    the original client gets a real answer (our own data, written here)."""
    with open(os.path.join(h.source_dir(), "sim", "profiles", "hs110v2.json"), encoding="utf-8") as f:
        prof = json.load(f)
    prof["netif"] = {"get_scaninfo": {"ap_list": [{"ssid": "test-ap", "key_type": 3}],
                                      "err_code": 0}}
    prof["count_down"] = {"get_rules": {"rule_list": [], "err_code": 0}}
    prof["anti_theft"] = {"get_rules": {"rule_list": [], "enable": 0, "err_code": 0}}
    prof["system"]["reboot"] = {"err_code": 0}
    prof["system"]["reset"] = {"err_code": 0}
    path = os.path.join(h.make_temp_dir("tplink-prof-"), "full.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(prof, f)
    return path


# The original client's commands and the module/method each must reach.
COMMANDS = {
    "info": ("system", "get_sysinfo"),
    "on": ("system", "set_relay_state"),
    "off": ("system", "set_relay_state"),
    "energy": ("emeter", "get_realtime"),
    "cloudinfo": ("cnCloud", "get_info"),
    "wlanscan": ("netif", "get_scaninfo"),
    "time": ("time", "get_time"),
    "schedule": ("schedule", "get_rules"),
    "countdown": ("count_down", "get_rules"),
    "antitheft": ("anti_theft", "get_rules"),
    "reboot": ("system", "reboot"),
    "reset": ("system", "reset"),
}


def relay(sim, index):
    return sim.query(index, {"system": {"get_sysinfo": {}}})["system"]["get_sysinfo"]["relay_state"]


def check_every_command(udp):
    sim = h.start_sim([h.plug_spec(test_profile())])
    target = f"{LO}:{sim.port(0)}"
    extra = ["-u"] if udp else []
    for cmd, (module, method) in COMMANDS.items():
        args = ["plug", "-t", target, "-c", cmd] + extra
        if cmd in ("reboot", "reset"):
            code, out, err = ctl(*args)
            assert code == 2 and "--yes" in err and out == "", (cmd, code, out, err)
            args.append("--yes")
        reply = ctl_json(*args)
        assert list(reply) == [module], (cmd, reply)
        assert reply[module][method]["err_code"] == 0, (cmd, reply)
        if cmd in ("on", "off"):
            assert relay(sim, 0) == (1 if cmd == "on" else 0), cmd
    assert ctl_json("plug", "-t", target, "-c", "wlanscan", *extra)["netif"]["get_scaninfo"][
        "ap_list"][0]["ssid"] == "test-ap"
    # No -c and no -j: info, as the original client.
    info = ctl_json("plug", "-t", target, *extra)
    assert info["system"]["get_sysinfo"]["model"] == "HS110(EU)"
    # Pretty by default (indented), one compact line with --raw.
    code, out, _ = ctl("plug", "-t", target, "-c", "time", *extra)
    assert code == 0 and out.startswith("{\n  \"time\": {\n"), out
    code, out, _ = ctl("plug", "-t", target, "-c", "time", "--raw", *extra)
    assert code == 0 and out.count("\n") == 1 and json.loads(out)["time"]["get_time"]["err_code"] == 0


def test_every_command_tcp():
    check_every_command(udp=False)


def test_every_command_udp():
    check_every_command(udp=True)


def test_json_nested_multi_module():
    sim = h.start_sim([h.plug_spec("hs110v1"), h.plug_spec("hs100")])
    request = {"system": {"get_sysinfo": None, "set_relay_state": {"state": 0}},
               "time": {"get_time": {}, "get_timezone": {}},
               "emeter": {"get_realtime": {}},
               "cnCloud": {"get_info": None},
               "nosuchmodule": {"x": {}}}
    text = json.dumps(request)
    for extra in ([], ["-u"]):
        sim.send_line("relay 0 1")
        assert sim.read_line(5) == "ok"
        reply = ctl_json("plug", "-t", f"{LO}:{sim.port(0)}", "-j", text, *extra)
        assert list(reply) == ["system", "time", "emeter", "cnCloud", "nosuchmodule"], reply
        assert reply["system"]["get_sysinfo"]["model"] == "HS110(EU)"
        assert reply["system"]["set_relay_state"]["err_code"] == 0
        assert relay(sim, 0) == 0
        assert set(reply["time"]) == {"get_time", "get_timezone"}
        assert reply["emeter"]["get_realtime"]["err_code"] == 0
        assert "power" in reply["emeter"]["get_realtime"]  # v1 floats
        assert reply["cnCloud"]["get_info"]["err_code"] == 0
        assert reply["nosuchmodule"]["err_code"] == -1
        # The plug without a meter answers the emeter part with an error object.
        reply = ctl_json("plug", "-t", f"{LO}:{sim.port(1)}", *extra, "-j",
                         '{"system":{"get_sysinfo":{}},"emeter":{"get_realtime":{}}}')
        assert reply["emeter"]["get_realtime"]["err_code"] == -1
    for bad in ("[1,2]", "{", "\"x\""):
        code, _, err = ctl("plug", "-t", f"{LO}:{sim.port(0)}", "-j", bad)
        assert code == 2 and "not a JSON object" in err, (bad, err)


def test_errors():
    sim = h.start_sim([h.plug_spec("hs100", fault="hang"), h.plug_spec("hs100", fault="garbage")])
    closed = h.free_port()
    code, _, err = ctl("plug", "-t", f"{LO}:{closed}", "-c", "info")
    assert code == 1 and "connect: Connection refused" in err, err
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((LO, 0))
        udp_closed = s.getsockname()[1]
    code, _, err = ctl("plug", "-t", f"{LO}:{udp_closed}", "-u")
    assert code == 1 and "Connection refused" in err, err
    started = time.monotonic()
    code, _, err = ctl("plug", "-t", f"{LO}:{sim.port(0)}", "-u", "-T", "0.6")
    took = time.monotonic() - started
    assert code == 1 and "timed out" in err and "3 datagrams" in err, err
    assert 0.5 < took < 3, took
    code, _, err = ctl("plug", "-t", f"{LO}:{sim.port(0)}", "-T", "0.5")
    assert code == 1 and "timed out" in err, err
    code, _, err = ctl("plug", "-t", f"{LO}:{sim.port(1)}", "-u", "-T", "1")
    assert code == 1 and "not JSON" in err, err
    code, _, err = ctl("plug", "-t", f"{LO}:{sim.port(1)}", "-T", "1")
    assert code == 1 and err.startswith("tplinkctl: "), err
    for args in (["-c", "nope"], ["-c", "info", "-j", "{}"], [], ["-T", "0"], ["-T", "x"],
                 ["--outlet", "0"], ["--all"], ["fridge"], ["-b", "--outlet", "1"]):
        full = ["plug"] + (["-t", f"{LO}:1"] if "-b" not in args and args != [] else []) + args
        code, out, err = ctl(*full)
        assert code == 2 and out == "", (args, code, out, err)
    code, _, err = ctl("plug", "-t", "[::1", "-c", "info")
    assert code == 2 and "bad target" in err


def udp_tcp_pair(attempts=20):
    """A UDP socket and a listening TCP socket on the same loopback port (tests run in
    parallel: a port free for one protocol may be taken for the other)."""
    for _ in range(attempts):
        tdev = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tdev.bind((LO, 0))
        tdev.listen(1)
        dev = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            dev.bind((LO, tdev.getsockname()[1]))
            return dev, tdev
        except OSError:
            dev.close()
            tdev.close()
    raise AssertionError("no loopback port free for both UDP and TCP")


def test_source_address():
    """-s binds before sending: a socket playing the device sees the chosen source address."""
    dev, tdev = udp_tcp_pair()
    with dev, tdev:
        port = dev.getsockname()[1]
        p = subprocess.Popen([h.binary("tplinkctl"), "plug", "-t", f"{LO}:{port}", "-u", "-s",
                              "127.0.0.7", "-T", "2", "--raw"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        try:
            dev.settimeout(5)
            data, src = dev.recvfrom(65536)
            assert src[0] == "127.0.0.7", src
            assert h.kasa_decrypt(data) == b'{"system":{"get_sysinfo":{}}}'
            dev.sendto(h.kasa_encrypt(b'{"system":{"get_sysinfo":{"alias":"seen"}}}'), src)
            out, err = p.communicate(timeout=10)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        assert p.returncode == 0 and json.loads(out)["system"]["get_sysinfo"]["alias"] == "seen", err
        # TCP too.
        p = subprocess.Popen([h.binary("tplinkctl"), "plug", "-t", f"{LO}:{port}", "-s",
                              "127.0.0.8", "-T", "2", "-c", "time"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        try:
            tdev.settimeout(5)
            conn, src = tdev.accept()
            with conn:
                assert src[0] == "127.0.0.8", src
                conn.settimeout(5)
                hdr = h._recv_exact(conn, 4)
                body = h._recv_exact(conn, int.from_bytes(hdr, "big"))
                assert h.kasa_decrypt(body) == b'{"time":{"get_time":{}}}'
                reply = h.kasa_encrypt(b'{"time":{"get_time":{"err_code":0}}}')
                conn.sendall(len(reply).to_bytes(4, "big") + reply)
                out, err = p.communicate(timeout=10)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        assert p.returncode == 0, err
    code, _, err = ctl("plug", "-t", f"{LO}:{port}", "-u", "-s", "not-an-address!")
    assert code == 1 and "source" in err, err


def test_broadcast_loopback():
    """-b sends once to the loopback broadcast; every device on the port answers from its
    own address; a device on another port is not listened to."""
    for attempt in range(5):  # a fresh port if another test took this one meanwhile
        first = h.start_sim([h.plug_spec("hs100")])  # only to find a free TCP+UDP port
        port = first.port(0)
        first.terminate()
        sim = h.Process("tplinksim", [h.binary("tplinksim"), "--broadcast", "127.255.255.255",
                                      f"plug:hs110v2@127.0.0.2:{port},alias=two",
                                      f"plug:hs100@127.0.0.3:{port},alias=three",
                                      "plug:hs100@127.0.0.4:0,alias=elsewhere"])
        h.wait_until(lambda: "ready all" in sim.stdout_lines or not sim.alive(), 10,
                     message="tplinksim ready")
        if sim.alive():
            break
        assert attempt < 4, sim.stderr_tail()
    code, out, err = ctl("plug", "-b", "-t", f"127.255.255.255:{port}", "-c", "info", "--raw",
                         "-T", "1")
    assert code == 0, err
    lines = out.splitlines()
    assert [l.split(" ", 1)[0] for l in lines] == [f"127.0.0.2:{port}", f"127.0.0.3:{port}"], out
    aliases = [json.loads(l.split(" ", 1)[1])["system"]["get_sysinfo"]["alias"] for l in lines]
    assert aliases == ["two", "three"]
    # Pretty: the source line, then indented JSON; on/off reach every device.
    code, out, err = ctl("plug", "-b", "-t", f"127.255.255.255:{port}", "-c", "off", "-T", "1")
    assert code == 0 and out.startswith(f"127.0.0.2:{port}\n{{\n"), out
    assert out.count("set_relay_state") == 2
    for addr in ("127.0.0.2", "127.0.0.3"):
        r = h.kasa_query(addr, port, {"system": {"get_sysinfo": {}}})
        assert r["system"]["get_sysinfo"]["relay_state"] == 0
    code, out, err = ctl("plug", "-b", "-t", f"127.255.255.255:{h.free_port()}", "-T", "0.3")
    assert code == 1 and out == "" and "no reply" in err, err


def builtin_profiles():
    code, out, _ = ctl("plug", "--help")  # make sure the binaries exist before tplinksim
    p = subprocess.run([h.binary("tplinksim"), "--help"], capture_output=True, timeout=10,
                       check=False)
    text = p.stdout.decode()
    start = text.index("built-in profile (") + len("built-in profile (")
    return [x.strip() for x in text[start:text.index(")", start)].split(",")]


def test_outlets():
    if "hs300" not in builtin_profiles():
        if os.environ.get("CI") == "true":
            raise AssertionError("tplinksim has no hs300 profile (the strips simulator)")
        print("SKIP test_outlets: tplinksim has no hs300 profile yet", flush=True)
        return
    sim = h.start_sim([h.plug_spec("hs300"), h.plug_spec("hs110v2")])
    target = f"{LO}:{sim.port(0)}"

    def states():
        si = sim.query(0, {"system": {"get_sysinfo": {}}})["system"]["get_sysinfo"]
        return [c["state"] for c in si["children"]], si

    for extra in ([], ["-u"]):
        ctl_json("plug", "-t", target, "-c", "on", "--outlet", "1", *extra)
        before, si = states()
        ctl_json("plug", "-t", target, "-c", "on", "--outlet", "2", *extra)
        reply = ctl_json("plug", "-t", target, "-c", "off", "--outlet", "2", *extra)
        assert reply["system"]["set_relay_state"]["err_code"] == 0, reply
        after, _ = states()
        expect = list(before)
        expect[1] = 0
        assert after == expect, (before, after)  # only outlet 2 changed
        child = ctl_json("plug", "-t", target, "-c", "info", "--outlet", "2", *extra)
        assert child["id"] == si["children"][1]["id"] and child["state"] == 0, child  # full id
        ctl_json("plug", "-t", target, "-c", "on", "--outlet", "2", *extra)
        assert states()[0][1] == 1
        energy = ctl_json("plug", "-t", target, "-c", "energy", "--outlet", "3", *extra)
        assert energy["emeter"]["get_realtime"]["err_code"] == 0, energy
        code, _, err = ctl("plug", "-t", target, "--outlet", "7", *extra)
        assert code == 1 and "no outlet 7" in err, err
        code, _, err = ctl("plug", "-t", target, "--outlet", "1", *extra, "-j",
                           '{"context":{"child_ids":["x"]},"system":{"get_sysinfo":{}}}')
        assert code == 2 and "context" in err, err
    code, _, err = ctl("plug", "-t", f"{LO}:{sim.port(1)}", "--outlet", "1", "-c", "off")
    assert code == 1 and "not a power strip" in err, err


def test_inventory_parallel():
    sim = h.start_sim([h.plug_spec("hs110v2"), h.plug_spec("hs100")]
                      + [h.plug_spec("hs100", fault="hang")] * 4)
    closed = h.free_port()
    inv = h.write_inventory(h.inventory(plugs=[
        {"name": "fridge", "port": sim.port(0)},
        {"name": "lamp", "port": sim.port(1), "transport": "udp"},
        {"name": "rack", "port": closed, "protocol": "legacy"},  # auto would try KLAP on 80
        {"name": "slow1", "port": sim.port(2)},
        {"name": "slow2", "port": sim.port(3), "transport": "udp"},
        {"name": "slow3", "port": sim.port(4)},
        {"name": "slow4", "port": sim.port(5), "transport": "udp"},
    ], switches=[{"name": "core", "port": 80, "password": "x"}], interval="5s", timeout="1s"))
    for index in (0, 1):
        sim.send_line(f"relay {index} 1")
        assert sim.read_line(5) == "ok"

    code, out, err = ctl("plug", f"--config.file={inv}", "fridge", "lamp", "rack", "-c", "off")
    assert code == 1, (out, err)
    assert out.splitlines() == ["fridge: off", "lamp: off",
                                "rack: error: connect: Connection refused"], out
    assert relay(sim, 0) == 0 and relay(sim, 1) == 0

    code, out, err = ctl("plug", "--config.file", inv, "fridge", "lamp", "-c", "on")
    assert code == 0 and out.splitlines() == ["fridge: on", "lamp: on"], (out, err)
    assert relay(sim, 0) == 1 and relay(sim, 1) == 1

    # Four plugs that never answer (two per transport) time out together, not one after the
    # other (4 s): the plugs run in parallel.
    started = time.monotonic()
    code, out, err = ctl("plug", "--config.file", inv, "--all", "-c", "off", "-T", "1")
    took = time.monotonic() - started
    assert code == 1
    assert out.splitlines() == ["fridge: off", "lamp: off",
                                "rack: error: connect: Connection refused"] + \
        [f"slow{i}: error: timed out after 1s" for i in range(1, 5)], out
    assert took < 3.0, f"--all took {took:.1f}s: not parallel"
    assert relay(sim, 0) == 0 and relay(sim, 1) == 0

    for args, needle in ((["nosuch", "-c", "on"], "no plug named \"nosuch\""),
                         (["core", "-c", "on"], "it is a switch"),
                         (["fridge", "-j", '{"system":{}}'], "give -c (not -j)"),
                         (["-c", "on"], "plug names or --all"),
                         (["fridge", "--all", "-c", "on"], "plug names or --all"),
                         (["fridge", "-c", "on", "-u"], "not -t, -b, -u")):
        code, out, err = ctl("plug", "--config.file", inv, *args)
        assert code == 2 and out == "" and needle in err, (args, err)
    bad = h.write_inventory("plugs:\n  - {name: a, host: h, transport: udpx}\n")
    code, _, err = ctl("plug", "--config.file", bad, "--all", "-c", "on")
    assert code == 2 and f"{bad}:2:35: invalid transport \"udpx\": expected tcp or udp" in err, err


class UdpOnlyPlug:
    """A UDP socket on a port with no TCP listener that passes each datagram to a simulated
    plug over TCP and sends the reply back: a plug only UDP can reach."""

    def __init__(self, sim_port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((LO, 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.sim_port = sim_port
        self.datagrams = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopping.is_set():
            try:
                data, src = self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            self.datagrams += 1
            reply = h.kasa_query(LO, self.sim_port, json.loads(h.kasa_decrypt(data)))
            self.sock.sendto(h.kasa_encrypt(json.dumps(reply).encode()), src)

    def close(self):
        self.stopping.set()
        self.thread.join(timeout=5)
        self.sock.close()


def test_daemon_polls_over_udp():
    """transport: udp in the inventory: the daemon polls over UDP, where TCP is refused."""
    sim = h.start_sim([h.plug_spec("hs110v2"), h.plug_spec("hs100")])
    relay_plug = UdpOnlyPlug(sim.port(0))
    try:
        d = h.start_daemon(h.inventory(plugs=[
            {"name": "udpplug", "port": relay_plug.port, "transport": "udp"},
            {"name": "tcpplug", "port": relay_plug.port},
            {"name": "plain", "port": sim.port(1), "transport": "udp"}]))
        m = h.wait_up(d, ["udpplug", "plain"], timeout=15)
        assert relay_plug.datagrams >= 1
        direct = h.plug_reading(sim.query(0, h.SYSINFO_AND_METER))
        assert m.get("tplink_plug_power_watts", device="udpplug") is not None
        assert m.value("tplink_plug_relay_on", device="udpplug") == direct["relay"]
        assert m.get("tplink_plug_power_watts", device="plain") is None  # no meter, no series
        assert m.get("tplink_plug_relay_on", device="plain") is not None
        h.wait_up(d, ["tcpplug"], value=0, timeout=15)
        d.stop()
    finally:
        relay_plug.close()


if __name__ == "__main__":
    h.run([test_every_command_tcp, test_every_command_udp, test_json_nested_multi_module,
           test_errors, test_source_address, test_broadcast_loopback, test_outlets,
           test_inventory_parallel, test_daemon_polls_over_udp])
