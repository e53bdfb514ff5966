"""Loss: goodput of one bulk TCP stream under random loss. The same Linux
client (tcp-echo-client bulk: streams a deterministic pattern, reads the
echo back, compares every byte and the SHA-256 of both directions) against
IX (ix-tcp-echo on AF_XDP, one core) and against the Linux stack
(linux-tcp-echo), both served from the same veth pair in turn, with the same
tc BPF dropper (tests/integration/bpf/random_drop.bpf.c) on the client's
end of the pair dropping TCP frames at random in each direction: 0, 1, 5
and 10% per direction. TSO, GSO and GRO are off on both ends, so each drop
is one frame. Goodput is echoed bytes over the client's transfer time; IX's
TCP counters and the Linux server's nstat counters show how each recovered."""

import contextlib
import os
import re
import subprocess
import time

from common import ROOT, BenchError, Results, log, run_json
from measure import median_of, ratio
from topology import Server, tail

DROPPER = os.path.join(ROOT, "tests", "integration", "bpf", "random_drop.bpf.c")
# IX's counters of loss recovery: these three always, and whatever counters
# the TCP engine has for tail loss probes, RACK, DSACK and undoing spurious
# retransmissions (src/net/tcp/tcp_stats.hh grows them over time).
IX_COUNTERS = ("retransmits", "rto_expirations", "fast_retransmits", "dupacks_rx",
               "ooo_segments_rx", "ooo_engine_full")
# Drop reasons that show what loss recovery costs the receiving side
# (out-of-order segments refused at the per-connection cap must be sent again).
IX_DROPS = ("drop.tcp_reassembly_full", "drop.tcp_out_of_window")
IX_COUNTER_PATTERN = re.compile(r"tlp|loss_probe|probe_timeout|undo|spurious|dsack|rack|prr|frto|lost")
# The Linux server's counterparts (nstat, in the server's namespace).
LINUX_COUNTERS = ("TcpRetransSegs", "TcpExtTCPTimeouts", "TcpExtTCPFastRetrans",
                  "TcpExtTCPLossProbes", "TcpExtTCPSpuriousRTOs", "TcpExtTCPDSACKUndo",
                  "TcpExtTCPLossUndo")
PEER_IF = "peer0"  # scripts/netns.sh's name for the client's end


def sh(argv, timeout=30):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise BenchError(f"{' '.join(argv)}: {(r.stderr or r.stdout).strip()}")
    return r.stdout


def build_droppers(ctx, rates):
    """One object per loss rate: the dropper takes its rate as a build-time
    constant (no bpftool here to fill a map), and clang takes well under a
    second per build."""
    arch_inc = f"/usr/include/{os.uname().machine}-linux-gnu"
    objs = {}
    for pct in rates:
        per_mille = round(pct * 10)
        obj = os.path.join(ctx.workdir, f"random_drop_{per_mille}.bpf.o")
        sh(["clang", "-O2", "-g", "-target", "bpf", f"-DDROP_PER_MILLE={per_mille}",
            f"-I{arch_inc}", "-c", DROPPER, "-o", obj], timeout=60)
        objs[pct] = obj
    return objs


class LossPath:
    """The veth pair both servers take turns on (the harness's "loss" host),
    with offloads off on both ends and a clsact qdisc on the client's end
    for the dropper."""

    def __init__(self, ctx):
        self.host = ctx.hosts.get("loss")
        h = self.host
        for ns, dev in ((h.client_ns, PEER_IF), (h.server_ns, h.dev)):
            # Without these, a sender hands veth 64 KB super-frames and one
            # "drop" takes out dozens of segments at once.
            sh(["ip", "netns", "exec", ns, "ethtool", "-K", dev, "tso", "off", "gso", "off",
                "gro", "off"])
            # GSO off is not enough: Linux TCP builds GSO packets whatever the
            # device says and leaves their segmentation to the device's
            # transmit path, which comes after tc egress. So the dropper saw
            # multi-segment packets (at 1% loss the client often lost no
            # segment at all in a 2 MB run). One segment per packet makes
            # every packet tc sees one frame on the wire.
            sh(["ip", "-n", ns, "link", "set", dev, "gso_max_segs", "1"])
        sh(["tc", "-n", h.client_ns, "qdisc", "replace", "dev", PEER_IF, "clsact"])

    def attach(self, obj):
        """Replaces the dropper (both directions) with obj. Ingress drops
        frames from the server (TC_ACT_SHOT, counted by the qdisc); egress
        steals the client's frames (TC_ACT_STOLEN: the client's stack is not
        told, so the server must notice the gap)."""
        self.detach()
        ns = self.host.client_ns
        sh(["tc", "-n", ns, "filter", "add", "dev", PEER_IF, "ingress", "bpf", "da", "obj", obj,
            "sec", "tc_ingress"])
        sh(["tc", "-n", ns, "filter", "add", "dev", PEER_IF, "egress", "bpf", "da", "obj", obj,
            "sec", "tc_egress"])

    def detach(self):
        for d in ("ingress", "egress"):
            subprocess.run(["tc", "-n", self.host.client_ns, "filter", "del", "dev", PEER_IF, d],
                           capture_output=True, timeout=30)

    def ingress_drops(self):
        """Frames the ingress dropper discarded so far (the clsact qdisc's
        "dropped" count)."""
        out = sh(["tc", "-n", self.host.client_ns, "-s", "qdisc", "show", "dev", PEER_IF])
        m = re.search(r"qdisc clsact.*?\(dropped (\d+),", out, re.S)
        if not m:
            raise BenchError(f"no drop count for the clsact qdisc on {PEER_IF}: {out.strip()}")
        return int(m.group(1))

    def kernel_address(self, on):
        """The server's address in the server namespace's kernel: for the
        Linux server only (with it, the kernel would answer for IX too)."""
        h = self.host
        if on:
            # A dataplane that did not exit cleanly leaves its XDP program on
            # ix0, which would take the Linux server's frames.
            subprocess.run(["ip", "-n", h.server_ns, "link", "set", h.dev, "xdp", "off"],
                           capture_output=True, timeout=30)
            sh(["ip", "-n", h.server_ns, "addr", "replace", f"{h.server_ip}/24", "dev", h.dev])
        else:
            subprocess.run(["ip", "-n", h.server_ns, "addr", "flush", "dev", h.dev],
                           capture_output=True, timeout=30)


def nstat(ns):
    """Absolute TCP counters of a namespace (nstat -a: not the history file,
    which all namespaces share)."""
    out = sh(["ip", "netns", "exec", ns, "nstat", "-asz"])
    v = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 2 and f[1].isdigit():
            v[f[0]] = int(f[1])
    return v


def ix_tcp_counters(stats):
    """IX's loss-recovery counters summed over threads, plus its pool's."""
    out = {}
    for t in (stats or {}).get("threads", []):
        for k, v in t.get("tcp", {}).items():
            if k in IX_COUNTERS or IX_COUNTER_PATTERN.search(k):
                out[k] = out.get(k, 0) + v
        for k in ("alloc_failures",):
            out[f"pool_{k}"] = out.get(f"pool_{k}", 0) + t.get("pool", {}).get(k, 0)
        net = t.get("net", {})
        for k in IX_DROPS:
            name = k.replace(".", "_")
            out[name] = out.get(name, 0) + net.get(k, 0)
        out["drop_total"] = out.get("drop_total", 0) + sum(
            v for k, v in net.items() if k.startswith("drop.") and v)
    return out


def transfer(ctx, path, server, nbytes, limit_s):
    """One bulk echo of nbytes; returns the client's JSON. The client cuts
    the transfer at limit_s (a 5% run of 20 MB once took 31 s, and 10% is
    slower still) and then reports what came back by then ("timed_out");
    it also gives up after 10 s without progress."""
    h = path.host
    argv = ["ip", "netns", "exec", h.client_ns, "taskset", "-c", str(ctx.cpus["client"]),
            os.path.join(ctx.build, "tcp-echo-client"), "--dst", f"{h.server_ip}:7",
            "--timeout-ms", "10000", "bulk", "--bytes", str(nbytes), "--max-seconds",
            str(int(limit_s))]
    # The timeout is a backstop only: the client stops itself at limit_s.
    return run_json(argv, limit_s + 30, f"tcp-echo-client against {server}")


def run(ctx):
    R = Results("loss", "bulk TCP goodput under random loss, IX against Linux on one veth path")
    rates, nbytes, limit_s = ctx.p["loss_rates"], ctx.p["loss_bytes"], ctx.p["loss_timeout"]
    try:
        objs = build_droppers(ctx, rates)
        path = LossPath(ctx)
    except BenchError as e:
        R.error(f"set-up: {e}")
        return R
    kinds = ["ix", "linux-epoll"]
    for rnd in range(ctx.rounds):
        for pct in rates:
            # The order rotates per round, so a noisy spell hits both alike.
            for kind in kinds[rnd % 2:] + kinds[:rnd % 2]:
                try:
                    one(ctx, R, path, kind, pct, objs[pct], nbytes, limit_s, rnd)
                except BenchError as e:
                    R.error(f"{kind} at {pct}% loss (round {rnd + 1}): {e}")
    rr_pct, rr_secs = ctx.p["loss_rr_pct"], ctx.p["loss_rr_seconds"]
    if rr_pct is not None:
        try:
            rr_obj = objs.get(rr_pct) or build_droppers(ctx, [rr_pct])[rr_pct]
        except BenchError as e:
            R.error(f"request/response set-up: {e}")
            rr_obj = None
        for rnd in range(ctx.rounds if rr_obj else 0):
            for kind in kinds[rnd % 2:] + kinds[:rnd % 2]:
                try:
                    rr_one(ctx, R, path, kind, rr_pct, rr_obj, rr_secs, rnd)
                except BenchError as e:
                    R.error(f"{kind}: request/response at {rr_pct}% loss (round {rnd + 1}): {e}")
    path.detach()
    path.kernel_address(False)
    summarize(ctx, R, rates, nbytes, limit_s)
    if rr_pct is not None:
        summarize_rr(ctx, R, rr_pct, rr_secs)
    return R


# The request/response load under loss: connections each with one 64-byte
# message out at a time, as an RPC client keeps them. A lost request or
# reply is a tail loss (nothing follows it to show the gap), so the p99 is
# how fast each stack repairs one: the tail loss probe, else the RTO.
RR_CONNS = 16
RR_SIZE = 64


@contextlib.contextmanager
def serving(ctx, path, kind, run):
    """A fresh server of `kind` on the path for one measurement, so that its
    counters are that measurement's alone; the kernel has the address only
    while Linux serves. Afterwards run["stats"] holds the server's stats and
    run["err"] what went wrong when it stopped (None if nothing)."""
    path.detach()  # the server's readiness check must not be lost
    path.kernel_address(not kind.startswith("ix"))
    s = Server(ctx, kind, host=path.host)
    run.update(stats=None, err=None)
    try:
        yield
    finally:
        rc, run["stats"] = s.stop()
        if rc is None or rc != 0:
            run["err"] = f"{kind} exited with {rc}: {tail(s.log)}"
        path.kernel_address(False)


def rr_one(ctx, R, path, kind, pct, obj, seconds, rnd):
    linux = not kind.startswith("ix")
    run = {}
    with serving(ctx, path, kind, run):
        server_before = nstat(path.host.server_ns) if linux else {}
        path.attach(obj)
        h = path.host
        argv = ["ip", "netns", "exec", h.client_ns, "taskset", "-c", str(ctx.cpus["client"]),
                os.path.join(ctx.build, "echo-rr-client"), "--dst", f"{h.server_ip}:7",
                "--timeout-ms", "10000", "rr", "--conns", str(RR_CONNS), "--rounds",
                "1000000000", "--size", str(RR_SIZE), "--seconds", str(seconds), "--warmup",
                "0.5"]
        d = run_json(argv, seconds + 60, f"echo-rr-client against {kind}")
        path.detach()
        server_after = nstat(path.host.server_ns) if linux else {}
    row = dict(view="rr", server=kind, loss_pct=pct, round=rnd + 1, conns=RR_CONNS,
               size=RR_SIZE, msgs_per_sec=d.get("msgs_per_sec"), msgs=d.get("msgs"),
               p50_us=d.get("p50_us"), p99_us=d.get("p99_us"), p999_us=d.get("p999_us"),
               max_us=d.get("max_us"), mismatches=d.get("mismatches"), stalls=d.get("stalls"),
               connect_failures=d.get("connect_failures"))
    add_row(R, row, linux, server_before, server_after, run["stats"], f"rr at {pct}% loss {kind}",
            run["err"])
    if d.get("mismatches") or not d.get("msgs"):
        R.error(f"{kind}: request/response at {pct}% loss (round {rnd + 1}): "
                f"{d.get('msgs')} echoes, {d.get('mismatches')} mismatched bytes")


def summarize_rr(ctx, R, pct, seconds):
    g = lambda key, **m: median_of(R.rows, key, **m)
    ix = g("p99_us", view="rr", server="ix", loss_pct=pct)
    lx = g("p99_us", view="rr", server="linux-epoll", loss_pct=pct)
    # Latency: the ratio is Linux/IX, so above 1 favours IX as elsewhere.
    rt = ratio(lx, ix)
    R.summary.append((f"p99 (us) of {RR_SIZE} B request/response, {RR_CONNS} connections, at "
                      f"{pct}% random loss per direction, Linux/IX", ix, lx, rt, "IX <= Linux",
                      None if rt is None else rt >= 1))
    for key in ("p50_us", "p999_us", "msgs_per_sec"):
        R.notes.append(f"Request/response at {pct}% loss, {key} (median over rounds): IX "
                       f"{fmt(g(key, view='rr', server='ix', loss_pct=pct))}, Linux "
                       f"{fmt(g(key, view='rr', server='linux-epoll', loss_pct=pct))}.")
    R.notes.append(f"Request/response: echo-rr-client rr, {RR_CONNS} connections with one "
                   f"{RR_SIZE}-byte message out each, {seconds} s per server per round, every echo "
                   "checked. About 2% of round trips lose a request or a reply at 1% per "
                   "direction, so the p99 is the time to repair a lone lost segment.")


def one(ctx, R, path, kind, pct, obj, nbytes, limit_s, rnd):
    """A fresh server for one transfer, so that its counters are this loss
    rate's alone."""
    linux = not kind.startswith("ix")
    run = {}
    with serving(ctx, path, kind, run):
        server_before = nstat(path.host.server_ns) if linux else {}
        client_before = nstat(path.host.client_ns)
        drops_before = path.ingress_drops()
        path.attach(obj)
        t = time.time()
        r = transfer(ctx, path, kind, nbytes, limit_s)
        wall = time.time() - t
        path.detach()
        drops = path.ingress_drops() - drops_before
        client_after = nstat(path.host.client_ns)
        server_after = nstat(path.host.server_ns) if linux else {}
    timed_out = bool(r.get("timed_out"))
    row = dict(view="transfer", server=kind, loss_pct=pct, round=rnd + 1, bytes=nbytes,
               completed=bool(r.get("match")) and not timed_out, timed_out=timed_out,
               received=r.get("received"), seconds=round(r.get("seconds") or wall, 4),
               goodput_mbps=None, sha256_match=bool(r.get("match")),
               frames_dropped_from_server=drops,
               client_out_segs=client_after.get("TcpOutSegs", 0) -
               client_before.get("TcpOutSegs", 0),
               client_retrans_segs=client_after.get("TcpRetransSegs", 0) -
               client_before.get("TcpRetransSegs", 0),
               # The client's own timeouts: its stream into the server
               # stalls on them, and they depend on how the server ACKs.
               client_timeouts=client_after.get("TcpExtTCPTimeouts", 0) -
               client_before.get("TcpExtTCPTimeouts", 0))
    if row["completed"] or (timed_out and r.get("intact") and r.get("received")):
        # A transfer cut at the bound still measured its rate: the bytes
        # echoed intact by then over the time taken (marked partial).
        row["goodput_mbps"] = round(r["gbps"] * 1000, 3)
    add_row(R, row, linux, server_before, server_after, run["stats"], f"loss {pct}% {kind}",
            run["err"])
    if timed_out and row["goodput_mbps"] is not None:
        R.notes.append(f"{kind} at {pct}% loss (round {rnd + 1}): cut at {limit_s} s with "
                       f"{r.get('received')} of {nbytes} bytes echoed (intact); its goodput is "
                       "over that part")
    elif timed_out:
        R.error(f"{kind} at {pct}% loss (round {rnd + 1}): cut at {limit_s} s with "
                f"{r.get('received')} of {nbytes} bytes echoed, intact: {r.get('intact')}")
    elif not r.get("match"):
        R.error(f"{kind} at {pct}% loss (round {rnd + 1}): the echo was not intact: "
                f"received {r.get('received')} of {nbytes} bytes, sha256 sent "
                f"{r.get('sha256_sent')} received {r.get('sha256_received')}")
    if pct > 0 and drops == 0:
        R.error(f"{kind} at {pct}% loss (round {rnd + 1}): the ingress dropper dropped nothing")


def add_row(R, row, linux, server_before, server_after, stats, label, err):
    """Adds one measurement with the server's counters: the Linux server's
    nstat deltas, or IX's TCP counters from its stats file."""
    if linux:
        for k in LINUX_COUNTERS:
            row[f"linux_{k}"] = server_after.get(k, 0) - server_before.get(k, 0)
    else:
        row.update({f"ix_{k}": v for k, v in ix_tcp_counters(stats).items()})
    R.add(**row)
    log(f"{label}: " + ", ".join(f"{k}={v}" for k, v in row.items()
                                 if k not in ("view", "server", "loss_pct")))
    if err:
        R.error(err)


def summarize(ctx, R, rates, nbytes, limit_s):
    g = lambda key, **m: median_of(R.rows, key, **m)
    for pct in rates:
        ix = g("goodput_mbps", view="transfer", server="ix", loss_pct=pct)
        lx = g("goodput_mbps", view="transfer", server="linux-epoll", loss_pct=pct)
        rt = ratio(ix, lx)
        R.summary.append((f"goodput (Mbit/s echoed) of {nbytes / 1e6:g} MB at {pct}% random loss "
                          "per direction, same client, same veth path", ix, lx, rt, "IX >= 1x",
                          None if rt is None else rt >= 1))
    ix_keys = sorted({k for r in R.rows if r.get("server") == "ix" for k in r
                      if k.startswith("ix_")})
    for pct in rates:
        parts = [f"{k[3:]} {fmt(g(k, view='transfer', server='ix', loss_pct=pct))}"
                 for k in ix_keys]
        lparts = [f"{k} {fmt(g('linux_' + k, view='transfer', server='linux-epoll', loss_pct=pct))}"
                  for k in LINUX_COUNTERS]
        R.notes.append(f"At {pct}% loss, IX's counters (median over rounds): " + ", ".join(parts) +
                       "; the Linux server's (nstat): " + ", ".join(lparts) + ".")
    R.notes.append("Ratios are IX/Linux (above 1 favours IX). A transfer still running at "
                   f"{limit_s} s is cut; its goodput is that of the part echoed (noted above); "
                   "one whose echo differed has none and is listed as an error.")
    R.bounds.append("One stream, one client core: at 0% loss the client's copy and checking "
                    "of every byte and the veth path (the kernel copies each frame into the "
                    "AF_XDP socket for IX) bound both servers. Under loss, recovery (how soon a "
                    "lost frame is noticed and resent, and how far the window falls) sets the "
                    "figure; the drops are random, so rounds differ more than at 0%.")
    log("loss: goodput (Mbit/s) IX | Linux | IX/Linux, per loss rate")
    for s in R.summary:
        log(f"  {s[0][:60]:60} {fmt(s[1]):>10} {fmt(s[2]):>10} {fmt(s[3]):>8}")
    log("loss: IX's counters per loss rate (median over rounds): " + " | ".join(
        k[3:] for k in ix_keys))
    for pct in rates:
        log(f"  {pct:>3}%  " + " | ".join(
            fmt(g(k, view="transfer", server="ix", loss_pct=pct)) for k in ix_keys))


def fmt(x):
    if x is None:
        return "-"
    if isinstance(x, float) and x != int(x):
        return f"{x:.3g}" if abs(x) < 10 else f"{x:.0f}"
    return f"{int(x)}"
