#!/usr/bin/env python3
"""Writes the hand-made seed inputs of tests/fuzz/corpus/<target>/ (seed-* files), from the
simulator's plug profiles, the Easy Smart fixtures and shapes written here. Re-run after
changing an input format; files the fuzzer added (other names) are left alone.

usage: tests/fuzz/make-seeds.py
"""
import base64
import json
import os
import re
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def compact(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def xor_encrypt(plain):
    key, out = 171, bytearray()
    for b in plain:
        key ^= b
        out.append(key)
    return bytes(out)


def frame(plain):
    return struct.pack(">I", len(plain)) + xor_encrypt(plain)


def profiles():
    d = os.path.join(ROOT, "sim", "profiles")
    for name in sorted(os.listdir(d)):
        if name.endswith(".json"):
            with open(os.path.join(d, name)) as f:
                yield name[:-5], json.load(f)


def replies(profile):
    """What a plug answers to the three requests a poll sends."""
    si = {"system": {"get_sysinfo": profile["system"]["get_sysinfo"]}}
    em = {"emeter": profile.get("emeter", {"err_code": -1, "err_msg": "module not support"})}
    if "get_realtime" in em["emeter"]:
        em = {"emeter": {"get_realtime": em["emeter"]["get_realtime"]}}
    both = dict(si, **em)
    return {"sysinfo": compact(si), "emeter": compact(em), "both": compact(both)}


def plugs():
    for name, prof in profiles():
        r = replies(prof)
        for kind, body in r.items():
            write("iot_json", f"{name}-{kind}", body)
        # kasa_frame: byte 0 even = raw stream, odd = plaintext framed by the target.
        write("kasa_frame", f"{name}-plain", b"\x01\x07" + r["both"])
        write("kasa_frame", f"{name}-stream", b"\x00\x07" + frame(r["sysinfo"]) + frame(r["emeter"]))
        write("kasa_frame", f"{name}-bytewise", b"\x02\x00" + frame(r["both"]))
    write("iot_json", "device-error", b'{"system":{"get_sysinfo":{"err_code":-3,"err_msg":"x"}}}')
    write("iot_json", "emeter-unsupported", b'{"emeter":{"err_code":-2001,"err_msg":"no"}}')
    write("iot_json", "v1-floats", b'{"emeter":{"get_realtime":{"current":0.1,"voltage":230.5,'
          b'"power":12.25,"total":1.5,"err_code":0}}}')
    # discovery: replies separated by NUL bytes
    both = [replies(prof)["both"] for _, prof in profiles()]
    write("discovery", "profiles", b"\0".join(both))
    write("discovery", "strip", compact({"system": {"get_sysinfo": {
        "alias": "Büro \u2028 \"x\" \\ strip", "model": "HS300(US)", "mac": "AA:BB:CC:DD:EE:FF",
        "deviceId": "80061234", "child_num": 6, "children": [
            {"id": "8006123400", "state": 1, "alias": "a", "on_time": 5},
            {"id": "01", "state": 0, "alias": "b"}], "feature": "TIM:ENE"}}}) + b"\0" +
        compact({"system": {"get_sysinfo": {"alias": "", "mac": "aa-bb-cc-00-11-22"}}}))
    write("iot_json", "strip", compact({"system": {"get_sysinfo": {
        "alias": "strip", "model": "HS300(US)", "deviceId": "8006ABCD", "feature": "TIM:ENE",
        "led_off": 0, "updating": 0, "children": [
            {"id": "8006ABCD00", "state": 1, "alias": "one", "on_time": 5},
            {"id": "8006ABCD01", "state": 0, "alias": "two", "on_time": 0}]}},
        "cnCloud": {"get_info": {"binded": 1, "err_code": 0}}}))
    write("iot_json", "strip-udp-ids", compact({"system": {"get_sysinfo": {
        "model": "KP303(UK)", "deviceId": "8006ABCD", "children": [
            {"id": "00", "state": 1}, {"id": "1", "state": 1}, {"id": "02", "state": 0}]}}}))
    write("iot_json", "outlet-meter", b'{"emeter":{"get_realtime":{"voltage_mv":120368,'
          b'"current_ma":10,"power_mw":900,"total_wh":5,"err_code":0}}}')
    write("set_cookie", "klap", b" TP_SESSIONID=0123456789ABCDEF;TIMEOUT=86400\r\n")
    write("set_cookie", "aes", b" SESSIONID=\"abc\"; Path=/; HttpOnly\r\n"
          b" TIMEOUT=1440\r\n")
    write("kasa_frame", "too-long", b"\x00\x01\x00\x01\x00\x01xyz")
    write("kasa_frame", "empty-frame", b"\x00\x03\x00\x00\x00\x00" + frame(b"{}"))


def smart():
    info = {"device_id": "80221B", "fw_ver": "1.1.3 Build 240523 Rel.175054", "hw_ver": "1.0",
            "type": "SMART.KASAPLUG", "model": "KP125M", "mac": "78-8C-B5-00-11-22",
            "nickname": base64.b64encode("Küche".encode()).decode(), "device_on": True,
            "on_time": 3600, "rssi": -52, "signal_level": 2}
    energy = {"today_runtime": 60, "month_runtime": 600, "today_energy": 12,
              "month_energy": 345, "current_power": 10500}
    emeter = {"power_mw": 10500, "voltage_mv": 121000, "current_ma": 90, "energy_wh": 345}
    # byte 0 picks the method: 0 device info, 1 energy usage, 2 emeter data, 3 multiple
    write("smart_json", "device-info", b"\x00" + compact({"error_code": 0, "result": info}))
    write("smart_json", "energy", b"\x01" + compact({"error_code": 0, "result": energy}))
    write("smart_json", "emeter", b"\x02" + compact({"error_code": 0, "result": emeter}))
    multi = {"error_code": 0, "result": {"responses": [
        {"method": "get_device_info", "error_code": 0, "result": info},
        {"method": "get_energy_usage", "error_code": 0, "result": energy},
        {"method": "get_emeter_data", "error_code": -1002},
    ]}}
    write("smart_json", "multi", b"\x03" + compact(multi))
    write("smart_json", "session-expired", b"\x00" + compact({"error_code": 9999}))

    def disc(result, flags=0):
        body = compact({"error_code": 0, "result": result})
        hdr = struct.pack(">BBHHBBII", 2, 0, 1, len(body), flags, 0, 0x1234, 0x5A6B7C8D)
        crc = zlib.crc32(hdr + body)
        return hdr[:12] + struct.pack(">I", crc) + body

    base = {"device_id": "abcdef", "device_model": "KP125M(US)", "ip": "127.0.0.1",
            "mac": "78-8C-B5-00-11-22", "device_type": "SMART.KASAPLUG"}
    write("disc20002", "smart-klap", disc(dict(base, mgt_encrypt_schm={
        "is_support_https": False, "encrypt_type": "KLAP", "http_port": 80, "lv": 2})))
    write("disc20002", "smart-aes", disc(dict(base, mgt_encrypt_schm={
        "encrypt_type": "AES", "http_port": 80, "lv": 2})))
    write("disc20002", "iot-klap", disc(dict(base, device_type="IOT.SMARTPLUGSWITCH",
                                             new_klap=1, mgt_encrypt_schm={"encrypt_type": "KLAP"})))
    write("disc20002", "error", b"\x02\x00\x00\x01" + bytes(12) + b'{"error_code":-1}')


def crypto():
    # klap: byte 0 = mode | version 2 (4) | check_sig (8); bytes 1-4 seq; payload
    write("klap", "handshake1-v1", b"\x00\x00\x00\x00\x01" + bytes(range(48)))
    write("klap", "handshake1-v2", b"\x04\x00\x00\x00\x01" + bytes(range(48)))
    write("klap", "decrypt", b"\x01\x7f\xff\xff\xff" + bytes(range(64)))
    write("klap", "decrypt-sig", b"\x09\x80\x00\x00\x00" + bytes(range(80)))
    for name, prof in profiles():
        write("klap", f"seal-{name}", b"\x06\x7f\xff\xff\xff" + replies(prof)["both"])
    write("klap", "genuine", b"\x07\x00\x00\x00\x05" + bytes(range(16)))

    # aes: byte 0 % 6 = mode
    key128 = base64.b64encode(bytes(range(128))).decode()
    write("aes", "handshake", b"\x00" + compact({"error_code": 0, "result": {"key": key128}}))
    write("aes", "handshake-error", b"\x00" + compact({"error_code": -1010}))
    resp = base64.b64encode(bytes(range(32))).decode()
    write("aes", "unwrap", b"\x01" + compact({"error_code": 0, "result": {"response": resp}}))
    write("aes", "token", b"\x02" + compact({"error_code": 0, "result": {"token": "ABCDEF0123"}}))
    write("aes", "b64", b"\x03" + b"SGVsbG8s\n IHdvcmxk\r\nIQ==\n")
    write("aes", "wrap", b"\x04" + b'{"method":"get_device_info","request_time_milis":1}')
    write("aes", "rsa-32", b"\x05" + bytes(range(32)))
    write("aes", "rsa-31", b"\x05" + bytes(range(31)))


def easysmart():
    scripts = []
    d = os.path.join(ROOT, "tests", "fixtures", "easy-smart")
    for dirpath, _, files in sorted(os.walk(d)):
        for name in sorted(files):
            if not name.endswith((".htm", ".html")):
                continue
            with open(os.path.join(dirpath, name), "rb") as f:
                page = f.read()
            found = re.findall(rb"<script[^>]*>(.*?)</script>", page, re.S | re.I)
            if found:
                stem = os.path.basename(dirpath) + "-" + name.rsplit(".", 1)[0]
                write("es_js", stem, b"</script>".join(found))
                scripts.append(found[0])
    write("es_js", "literals", b"var a = [1, -2, 3.5, 0x1f, 1e3, 'x\\'y', \"\\u00e9\\x41\", "
          b"/re[/]g/, {k: [new Array(1,2,), {}]}, true, null,];\nlet b = f(1);\n"
          b"function g(){ var hidden = 1; }\nconst c = `t`; // end")
    # byte 0x01, a count, head NUL unit NUL tail: the unit is repeated (count + 1) * 4 times
    write("es_js", "repeat-nodes", b"\x01\xff" + b"\0var a = [" + b"0," * 100 + b"];\n")
    write("es_js", "repeat-array", b"\x01\xff" + b"var a = [\0" + b"1,1,")
    write("es_js", "repeat-string", b"\x01\xff" + b"var s = '\0" + b"\\x41" * 20 + b"\0';")
    write("es_js", "repeat-vars", b"\x01\xff" + b"\0var a=1;let b=2;const c=3;var d=4;var e=5;")
    write("es_page", "login-form", b"<html><body><form name=logon action=\"/logon.cgi\" "
          b"method=post><input name=username></form></body></html>")
    write("es_page", "login-script", b"<script>\nvar logonInfo = new Array(\n4,\n0,0);\n"
          b"var g_Lan = 452;\n</script>\n<html></html>")
    write("es_page", "port-settings-lag", b"<script>\nvar max_port_num = 2;\nvar all_info = {\n"
          b"state:[1,0],\ntrunk_info:[0,1],\nspd_cfg:[1,6],\nspd_act:[6,0],\nfc_cfg:[0,1],\n"
          b"fc_act:[0,1]\n};\n</script>")


def inventory():
    write("inventory", "minimal", "plugs:\n  - { name: a, host: 127.0.0.1 }\n")
    write("inventory", "switch-file", "switches:\n  - name: s\n    host: ::1\n"
          "    password_file: s.pass\n    port: 8080\n")
    write("inventory", "switch-inline", "defaults: {interval: 1m, timeout: 500ms}\n"
          "switches: [{name: s, host: h, username: u, password: 'p w'}]\n")
    write("inventory", "alias", "plugs:\n  - &x { name: a, host: h }\n  - *x\n")
    write("inventory", "duplicate", "plugs:\n  - {name: a, host: h}\n  - {name: a, host: g}\n")
    write("inventory", "timing", "defaults:\n  interval: 1s\nplugs:\n"
          "  - {name: a, host: h, timeout: 2s}\n")
    write("inventory", "plug-protocols", "plugs:\n  - {name: a, host: h, transport: udp}\n"
          "  - {name: b, host: h, protocol: klap, http_port: 8080, klap_version: 2,"
          " credentials_file: k.cred}\n  - {name: c, host: h, protocol: aes}\n"
          "  - {name: d, host: h, protocol: legacy, transport: tcp}\n")
    write("inventory", "bad-utf8", b"plugs:\n  - {name: \xff, host: h}\n")


def durations():
    for i, d in enumerate(["15s", "1h30m", "500ms", "1y2w3d4h5m6s7ms", "0s", "1m1h", "1.5s",
                           "9223372036854775807ms", "106751991167d", "-1s", "30"]):
        write("duration", f"{i:02d}", d)


def main():
    plugs()
    smart()
    crypto()
    easysmart()
    inventory()
    durations()


if __name__ == "__main__":
    main()
