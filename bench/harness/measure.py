"""Measurement steps shared by the experiments: a server session per kind
with rounds whose order rotates (a noisy spell then hits every server
alike), client runs with the CPUs' use alongside, medians over rounds, and
the in-process loop-wire benchmark (both stacks of a kind on one CPU)."""

import json
import os
import statistics
import subprocess

from common import BenchError, CpuSample, log, run_json
from topology import Server


def sessions(ctx, R, kinds, body, **server_args):
    """For each round, each server kind in rotated order: start it, call
    body(server, round), stop it. A failing server or step is recorded in R
    and the run goes on with the next."""
    for rnd in range(ctx.rounds):
        k = rnd % len(kinds)
        for kind in kinds[k:] + kinds[:k]:
            try:
                s = Server(ctx, kind, **server_args)
            except BenchError as e:
                R.error(f"{kind} (round {rnd + 1}): {e}")
                continue
            try:
                body(s, rnd)
            except BenchError as e:
                R.error(f"{kind} (round {rnd + 1}): {e}")
            finally:
                rc, stats = s.stop()
                if rc not in (0, None) or (rc is None and kind.startswith("ix")):
                    R.error(f"{kind} (round {rnd + 1}) exited with {rc}")
                if stats is not None:
                    R.add(server=kind, round=rnd + 1, setting="server counters",
                          **ix_counters(stats))


def ix_counters(stats):
    """What the dataplane says about itself: mean frames per busy poll, share
    of idle polls, share of its time spent on frames (busy_ns / loop_ns: an
    idle poll is far shorter than a busy one, so the poll share is not the
    load), drops."""
    it = idle = rx = drops = busy_ns = loop_ns = 0
    pool_avail = pool_fail = no_mbuf = rx_nombuf = 0
    for t in stats.get("threads", []):
        # The pool at exit and how often it ran dry: a dataplane that ends
        # with nothing available has deadlocked on its own buffers.
        pool_avail += t.get("pool", {}).get("available", 0)
        pool_fail += t.get("pool", {}).get("alloc_failures", 0)
        no_mbuf += t.get("net", {}).get("drop.no_mbuf", 0)
        rx_nombuf += t.get("queue", {}).get("rx_nombuf", 0)
        c = t.get("core", {})
        it += c.get("iterations", 0)
        idle += c.get("idle_polls", 0)
        busy_ns += c.get("busy_ns", 0)
        loop_ns += c.get("loop_ns", 0)
        rx += c.get("rx_frames", 0)
        drops += sum(v for k, v in t.get("net", {}).items() if k.startswith("drop.") and v)
    busy = it - idle
    return {"ix_mean_batch": rx / busy if busy else 0.0,
            "ix_idle_poll_fraction": idle / it if it else 0.0, "ix_drops": drops,
            "ix_busy_fraction": busy_ns / loop_ns if loop_ns else None,
            "ix_pool_available": pool_avail, "ix_pool_alloc_failures": pool_fail,
            "ix_no_mbuf_drops": no_mbuf, "ix_rx_nombuf": rx_nombuf}


def client(ctx, server, args, timeout, what, timeout_ms=2000, loopback=False):
    """One run of echo-rr-client against `server`, with CPU use; over the
    server namespace's own loopback when `loopback` (Linux servers only)."""
    cs = CpuSample().start()
    where = dict(ns=server.host.server_ns, dst="127.0.0.1") if loopback else {}
    r = run_json(server.client_argv(args, timeout_ms=timeout_ms, **where), timeout, what)
    busy = cs.stop()
    r["client_cpu_busy"] = busy.get(ctx.cpus["client"])
    r["server_cpu_busy"] = busy.get(ctx.cpus["server"])
    if r["exit_code"] != 0:
        raise BenchError(f"{what}: client failed: {json.dumps(r)}")
    return r


def median_of(rows, key, **match):
    vals = [r[key] for r in rows
            if all(r.get(k) == v for k, v in match.items()) and r.get(key) is not None]
    return statistics.median(vals) if vals else None


def ratio(a, b):
    return a / b if a is not None and b not in (None, 0) else None


def loop_bench(ctx, filt, what):
    """bench/tcp_echo_bench (two IX stacks over the in-process loop wire,
    and its Linux twin over loopback, both on one CPU): system against
    system without any scheduling between processes.
    Returns {run_name: {counter: median}}."""
    exe = os.path.join(ctx.build, "bench", "tcp_echo_bench")
    if not os.path.isfile(exe):
        raise BenchError(f"{exe} missing (cmake --build {ctx.build} --target tcp_echo_bench)")
    out = os.path.join(ctx.workdir, f"loop_{what}.json")
    argv = ["taskset", "-c", str(ctx.cpus["server"]), exe, f"--benchmark_filter={filt}",
            f"--benchmark_repetitions={ctx.p['loop_reps']}",
            f"--benchmark_min_time={ctx.p['loop_min_time']}",
            "--benchmark_enable_random_interleaving=true", "--benchmark_format=json",
            "--benchmark_out_format=json", f"--benchmark_out={out}"]
    log("run: " + " ".join(argv))
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=ctx.p["loop_timeout"])
    except subprocess.TimeoutExpired:
        raise BenchError(f"tcp_echo_bench {filt}: timed out")
    if r.returncode != 0:
        raise BenchError(f"tcp_echo_bench {filt}: exit {r.returncode}: {r.stderr[-400:]}")
    per = {}
    for b in json.load(open(out))["benchmarks"]:
        if b.get("run_type") != "iteration":
            continue
        if b.get("error_occurred") or b.get("errors", 0):
            raise BenchError(f"tcp_echo_bench {b['run_name']}: errors")
        d = per.setdefault(b["run_name"], {})
        d.setdefault("items_per_second", []).append(b["items_per_second"])
        for k in ("rtt_p50_ns", "rtt_p99_ns", "rtt_mean_ns"):
            if k in b:
                d.setdefault(k, []).append(b[k])
    return {n: {k: statistics.median(v) for k, v in d.items()} for n, d in per.items()}
