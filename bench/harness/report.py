"""The results table in bench/README.md: the command, the date, the
machine, and per experiment its IX and Linux figures, the ratio measured in
the same run, the goal beside it and whether it was met, and what bounds the
figures on this host."""

import os
import re

SECTION = "## IX against Linux: the benchmark harness"


def num(x):
    if x is None:
        return "-"
    if isinstance(x, str):
        return x
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.3g}"


def met(m):
    return {True: "met", False: "**not met**", None: "-"}[m]


def verdict(s):
    """The ratio and goal cells of a summary row. A rate goal ("IX >= Nx")
    where Linux reached no rate at all (0: no rate kept the SLA) while IX did
    has no finite ratio; IX's rate is more than any multiple of Linux's, so
    the goal is met, and the cell says why."""
    ix, lx = s.get("ix"), s.get("linux")
    if (s.get("ratio") is None and lx == 0 and isinstance(ix, (int, float)) and ix > 0
            and str(s.get("goal", "")).startswith("IX >=")):
        return "Linux: none", met(True)
    return num(s.get("ratio")), met(s.get("goal_met"))


def section(doc, relout):
    m = doc["machine"]
    lines = [SECTION, "",
             f"- **Command:** `{doc['command']}`",
             f"- **Date:** {doc['date']}",
             f"- **Machine:** {m['cpus']} CPUs ({m['cpu_model']}, lscpu), Linux {m['kernel']}; "
             f"load average {m['load_average']} at the start, {doc['load_average_end']} at the end"
             + (f"; the hypervisor took {100 * doc['steal_share']:.1f}% of CPU time during the run "
                "(steal), each such stall lands in the tail"
                if doc.get("steal_share") is not None else ""),
             f"- **Mode:** {doc['mode']} ({doc['rounds']} round(s) per server, order rotating; "
             f"medians over rounds); client on CPU {doc['cpus']['client']}, server on CPU "
             f"{doc['cpus']['server']}",
             f"- **Raw results:** `{relout}/` (results.json, one JSON and CSV per experiment, "
             "PNG figures)", ""]
    if doc.get("merged_from"):
        mf = doc["merged_from"]
        lines[-1:-1] = [f"- **Other experiments** from `{mf['command']}` on {mf['date']} (load "
                        f"average {mf.get('load_average_end')} at its end); each section says "
                        "when it was measured"]
    lines += [
             "Absolute figures drift between runs on this shared VM; ratios are measured within "
             "one run. \"Same client\": one Linux client (echo-rr-client or ix-load) in a peer "
             "namespace against each server over its own veth pair (IX on AF_XDP, copy mode). "
             "\"System vs system\": the same client program, ix-load (memcached or --protocol "
             "echo), on each system's own stack: on IX, ix-load on the dataplane and the IX "
             "server, two processes joined by DPDK net_memif (scripts/memif_pair.sh, shared "
             "memory, no kernel); on Linux, ix-load on sockets and the Linux server over "
             "loopback; one core each. Rows marked \"in-process\" run both stacks of a kind on "
             "one CPU (tcp_echo_bench), a view free of scheduling between processes.", ""]
    for e in doc["experiments"]:
        lines += [f"### {e['title']}", ""]
        if e.get("description"):
            lines += [e["description"], ""]
        if e.get("date") and e["date"] != doc["date"]:
            lines += [f"Measured {e['date']} by `{e['command']}` (the rest of this run's "
                      "settings and machine as above).", ""]
        if e["summary"]:
            a, b = e.get("columns", ["IX", "Linux"])
            lines += [f"| metric | {a} | {b} | ratio | goal | goal |",
                      "|---|---:|---:|---:|---|---|"]
            for s in e["summary"]:
                rt, ok = verdict(s)
                lines.append(f"| {s['metric']} | {num(s['ix'])} | {num(s['linux'])} | "
                             f"{rt} | {s['goal']} | {ok} |")
            lines.append("")
        for n in e["notes"]:
            lines.append(f"- {n}")
        for b in e["bounds"]:
            lines.append(f"- Bound: {b}")
        for err in e["errors"]:
            lines.append(f"- Error: {err}")
        figs = [f for f in e.get("figures", [])]
        if figs:
            lines.append("- Figures: " + ", ".join(f"`{relout}/{os.path.basename(f)}`"
                                                   for f in figs))
        lines.append("")
    return "\n".join(lines)


def update_readme(path, doc, relout):
    text = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
    row = ("| `bench/run.sh` | every experiment of the IX paper on this host (latency, echo, "
           "memcached, connection scalability, adaptive batching), goodput under random loss and "
           "protected mode against library mode, "
           "IX against Linux servers, "
           "results in `bench/results/<date>/` and the table below (`--quick` or `--full`) |")
    if "| `bench/run.sh` |" not in text:
        ls = text.split("\n")
        last = max((i for i, l in enumerate(ls) if l.startswith("| `bench/")), default=None)
        if last is None:
            text = text.rstrip("\n") + "\n\n" + row + "\n"
        else:
            ls.insert(last + 1, row)
            text = "\n".join(ls)
    sec = section(doc, relout)
    pat = re.compile("^" + re.escape(SECTION) + r"\n.*?(?=^## |\Z)", re.S | re.M)
    if pat.search(text):
        text = pat.sub(lambda _: sec + "\n", text)
    else:
        text = text.rstrip("\n") + "\n\n" + sec
    open(path, "w").write(text.rstrip("\n") + "\n")
