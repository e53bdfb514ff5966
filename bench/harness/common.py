"""Shared pieces of the benchmark harness: the run's settings, the machine,
processes that are always stopped, CPU use from /proc/stat, and the result
records every experiment appends to.

Only the standard library: the harness must run on a bare Debian with the
project's packages (matplotlib is used by plots.py alone)."""

import json
import os
import platform
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class BenchError(Exception):
    """An experiment step that failed; recorded in the results, the run goes on."""


def machine():
    """What the results were measured on: CPU model (lscpu), cores, kernel."""
    model = "unknown"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
                break
    except (OSError, subprocess.TimeoutExpired):
        pass
    return {"cpu_model": model, "cpus": os.cpu_count(), "kernel": platform.release(),
            "load_average": " ".join(open("/proc/loadavg").read().split()[:3])}


def cpu_times():
    """The aggregate CPU line of /proc/stat: user .. steal, in clock ticks."""
    with open("/proc/stat") as f:
        return [int(x) for x in f.readline().split()[1:9]]


def steal_share(before, after):
    """Share of CPU time the hypervisor gave to others between two
    cpu_times(): in a VM, each stolen slice stalls whatever ran there, so
    it sets a floor under every p99 (a stall of milliseconds, 1% of the
    time, is the p99)."""
    d = [b - a for a, b in zip(before, after)]
    return d[7] / sum(d) if sum(d) > 0 else None


def cpu_layout():
    """One core for the client, one for the server (the last CPU), as on two
    machines; with more cores, the second server core of the 2-core IX run is
    the one below the server's, so it never shares with the client."""
    n = os.cpu_count() or 1
    server = n - 1
    client = 0
    second = n - 2 if n >= 3 else 0
    return {"client": client, "server": server, "server2": [second, server] if n >= 2 else [0],
            "shared_second_core": n < 3}


class CpuSample:
    """Busy fraction of chosen CPUs between start() and stop() (/proc/stat)."""

    @staticmethod
    def _read():
        v = {}
        for line in open("/proc/stat"):
            f = line.split()
            if f[0].startswith("cpu") and f[0] != "cpu":
                nums = list(map(int, f[1:]))
                v[int(f[0][3:])] = (sum(nums), nums[3] + nums[4])  # total, idle+iowait
        return v

    def start(self):
        self.t0 = self._read()
        return self

    def stop(self):
        t1 = self._read()
        self.busy = {}
        for cpu, (tot, idle) in t1.items():
            tot0, idle0 = self.t0.get(cpu, (0, 0))
            d = max(1, tot - tot0)
            self.busy[cpu] = round(1 - (idle - idle0) / d, 3)
        return self.busy


class Procs:
    """Every background process the harness starts, so that a failure or an
    interrupt still stops each one (SIGINT first, then SIGKILL)."""

    def __init__(self):
        self.live = []

    def start(self, argv, logfile):
        log("start: " + " ".join(argv))
        f = open(logfile, "w")
        p = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             start_new_session=True)
        p.logfile = logfile
        f.close()
        self.live.append(p)
        return p

    def stop(self, p, grace=5.0):
        """Stops p; returns its exit code (None if it had to be killed)."""
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGINT)
            except ProcessLookupError:
                pass
            try:
                p.wait(grace)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
                if p in self.live:
                    self.live.remove(p)
                return None
        if p in self.live:
            self.live.remove(p)
        return p.returncode

    def stop_all(self):
        for p in list(self.live):
            self.stop(p, grace=2.0)


def run_json(argv, timeout, what):
    """Runs a measuring client to completion (bounded by `timeout` seconds) and
    returns its `json: {...}` line parsed, plus its first line of text."""
    log("run: " + " ".join(argv))
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise BenchError(f"{what}: no result within {timeout:.0f} s")
    data = None
    for line in r.stdout.splitlines():
        if line.startswith("json: "):
            data = json.loads(line[6:])
    if data is None:
        raise BenchError(f"{what}: exit {r.returncode}, no JSON line; output: "
                         f"{(r.stdout + r.stderr).strip()[-600:]}")
    data["exit_code"] = r.returncode
    return data


class Results:
    """Rows of one experiment: each row a flat dict (server, setting, metric
    values). Saved as <name>.json (with notes and bounds) and <name>.csv."""

    def __init__(self, name, title):
        self.name, self.title = name, title
        self.rows, self.notes, self.bounds, self.errors = [], [], [], []
        self.summary = []  # (label, ix, linux, ratio, goal, met) for the README table
        # What the two value columns of the summary hold (batching compares
        # IX with itself, so its columns are throughput and latency).
        self.columns = ("IX", "Linux")

    def add(self, **row):
        self.rows.append(row)
        return row

    def error(self, what):
        log(f"ERROR {self.name}: {what}")
        self.errors.append(str(what))

    def to_dict(self):
        return {"name": self.name, "title": self.title, "columns": list(self.columns),
                "rows": self.rows, "notes": self.notes,
                "bounds": self.bounds, "errors": self.errors,
                "summary": [dict(zip(("metric", "ix", "linux", "ratio", "goal", "goal_met"), s))
                            for s in self.summary]}

    def save(self, outdir):
        with open(os.path.join(outdir, f"{self.name}.json"), "w") as f:
            json.dump(self.to_dict(), f, indent=1)
        # Lists (a search's measured points) are kept in the JSON only.
        cols = []
        for r in self.rows:
            for k, v in r.items():
                if k not in cols and not isinstance(v, list):
                    cols.append(k)
        with open(os.path.join(outdir, f"{self.name}.csv"), "w") as f:
            f.write(",".join(cols) + "\n")
            for r in self.rows:
                f.write(",".join(csv_cell(r.get(c)) for c in cols) + "\n")


def csv_cell(v):
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    s = str(v)
    if any(ch in s for ch in ',"\n'):
        s = '"' + s.replace('"', '""') + '"'
    return s


def build_path(build, name):
    p = os.path.join(build, name)
    return p if os.path.isfile(p) and os.access(p, os.X_OK) else None
