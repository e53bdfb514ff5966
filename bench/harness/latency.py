"""Experiment 1: 64-byte TCP ping-pong latency (one-way = RTT / 2, p50/p99).

System against system: IX client and IX server (stand-in: two IX stacks over
the in-process loop wire, one CPU; over the memif link between two processes
there is no IX ping-pong client yet) against a Linux client and a Linux server over loopback
in two processes on their own cores, plain (both sleep) and in Linux's
strongest setting (spinning client, busy-polling server).
Same client: one Linux client (echo-rr-client) over veth against ix-tcp-echo
on AF_XDP and linux-tcp-echo (plain and busy-polling).
NetPIPE: Debian NPtcp against ix-netpipe and against NPtcp, when built."""

import os
import shutil
import subprocess

from common import BenchError, Results, build_path, log
from measure import client, loop_bench, median_of, ratio, sessions


def run(ctx):
    R = Results("latency", "64 B TCP ping-pong latency")
    count = ctx.p["pingpong_count"]
    timeout = 60 + count / 100  # 10 ms a round trip: a loaded VM, not a failure

    # --- system against system --------------------------------------------
    try:
        lb = loop_bench(ctx, "TcpPingPong", "pingpong")
        for name, side in (("IxTcpPingPong", "ix-loopwire"), ("LinuxTcpPingPong", "linux-inprocess")):
            m = lb[name]
            R.add(view="system", server=side, setting="one CPU, in-process", round=0,
                  one_way_p50_us=m["rtt_p50_ns"] / 2e3, one_way_p99_us=m["rtt_p99_ns"] / 2e3,
                  rtt_p50_us=m["rtt_p50_ns"] / 1e3, rtt_p99_us=m["rtt_p99_ns"] / 1e3)
    except BenchError as e:
        R.error(e)

    def loopback(s, rnd):
        for setting, extra in (("sleeping client", []), ("spinning client", ["--spin"])):
            if setting == "sleeping client" and s.kind == "linux-epoll-busy":
                continue
            if setting == "spinning client" and s.kind == "linux-epoll":
                continue
            argv = s.client_argv(["pingpong", "--count", str(count), "--size", "64", *extra],
                                 ns=s.host.server_ns, dst="127.0.0.1")
            r = _run(argv, timeout, f"{s.kind} loopback {setting}")
            R.add(view="system", server=s.kind.replace("linux-epoll", "linux-loopback"),
                  setting=setting, round=rnd + 1, one_way_p50_us=r["one_way_p50_us"],
                  one_way_p99_us=r["one_way_p99_us"], rtt_p50_us=r["p50_us"],
                  rtt_p99_us=r["p99_us"])

    sessions(ctx, R, ["linux-epoll", "linux-epoll-busy"], loopback)

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
    ix_sys = g("one_way_p50_us", view="system", server="ix-loopwire")
    lx_sys = g("one_way_p50_us", view="system", server="linux-loopback-busy",
               setting="spinning client")
    lx_inproc = g("one_way_p50_us", view="system", server="linux-inprocess")
    goal = "IX >= 10x lower"
    rt = ratio(lx_sys, ix_sys)
    R.summary.append(("one-way p50 (us), system vs system [IX: loop-wire stand-in]", ix_sys,
                      lx_sys, rt, goal, rt is not None and rt >= 10))
    rt = ratio(g("one_way_p99_us", view="system", server="linux-loopback-busy"),
               g("one_way_p99_us", view="system", server="ix-loopwire"))
    R.summary.append(("one-way p99 (us), system vs system [IX: loop-wire stand-in]",
                      g("one_way_p99_us", view="system", server="ix-loopwire"),
                      g("one_way_p99_us", view="system", server="linux-loopback-busy"), rt, goal,
                      rt is not None and rt >= 10))
    rt = ratio(lx_inproc, ix_sys)
    R.summary.append(("one-way p50 (us), both stacks on one CPU, in-process", ix_sys, lx_inproc,
                      rt, goal, rt is not None and rt >= 10))
    for q in ("p50", "p99"):
        ix = g(f"one_way_{q}_us", view="same-client", server="ix", setting="spinning client")
        lx = g(f"one_way_{q}_us", view="same-client", server="linux-epoll-busy",
               setting="spinning client")
        rt = ratio(lx, ix)
        R.summary.append((f"one-way {q} (us), same client over veth (spinning client, "
                          "vs busy-polling Linux)", ix, lx, rt, "lower", rt is not None and rt > 1))
    R.notes.append("Ratios are Linux/IX (how many times lower IX's latency is).")
    R.notes.append("System vs system: IX is two IX stacks over the in-process loop wire on ONE "
                   "CPU (stand-in for IX client + IX server over a memif link: no IX ping-pong "
                   "client exists yet); Linux is echo-rr-client and linux-tcp-echo over 127.0.0.1, "
                   "one CPU each.")
    R.bounds.append("veth latency includes the kernel's veth path and the Linux client's socket "
                    "calls on both sides; the server's share is a fraction of it.")
    R.bounds.append("Two-process figures (Linux over loopback, everything over veth) need "
                    "client and server scheduled at once; on a loaded VM each wake-up can wait "
                    "for a time slice, which the in-process loop-wire runs never do: compare "
                    "two-process figures with each other and one-CPU figures with each other.")
    R.bounds.append("p99 on this shared 2-core VM follows other jobs' scheduling (milliseconds).")
    return R


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
