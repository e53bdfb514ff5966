"""Experiment 4: connection scalability, echo throughput as concurrent
connections grow. Same client over veth against IX and Linux epoll, each
connection persistent with one 64-byte message in flight; on the loop wire
(two IX stacks in one process) up to 100,000 connections with the SCALE
bench when it is built."""

import json
import os
import subprocess

from common import Results, log
from measure import client, median_of, ratio, sessions


def run(ctx):
    R = Results("scale", "echo throughput as connections grow")
    counts, secs, warm = ctx.p["scale_conns"], ctx.p["seconds"], ctx.p["warmup"]

    def body(s, rnd):
        for c in counts:
            # Opening many connections takes a while on a loaded host; the
            # warm-up covers it so only the steady state is measured.
            w = warm + c / 5000
            r = client(ctx, s, ["rr", "--conns", str(c), "--rounds", "1000000000", "--size", "64",
                                "--seconds", str(secs), "--warmup", f"{w:.2f}"],
                       secs + w + 90, f"{s.kind} {c} conns", timeout_ms=10000)
            R.add(view="same-client", server=s.kind, conns=c, round=rnd + 1,
                  msgs_per_sec=r["msgs_per_sec"], p50_us=r["p50_us"], p99_us=r["p99_us"],
                  connect_failures=r["connect_failures"], stalls=r["stalls"],
                  client_cpu_busy=r["client_cpu_busy"], server_cpu_busy=r["server_cpu_busy"])

    sessions(ctx, R, ["ix", "linux-epoll"], body)
    loop_scale(ctx, R)

    g = lambda key, **m: median_of(R.rows, key, **m)
    loop_counts = ctx.p["scale_loop_conns"]
    loop_base = g("msgs_per_sec", view="system", server="ix-loopwire", conns=min(loop_counts)) \
        if loop_counts else None
    for c in loop_counts:
        v = g("msgs_per_sec", view="system", server="ix-loopwire", conns=c)
        if v is not None:
            R.summary.append((f"msgs/s with {c} connections, two IX stacks on the loop wire "
                              "(one CPU for both)", v, None, None, "no failure",
                              g("errors", view="system", server="ix-loopwire", conns=c) == 0))
    for c in counts:
        ix = g("msgs_per_sec", view="same-client", server="ix", conns=c)
        lx = g("msgs_per_sec", view="same-client", server="linux-epoll", conns=c)
        R.summary.append((f"msgs/s with {c} connections, same client over veth", ix, lx,
                          ratio(ix, lx), "-", None))
    # Issue 13's goal: many connections cost some throughput (each message
    # touches a connection's state out of cache), but no more than half.
    base = g("msgs_per_sec", view="same-client", server="ix", conns=min(counts)) if counts else None
    for label, first, top, v0, view, server in (
            ("same client over veth", min(counts, default=None), max(counts, default=None), base,
             "same-client", "ix"),
            ("two IX stacks on the loop wire", min(loop_counts, default=None),
             max(loop_counts, default=None), loop_base, "system", "ix-loopwire")):
        if top is None or top == first:
            continue
        v = g("msgs_per_sec", view=view, server=server, conns=top)
        kept = ratio(v, v0)
        # IX against itself, so no IX/Linux ratio: the share kept is in the text.
        share = "-" if kept is None else f"{kept:.2f}"
        R.summary.append((f"IX msgs/s with {top} connections, {label}: {share} of its "
                          f"{first}-connection rate ({v0 if v0 is None else round(v0)})", v, None,
                          None, "IX keeps >= 0.5", None if kept is None else kept >= 0.5))
    R.notes.append("Ratios are IX/Linux.")
    R.bounds.append(f"veth: at most {max(counts)} connections, bounded by the client's file "
                    "descriptors (hard limit here 20000) and one client core driving them all; "
                    "100,000 connections only on the loop wire, where both stacks share one CPU "
                    "and no Linux peer runs (Linux would need as many sockets on each side).")
    return R


def loop_scale(ctx, R):
    """bench/tcp_conn_scale_bench (helper SCALE's): two IX stacks on the loop
    wire in one thread, connections 10 .. 100,000, one JSON line each."""
    exe = os.path.join(ctx.build, "bench", "tcp_conn_scale_bench")
    if not ctx.p["scale_loop_conns"]:
        R.notes.append("Loop wire: not run (scale_loop_conns is empty)")
        return
    if not os.path.isfile(exe):
        R.notes.append("Loop wire, 10..100,000 connections: skipped (bench/tcp_conn_scale_bench "
                       "not built in this tree)")
        return
    argv = ["taskset", "-c", str(ctx.cpus["server"]), exe, "--conns",
            ",".join(map(str, ctx.p["scale_loop_conns"])), "--seconds",
            str(ctx.p["scale_loop_seconds"])]
    log("run: " + " ".join(argv))
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=ctx.p["scale_loop_timeout"])
    except subprocess.TimeoutExpired:
        R.error("tcp_conn_scale_bench: timed out")
        return
    n = 0
    for line in r.stdout.splitlines():
        if not line.startswith("{"):
            continue
        try:
            d = json.loads(line)
        except ValueError as e:
            R.error(f"tcp_conn_scale_bench output: {e}: {line[:200]}")
            continue
        n += 1
        R.add(view="system", server="ix-loopwire", conns=d["conns"], round=0,
              msgs_per_sec=d["msgs_per_sec"], cpu_msgs_per_sec=d["cpu_msgs_per_sec"],
              open_seconds=d["open_seconds"], rss_mib=d["rss_mib"],
              retransmits=d["retransmits"], drops=d["drops"], errors=d["errors"], ok=d["ok"])
        if not d["ok"]:
            R.error(f"tcp_conn_scale_bench: the run with {d['conns']} connections failed")
    if r.returncode != 0 or n == 0:
        R.error(f"tcp_conn_scale_bench: exit {r.returncode}, {n} results: {r.stderr[-300:]}")
