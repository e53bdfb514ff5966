"""The benchmark harness's driver: runs the experiments for IX and for
its Linux peers, pinned one core per side, and writes JSON, CSV, PNG figures
and (unless told not to) the results table in bench/README.md.

  python3 bench/harness/run.py --quick|--full --build-dir DIR [--out DIR]
                               [--only latency,echo,...] [--set KEY=JSON ...] [--no-readme]

Started by bench/run.sh (which builds what it needs first). Root only: the
experiments run in network namespaces, which are removed on exit, on an
interrupt and on a failure, with every process the harness started."""

import argparse
import datetime
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import ROOT, Procs, cpu_layout, cpu_times, log, machine, steal_share  # noqa: E402
from topology import Hosts  # noqa: E402
import batching  # noqa: E402
import echo  # noqa: E402
import elastic  # noqa: E402
import latency  # noqa: E402
import loss  # noqa: E402
import memcached  # noqa: E402
import pool  # noqa: E402
import protected  # noqa: E402
import scale  # noqa: E402

EXPERIMENTS = {"latency": latency, "echo": echo, "memcached": memcached, "scale": scale,
               "batching": batching, "pool": pool, "loss": loss, "protected": protected,
               "elastic": elastic}

# Quick: a smoke run of every step (a couple of minutes). Full: the figures.
# Quick mode's time goes mostly to its ten SLA searches (memcached ETC and USR
# for both servers, USR system against system, USR at each of four batch
# bounds): each is a closed-loop run, a sweep up from upper / 2^mc_search_sweep
# and mc_search_steps bisections, every failing rate measured twice, and each
# run costs mc_warmup + mc_time. So its runs are short and its sweep starts
# near the top: up to about 7 runs of 0.7 s, where 4 and 2 took up to 11 of
# 1.5 s (some 15 s a search on a quiet host). Every step still runs and
# reports; quick figures are marked too coarse to quote where they are.
PARAMS = {
    "quick": dict(rounds=1, seconds=0.5, warmup=0.2, pingpong_count=2000, echo_conns=32,
                  echo_n=[1, 8, 1024], scale_conns=[10, 100, 1000], batches=[1, 4, 16, 64],
                  loop_reps=1, loop_min_time=0.2, loop_timeout=120, scale_loop_timeout=300,
                  scale_loop_conns=[10, 1000, 10000], scale_loop_seconds=0.5,
                  netpipe_upper=0, netpipe_timeout=60, mc_conns=16, mc_depth=4,
                  mc_records=10000, mc_warmup=0.2, mc_time=0.5, mc_search_sweep=2,
                  mc_search_steps=1, mc_unloaded_rate=1000, mc_timeout=120,
                  mc_system_workloads=["usr"], pool_conns=4,
                  loss_rates=[0, 1, 5, 10], loss_bytes=2_000_000, loss_timeout=60,
                  loss_rr_pct=1, loss_rr_seconds=3, protected_conns=64,
                  elastic_cap_s=0.3, elastic_low_pct=10, elastic_high_pct=90,
                  elastic_step_s=1.0, elastic_interval_s=0.1, elastic_settle_s=0.5,
                  deadline_s=900),
    "full": dict(rounds=3, seconds=3.0, warmup=1.0, pingpong_count=10000, echo_conns=64,
                 echo_n=[1, 8, 1024], scale_conns=[10, 100, 1000, 10000], batches=[1, 4, 16, 64],
                 loop_reps=5, loop_min_time=0.5, loop_timeout=300, scale_loop_timeout=900,
                 scale_loop_conns=[10, 100, 1000, 10000, 100000], scale_loop_seconds=2,
                 netpipe_upper=1 << 20, netpipe_timeout=300, mc_conns=64, mc_depth=4,
                 mc_records=100000, mc_warmup=1, mc_time=3, mc_search_sweep=5, mc_search_steps=4,
                 mc_unloaded_rate=2000, mc_timeout=600,
                 mc_system_workloads=["etc", "usr"], pool_conns=16,
                 loss_rates=[0, 1, 5, 10], loss_bytes=20_000_000, loss_timeout=120,
                 loss_rr_pct=1, loss_rr_seconds=10, protected_conns=64,
                 elastic_cap_s=2, elastic_low_pct=10, elastic_high_pct=90,
                 elastic_step_s=5, elastic_interval_s=0.05, elastic_settle_s=1.0,
                 # The loss step adds up to ~15 min (a 10% IX transfer runs to
                 # its 120 s bound in each of 3 rounds).
                 deadline_s=4800),
}


class Ctx:
    pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--quick", action="store_const", dest="mode", const="quick")
    mode.add_argument("--full", action="store_const", dest="mode", const="full")
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--out", help="results directory (default bench/results/<date>)")
    ap.add_argument("--only", help="comma-separated experiments: " + ",".join(EXPERIMENTS))
    ap.add_argument("--no-readme", action="store_true", help="leave bench/README.md alone")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                    help="override one of the mode's parameters (PARAMS below), e.g. "
                         "scale_conns=[10000] or rounds=1; the value is JSON")
    ap.add_argument("--command", help="the command line to record (bench/run.sh passes its own)")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench: run as root (the experiments use network namespaces)")
    only = a.only.split(",") if a.only else list(EXPERIMENTS)
    bad = [x for x in only if x not in EXPERIMENTS]
    if bad:
        sys.exit(f"bench: unknown experiment(s) {bad}; choose from {list(EXPERIMENTS)}")

    ctx = Ctx()
    ctx.p = dict(PARAMS[a.mode])
    for kv in a.set:
        key, _, val = kv.partition("=")
        if key not in ctx.p:
            sys.exit(f"bench: --set {kv}: no parameter {key!r}; choose from {sorted(ctx.p)}")
        try:
            ctx.p[key] = json.loads(val)
        except ValueError as e:
            sys.exit(f"bench: --set {kv}: the value is not JSON ({e})")
    ctx.rounds = ctx.p["rounds"]
    ctx.build = os.path.abspath(a.build_dir)
    ctx.cpus = cpu_layout()
    today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    ctx.outdir = os.path.abspath(a.out or os.path.join(ROOT, "bench", "results", today))
    os.makedirs(ctx.outdir, exist_ok=True)
    ctx.workdir = os.path.join(ctx.outdir, "logs")
    os.makedirs(ctx.workdir, exist_ok=True)
    ctx.procs = Procs()
    ctx.hosts = Hosts(f"bh{os.getpid() % 100000}")

    def on_signal(sig, _):
        raise KeyboardInterrupt(f"signal {sig}")

    # Installed explicitly: a shell starts background jobs with SIGINT
    # ignored, and the harness must still clean up when told to stop.
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    signal.signal(signal.SIGALRM, lambda s, f: (_ for _ in ()).throw(
        TimeoutError(f"the whole run exceeded {ctx.p['deadline_s']} s")))
    signal.alarm(ctx.p["deadline_s"])

    doc = {"command": a.command or " ".join(sys.argv), "mode": a.mode,
           "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
           "machine": machine(), "cpus": ctx.cpus, "rounds": ctx.rounds, "params": ctx.p,
           "build_dir": ctx.build, "experiments": []}
    t0 = time.time()
    cpu_start = cpu_times()
    status = 0
    try:
        for name in only:
            log(f"=== {name}")
            t = time.time()
            res = EXPERIMENTS[name].run(ctx)
            res.save(ctx.outdir)
            d = res.to_dict()
            d["description"] = " ".join(EXPERIMENTS[name].__doc__.split())
            try:
                import plots
                d["figures"] = [os.path.basename(f) for f in plots.draw(d, ctx.outdir)]
            except ImportError as e:
                d["figures"] = []
                d["errors"].append(f"figures not drawn: {e} (apt-get install python3-matplotlib)")
            d["seconds"] = round(time.time() - t, 1)
            d["date"], d["command"] = doc["date"], doc["command"]
            doc["experiments"].append(d)
            log(f"=== {name} done in {d['seconds']} s, {len(d['errors'])} error(s)")
    except (KeyboardInterrupt, TimeoutError) as e:
        log(f"stopped: {e}")
        doc["interrupted"] = str(e)
        status = 130 if isinstance(e, KeyboardInterrupt) else 1
    finally:
        signal.alarm(0)
        ctx.procs.stop_all()
        ctx.hosts.down()
    doc["seconds"] = round(time.time() - t0, 1)
    doc["load_average_end"] = " ".join(open("/proc/loadavg").read().split()[:3])
    doc["steal_share"] = steal_share(cpu_start, cpu_times())
    if a.only and status == 0:
        merge_earlier(doc, os.path.join(ctx.outdir, "results.json"))
    with open(os.path.join(ctx.outdir, "results.json"), "w") as f:
        json.dump(doc, f, indent=1)
    with open(os.path.join(ctx.outdir, "summary.csv"), "w") as f:
        f.write("experiment,metric,ix,linux,ratio,goal,goal_met\n")
        from common import csv_cell
        for e in doc["experiments"]:
            for s in e["summary"]:
                f.write(",".join(csv_cell(v) for v in (e["name"], s["metric"], s["ix"],
                                                       s["linux"], s["ratio"], s["goal"],
                                                       s["goal_met"])) + "\n")
    print_summary(doc)
    if not a.no_readme and status == 0:
        import report
        rel = os.path.relpath(ctx.outdir, ROOT)
        report.update_readme(os.path.join(ROOT, "bench", "README.md"), doc, rel)
        log("wrote the table in bench/README.md")
    log(f"results in {ctx.outdir} ({doc['seconds']} s)")
    return status


def merge_earlier(doc, path):
    """--only re-runs some experiments: the others keep their results from
    the earlier run of the same mode in this directory, each experiment
    saying when and by which command it was measured."""
    try:
        old = json.load(open(path))
    except (OSError, ValueError):
        return
    if old.get("mode") != doc["mode"] or old.get("interrupted"):
        return
    fresh = {e["name"]: e for e in doc["experiments"]}
    kept = {e["name"]: dict(e, date=e.get("date", old["date"]),
                            command=e.get("command", old["command"]))
            for e in old.get("experiments", []) if e["name"] not in fresh}
    if not kept:
        return
    merged = {**kept, **fresh}
    doc["experiments"] = [merged[n] for n in EXPERIMENTS if n in merged]
    doc["merged_from"] = {"command": old["command"], "date": old["date"],
                          "machine": old["machine"], "load_average_end": old.get(
                              "load_average_end")}
    log(f"kept {sorted(kept)} from the run of {old['date']}")


def print_summary(doc):
    from report import num, verdict
    for e in doc["experiments"]:
        print(f"\n{e['title']}  [{e['seconds']} s, {len(e['errors'])} error(s)]")
        # The value columns' names (IX and Linux unless the experiment says).
        ca, cb = e.get("columns", ["IX", "Linux"])
        for s in e["summary"]:
            rt, ok = verdict(s)
            print(f"  {s['metric'][:78]:78} {ca} {num(s['ix']):>10}  {cb} {num(s['linux']):>10}"
                  f"  ratio {rt:>6}  goal {s['goal']} ({ok})")
        for err in e["errors"]:
            print(f"  error: {err[:200]}")


if __name__ == "__main__":
    sys.exit(main())
