"""Experiment: protected mode against library mode, same run, same client.
Library mode is ix-tcp-echo with the stack in its own process (AF_XDP, one
core); protected mode is ixd owning the NIC on that core and ix-tcp-echo, a
separate process attached to it, sharing the core. One Linux client
(echo-rr-client) over veth: 64 B echo throughput over persistent
connections, and ping-pong latency (one-way = RTT / 2) with a spinning
client. Goals (the protected-dataplane issue): protected mode keeps at least
80% of library mode's throughput and adds at most 0.5 us of one-way
latency."""

from common import Results
from measure import client, median_of, ratio, sessions

KINDS = ["ix", "ix-protected"]


def run(ctx):
    R = Results("protected", "protected mode (ixd + attached application) vs library mode")
    R.columns = ("protected", "library")
    secs, warm = ctx.p["seconds"], ctx.p["warmup"]
    conns = ctx.p["protected_conns"]
    count = ctx.p["pingpong_count"]

    def body(s, rnd):
        r = client(ctx, s, ["rr", "--conns", str(conns), "--rounds", "1000000", "--size", "64",
                            "--seconds", str(secs), "--warmup", str(warm)],
                   secs + warm + 60, f"{s.kind} echo")
        R.add(view="echo", server=s.kind, conns=conns, round=rnd + 1,
              msgs_per_sec=r["msgs_per_sec"], p50_us=r["p50_us"], p99_us=r["p99_us"],
              server_cpu_busy=r["server_cpu_busy"], client_cpu_busy=r["client_cpu_busy"])
        r = client(ctx, s, ["pingpong", "--count", str(count), "--size", "64", "--spin"],
                   60 + count / 100, f"{s.kind} pingpong")
        R.add(view="latency", server=s.kind, round=rnd + 1,
              one_way_p50_us=r["one_way_p50_us"], one_way_p99_us=r["one_way_p99_us"])

    sessions(ctx, R, KINDS, body)

    g = lambda key, **m: median_of(R.rows, key, **m)
    lib = g("msgs_per_sec", view="echo", server="ix")
    prot = g("msgs_per_sec", view="echo", server="ix-protected")
    rt = ratio(prot, lib)
    R.summary.append((f"echo msgs/s, 64 B, {conns} persistent conns [protected / library]", prot,
                      lib, rt, "protected >= 0.8x", rt is not None and rt >= 0.8))
    for q in ("p50", "p99"):
        lib = g(f"one_way_{q}_us", view="latency", server="ix")
        prot = g(f"one_way_{q}_us", view="latency", server="ix-protected")
        added = prot - lib if prot is not None and lib is not None else None
        R.summary.append((f"one-way {q} (us), spinning client [ratio is library/protected]", prot, lib, ratio(lib, prot),
                          "adds <= 0.5 us" + ("" if added is None else f" (adds {added:.2f})"),
                          added is not None and added <= 0.5))
    R.notes.append("Placement measured: the application and ixd's elastic thread on one core "
                   "(the client has the other). The application waits for each answer by "
                   "checking, then yielding the CPU (which runs ixd's thread at once on a "
                   "shared core), then sleeping on a futex; ixd yields after idle polls on "
                   "AF_XDP. The other placement, ixd on cores of its own with applications "
                   "polling from theirs, needs a third core.")
    R.bounds.append("Protected mode copies received data into the application's read-only "
                    "region (veth cannot steer an application's flows to buffers of its own), "
                    "and each run_io batch is a handoff between two processes.")
    return R
