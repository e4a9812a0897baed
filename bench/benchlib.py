"""Shared pieces of the benchmark scripts in bench/ (Python 3 standard library only).

Builds what is missing, starts tplinksim (in shards when one process cannot hold every
socket), the daemon and other programs through the integration harness's Process class (so
every child dies with us), and reads CPU time and peak memory from /proc.
"""

import os
import platform
import resource
import socket
import subprocess
import sys
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(BENCH_DIR)
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "integration"))

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def build_dir(arg=None):
    return os.path.abspath(arg or os.environ.get("TPLINK_BUILD_DIR") or os.path.join(SOURCE_DIR, "build"))


def ensure_built(build, targets):
    """Configures (Release-like RelWithDebInfo, the project default) and builds `targets` in
    `build` when any is missing or older than the sources; cmake decides what to redo."""
    if not os.path.exists(os.path.join(build, "CMakeCache.txt")):
        subprocess.run(["cmake", "-S", SOURCE_DIR, "-B", build], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", build, "-j2", "--target"] + list(targets), check=True,
                   stdout=subprocess.DEVNULL)


def use_harness(build):
    """Imports tests/integration/harness.py with the environment it expects."""
    os.environ["TPLINK_BUILD_DIR"] = build
    os.environ["TPLINK_SOURCE_DIR"] = SOURCE_DIR
    import harness  # noqa: E402 - needs the environment above
    return harness


def raise_nofile():
    """Raises the soft descriptor limit to the hard one (children inherit it); returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def plug_addresses(n):
    """n distinct loopback addresses 127.10.X.Y (Y in 1..250), all on port 9999."""
    if n > 250 * 256:
        raise ValueError("at most 64,000 plugs")
    return [f"127.10.{i // 250}.{i % 250 + 1}" for i in range(n)]


def machine():
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {model}, Linux {platform.release()}"


def load_average():
    return os.getloadavg()[0]


def cpu_seconds(pid):
    """utime + stime of a process (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def status_kib(pid, key):
    """A 'kB' field of /proc/PID/status (VmHWM: peak RSS, VmRSS: current)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def stop(proc, timeout=10.0):
    """SIGTERM, wait for the exit and for the harness's stdout reader to see EOF, then let the
    harness reap it. (Reaping first closes stdout under the reader thread, which then dies
    with a ValueError traceback.)"""
    p = proc.proc
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)
    proc._reader.join(timeout=5)
    return proc.terminate(timeout=1)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SimShards:
    """tplinksim serving `addresses` (port 9999 each) with one profile, split over as many
    processes as the descriptor limit needs: a plug holds a TCP and a UDP socket, plus its
    connections (at most 512 per process)."""

    def __init__(self, harness, addresses, profile, nofile, extra_specs=(), timeout=120.0):
        """extra_specs (switches: one listening socket each) go to the first process."""
        per_process = max(1, (nofile - 64 - 512 - len(extra_specs)) // 2)
        self.procs = []
        for start in range(0, max(len(addresses), 1), per_process):
            chunk = addresses[start:start + per_process]
            specs = [f"plug:{profile}@{a}:9999" for a in chunk]
            if start == 0:
                specs += list(extra_specs)
            self.procs.append(harness.Sim(specs, timeout=timeout))

    @property
    def pids(self):
        return [p.pid for p in self.procs]

    def cpu_seconds(self):
        return sum(cpu_seconds(pid) for pid in self.pids)

    def alive(self):
        return all(p.alive() for p in self.procs)

    def stop(self):
        for p in self.procs:
            stop(p)


def inventory_text(names_hosts, interval="10s", timeout="2s", switches=(), plug_keys=None):
    lines = ["defaults:", f"  interval: {interval}", f"  timeout: {timeout}", "plugs:"]
    extra = "".join(f", {k}: {v}" for k, v in (plug_keys or {}).items())
    for name, host in names_hosts:
        lines.append(f"  - {{name: {name}, host: {host}{extra}}}")
    if switches:
        lines.append("switches:")
        for sw in switches:
            lines.append("  - {" + ", ".join(f"{k}: {v}" for k, v in sw.items()) + "}")
    return "\n".join(lines) + "\n"


def start_daemon(harness, inventory, log_level="warn", timeout=120.0, ready_path="/metrics"):
    """tplink_exporter on a free loopback port; waits until ready_path answers 200 ("/", the
    landing page, tells it is up without a render of the exposition)."""
    path = harness.write_inventory(inventory)
    port = free_port()
    argv = [harness.binary("tplink_exporter"), f"--config.file={path}",
            f"--web.listen-address=127.0.0.1:{port}", f"--log.level={log_level}"]
    d = harness.Daemon(argv, port, path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not d.alive():
            raise RuntimeError(f"tplink_exporter exited: {d.stderr_tail()}")
        try:
            status, _, _ = d.fetch(ready_path, timeout=10.0)
            if status == 200:
                return d
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"tplink_exporter: {ready_path} not answering")


def metric_sum(text, name):
    """Sum of every sample of `name` in an exposition (no parsing beyond the name)."""
    total = 0.0
    prefix = name + "{"
    for line in text.split("\n"):
        if line.startswith(prefix) or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


def table(rows, header):
    """Left-aligned first column, right-aligned others."""
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    out = []
    for r in [header] + rows:
        cells = [str(c).ljust(widths[0]) if i == 0 else str(c).rjust(widths[i])
                 for i, c in enumerate(r)]
        out.append("  ".join(cells))
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)
