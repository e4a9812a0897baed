#!/usr/bin/env python3
"""tplinkctl discover with the new-firmware probe (UDP 20002 on a network; here a free port
given to tplinksim --discovery-port and tplinkctl --discovery-port), beside the legacy
request: KLAP and AES devices show with their protocol and port, a device that answers both
probes is listed once (by its richer legacy reply), --inventory is accepted by
--check-config and the daemon polls every device it lists; a hostile reply is ignored with
one line. Only 127.0.0.0/8 is ever sent to."""

import os
import socket
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

import test_discover as td  # noqa: E402

BCAST = "127.255.255.255"


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((h.LOOPBACK, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start(attempts=5):
    """Legacy plugs on 127.0.0.2 and .3 (one port), KLAP P110 on .4, AES KP125M on .5, and
    on .2 a KLAP device too (the same plug answering both probes). Returns (sim, port, disc,
    http ports by address)."""
    for _ in range(attempts):
        port, disc = td.free_udp_tcp_port(), free_udp_port()
        if port == disc:
            continue
        sim = h.Process("tplinksim", [h.binary("tplinksim"), "--broadcast", BCAST,
                                      "--discovery-port", str(disc),
                                      f"plug:hs110v2@127.0.0.2:{port}",
                                      f"plug:hs100@127.0.0.3:{port}",
                                      "klap:p110@127.0.0.4:0",
                                      "aes:kp125m@127.0.0.5:0",
                                      "klap:hs110v2@127.0.0.2:0"])
        h.wait_until(lambda: "ready all" in sim.stdout_lines or not sim.alive(), 10,
                     message="tplinksim ready")
        if sim.alive():
            http = {}
            for line in sim.stdout_lines:
                w = line.split()
                if len(w) == 5 and w[1] in ("klap", "aes"):
                    http[(w[2], w[3])] = int(w[4])
            return sim, port, disc, http
        sim.terminate()
    raise AssertionError(f"tplinksim did not start: {sim.stderr_tail()}")


def test_both_probes():
    sim, port, disc, http = start()
    args = ["discover", "--target", f"{BCAST}:{port}", "--discovery-port", disc, "-T", "1"]
    code, out, err = td.ctl(*args)
    assert code == 0, err
    rows = td.table(out)
    assert [r["HOST"] for r in rows] == [f"127.0.0.2:{port}", f"127.0.0.3:{port}", "127.0.0.4",
                                         "127.0.0.5"], out
    assert [r["PROTOCOL"] for r in rows] == [
        "legacy", "legacy", f"klap:{http[('p110', '127.0.0.4')]}",
        f"aes:{http[('kp125m', '127.0.0.5')]}"], out
    assert [r["MODEL"] for r in rows] == ["HS110(EU)", "HS100(US)", "P110", "KP125M"], out
    assert rows[0]["ALIAS"] != "-" and rows[0]["METER"] == "yes", rows[0]
    for r in rows[2:]:
        assert r["METER"] == r["RELAY"] == r["FIRMWARE"] == r["ALIAS"] == "-", r
        assert len(r["MAC"]) == 17 and r["MAC"].count(":") == 5, r

    # --legacy-only: the KLAP and AES devices are not asked.
    code, out, err = td.ctl(*args, "--legacy-only")
    assert code == 0 and [r["PROTOCOL"] for r in td.table(out)] == ["legacy"] * 2, (out, err)

    # Unicast to one new device: the probe alone finds it.
    code, out, err = td.ctl("discover", "--target", f"127.0.0.5:{port}", "--discovery-port",
                            disc, "-T", "0.5")
    assert code == 0 and [r["MODEL"] for r in td.table(out)] == ["KP125M"], (out, err)

    # The inventory: accepted as it is, and the daemon polls all four (the simulated devices
    # hold no account: the transports' blank credentials open them).
    code, inv, err = td.ctl(*args, "--inventory")
    assert code == 0, err
    assert inv.count("  - name: ") == 4, inv
    assert "    protocol: klap\n" in inv and "    protocol: aes\n" in inv, inv
    assert "# credentials_file:" in inv, inv
    td.check_config(inv)
    names = [l.split('"')[1] for l in inv.splitlines() if l.startswith("  - name: ")]
    d = h.start_daemon("defaults: {interval: 1s, timeout: 1s}\n" + inv)
    m = h.wait_up(d, names, timeout=20)
    models = sorted(m.find("tplink_device_info", device=n)[0][0]["model"] for n in names)
    assert models == ["HS100(US)", "HS110(EU)", "KP125M", "P110"], models
    d.stop()
    sim.terminate()


def test_hostile_reply():
    """A responder on the probe's port that sends junk, or a reply of an unknown kind: one
    line on stderr each time, escaped, and nothing is listed."""
    header = bytes.fromhex("02000001000000000000000000000000")
    for reply, words in (
            (header + b"\x1b[31mnot json\n", "ignored: discovery reply is not JSON"),
            (header + b'{"error_code":0,"result":{"device_type":"X.Y","device_model":"Q",'
                      b'"mgt_encrypt_schm":{"encrypt_type":"ROT13"}}}',
             "ignored: unknown device type or encryption")):
        disc = free_udp_port()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.7", disc))
        sock.settimeout(5)

        def serve():
            try:
                _, peer = sock.recvfrom(2048)
                sock.sendto(reply, peer)
            except OSError:
                pass
        t = threading.Thread(target=serve, daemon=True)
        t.start()
        code, out, err = td.ctl("discover", "--target", "127.0.0.7:9", "--discovery-port", disc,
                                "-T", "0.5")
        t.join(5)
        sock.close()
        assert code == 1 and out == "", (out, err)
        lines = err.splitlines()
        assert len(lines) == 2 and "\x1b" not in err, lines
        assert lines[0].startswith(f"tplinkctl: 127.0.0.7 port {disc}: {words}"), lines
        assert "no plug answered" in lines[1], lines
    code, out, err = td.ctl("discover", "--target", "127.0.0.7:9", "--discovery-port", "9")
    assert code == 2 and "--discovery-port" in err, err


if __name__ == "__main__":
    h.run([test_both_probes, test_hostile_reply])
