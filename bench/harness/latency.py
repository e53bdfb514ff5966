"""Experiment 1: 64-byte TCP ping-pong latency (one-way = RTT / 2, p50/p99).

System against system (syspair.py): the same client program, ix-load
--protocol echo, against ix-tcp-echo with both on the IX dataplane over DPDK
net_memif, and against linux-tcp-echo with both on Linux sockets over
loopback, plain (both sleep) and in Linux's strongest setting (spinning
client, busy-polling server); one core each. Also two stacks of each kind on
one CPU in-process (tcp_echo_bench), free of scheduling between processes.
Same client: one Linux client (echo-rr-client) over veth against ix-tcp-echo
on AF_XDP and linux-tcp-echo (plain and busy-polling).
NetPIPE: Debian NPtcp against ix-netpipe and against NPtcp, when built."""

import os
import shutil
import subprocess

from common import BenchError, Results, build_path, log
from measure import client, loop_bench, median_of, ratio, sessions
import syspair
from topology import Server


def run(ctx):
    R = Results("latency", "64 B TCP ping-pong latency")
    count = ctx.p["pingpong_count"]
    timeout = 60 + count / 100  # 10 ms a round trip: a loaded VM, not a failure

    # --- system against system: the same client program (ix-load) ---------
    system_vs_system(ctx, R)
    try:
        lb = loop_bench(ctx, "TcpPingPong", "pingpong")
        for name, side in (("IxTcpPingPong", "ix-loopwire"), ("LinuxTcpPingPong", "linux-inprocess")):
            m = lb[name]
            R.add(view="system", server=side, setting="one CPU, in-process", round=0,
                  one_way_p50_us=m["rtt_p50_ns"] / 2e3, one_way_p99_us=m["rtt_p99_ns"] / 2e3,
                  rtt_p50_us=m["rtt_p50_ns"] / 1e3, rtt_p99_us=m["rtt_p99_ns"] / 1e3)
    except BenchError as e:
        R.error(e)

    # --- same client over veth ---------------------------------------------
    def veth(s, rnd):
        for setting, extra in (("sleeping client", []), ("spinning client", ["--spin"])):
            r = client(ctx, s, ["pingpong", "--count", str(count), "--size", "64", *extra],
                       timeout, f"{s.kind} veth {setting}")
            R.add(view="same-client", server=s.kind, setting=setting, round=rnd + 1,
                  one_way_p50_us=r["one_way_p50_us"], one_way_p99_us=r["one_way_p99_us"],
                  rtt_p50_us=r["p50_us"], rtt_p99_us=r["p99_us"],
                  client_cpu_busy=r["client_cpu_busy"], server_cpu_busy=r["server_cpu_busy"])

    sessions(ctx, R, ["ix", "linux-epoll", "linux-epoll-busy"], veth)
    netpipe(ctx, R)

    # --- summary ------------------------------------------------------------
    g = lambda key, **m: median_of(R.rows, key, **m)
    goal = "IX >= 10x lower"
    for q in ("p50", "p99"):
        ix = g(f"one_way_{q}_us", view="system", server="ix-memif")
        for lx_server, lx_setting, what in (
                ("linux-loopback-busy", "spinning client", "busy-polling server, spinning client"),
                ("linux-loopback", "sleeping client", "epoll server, sleeping client")):
            lx = g(f"one_way_{q}_us", view="system", server=lx_server, setting=lx_setting)
            rt = ratio(lx, ix)
            R.summary.append((f"one-way {q} (us), system vs system [IX over memif; Linux over "
                              f"loopback, {what}]", ix, lx, rt, goal, rt is not None and rt >= 10))
    ix_inproc = g("one_way_p50_us", view="system", server="ix-loopwire")
    lx_inproc = g("one_way_p50_us", view="system", server="linux-inprocess")
    rt = ratio(lx_inproc, ix_inproc)
    R.summary.append(("one-way p50 (us), both stacks on one CPU, in-process", ix_inproc,
                      lx_inproc, rt, goal, rt is not None and rt >= 10))
    for q in ("p50", "p99"):
        ix = g(f"one_way_{q}_us", view="same-client", server="ix", setting="spinning client")
        lx = g(f"one_way_{q}_us", view="same-client", server="linux-epoll-busy",
               setting="spinning client")
        rt = ratio(lx, ix)
        R.summary.append((f"one-way {q} (us), same client over veth (spinning client, "
                          "vs busy-polling Linux)", ix, lx, rt, "lower", rt is not None and rt > 1))
    R.notes.append("Ratios are Linux/IX (how many times lower IX's latency is).")
    R.notes.append("System vs system: one client program, ix-load --protocol echo (one "
                   "connection, one 64 B message outstanding), on each system's own stack: IX is "
                   "ix-load on the dataplane and ix-tcp-echo, two processes joined by DPDK "
                   "net_memif (shared memory, no kernel), one core each; Linux is ix-load on "
                   "sockets and linux-tcp-echo over 127.0.0.1, one core each, plain (both sleep in "
                   "epoll) and strongest (--busy-poll server, --spin client). The in-process rows "
                   "(two stacks on one CPU, tcp_echo_bench) are a second, scheduler-free view.")
    R.bounds.append("memif is shared memory between two processes, not a NIC: IX's figure has no "
                    "wire, no NIC DMA and no interrupt in it; Linux's loopback has no NIC either, "
                    "but crosses the kernel's full TCP/IP path and its scheduler on both sides.")
    R.bounds.append("veth latency includes the kernel's veth path and the Linux client's socket "
                    "calls on both sides; the server's share is a fraction of it.")
    R.bounds.append("Two-process figures (Linux over loopback, everything over veth) need "
                    "client and server scheduled at once; on a loaded VM each wake-up can wait "
                    "for a time slice, which the in-process loop-wire runs never do: compare "
                    "two-process figures with each other and one-CPU figures with each other.")
    R.bounds.append("p99 on this shared 2-core VM follows other jobs' scheduling (milliseconds).")
    return R


def system_vs_system(ctx, R):
    """ix-load ping-pong over memif (IX) and over loopback (Linux, plain and
    busy-polling), rounds in rotating order."""
    if not syspair.available(ctx):
        R.error("system vs system: ix-load or scripts/memif_pair.sh missing")
        return
    secs, warm = ctx.p["seconds"], ctx.p["warmup"]

    def ix_memif():
        s = syspair.MemifServer(ctx, "ix-memif", "ix-tcp-echo", ["--port", "7"])
        try:
            r = syspair.echo_run(ctx, s.load_prefix, f"{s.load_dst}:7", 1, secs, warm,
                                 "ix-memif ping-pong")
            return [("ix-memif", "IX client (polling)", r)]
        finally:
            s.stop()

    def linux(kind, setting, extra):
        def go():
            s = Server(ctx, kind)
            try:
                r = syspair.echo_run(ctx, syspair.loopback_prefix(ctx, s.host), "127.0.0.1:7", 1,
                                     secs, warm, f"{kind} loopback ping-pong", extra)
                return [(kind.replace("linux-epoll", "linux-loopback"), setting, r)]
            finally:
                s.stop()
        return go

    steps = [ix_memif, linux("linux-epoll", "sleeping client", []),
             linux("linux-epoll-busy", "spinning client", ["--spin"])]
    for rnd in range(ctx.rounds):
        k = rnd % len(steps)
        for step in steps[k:] + steps[:k]:
            try:
                for server, setting, r in step():
                    R.add(view="system", server=server, setting=setting, round=rnd + 1,
                          one_way_p50_us=r["p50_us"] / 2, one_way_p99_us=r["p99_us"] / 2,
                          rtt_p50_us=r["p50_us"], rtt_p99_us=r["p99_us"],
                          round_trips_per_sec=r["achieved_rate"])
            except BenchError as e:
                R.error(f"round {rnd + 1}: {e}")


def _run(argv, timeout, what):
    from common import run_json
    r = run_json(argv, timeout, what)
    if r["exit_code"] != 0:
        raise BenchError(f"{what}: failed: {r}")
    return r


def netpipe(ctx, R):
    """NetPIPE curves: Debian's NPtcp transmitter against ix-netpipe (veth,
    AF_XDP) and against an NPtcp receiver (veth, kernel), when both exist."""
    if not ctx.p["netpipe_upper"]:
        R.notes.append("NetPIPE: not in quick mode (a curve takes minutes); --full runs it.")
        return
    ixnp = build_path(ctx.build, "ix-netpipe")
    np = shutil.which("NPtcp")
    if not (ixnp and np):
        R.notes.append("NetPIPE: skipped (ix-netpipe not built in this tree)" if np else
                       "NetPIPE: skipped (NPtcp not installed)")
        return
    upper = str(ctx.p["netpipe_upper"])
    for side in ("ix", "linux"):
        host = ctx.hosts.get("ix" if side == "ix" else "lx")
        out = os.path.join(ctx.outdir, f"netpipe_{side}.out")
        if side == "ix":
            argv = ["ip", "netns", "exec", host.server_ns, ixnp, "--dev", host.dev, "--host-addr",
                    f"{host.server_ip}/24", "--cpu", str(ctx.cpus["server"]), "--upper", upper,
                    "--seconds", str(ctx.p["netpipe_timeout"] + 30)]
        else:
            argv = ["ip", "netns", "exec", host.server_ns, "taskset", "-c",
                    str(ctx.cpus["server"]), np, "-u", upper]
        srv = ctx.procs.start(argv, os.path.join(ctx.workdir, f"netpipe_{side}.log"))
        try:
            import time
            time.sleep(2)
            tx = ["timeout", str(ctx.p["netpipe_timeout"]), "ip", "netns", "exec", host.client_ns,
                  "taskset", "-c", str(ctx.cpus["client"]), np, "-h", host.server_ip, "-u", upper,
                  "-o", out]
            log("run: " + " ".join(tx))
            r = subprocess.run(tx, capture_output=True, text=True,
                               timeout=ctx.p["netpipe_timeout"] + 10)
            if r.returncode != 0 or not os.path.exists(out):
                R.error(f"NetPIPE {side}: exit {r.returncode}: {r.stderr[-300:]}")
                continue
            for line in open(out):
                f = line.split()
                if len(f) >= 3:
                    R.add(view="netpipe", server=side, setting="NPtcp", round=1,
                          bytes=int(float(f[0])), mbps=float(f[1]), one_way_us=float(f[2]) * 1e6)
        finally:
            ctx.procs.stop(srv)
