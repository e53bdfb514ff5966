"""Experiment 5: adaptive batching, the dataplane's bound on frames per
loop iteration (--batch 1, 4, 16, 64). On USR with ix-memcached (rate at the
p99 < 500 us SLA and the unloaded p99) when ix-memcached and ix-load are
built; always on the echo server (throughput with 64 persistent connections
and unloaded ping-pong p99), labelled as such."""

from common import BenchError, Results
from measure import client, ix_counters, median_of
from topology import Server
import memcached


def run(ctx):
    R = Results("batching", "adaptive batching bound (--batch)")
    R.columns = ("IX throughput", "IX unloaded p99 (us)")
    secs, warm = ctx.p["seconds"], ctx.p["warmup"]
    for rnd in range(ctx.rounds):
        for b in ctx.p["batches"]:
            try:
                s = Server(ctx, "ix", batch=b)
            except BenchError as e:
                R.error(f"batch {b}: {e}")
                continue
            row = None
            try:
                r = client(ctx, s, ["rr", "--conns", str(ctx.p["echo_conns"]), "--rounds",
                                    "1000000000", "--size", "64", "--seconds", str(secs),
                                    "--warmup", str(warm)], secs + warm + 60, f"batch {b} rr")
                u = client(ctx, s, ["pingpong", "--count", str(ctx.p["pingpong_count"]), "--size",
                                    "64"], 120, f"batch {b} pingpong")
                row = R.add(workload="echo", batch=b, round=rnd + 1,
                            msgs_per_sec=r["msgs_per_sec"], loaded_p99_us=r["p99_us"],
                            unloaded_p99_us=u["p99_us"], unloaded_p50_us=u["p50_us"])
            except BenchError as e:
                R.error(f"batch {b}: {e}")
            finally:
                rc, stats = s.stop()
                if stats and row is not None:
                    row.update(ix_counters(stats))
            if memcached.available(ctx):
                try:
                    m = memcached.MemcachedServer(ctx, "ix-memcached", batch=b)
                except BenchError as e:
                    R.error(f"batch {b} memcached: {e}")
                    continue
                try:
                    v = memcached.sla_and_unloaded(ctx, m, "usr")
                    R.add(workload="usr", batch=b, round=rnd + 1, **v)
                except BenchError as e:
                    R.error(f"batch {b} USR: {e}")
                finally:
                    m.stop()
    g = lambda key, **m: median_of(R.rows, key, **m)
    for b in ctx.p["batches"]:
        if memcached.available(ctx):
            R.summary.append((f"USR, batch {b}: requests/s at p99 < 500 us / unloaded p99 (us)",
                              g("rate_at_sla", workload="usr", batch=b),
                              g("unloaded_p99_us", workload="usr", batch=b), None, "-", None))
            R.summary.append((f"USR, batch {b}: closed-loop requests/s / its p99 (us)",
                              g("closed_loop_rate", workload="usr", batch=b),
                              g("closed_loop_p99_us", workload="usr", batch=b), None, "-", None))
        R.summary.append((f"echo, batch {b}: msgs/s ({ctx.p['echo_conns']} conns) / unloaded p99 (us)",
                          g("msgs_per_sec", workload="echo", batch=b),
                          g("unloaded_p99_us", workload="echo", batch=b), None, "-", None))
    if not memcached.available(ctx):
        R.notes.append("USR (ix-memcached) skipped: not built in this tree; the echo server "
                       "stands in.")
    R.notes.append("Columns here are IX at each bound (throughput, then unloaded p99), not IX "
                   "against Linux.")
    R.bounds.append("The Linux client on one core bounds the load: with the server mostly "
                    "idle, batches stay small whatever the bound, so the bound matters little "
                    "here; a faster load generator would show the trade-off.")
    return R
