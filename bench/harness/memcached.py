"""Experiment 3: memcached, ETC and USR workloads driven by ix-load (Linux
sockets, on the client core) over veth: the highest request rate whose p99
stays under 500 us (ix-load --search: a sweep up the offered rate, then
bisection of the knee, each failing rate measured twice), p50/p99 against
achieved rate at every rate measured, and the p99 of an unloaded server,
ix-memcached (AF_XDP) against Debian's memcached, each with one server core.
System against system: ix-load on the dataplane and ix-memcached, two IX
processes joined by DPDK net_memif (scripts/memif_pair.sh), against ix-load
and memcached over loopback, one core each. Runs only when ix-memcached and
ix-load are built in the build directory."""

import json
import os
import shutil
import subprocess
import time

from common import BenchError, Results, build_path
from measure import ix_counters, median_of, ratio
import syspair

SLA_US = 500


class MemcachedServer:
    def __init__(self, ctx, kind, batch=None, limit_s=900, listen=None):
        self.ctx, self.kind = ctx, kind
        self.host = ctx.hosts.get("ix" if kind == "ix-memcached" else "lx")
        self.log = os.path.join(ctx.workdir, f"{kind}-{time.time():.3f}.log")
        self.stats_file = None
        ns, cpu = self.host.server_ns, str(ctx.cpus["server"])
        if kind == "ix-memcached":
            self.stats_file = self.log + ".stats.json"
            argv = ["ip", "netns", "exec", ns, os.path.join(ctx.build, "ix-memcached"), "--dev",
                    self.host.dev, "--host-addr", f"{self.host.server_ip}/24", "--cpu", cpu,
                    "--port", "11211", "--memory-limit", "1024", "--seconds", str(limit_s),
                    "--stats-file", self.stats_file]
            if batch is not None:
                argv += ["--batch", str(batch)]
        else:
            argv = ["timeout", str(limit_s), "ip", "netns", "exec", ns, "taskset", "-c", cpu,
                    shutil.which("memcached"), "-u", "root", "-p", "11211", "-U", "0", "-l",
                    listen or self.host.server_ip, "-t", "1", "-m", "1024", "-c", "4096"]
        self.proc = ctx.procs.start(argv, self.log)
        self._wait_ready()

    def _wait_ready(self):
        probe = ("import socket,sys\ns=socket.create_connection((sys.argv[1],11211),timeout=0.5)\n"
                 "s.sendall(b'version\\r\\n')\nsys.exit(0 if s.recv(100).startswith(b'VERSION')"
                 " else 1)\n")
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"{self.kind} exited at start-up: {open(self.log).read()[-400:]}")
            r = subprocess.run(["ip", "netns", "exec", self.host.client_ns, "python3", "-c", probe,
                                self.host.server_ip], capture_output=True, timeout=10)
            if r.returncode == 0:
                return
            time.sleep(0.3)
        raise BenchError(f"{self.kind} did not answer 'version' within 15 s")

    def stop(self):
        rc = self.ctx.procs.stop(self.proc)
        stats = None
        if self.stats_file and os.path.exists(self.stats_file):
            try:
                stats = json.load(open(self.stats_file))
            except ValueError:
                pass
        return rc, stats


def load(ctx, server, workload, extra, what):
    """One ix-load invocation; its JSON document. By default from the client
    namespace over veth; server.load_prefix / server.load_dst change where
    it runs and what it connects to (loopback, the IX client over memif)."""
    p = ctx.p
    prefix = getattr(server, "load_prefix", None) or [
        "ip", "netns", "exec", server.host.client_ns, "taskset", "-c", str(ctx.cpus["client"]),
        os.path.join(ctx.build, "ix-load")]
    dst = getattr(server, "load_dst", None) or server.host.server_ip
    # On Linux sockets ix-load spins in epoll (--spin) rather than sleeping,
    # so its own wake-ups (tens of microseconds) do not count against
    # either server; on IX it polls anyway.
    spin = [] if "--transport" in prefix else ["--spin"]
    return syspair.ix_load(
        ctx, prefix, f"{dst}:11211",
        ["--workload", workload, "--conns", str(p["mc_conns"]), "--depth", str(p["mc_depth"]),
         "--records", str(p["mc_records"]), "--preload", "--warmup", str(p["mc_warmup"]),
         "--time", str(p["mc_time"]), *spin, *extra], p["mc_timeout"], what)


def search_point(run, bound_us=SLA_US):
    """One open-loop run of a search as the harness records it: offered and
    achieved rate, p50 and p99 (over every due request: a skipped or
    unanswered one counts as beyond the bound; None when over 1% were), and
    whether it met the bound by ix-load's rule."""
    offered, achieved = run.get("target_rate") or 0, run.get("achieved_rate") or 0
    p99 = run.get("p99_due_us")
    meets = (offered > 0 and not run.get("errors") and p99 is not None and p99 <= bound_us
             and achieved >= 0.9 * offered)
    return {"offered": offered, "achieved": achieved, "p50_us": run.get("p50_us"),
            "p99_us": p99, "phase": run.get("phase"), "meets": bool(meets)}


def sla_from_search(doc, bound_us=SLA_US):
    """The SLA figure of one ix-load --search document: the highest achieved
    rate among the measured points that met the bound (never below any
    point that met it), the points themselves for the latency curves, and
    ix-load's word on what bounds the figure and whether it is too coarse
    to quote."""
    runs = doc.get("runs", [])
    search = doc.get("search") or {}
    points = [search_point(r, bound_us) for r in runs if r.get("phase") != "search-max"]
    meeting = [p for p in points if p["meets"]]
    chosen = max(meeting, key=lambda p: p["achieved"]) if meeting else None
    top = next((r for r in runs if r.get("phase") == "search-max"), {})
    return {"rate_at_sla": chosen["achieved"] if chosen else 0.0,
            "offered_at_sla": chosen["offered"] if chosen else None,
            "p99_at_sla_us": chosen["p99_us"] if chosen else None,
            "sla_limit": search.get("limit", "knee" if chosen else "none"),
            "sla_first_failing_rate": search.get("first_failing_rate"),
            "sla_meeting_rates": len({p["offered"] for p in meeting
                                      if chosen and p["offered"] <= chosen["offered"]}),
            "sla_coarse": bool(search.get("coarse")) if chosen else False,
            "sla_coarse_why": search.get("coarse_why") or "",
            "closed_loop_rate": top.get("achieved_rate"), "closed_loop_p99_us": top.get("p99_us"),
            "search_runs": len(runs), "points": sorted(points, key=lambda p: p["offered"])}


def sla_and_unloaded(ctx, server, workload):
    """The SLA search (sla_from_search) and the p99 of an unloaded server.
    The search starts with a closed-loop run (the most the server and client
    manage), then sweeps the offered rate upward from well below it and
    bisects the knee (ix-load --search)."""
    p = ctx.p
    d = load(ctx, server, workload, ["--search", str(SLA_US), "--search-sweep",
                                     str(p["mc_search_sweep"]), "--search-steps",
                                     str(p["mc_search_steps"]), "--rate", "0"],
             f"{server.kind} {workload} search")
    m = sla_from_search(d)
    errors = sum(r.get("errors", 0) for r in d.get("runs", []))
    u = load(ctx, server, workload, ["--rate", str(p["mc_unloaded_rate"])],
             f"{server.kind} {workload} unloaded")
    ur = u["runs"][-1] if u.get("runs") else {}
    return dict(m, unloaded_p99_us=ur.get("p99_us"), unloaded_p50_us=ur.get("p50_us"),
                errors=errors + ur.get("errors", 0))


def describe_search(row):
    """One line on a search's figure and the measured rates around it, so
    that the table's figure can be checked against fixed-rate runs."""
    if not row.get("rate_at_sla"):
        low = min((p["offered"] for p in row.get("points", [])), default=None)
        return "no rate met" + (f" down to {low:,.0f}/s offered" if low else "")
    text = (f"{row['rate_at_sla']:,.0f}/s achieved at p99 {row['p99_at_sla_us']:.0f} us "
            f"({row['offered_at_sla']:,.0f}/s offered, {row['sla_meeting_rates']} rate(s) met "
            "at or below it)")
    failing = row.get("sla_first_failing_rate")
    if row.get("sla_limit") == "knee" and failing:
        p99s = [p["p99_us"] for p in row.get("points", []) if p["offered"] == failing]
        shown = "/".join("over 1% unanswered" if x is None else f"{x:.0f}" for x in p99s)
        text += f"; {failing:,.0f}/s offered failed twice (p99 {shown} us)"
    elif row.get("sla_limit") == "capacity":
        text += "; met at the closed-loop rate itself, so capacity, not the SLA, bounds it"
    if row.get("sla_coarse"):
        text += f"; too coarse to quote: {row['sla_coarse_why']}"
    return text


def search_notes(rows):
    """Per server and workload, every round's search described."""
    notes = []
    keyed = {}
    for r in rows:
        if "rate_at_sla" in r and "batch" not in r:
            keyed.setdefault((r["workload"], r["server"]), []).append(r)
    for (wl, srv), rs in keyed.items():
        rounds = "; ".join(f"round {r.get('round')}: {describe_search(r)}" for r in rs)
        notes.append(f"{wl.upper()} {srv}, SLA search: {rounds}.")
    return notes


class LoopbackMemcached(MemcachedServer):
    """Debian memcached and ix-load (Linux) over 127.0.0.1 in one namespace,
    one core each: the Linux "system against system"."""

    def __init__(self, ctx):
        super().__init__(ctx, "memcached", listen=f"{ctx.hosts.get('lx').server_ip},127.0.0.1")
        self.kind = "memcached-loopback"
        self.load_dst = "127.0.0.1"
        self.load_prefix = ["ip", "netns", "exec", self.host.server_ns, "taskset", "-c",
                            str(ctx.cpus["client"]), os.path.join(ctx.build, "ix-load")]


def memif_memcached(ctx):
    """ix-memcached and ix-load --transport ix, two IX processes joined by
    DPDK net_memif, one core each: the IX "system against system"."""
    return syspair.MemifServer(ctx, "ix-memcached-memif", "ix-memcached",
                               ["--port", "11211", "--memory-limit", "1024"])


def memif_available(ctx):
    return syspair.available(ctx) and available(ctx)


def system_vs_system(ctx, R):
    """IX client + IX server over memif against Linux client + Linux server
    over loopback, ETC and USR, when the memif pair script exists."""
    if not memif_available(ctx):
        R.notes.append("System vs system (IX over memif): skipped, scripts/memif_pair.sh or a "
                       "binary is missing.")
        return
    for rnd in range(ctx.rounds):
        for make in (lambda: memif_memcached(ctx), lambda: LoopbackMemcached(ctx)):
            try:
                s = make()
            except BenchError as e:
                R.error(e)
                continue
            try:
                for wl in ctx.p["mc_system_workloads"]:
                    try:
                        R.add(server=s.kind, workload=wl, round=rnd + 1,
                              **sla_and_unloaded(ctx, s, wl))
                    except BenchError as e:
                        R.error(e)
            finally:
                s.stop()


def available(ctx):
    return (build_path(ctx.build, "ix-memcached") and build_path(ctx.build, "ix-load")
            and shutil.which("memcached"))


def run(ctx):
    R = Results("memcached", f"memcached ETC and USR: rate at p99 < {SLA_US} us, unloaded p99")
    if not available(ctx):
        R.notes.append("Skipped: ix-memcached and ix-load are not both built in this tree "
                       "(or Debian memcached is missing).")
        return R
    for rnd in range(ctx.rounds):
        kinds = ["ix-memcached", "memcached"]
        for kind in kinds[rnd % 2:] + kinds[:rnd % 2]:
            try:
                s = MemcachedServer(ctx, kind)
            except BenchError as e:
                R.error(e)
                continue
            try:
                for wl in ("etc", "usr"):
                    try:
                        m = sla_and_unloaded(ctx, s, wl)
                        R.add(server=kind, workload=wl, round=rnd + 1, **m)
                    except BenchError as e:
                        R.error(e)
            finally:
                rc, stats = s.stop()
                if stats:
                    R.add(server=kind, workload="server counters", round=rnd + 1,
                          **ix_counters(stats))
    system_vs_system(ctx, R)
    g = lambda key, **m: median_of(R.rows, key, **m)
    for wl, goal in (("usr", 3.6), ("etc", 2.8)):
        ix = g("rate_at_sla", server="ix-memcached-memif", workload=wl)
        lx = g("rate_at_sla", server="memcached-loopback", workload=wl)
        if ix is not None or lx is not None:
            rt = ratio(ix, lx)
            R.summary.append((f"{wl.upper()}: requests/s at p99 < {SLA_US} us, system vs system "
                              "(IX: ix-load + ix-memcached over memif; Linux: over loopback)",
                              ix, lx, rt, f"IX >= {goal}x", rt is not None and rt >= goal))
            ix = g("closed_loop_rate", server="ix-memcached-memif", workload=wl)
            lx = g("closed_loop_rate", server="memcached-loopback", workload=wl)
            R.summary.append((f"{wl.upper()}: closed-loop requests/s (no SLA), system vs system",
                              ix, lx, ratio(ix, lx), "-", None))
            ix = g("unloaded_p99_us", server="ix-memcached-memif", workload=wl)
            lx = g("unloaded_p99_us", server="memcached-loopback", workload=wl)
            rt = ratio(lx, ix)
            R.summary.append((f"{wl.upper()}: unloaded p99 (us), system vs system, Linux/IX", ix,
                              lx, rt, "IX lower", rt is not None and rt > 1))
        ix, lx = g("rate_at_sla", server="ix-memcached", workload=wl), g(
            "rate_at_sla", server="memcached", workload=wl)
        rt = ratio(ix, lx)
        R.summary.append((f"{wl.upper()}: requests/s at p99 < {SLA_US} us", ix, lx, rt,
                          f"IX >= {goal}x", rt is not None and rt >= goal))
        if not (ix or lx):
            R.notes.append(f"{wl.upper()}: neither server kept p99 under {SLA_US} us at any rate "
                           "tried on this host; the closed-loop rows compare them without "
                           "the SLA.")
        ix, lx = g("closed_loop_rate", server="ix-memcached", workload=wl), g(
            "closed_loop_rate", server="memcached", workload=wl)
        R.summary.append((f"{wl.upper()}: closed-loop requests/s (no SLA)", ix, lx, ratio(ix, lx),
                          "-", None))
        ix, lx = g("unloaded_p99_us", server="ix-memcached", workload=wl), g(
            "unloaded_p99_us", server="memcached", workload=wl)
        rt = ratio(lx, ix)
        R.summary.append((f"{wl.upper()}: unloaded p99 (us), Linux/IX", ix, lx, rt, "IX lower",
                          rt is not None and rt > 1))
    R.notes.extend(search_notes(R.rows))
    if any(r.get("sla_coarse") for r in R.rows):
        R.notes.append("A figure marked too coarse to quote came from too few rates (quick mode "
                       "measures few); bench/run.sh --full measures the knee finely enough.")
    unloaded = [r["unloaded_p99_us"] for r in R.rows if r.get("unloaded_p99_us")]
    if unloaded and min(unloaded) > SLA_US:
        R.bounds.append(f"Even unloaded, every server's p99 was above {SLA_US} us (lowest "
                        f"{min(unloaded):.0f} us): this host's scheduling delays, not a server, "
                        "set the tail, so no rate meets the SLA here.")
    R.bounds.append("memif (system vs system): both IX processes poll, one per core, so on a "
                    "2-core host they take both CPUs from everything else on the machine.")
    R.notes.append("ix-load on Linux sockets spins in epoll (--spin) instead of sleeping, for "
                   "every server alike, so that the client's wake-ups are not in the figures.")
    R.bounds.append("ix-load runs on the one client core over veth: a rate it cannot offer "
                    "is the client's bound; the veth path copies each frame into the AF_XDP "
                    "socket for IX.")
    return R
