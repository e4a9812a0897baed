#!/usr/bin/env python3
"""tplinkctl discover on loopback: a unicast target, the loopback broadcast (127.255.255.255)
answered by tplinksim --broadcast, hostile and duplicate replies; the --inventory output is
accepted by --check-config unchanged and the daemon polls every plug it lists.

Nothing here sends beyond 127.0.0.0/8 (test_discover_netns.py covers the other broadcast
addresses, inside a network namespace)."""

import json
import os
import socket
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

LO = h.LOOPBACK
HEADER = ["HOST", "MODEL", "HARDWARE", "FIRMWARE", "MAC", "ALIAS", "METER", "RELAY", "PROTOCOL"]


def ctl(*args, timeout=20):
    p = subprocess.run([h.binary("tplinkctl")] + [str(a) for a in args], capture_output=True,
                       timeout=timeout, check=False)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def table(out):
    """Rows of the table as dicts, split at the header's column starts (cells may hold
    spaces: aliases, firmware versions)."""
    lines = out.rstrip("\n").split("\n")
    head = lines[0]
    starts = [head.index(c) for c in HEADER]
    assert head.split() == HEADER, head
    rows = []
    for line in lines[1:]:
        cells = [line[a:b].strip() for a, b in zip(starts, starts[1:] + [None])]
        rows.append(dict(zip(HEADER, cells)))
    return rows


def check_config(text):
    path = h.write_inventory(text)
    p = subprocess.run([h.binary("tplink_exporter"), "--check-config", f"--config.file={path}"],
                       capture_output=True, timeout=20, check=False)
    assert p.returncode == 0, (p.stdout, p.stderr, text)
    return path


def free_udp_tcp_port():
    """A port that was free for TCP and UDP a moment ago (tplinksim binds both)."""
    sim = h.start_sim([h.plug_spec("hs100")])
    port = sim.port(0)
    sim.terminate()
    return port


def start_bcast_sim(make_specs, timeout=10, attempts=5):
    """tplinksim --broadcast 127.255.255.255 with the device specs make_specs(port) for a
    free port; a fresh port when another test took it meanwhile. Returns (process, port,
    ports)."""
    for _ in range(attempts):
        port = free_udp_tcp_port()
        sim = h.Process("tplinksim", [h.binary("tplinksim"), "--broadcast", "127.255.255.255"]
                        + list(make_specs(port)))
        h.wait_until(lambda: "ready all" in sim.stdout_lines or not sim.alive(), timeout,
                     message="tplinksim ready")
        if sim.alive():
            ports = [int(l.split()[4]) for l in sim.stdout_lines if l.startswith("ready plug ")]
            return sim, port, ports
        sim.terminate()
    raise AssertionError(f"tplinksim did not start: {sim.stderr_tail()}")


def test_unicast_target():
    sim = h.start_sim([h.plug_spec("hs110v2", alias="Kitchen"), h.plug_spec("hs100")])
    sim.send_line("relay 1 0")
    assert sim.read_line(5) == "ok"
    for index, model, meter, relay in ((0, "HS110(EU)", "yes", "on"), (1, "HS100(US)", "no", "off")):
        port = sim.port(index)
        code, out, err = ctl("discover", "--target", f"{LO}:{port}", "-T", "0.5")
        assert code == 0, err
        rows = table(out)
        assert len(rows) == 1, out
        si = sim.query(index, {"system": {"get_sysinfo": {}}})["system"]["get_sysinfo"]
        row = rows[0]
        assert row["HOST"] == f"{LO}:{port}"
        assert row["MODEL"] == model == si["model"]
        assert row["HARDWARE"] == si["hw_ver"] and row["FIRMWARE"] == si["sw_ver"]
        assert row["MAC"] == si["mac"] and row["ALIAS"] == si["alias"]
        assert row["METER"] == meter and row["RELAY"] == relay, row
    code, out, err = ctl("discover", "--target", f"{LO}:{sim.port(0)}", "-T", "0.5", "--inventory")
    assert code == 0, err
    assert out.startswith("plugs:\n") and '  - name: "Kitchen"\n' in out, out
    assert f"    host: \"{LO}\"\n    port: {sim.port(0)}\n" in out
    check_config(out)


def test_loopback_broadcast_to_daemon():
    """Three plugs share a port on 127.0.0.2..4 (as plugs share 9999 on a LAN), a fourth
    is on another port; aliases try to break the table and the YAML."""
    aliases = ["Living room", 'evil" # x: [y] {z}', "line1\n- name: injected", "Büro ☕"]
    sim, port, ports = start_bcast_sim(lambda port: [
        f"plug:hs110v2@127.0.0.2:{port},alias={aliases[0]}",
        f"plug:hs100@127.0.0.3:{port},alias={aliases[1]}",
        f"plug:hs110v1@127.0.0.4:{port},alias={aliases[2]}",
        f"plug:kp115@127.0.0.5:0,alias={aliases[3]}",
    ])
    assert ports[:3] == [port] * 3 and ports[3] != port
    code, out, err = ctl("discover", "--target", f"127.255.255.255:{port}", "-T", "1")
    assert code == 0, err
    rows = table(out)
    assert [r["HOST"] for r in rows] == [f"127.0.0.{i}:{port}" for i in (2, 3, 4)], out
    assert [r["MODEL"] for r in rows] == ["HS110(EU)", "HS100(US)", "HS110(EU)"]
    assert rows[0]["ALIAS"] == "Living room" and rows[1]["ALIAS"] == aliases[1]
    assert rows[2]["ALIAS"] == "line1\\x0A- name: injected"  # one line per device
    assert len(out.splitlines()) == 4
    assert [r["METER"] for r in rows] == ["yes", "no", "yes"]

    code, inv, err = ctl("discover", "--target", f"127.255.255.255:{port}", "-T", "1",
                         "--inventory")
    assert code == 0, err
    check_config(inv)
    names = [l.split('"')[1] for l in inv.splitlines() if l.startswith("  - name: ")]
    assert names == ["Living-room", "evil-x:-y-z", "line1-name:-injected"], inv
    # The daemon gets the same list behind short defaults, so the first polls come soon.
    d = h.start_daemon("defaults: {interval: 1s, timeout: 500ms}\n" + inv)
    m = h.wait_up(d, names, timeout=15)
    for name, alias in zip(names, aliases):
        info = m.find("tplink_device_info", device=name)
        assert info and info[0][0].get("alias") == alias, (name, info)
    d.stop()

    # The other port's plug answers its own port only.
    code, out, err = ctl("discover", "--target", f"127.255.255.255:{ports[3]}", "-T", "0.5")
    assert code == 0 and [r["ALIAS"] for r in table(out)] == ["Büro ☕"], (out, err)
    # Replies must come from --port: none do from another port.
    code, out, err = ctl("discover", "--target", f"127.255.255.255:{port}", "--port",
                         ports[3], "-T", "0.5")
    assert code == 1 and out == "" and "no plug answered" in err, err
    sim.terminate()


class FakeDevices:
    """Sockets on 127.0.0.x:PORT that answer a broadcast to 127.255.255.255:PORT with the
    given payloads (plain text, encrypted here; bytes are sent as they are)."""

    def __init__(self, make_answers, attempts=5):
        """make_answers(port) -> [(addr, port, payload)]; retried on a fresh port when
        one of the addresses is taken."""
        for attempt in range(attempts):
            self.port = free_udp_tcp_port()
            self.answers = []
            self.listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                self.listener.bind(("127.255.255.255", self.port))
                for addr, aport, payload in make_answers(self.port):
                    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    self.answers.append((s, payload if isinstance(payload, bytes)
                                         else h.kasa_encrypt(payload.encode())))
                    s.bind((addr, aport))
                break
            except OSError:
                self.listener.close()
                for s, _ in self.answers:
                    s.close()
                if attempt == attempts - 1:
                    raise
        self.listener.settimeout(0.1)
        self.requests = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopping.is_set():
            try:
                data, src = self.listener.recvfrom(65536)
            except socket.timeout:
                continue
            self.requests.append(h.kasa_decrypt(data))
            for s, payload in self.answers:
                s.sendto(payload, src)

    def close(self):
        self.stopping.set()
        self.thread.join(timeout=5)
        self.listener.close()
        for s, _ in self.answers:
            s.close()


def sysinfo(alias, device_id, **extra):
    si = {"alias": alias, "deviceId": device_id, "model": "HS103(US)", "hw_ver": "1.0",
          "sw_ver": "1.0.0", "mac": "50:C7:BF:00:00:99", "relay_state": 1, "feature": "TIM"}
    si.update(extra)
    return json.dumps({"system": {"get_sysinfo": si}})


def test_hostile_and_duplicate_replies():
    big = "x" * 60000
    fake = FakeDevices(lambda port: [
        ("127.0.0.6", port, b"\x01\x02garbage"),
        ("127.0.0.7", port, sysinfo("first", "DEV1")),
        ("127.0.0.8", port, sysinfo("same device, other address", "DEV1")),
        ("127.0.0.9", port, '{"emeter":{"get_realtime":{}}}'),
        ("127.0.0.10", port + 1 if port < 65535 else port - 1, sysinfo("wrong port", "DEV2")),
        ("127.0.0.11", port, sysinfo("strip", "DEV3", children=[{"id": "00"}] * 3,
                                     relay_state=None)),
        ("127.0.0.12", port, sysinfo(big, "DEV4", model=["not", "a", "string"])),
        ("127.0.0.13", port, b""),
    ])
    port = fake.port
    try:
        code, out, err = ctl("discover", "--target", f"127.255.255.255:{port}", "-T", "1")
    finally:
        fake.close()
    assert code == 0, err
    # Sent several times, each time the whole discovery request.
    assert len(fake.requests) == 3, fake.requests
    assert all(json.loads(r) == {"system": {"get_sysinfo": {}}, "emeter": {"get_realtime": {}}}
               for r in fake.requests)
    rows = table(out)
    assert [r["HOST"] for r in rows] == [f"127.0.0.{i}:{port}" for i in (7, 11, 12)], out
    assert rows[0]["ALIAS"] == "first" and rows[0]["RELAY"] == "on" and rows[0]["METER"] == "no"
    assert rows[1]["RELAY"] == "strip(3)"
    assert rows[2]["MODEL"] == "-" and len(rows[2]["ALIAS"]) == 127  # bounded
    assert "127.0.0.6" in err and "127.0.0.9" in err and "no system.get_sysinfo" in err, err


def test_options():
    for args in (["-T", "0"], ["-T", "abc"], ["--port", "0"], ["--port", "70000"],
                 ["--target", "[::1"], ["--target", "1.2.3.4:0"], ["extra"]):
        code, out, err = ctl("discover", *args)
        assert code == 2 and out == "", (args, err)
    code, out, _ = ctl("discover", "--help")
    assert code == 0 and "--inventory" in out
    code, out, _ = ctl("--help")
    assert code == 0 and "discover" in out
    code, _, err = ctl("discover", "--target", f"{LO}:{h.free_port()}", "-s", "127.0.0.1", "-T",
                       "0.3")
    assert code == 1 and "no plug answered" in err, err


if __name__ == "__main__":
    h.run([test_unicast_target, test_loopback_broadcast_to_daemon,
           test_hostile_and_duplicate_replies, test_options])
