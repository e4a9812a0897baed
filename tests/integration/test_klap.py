#!/usr/bin/env python3
"""The daemon polls plugs with newer firmware (tplinksim klap: and aes: devices): IOT JSON
over KLAP v1 and v2 (one of them reached through protocol: auto, its legacy port closed),
SMART JSON over KLAP (a Tapo P110) and over AES (a KP125M). Readings must be the devices'
(the simulator's profiles and switched relays); wrong credentials give tplink_up 0 with
reason auth, and neither password shows in any output of the daemon.

The harness has no AES, so the readings are checked against what the simulated devices are
built to show: the profile's fixed fields exactly, and power within the simulator's walk
(10 % around the profile's reading while on, 0 while off)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

USER = "owner@example.com"
PASSWORD = "Klap-Corr3ct-Secret-8841"
WRONG = "Klap-Wr0ng-Secret-1923"
LOOPBACK = "127.0.0.1"


def creds_file(user, password):
    directory = harness.make_temp_dir("tplink-creds-")
    path = os.path.join(directory, "kasa.cred")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(f"{user}\n{password}\n")
    return path


def plug_entry(name, protocol, http_port, cred, **extra):
    entry = {"name": name, "protocol": protocol, "http_port": http_port,
             "credentials_file": cred}
    entry.update(extra)
    return entry


DEVICES = [
    # name, tplinksim spec, inventory extras
    ("k1", f"klap:hs110v1@{LOOPBACK}:0,version=1,user={USER},password={PASSWORD}", "klap"),
    ("k2", f"klap:hs110v2@{LOOPBACK}:0,version=2,user={USER},password={PASSWORD}", "auto"),
    ("p110", f"klap:p110@{LOOPBACK}:0,version=2,user={USER},password={PASSWORD}", "klap"),
    ("kp125m", f"aes:kp125m@{LOOPBACK}:0,version=2,user={USER},password={PASSWORD}", "aes"),
]


def start(password):
    sim = harness.start_sim([spec for _, spec, _ in DEVICES])
    cred = creds_file(USER, password)
    closed = harness.free_port()  # k2's legacy port: nobody listens, auto falls back
    plugs = []
    for i, (name, _, protocol) in enumerate(DEVICES):
        extra = {"port": closed} if protocol == "auto" else {}
        plugs.append(plug_entry(name, protocol, sim.port(i), cred, **extra))
    daemon = harness.start_daemon(harness.inventory(plugs, interval="1s", timeout="1s"))
    return sim, daemon


def near(value, center, frac):
    return abs(value - center) <= frac * center + 1e-9


def check_no_secret(daemon, text):
    for secret in (PASSWORD, WRONG):
        assert secret not in text, "a password reached /metrics"
        assert secret not in daemon.stderr_text(), "a password reached the daemon's log"
        assert all(secret not in line for line in daemon.stdout_lines), "a password on stdout"


def command(sim, line):
    sim.send_line(line)
    answer = sim.read_line(5.0)
    assert answer == "ok", f"tplinksim: {line!r} answered {answer!r}"


def test_readings():
    sim, daemon = start(PASSWORD)
    names = [name for name, _, _ in DEVICES]
    m = harness.wait_up(daemon, names, timeout=15)

    # IOT over KLAP v1 and v2: the profiles' sysinfo and meter.
    for name, model, hw, alias, power, volts in (("k1", "HS110(EU)", "1.0", "Fridge", 78.5, 230.12),
                                                 ("k2", "HS110(EU)", "2.0", "Washing machine",
                                                  480.25, 229.87)):
        info = m.find("tplink_device_info", device=name)
        assert len(info) == 1, f"{name}: {info}"
        labels = info[0][0]
        assert labels["model"] == model and labels["hw_version"] == hw, labels
        assert labels["alias"] == alias, labels
        assert m.value("tplink_plug_relay_on", device=name) == 1
        assert near(m.value("tplink_plug_power_watts", device=name), power, 0.11), name
        assert near(m.value("tplink_plug_voltage_volts", device=name), volts, 0.021), name
        assert m.value("tplink_plug_energy_joules_total", device=name) > 0
        assert not m.has("tplink_plug_energy_month_joules", device=name)

    # SMART over KLAP (P110) and over AES (KP125M): power, month energy as a gauge, no
    # lifetime counter; voltage and current only where the device reports them.
    for name, model, alias, power, month_wh, has_volts in (
            ("p110", "P110", "Desk fan", 23.8, 455, False),
            ("kp125m", "KP125M", "Washing machine", 412.5, 12840, True)):
        labels = m.find("tplink_device_info", device=name)[0][0]
        assert labels["model"] == model and labels["alias"] == alias, labels
        assert m.value("tplink_plug_relay_on", device=name) == 1
        assert near(m.value("tplink_plug_power_watts", device=name), power, 0.11), name
        assert m.value("tplink_plug_energy_month_joules", device=name) >= month_wh * 3600
        assert m.has("tplink_plug_energy_today_joules", device=name)
        assert not m.has("tplink_plug_energy_joules_total", device=name), name
        assert m.has("tplink_plug_voltage_volts", device=name) == has_volts, name
        assert m.has("tplink_plug_current_amperes", device=name) == has_volts, name
        assert m.value("tplink_plug_wifi_rssi_dbm", device=name) < 0

    # Switching through each simulated device shows at the next polls: relay 0, power 0.
    for i in range(len(DEVICES)):
        command(sim, f"http {i} relay 0")

    def all_off():
        mm = daemon.metrics()
        ok = all(mm.get("tplink_plug_relay_on", device=n) == 0 and
                 mm.get("tplink_plug_power_watts", device=n) == 0 for n in names)
        return mm if ok else None
    harness.wait_until(all_off, 10, interval=0.1, message="every plug off")

    # The devices forget their sessions: the next polls renew them, nothing goes down.
    before = daemon.metrics()
    errors = sum(v for _, v in before.find("tplink_poll_errors_total"))
    for i in range(len(DEVICES)):
        command(sim, f"http {i} expire")
    for i in range(len(DEVICES)):
        command(sim, f"http {i} relay 1")

    def all_on():
        mm = daemon.metrics()
        return mm if all(mm.get("tplink_plug_relay_on", device=n) == 1 for n in names) else None
    m = harness.wait_until(all_on, 10, interval=0.1, message="every plug on again")
    assert sum(v for _, v in m.find("tplink_poll_errors_total")) == errors, "a renewal failed a poll"
    assert all(m.value("tplink_up", device=n) == 1 for n in names)
    check_no_secret(daemon, daemon.metrics_text())
    daemon.stop()


def test_wrong_credentials():
    sim, daemon = start(WRONG)
    names = [name for name, _, _ in DEVICES]

    def all_auth():
        mm = daemon.metrics()
        for n in names:
            if mm.get("tplink_up", device=n) != 0:
                return None
            errs = {labels["reason"]: v for labels, v in mm.find("tplink_poll_errors_total", device=n)}
            if errs.get("auth", 0) < 1:
                return None
        return mm
    m = harness.wait_until(all_auth, 15, interval=0.1, message="auth errors on every plug")
    for n in names:
        assert not m.has("tplink_plug_relay_on", device=n), f"{n}: a reading without a session"
    text = daemon.metrics_text()
    check_no_secret(daemon, text)
    assert USER not in daemon.stderr_text(), "the account e-mail reached the log"
    daemon.stop()


if __name__ == "__main__":
    harness.run([test_readings, test_wrong_credentials])
