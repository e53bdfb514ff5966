"""Experiment 2: echo throughput, 64-byte messages, many connections, each
doing n round trips then reconnecting (n = 1, 8, 1024), server on one core:
IX (ix-tcp-echo, AF_XDP) against Linux epoll (linux-tcp-echo, plain and
busy-polling) and io_uring (linux-uring-echo), all measured by the same
Linux client (echo-rr-client) over veth; IX on two cores too. System against
system (syspair.py): the same client program, ix-load --protocol echo, with
persistent connections, on the IX dataplane against ix-tcp-echo over DPDK
net_memif and on Linux sockets against each Linux server over loopback, one
core each; and two stacks of each kind on one CPU in-process
(tcp_echo_bench)."""

from common import BenchError, Results
from measure import client, ix_counters, loop_bench, median_of, ratio, sessions
import syspair

LINUX = ["linux-epoll", "linux-epoll-busy", "linux-uring"]


def run(ctx):
    R = Results("echo", "64 B echo throughput, n round trips per connection")
    conns, secs, warm = ctx.p["echo_conns"], ctx.p["seconds"], ctx.p["warmup"]
    rounds_per_conn = ctx.p["echo_n"]

    def body(s, rnd):
        for n in rounds_per_conn:
            r = client(ctx, s, ["rr", "--conns", str(conns), "--rounds", str(n), "--size", "64",
                                "--seconds", str(secs), "--warmup", str(warm)],
                       secs + warm + 60, f"{s.kind} rr n={n}")
            cores = 2 if s.kind == "ix-2core" else 1
            R.add(view="same-client", server=s.kind, n=n, conns=conns, round=rnd + 1,
                  msgs_per_sec=r["msgs_per_sec"], msgs_per_sec_per_core=r["msgs_per_sec"] / cores,
                  conns_per_sec=r["conns_per_sec"], p50_us=r["p50_us"], p99_us=r["p99_us"],
                  connect_failures=r["connect_failures"], stalls=r["stalls"],
                  client_cpu_busy=r["client_cpu_busy"], server_cpu_busy=r["server_cpu_busy"])

        if s.kind in LINUX and syspair.available(ctx):
            # System against system on Linux: ix-load on sockets and the
            # server over 127.0.0.1, one core each, persistent connections.
            r = syspair.echo_run(ctx, syspair.loopback_prefix(ctx, s.host), "127.0.0.1:7", conns,
                                 secs, warm, f"{s.kind} loopback echo")
            R.add(view="system", server=s.kind + "-loopback", n="persistent", conns=conns,
                  round=rnd + 1, msgs_per_sec=r["achieved_rate"],
                  msgs_per_sec_per_core=r["achieved_rate"], p50_us=r["p50_us"],
                  p99_us=r["p99_us"])

    sessions(ctx, R, ["ix", "ix-2core", *LINUX], body)
    memif_system(ctx, R, conns, secs, warm)

    try:
        lb = loop_bench(ctx, "TcpEcho/conns:16$", "echo")
        for name, side in (("IxTcpEcho/conns:16", "ix-loopwire"),
                           ("LinuxTcpEcho/conns:16", "linux-inprocess")):
            v = lb[name]["items_per_second"]
            R.add(view="system", server=side, n="persistent", conns=16, round=0,
                  msgs_per_sec=v, msgs_per_sec_per_core=v)
    except BenchError as e:
        R.error(e)

    g = lambda key, **m: median_of(R.rows, key, **m)
    for n in rounds_per_conn:
        ix = g("msgs_per_sec_per_core", view="same-client", server="ix", n=n)
        best_name, best = None, None
        for k in LINUX:
            v = g("msgs_per_sec_per_core", view="same-client", server=k, n=n)
            if v is not None and (best is None or v > best):
                best_name, best = k, v
        rt = ratio(ix, best)
        R.summary.append((f"msgs/s per server core, n={n}, same client over veth (best Linux: "
                          f"{best_name})", ix, best, rt, "IX >= 5x", rt is not None and rt >= 5))
    two = [(n, g("msgs_per_sec", view="same-client", server="ix-2core", n=n),
            g("msgs_per_sec", view="same-client", server="ix", n=n)) for n in rounds_per_conn]
    R.notes.append("IX on 2 cores against IX on 1 core, msgs/s: " + "; ".join(
        f"n={n}: {fmt_num(a)} vs {fmt_num(b)} ({fmt_ratio(ratio(a, b))})" for n, a, b in two))
    ix = g("msgs_per_sec", view="system", server="ix-memif")
    best_name, best = None, None
    for k in LINUX:
        v = g("msgs_per_sec", view="system", server=k + "-loopback")
        if v is not None and (best is None or v > best):
            best_name, best = k, v
    rt = ratio(ix, best)
    R.summary.append((f"msgs/s per server core, system vs system, {conns} persistent conns [IX "
                      f"over memif; best Linux over loopback: {best_name}; ix-load on both]", ix,
                      best, rt, "IX >= 5x", rt is not None and rt >= 5))
    ix = g("msgs_per_sec", view="system", server="ix-loopwire")
    lx = g("msgs_per_sec", view="system", server="linux-inprocess")
    rt = ratio(ix, lx)
    R.summary.append(("msgs/s per core, both stacks on one CPU in-process, 16 persistent conns",
                      ix, lx, rt, "IX >= 5x", rt is not None and rt >= 5))
    cb = g("client_cpu_busy", view="same-client", server="ix", n=rounds_per_conn[-1])
    sb = g("server_cpu_busy", view="same-client", server="linux-epoll", n=rounds_per_conn[-1])
    R.notes.append("Ratios are IX/Linux (above 1 favours IX).")
    R.bounds.append(f"The Linux client on its one core (busy {fmt_pct(cb)} during IX runs) and "
                    "the veth path (the kernel copies every frame into the AF_XDP socket) bound "
                    "the same-client figures; the Linux epoll server's core was busy "
                    f"{fmt_pct(sb)}. A client-bound figure is a floor for IX, not its ceiling.")
    busy = g("ix_busy_fraction", server="ix-memif", setting="server counters")
    if busy is not None:
        R.bounds.append(f"System vs system over memif: the IX server was busy {100 * busy:.0f}% of "
                        "its time (the rest it polled an empty queue); the one client core runs "
                        "ix-load on its own IX stack, and with one message outstanding per "
                        "connection client and server take turns on each burst, so the figure is "
                        "their sum, not the server's capacity.")
    R.bounds.append("IX on 2 cores: on a 2-core host its second core is the client's core, so "
                    "the 2-core figure measures sharing, not scaling." if ctx.cpus[
                        "shared_second_core"] else "IX on 2 cores uses cores no client runs on.")
    R.bounds.append("Two-process figures (Linux over loopback, everything over veth) need "
                    "client and server scheduled at once; on a loaded VM each wake-up can wait "
                    "for a time slice, which the in-process loop-wire runs never do: compare "
                    "two-process figures with each other and one-CPU figures with each other.")
    R.bounds.append("n=1 is one connection per message: connection setup and teardown on both "
                    "sides (the Linux client's connect/close) dominate.")
    return R


def memif_system(ctx, R, conns, secs, warm):
    """IX's side of system against system: ix-load on the dataplane against
    ix-tcp-echo, two processes over DPDK net_memif, one core each."""
    if not syspair.available(ctx):
        R.error("system vs system: ix-load or scripts/memif_pair.sh missing")
        return
    for rnd in range(ctx.rounds):
        try:
            s = syspair.MemifServer(ctx, "ix-memif", "ix-tcp-echo", ["--port", "7"])
        except BenchError as e:
            R.error(f"ix-memif (round {rnd + 1}): {e}")
            continue
        try:
            r = syspair.echo_run(ctx, s.load_prefix, f"{s.load_dst}:7", conns, secs, warm,
                                 "ix-memif echo")
            R.add(view="system", server="ix-memif", n="persistent", conns=conns, round=rnd + 1,
                  msgs_per_sec=r["achieved_rate"], msgs_per_sec_per_core=r["achieved_rate"],
                  p50_us=r["p50_us"], p99_us=r["p99_us"])
        except BenchError as e:
            R.error(f"ix-memif (round {rnd + 1}): {e}")
        finally:
            rc, stats = s.stop()
            if stats is not None:
                R.add(server="ix-memif", round=rnd + 1, setting="server counters",
                      **ix_counters(stats))


def fmt_pct(x):
    return "?" if x is None else f"{100 * x:.0f}%"


def fmt_num(x):
    return "?" if x is None else f"{x:.0f}"


def fmt_ratio(x):
    return "?" if x is None else f"{x:.2f}x"
