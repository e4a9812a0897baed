"""Test harness for tplink_exporter's integration and interop tests (Python 3 stdlib only).

Each test script is run by CTest with TPLINK_BUILD_DIR and TPLINK_SOURCE_DIR set. It starts the
simulator and the daemon on 127.0.0.1, reads /metrics over HTTP and compares it with what the
simulated devices answer to a direct query.

Every wait is bounded. Every process started here is stopped by PID when its test ends (and
killed by the kernel if this interpreter dies first). Exit codes: 0 all passed, 1 a failure,
77 skipped (a tool is missing) -- except under CI=true, where a skip is a failure.
"""

import ctypes
import json
import math
import os
import queue
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request

LOOPBACK = "127.0.0.1"
SKIP_CODE = 77


# --------------------------------------------------------------------------------------------
# Environment


def skip(reason):
    """Skip the whole test script (exit 77). Under CI=true a skip is a failure (exit 1)."""
    sys.stdout.flush()
    if os.environ.get("CI") == "true":
        print(f"FAIL: would skip, but CI=true: {reason}", file=sys.stderr, flush=True)
        sys.exit(1)
    print(f"SKIP: {reason}", file=sys.stderr, flush=True)
    sys.exit(SKIP_CODE)


def _env_dir(name):
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set (run the tests through ctest)")
    return value


def build_dir():
    return _env_dir("TPLINK_BUILD_DIR")


def source_dir():
    return _env_dir("TPLINK_SOURCE_DIR")


def binary(name):
    """Path of one of our programs: tplink_exporter, tplinksim or tplinkctl."""
    sub = {"tplink_exporter": "daemon", "tplinksim": "sim", "tplinkctl": "ctl"}[name]
    path = os.path.join(build_dir(), sub, name)
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"{path} is missing or not executable (build first)")
    return path


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout, interval=0.05, message=None):
    """Calls predicate until it returns a truthy value, which is returned. Raises
    AssertionError after `timeout` seconds; exceptions from predicate count as 'not yet'
    and the last one is reported."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            value = predicate()
            if value:
                return value
            last_exc = None
        except Exception as exc:  # noqa: BLE001 - reported below if it persists
            last_exc = exc
        if time.monotonic() >= deadline:
            what = message or getattr(predicate, "__name__", "condition")
            detail = f" (last error: {last_exc!r})" if last_exc else ""
            raise AssertionError(f"timed out after {timeout:.1f}s waiting for {what}{detail}")
        time.sleep(interval)


# --------------------------------------------------------------------------------------------
# Processes


_PR_SET_PDEATHSIG = 1
_live = []  # processes started and not yet stopped, newest last
_temp_dirs = []


def _die_with_parent():
    # Runs in the child between fork and exec: if this interpreter is killed (a CTest
    # timeout sends SIGKILL), the kernel sends the child SIGKILL too, so nothing is left.
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except Exception:  # noqa: BLE001 - best effort; cleanup also runs on normal exit
        pass


def make_temp_dir(prefix="tplink-test-"):
    path = tempfile.mkdtemp(prefix=prefix)
    _temp_dirs.append(path)
    return path


class Process:
    """A child process whose stdout is read line by line into a queue and whose stderr goes
    to a log file (so a chatty child cannot block on a full pipe)."""

    def __init__(self, name, argv, env=None, stdin=True, cwd=None):
        self.name = name
        self.argv = list(argv)
        self.log_path = os.path.join(make_temp_dir(f"tplink-{name}-"), "stderr.log")
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in _reap
        self.lines = queue.Queue()
        self.stdout_lines = []  # everything read so far, for failure reports
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=env,
            cwd=cwd,
            preexec_fn=_die_with_parent,
        )
        self._reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._reader.start()
        _live.append(self)

    @property
    def pid(self):
        return self.proc.pid

    def _read_stdout(self):
        # The reader owns stdout and closes it at EOF: closing it from another thread while
        # a read is under way would make that read fail (ValueError on a closed file).
        try:
            for raw in self.proc.stdout:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                self.stdout_lines.append(line)
                self.lines.put(line)
        finally:
            self.proc.stdout.close()
            self.lines.put(None)  # EOF marker

    def read_line(self, timeout):
        """The next stdout line, or raises AssertionError on timeout or EOF."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"{self.name}: no output within {timeout:.1f}s") from None
        if line is None:
            self.lines.put(None)
            code = self.proc.poll()
            raise AssertionError(f"{self.name}: stdout closed (exit status {code}): {self.stderr_tail()}")
        return line

    def send_line(self, text):
        self.proc.stdin.write(text.encode() + b"\n")
        self.proc.stdin.flush()

    def alive(self):
        return self.proc.poll() is None

    def stderr_text(self):
        if not self._log.closed:
            self._log.flush()
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stderr_tail(self, lines=20):
        return "\n".join(self.stderr_text().splitlines()[-lines:])

    def terminate(self, timeout=5.0):
        """SIGTERM, then wait up to `timeout` s; returns the exit status, or None if the
        process had to be killed."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
            code = None
        self._reap()
        return code

    def _reap(self):
        if self in _live:
            _live.remove(self)
        if self.proc.stdin:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        # The process has exited, so its stdout reaches EOF and the reader closes it. A
        # grandchild that inherited the pipe can hold it open: the (daemon) reader then
        # closes it when that one exits, and we do not wait for it.
        self._reader.join(timeout=1)
        self._log.close()

    def stop(self, timeout=5.0):
        """SIGTERM and assert a clean exit (status 0) within `timeout` s."""
        code = self.terminate(timeout)
        if code is None:
            raise AssertionError(f"{self.name} did not exit within {timeout:.0f}s of SIGTERM")
        if code != 0:
            raise AssertionError(f"{self.name} exited {code} on SIGTERM: {self.stderr_tail()}")

    def report(self):
        out = "\n".join(self.stdout_lines[-20:])
        return (f"--- {self.name} (pid {self.pid}) {' '.join(self.argv)}\n"
                f"--- stdout (tail):\n{out}\n--- stderr (tail):\n{self.stderr_tail(40)}")


def stop_all():
    """Stops every process still running (newest first), without asserting anything."""
    for p in reversed(list(_live)):
        p.terminate(timeout=3)


def _cleanup():
    stop_all()
    for d in _temp_dirs:
        shutil.rmtree(d, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# The simulator (tplinksim)


class Sim(Process):
    """tplinksim with its devices; .devices is a list of dicts {kind, profile, addr, port}
    in argument order."""

    def __init__(self, specs, timeout=10.0):
        super().__init__("tplinksim", [binary("tplinksim")] + list(specs))
        self.devices = []
        deadline = time.monotonic() + timeout
        while True:
            line = self.read_line(max(0.0, deadline - time.monotonic()))
            if line == "ready all":
                break
            m = re.fullmatch(r"ready (\S+) (.+) (\S+) (\d+)", line)
            if not m:
                continue  # tolerate banners; only "ready" lines carry meaning
            self.devices.append({"kind": m.group(1), "profile": m.group(2),
                                 "addr": m.group(3), "port": int(m.group(4))})
        if len(self.devices) != len(specs):
            raise AssertionError(f"tplinksim announced {len(self.devices)} devices for {len(specs)} specs")

    def port(self, index):
        return self.devices[index]["port"]

    def fault(self, index, fault, timeout=5.0):
        """Sets a fault (none|refuse|hang|garbage|close) on device `index`."""
        self.send_line(f"fault {index} {fault}")
        answer = self.read_line(timeout)
        if answer != "ok":
            raise AssertionError(f"tplinksim: 'fault {index} {fault}' answered {answer!r}")

    def query(self, index, obj, timeout=2.0):
        return kasa_query(LOOPBACK, self.port(index), obj, timeout)


def plug_spec(profile, port=0, alias=None, fault=None):
    """A tplinksim device argument: plug:PROFILE@127.0.0.1:PORT[,alias=..][,fault=..]."""
    spec = f"plug:{profile}@{LOOPBACK}:{port}"
    if alias is not None:
        if "," in alias:
            raise ValueError("a tplinksim alias cannot contain a comma")
        spec += f",alias={alias}"
    if fault is not None:
        spec += f",fault={fault}"
    return spec


def start_sim(specs, timeout=10.0):
    """Starts tplinksim with the given device specs (see plug_spec) and waits for 'ready all'."""
    return Sim(specs, timeout)


# --------------------------------------------------------------------------------------------
# The daemon (tplink_exporter)


class Daemon(Process):
    def __init__(self, argv, port, config_path):
        super().__init__("tplink_exporter", argv, stdin=False)
        self.port = port
        self.config_path = config_path

    @property
    def base_url(self):
        return f"http://{LOOPBACK}:{self.port}"

    def fetch(self, path, headers=None, timeout=5.0):
        return fetch(self.base_url + path, headers=headers, timeout=timeout)

    def metrics(self, timeout=5.0):
        """GETs /metrics, asserts 200, parses strictly; returns a Metrics."""
        status, _, body = self.fetch("/metrics", timeout=timeout)
        if status != 200:
            raise AssertionError(f"/metrics answered {status}")
        return parse_metrics(body.decode("utf-8"))

    def metrics_text(self, timeout=5.0):
        status, _, body = self.fetch("/metrics", timeout=timeout)
        if status != 200:
            raise AssertionError(f"/metrics answered {status}")
        return body.decode("utf-8")


def wait_up(daemon, names, value=1, timeout=10.0):
    """Waits until tplink_up{device=name} == value for every name; returns those Metrics."""
    names = list(names)

    def all_there():
        m = daemon.metrics()
        return m if all(m.get("tplink_up", device=n) == value for n in names) else None

    return wait_until(all_there, timeout, interval=0.1,
                      message=f"tplink_up == {value} for {', '.join(names)}")


def write_inventory(text, directory=None):
    directory = directory or make_temp_dir("tplink-inv-")
    path = os.path.join(directory, "inventory.yml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def inventory(plugs=(), interval="1s", timeout="500ms", switches=()):
    """YAML inventory text. plugs: iterable of (name, port) or dicts with name/host/port."""
    lines = ["defaults:", f"  interval: {interval}", f"  timeout: {timeout}"]
    for section, items in (("plugs", plugs), ("switches", switches)):
        items = list(items)
        if not items:
            continue
        lines.append(f"{section}:")
        for item in items:
            if not isinstance(item, dict):
                item = {"name": item[0], "port": item[1]}
            item = dict(item)
            item.setdefault("host", LOOPBACK)
            lines.append(f"  - name: {item.pop('name')}")
            for key, value in item.items():
                lines.append(f"    {key}: {value}")
    return "\n".join(lines) + "\n"


def start_daemon(inventory_text=None, config_path=None, args=(), timeout=15.0, attempts=3):
    """Starts tplink_exporter on a free loopback port with an inventory (text written to a
    temporary file, or an existing path) and waits until /metrics answers 200. Retries on
    a fresh port if the process exits early (a port taken in the meantime).

    The tests count polls between two scrapes, so they render on every change
    (--web.min-render-interval=0) unless args set the interval; test_render_interval runs
    the default."""
    if inventory_text is not None:
        config_path = write_inventory(inventory_text)
    last = None
    for _ in range(attempts):
        port = free_port()
        argv = [binary("tplink_exporter")]
        if config_path is not None:
            argv.append(f"--config.file={config_path}")
        argv += [f"--web.listen-address={LOOPBACK}:{port}", "--log.level=debug"] + list(args)
        if not any(str(a).startswith("--web.min-render-interval") for a in args):
            argv.append("--web.min-render-interval=0")
        d = Daemon(argv, port, config_path)
        deadline = time.monotonic() + timeout
        while d.alive() and time.monotonic() < deadline:
            try:
                status, _, _ = d.fetch("/metrics", timeout=1.0)
                if status == 200:
                    return d
            except OSError:
                pass
            time.sleep(0.05)
        if d.alive():
            report = d.report()
            d.terminate()
            raise AssertionError(f"tplink_exporter: /metrics not answering within {timeout:.0f}s\n{report}")
        last = d.report()
        d.terminate()
    raise AssertionError(f"tplink_exporter exited before serving /metrics\n{last}")


# --------------------------------------------------------------------------------------------
# HTTP


def fetch(url, headers=None, timeout=5.0):
    """GET url; returns (status, headers with lower-case names, body bytes). HTTP error
    statuses are returned, not raised; connection failures raise OSError."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


# --------------------------------------------------------------------------------------------
# Text exposition format 0.0.4: a strict parser


class FormatError(ValueError):
    pass


_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_METRIC_NAME = re.compile(_NAME)
_TYPES = ("counter", "gauge", "histogram", "summary", "untyped")
_FLOAT = re.compile(r"[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|0[xX][0-9a-fA-F]+)")
_SPECIAL = {"NaN": math.nan, "+Inf": math.inf, "-Inf": -math.inf, "Inf": math.inf}


def _parse_value(text, lineno):
    if text in _SPECIAL:
        return _SPECIAL[text]
    if not _FLOAT.fullmatch(text):
        raise FormatError(f"line {lineno}: bad value {text!r}")
    return float.fromhex(text) if "x" in text.lower() else float(text)


def _unescape_help(text, lineno):
    out = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            nxt = text[i + 1:i + 2]
            if nxt == "\\":
                out.append("\\")
            elif nxt == "n":
                out.append("\n")
            else:
                raise FormatError(f"line {lineno}: invalid escape \\{nxt} in HELP")
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _parse_labels(line, pos, lineno):
    """Parses '{a="x",b="y"}' starting at line[pos] == '{'. Returns (labels, end)."""
    labels = {}
    pos += 1
    while True:
        if line.startswith("}", pos):
            return labels, pos + 1
        m = _LABEL_NAME.match(line, pos)
        if not m:
            raise FormatError(f"line {lineno}: bad label name at column {pos + 1}")
        name = m.group(0)
        if name.startswith("__"):
            raise FormatError(f"line {lineno}: reserved label name {name!r}")
        if name in labels:
            raise FormatError(f"line {lineno}: duplicate label {name!r}")
        pos = m.end()
        if not line.startswith('="', pos):
            raise FormatError(f"line {lineno}: expected '=\"' after label {name!r}")
        pos += 2
        value = []
        while True:
            if pos >= len(line):
                raise FormatError(f"line {lineno}: unterminated value of label {name!r}")
            c = line[pos]
            if c == "\\":
                nxt = line[pos + 1:pos + 2]
                if nxt not in ('\\', '"', "n"):
                    raise FormatError(f"line {lineno}: invalid escape \\{nxt} in label {name!r}")
                value.append("\n" if nxt == "n" else nxt)
                pos += 2
            elif c == '"':
                pos += 1
                break
            else:
                value.append(c)
                pos += 1
        labels[name] = "".join(value)
        if line.startswith(",", pos):
            pos += 1
        elif not line.startswith("}", pos):
            raise FormatError(f"line {lineno}: expected ',' or '}}' after label {name!r}")


def _family_of(name, types):
    """The family a sample name belongs to, given the TYPEs seen so far."""
    for suffix, kinds in (("_bucket", ("histogram",)), ("_sum", ("histogram", "summary")),
                          ("_count", ("histogram", "summary"))):
        if name.endswith(suffix):
            base = name[: -len(suffix)]
            if types.get(base) in kinds:
                return base
    return name


class Metrics(dict):
    """{(name, frozenset(labels.items())): value} plus each family's type and help."""

    def __init__(self):
        super().__init__()
        self.types = {}
        self.help = {}

    def find(self, name, **labels):
        """[(labels dict, value)] of the series of `name` whose labels include `labels`."""
        want = set(labels.items())
        return [(dict(ls), v) for (n, ls), v in self.items() if n == name and want <= ls]

    def get(self, name, **labels):  # noqa: A003 - the harness API; dict.get is not used
        """The value of the one series of `name` matching `labels`, or None if there is
        none. Raises if several match (the labels given are ambiguous)."""
        hits = self.find(name, **labels)
        if len(hits) > 1:
            raise AssertionError(f"{name}{labels} matches {len(hits)} series: {hits}")
        return hits[0][1] if hits else None

    def value(self, name, **labels):
        """Like get(), but a missing series is an AssertionError."""
        v = self.get(name, **labels)
        if v is None:
            raise AssertionError(f"no series {name}{labels}")
        return v

    def has(self, name, **labels):
        return bool(self.find(name, **labels))


def parse_metrics(text, require_help=True, allow_timestamps=False):
    """Parses the text format 0.0.4 strictly and returns a Metrics. Raises FormatError on:
    missing final newline; HELP/TYPE after a family's samples or twice; a family's lines
    not in one contiguous group; duplicate series; bad names, label escapes or values;
    with require_help, a sample whose family has no HELP and TYPE; timestamps unless
    allowed (an exporter should not set them)."""
    out = Metrics()
    if text and not text.endswith("\n"):
        raise FormatError("the last line does not end with a line feed")
    done = set()       # families whose group has ended
    current = None     # family of the group being read
    sampled = set()    # families that have samples
    for lineno, line in enumerate(text.split("\n")[:-1] if text else [], start=1):
        if line.strip() == "":
            continue
        if line.startswith("#"):
            m = re.match(r"#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t](.*))?$", line)
            if not m:
                continue  # a plain comment
            kind, name, rest = m.group(1), m.group(2), m.group(3) or ""
            if not _METRIC_NAME.fullmatch(name):
                raise FormatError(f"line {lineno}: bad metric name {name!r} in {kind}")
            family = name
            if family != current:
                if family in done:
                    raise FormatError(f"line {lineno}: family {family} is not one contiguous group")
                if current is not None:
                    done.add(current)
                current = family
            if family in sampled:
                raise FormatError(f"line {lineno}: {kind} for {family} after its samples")
            if kind == "HELP":
                if family in out.help:
                    raise FormatError(f"line {lineno}: second HELP for {family}")
                out.help[family] = _unescape_help(rest, lineno)
            else:
                if family in out.types:
                    raise FormatError(f"line {lineno}: second TYPE for {family}")
                if rest.strip() not in _TYPES:
                    raise FormatError(f"line {lineno}: unknown type {rest!r} for {family}")
                out.types[family] = rest.strip()
            continue
        m = _METRIC_NAME.match(line)
        if not m:
            raise FormatError(f"line {lineno}: bad sample line {line!r}")
        name = m.group(0)
        pos = m.end()
        labels = {}
        if line.startswith("{", pos):
            labels, pos = _parse_labels(line, pos, lineno)
        rest = line[pos:]
        if not rest[:1] in (" ", "\t"):
            raise FormatError(f"line {lineno}: expected a space before the value")
        fields = rest.split()
        if len(fields) == 2:
            if not allow_timestamps:
                raise FormatError(f"line {lineno}: sample has a timestamp")
            if not re.fullmatch(r"-?\d+", fields[1]):
                raise FormatError(f"line {lineno}: bad timestamp {fields[1]!r}")
        elif len(fields) != 1:
            raise FormatError(f"line {lineno}: expected 'value [timestamp]' after the series")
        value = _parse_value(fields[0], lineno)
        family = _family_of(name, out.types)
        if family != current:
            if family in done:
                raise FormatError(f"line {lineno}: family {family} is not one contiguous group")
            if current is not None:
                done.add(current)
            current = family
        if require_help and (family not in out.types or family not in out.help):
            raise FormatError(f"line {lineno}: {family} has samples but no HELP and TYPE before them")
        if out.types.get(family) == "histogram" and name == family + "_bucket" and "le" not in labels:
            raise FormatError(f"line {lineno}: bucket without le")
        sampled.add(family)
        key = (name, frozenset(labels.items()))
        if key in out:
            raise FormatError(f"line {lineno}: duplicate series {name}{labels}")
        out[key] = value
    return out


def escape_label_value(value):
    """How the text format writes a label value (for asserting on raw output)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


# --------------------------------------------------------------------------------------------
# Kasa legacy protocol client: 4-byte big-endian length, then the JSON XOR'd with an autokey
# cipher whose key starts at 171 and is then the previous cipher byte.

KASA_MAX_REPLY = 1 << 20


def kasa_encrypt(plain):
    key = 171
    out = bytearray(len(plain))
    for i, b in enumerate(plain):
        key ^= b
        out[i] = key
    return bytes(out)


def kasa_decrypt(cipher):
    key = 171
    out = bytearray(len(cipher))
    for i, b in enumerate(cipher):
        out[i] = key ^ b
        key = b
    return bytes(out)


def _recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError(f"connection closed after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def kasa_query(host, port, obj, timeout=2.0, attempts=3):
    """Sends one request (a dict) over TCP and returns the decoded reply dict. Header and
    body go out in one write (the npm peer treats each segment as a frame). Retries a
    refused or reset connection, since a device may be busy with the daemon's poll."""
    payload = json.dumps(obj, separators=(",", ":")).encode()
    frame = struct.pack(">I", len(payload)) + kasa_encrypt(payload)
    last = None
    for attempt in range(attempts):
        try:
            with socket.create_connection((host, port), timeout=timeout) as s:
                s.settimeout(timeout)
                s.sendall(frame)
                (length,) = struct.unpack(">I", _recv_exact(s, 4))
                if length > KASA_MAX_REPLY:
                    raise ValueError(f"reply length {length} exceeds {KASA_MAX_REPLY}")
                return json.loads(kasa_decrypt(_recv_exact(s, length)).decode("utf-8"))
        except (ConnectionRefusedError, ConnectionResetError) as exc:
            last = exc
            time.sleep(0.1 * (attempt + 1))
    raise last


SYSINFO_AND_METER = {"system": {"get_sysinfo": {}}, "emeter": {"get_realtime": {}}}


def plug_reading(reply):
    """Normalises a sysinfo+emeter reply to base units: {relay, on_time, rssi, model, hw, fw,
    mac, alias, meter} where meter is None without an energy meter, else {power (W),
    voltage (V), current (A), energy (J)}. Accepts v1 floats and v2 milli-unit ints."""
    si = reply["system"]["get_sysinfo"]
    out = {"relay": si.get("relay_state"), "on_time": si.get("on_time"), "rssi": si.get("rssi"),
           "model": si.get("model"), "hw": si.get("hw_ver"), "fw": si.get("sw_ver"),
           "mac": si.get("mac"), "alias": si.get("alias"), "meter": None}
    em = reply.get("emeter", {})
    rt = em.get("get_realtime") if isinstance(em, dict) else None
    if isinstance(rt, dict) and rt.get("err_code", 0) == 0 and em.get("err_code", 0) == 0:
        def pick(v1, v2, scale):
            if v1 in rt:
                return float(rt[v1]) * scale[0]
            if v2 in rt:
                return float(rt[v2]) * scale[1]
            return None
        out["meter"] = {
            "power": pick("power", "power_mw", (1.0, 1e-3)),
            "voltage": pick("voltage", "voltage_mv", (1.0, 1e-3)),
            "current": pick("current", "current_ma", (1.0, 1e-3)),
            "energy": pick("total", "total_wh", (3.6e6, 3600.0)),
        }
    return out


def close_to(a, b, rel=1e-9, abs_=1e-9):
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)


def within_seen(value, seen, frac=0.05, abs_=1e-6):
    """True if value lies within [min(seen), max(seen)] widened by frac of each end."""
    lo, hi = min(seen), max(seen)
    return lo - abs(lo) * frac - abs_ <= value <= hi + abs(hi) * frac + abs_


# --------------------------------------------------------------------------------------------
# Running a test script


def run(tests):
    """Runs test functions in order; after each, stops what it left running. Prints one
    line per test, the logs of processes that were running when a test failed, and
    'N passed, N failed'. Exits 0 if all passed, else 1."""
    passed = failed = 0
    try:
        for test in tests:
            name = test.__name__
            started = time.monotonic()
            try:
                test()
            except Exception:  # noqa: BLE001 - every failure is reported the same way
                failed += 1
                print(f"FAIL {name} ({time.monotonic() - started:.1f}s)", flush=True)
                traceback.print_exc(file=sys.stdout)
                for p in list(_live):
                    print(p.report(), flush=True)
            else:
                passed += 1
                print(f"PASS {name} ({time.monotonic() - started:.1f}s)", flush=True)
            finally:
                stop_all()
    finally:
        _cleanup()
    print(f"{passed} passed, {failed} failed", flush=True)
    sys.exit(1 if failed else 0)


def _on_signal(signum, frame):
    # CTest stops a test that runs too long; take the children down with us.
    _cleanup()
    sys.exit(128 + signum)


signal.signal(signal.SIGTERM, _on_signal)
