"""PNG figures in the manner of the IX paper's: one panel per experiment,
IX in solid lines with filled markers, the Linux servers in other colours,
logarithmic axes where the paper uses them (message size, round trips per
connection, connection count). Each figure is drawn from the rows saved in
the experiment's JSON, so it can be redrawn from the results alone."""

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from measure import median_of  # noqa: E402

STYLE = {
    "ix": ("IX (1 core)", "#d62728", "o", "-"),
    "ix-2core": ("IX (2 cores)", "#ff7f0e", "s", "-"),
    "ix-memif": ("IX client + IX server (memif)", "#e377c2", "o", "-"),
    "ix-loopwire": ("IX, two stacks on the loop wire (one CPU)", "#8c564b", "P", "-."),
    "linux-epoll": ("Linux epoll", "#1f77b4", "^", "--"),
    "linux-epoll-busy": ("Linux epoll busy-poll", "#17becf", "v", "--"),
    "linux-uring": ("Linux io_uring", "#2ca02c", "D", "--"),
    "linux-loopback": ("Linux loopback", "#1f77b4", "^", "--"),
    "linux-loopback-busy": ("Linux loopback busy", "#17becf", "v", "--"),
    "linux-inprocess": ("Linux (in-process)", "#9467bd", "x", ":"),
    "ix-memcached": ("IX memcached", "#d62728", "o", "-"),
    "memcached": ("Linux memcached", "#1f77b4", "^", "--"),
    "ix-memcached-memif": ("IX memcached + IX client (memif)", "#e377c2", "o", "-"),
    "memcached-loopback": ("Linux memcached (loopback)", "#17becf", "v", "--"),
    "linux": ("Linux NPtcp", "#1f77b4", "^", "--"),
}


def _style(name):
    return STYLE.get(name, (name, "#7f7f7f", ".", "-"))


def _axes(title, xlabel, ylabel):
    fig, ax = plt.subplots(figsize=(5.5, 3.8), dpi=110)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", linestyle=":", linewidth=0.6)
    return fig, ax


def _save(fig, ax, path):
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def latency(res, outdir):
    rows = [r for r in res["rows"] if r.get("view") in ("system", "same-client")]
    if not rows:
        return []
    labels, p50, p99 = [], [], []
    seen = []
    for r in rows:
        key = (r["view"], r["server"], r.get("setting"))
        if key in seen:
            continue
        seen.append(key)
        m = dict(view=r["view"], server=r["server"], setting=r.get("setting"))
        labels.append(f"{_style(r['server'])[0]}\n{r.get('setting', '')}\n[{r['view']}]")
        p50.append(median_of(rows, "one_way_p50_us", **m) or 0)
        p99.append(median_of(rows, "one_way_p99_us", **m) or 0)
    fig, ax = _axes("64 B TCP ping-pong, one-way latency", "", "one-way latency (us, log)")
    xs = range(len(labels))
    ax.bar([x - 0.2 for x in xs], p50, width=0.4, label="p50", color="#d62728")
    ax.bar([x + 0.2 for x in xs], p99, width=0.4, label="p99", color="#7f7f7f")
    ax.set_yscale("log")
    ax.set_xticks(list(xs))
    ax.set_xticklabels(labels, fontsize=5.5, rotation=60, ha="right")
    out = [_save(fig, ax, os.path.join(outdir, "latency.png"))]
    np_rows = [r for r in res["rows"] if r.get("view") == "netpipe"]
    if np_rows:
        fig, ax = _axes("NetPIPE (NPtcp), TCP over veth", "message size (bytes)", "goodput (Gbps)")
        for side in ("ix", "linux"):
            pts = sorted((r["bytes"], r["mbps"] / 1e3) for r in np_rows if r["server"] == side)
            if pts:
                name, c, mk, ls = _style(side)
                ax.plot(*zip(*pts), color=c, marker=mk, linestyle=ls, markersize=3, label=name)
        ax.set_xscale("log")
        out.append(_save(fig, ax, os.path.join(outdir, "netpipe.png")))
    return out


def _lines(res, outdir, fname, title, xkey, ykey, xlabel, ylabel, logx, view=None, ylog=False):
    rows = [r for r in res["rows"] if r.get(ykey) is not None and r.get(xkey) is not None
            and (view is None or r.get("view") == view) and isinstance(r.get(xkey), (int, float))]
    if not rows:
        return []
    fig, ax = _axes(title, xlabel, ylabel)
    for srv in dict.fromkeys(r["server"] for r in rows):
        xs = sorted(set(r[xkey] for r in rows if r["server"] == srv))
        ys = [median_of(rows, ykey, server=srv, **{xkey: x}) for x in xs]
        name, c, mk, ls = _style(srv)
        ax.plot(xs, ys, color=c, marker=mk, linestyle=ls, label=name)
    if logx:
        ax.set_xscale("log")
    if ylog:
        ax.set_yscale("log")
    return [_save(fig, ax, os.path.join(outdir, fname))]


def echo(res, outdir):
    return _lines(res, outdir, "echo.png", "Echo, 64 B messages, n round trips per connection",
                  "n", "msgs_per_sec", "round trips per connection (n)", "messages/s",
                  True, view="same-client")


def scale(res, outdir):
    return _lines(res, outdir, "scale.png", "Echo throughput vs concurrent connections",
                  "conns", "msgs_per_sec", "connections", "messages/s", True)


def batching(res, outdir):
    rows = [r for r in res["rows"] if r.get("workload") == "echo" and r.get("msgs_per_sec")]
    if not rows:
        return []
    bs = sorted(set(r["batch"] for r in rows))
    fig, ax = _axes("Adaptive batching bound (echo, IX)", "batch bound", "messages/s")
    ax.plot(bs, [median_of(rows, "msgs_per_sec", batch=b) for b in bs], color="#d62728",
            marker="o", label="throughput")
    ax.set_xscale("log", base=2)
    ax2 = ax.twinx()
    ax2.plot(bs, [median_of(rows, "unloaded_p99_us", batch=b) for b in bs], color="#7f7f7f",
             marker="s", linestyle="--", label="unloaded p99 (us)")
    ax2.set_ylabel("unloaded p99 (us)")
    ax2.legend(fontsize=8, frameon=False, loc="lower right")
    return [_save(fig, ax, os.path.join(outdir, "batching.png"))]


# The memcached servers in the order the figures list them: system against
# system first (each system's own client), then the same Linux client over veth.
MEMCACHED_SERVERS = ["ix-memcached-memif", "memcached-loopback", "ix-memcached", "memcached"]
MEMCACHED_LABELS = {
    "ix-memcached-memif": "IX memcached, IX client (memif) [system vs system]",
    "memcached-loopback": "Linux memcached, Linux client (loopback) [system vs system]",
    "ix-memcached": "IX memcached (AF_XDP) [same client over veth]",
    "memcached": "Linux memcached [same client over veth]",
}


def _sla_rows(res):
    return [r for r in res["rows"] if r.get("rate_at_sla") is not None and "batch" not in r]


def memcached_bars(res, outdir, sla_us=500):
    """Requests/s at the SLA per server and workload; a hatched bar is a
    figure the search called too coarse to quote."""
    rows = _sla_rows(res)
    if not rows:
        return []
    servers = [s for s in MEMCACHED_SERVERS if any(r["server"] == s for r in rows)]
    wls = ["etc", "usr"]
    any_coarse = any(r.get("sla_coarse") for r in rows)
    fig, ax = _axes(f"memcached: requests/s at p99 < {sla_us} us"
                    + (" (hatched: too coarse to quote)" if any_coarse else ""), "", "requests/s")
    width = 0.8 / max(1, len(servers))
    for i, srv in enumerate(servers):
        _, c, _, _ = _style(srv)
        xs = [x + (i - (len(servers) - 1) / 2) * width for x in range(len(wls))]
        ys = [median_of(rows, "rate_at_sla", server=srv, workload=w) or 0 for w in wls]
        coarse = [any(r.get("sla_coarse") for r in rows if r["server"] == srv
                      and r["workload"] == w) for w in wls]
        bars = ax.bar(xs, ys, width=width, color=c, label=MEMCACHED_LABELS.get(srv, srv))
        for bar, is_coarse in zip(bars, coarse):
            if is_coarse:
                bar.set_hatch("//")
    ax.set_xticks(range(len(wls)))
    ax.set_xticklabels([w.upper() for w in wls])
    ax.legend(fontsize=6, frameon=False)
    fig.tight_layout()
    path = os.path.join(outdir, "memcached.png")
    fig.savefig(path)
    plt.close(fig)
    return [path]


def latency_curve(rows, server, workload, key):
    """(achieved requests/s, latency) of every open-loop rate a server's
    searches measured for a workload, all rounds, in order of achieved rate;
    a point with over 1% of its requests unanswered has no p99."""
    pts = [(p["achieved"], p[key]) for r in rows if r["server"] == server
           and r["workload"] == workload for p in r.get("points", [])
           if p.get(key) is not None and p.get("achieved")]
    return sorted(pts)


def binned_median(pts, bins=14):
    """The curve a reader can follow through noisy points: the points split
    into `bins` equal ranges of achieved rate, each range drawn at the median
    of its rates and latencies (searches measure the same rates several
    times, in several rounds; a line through every point zig-zags)."""
    if not pts:
        return []
    top = max(x for x, _ in pts) or 1.0
    groups = {}
    for x, y in pts:
        groups.setdefault(min(int(x / top * bins), bins - 1), []).append((x, y))
    out = []
    for _, g in sorted(groups.items()):
        xs = sorted(x for x, _ in g)
        ys = sorted(y for _, y in g)
        out.append((xs[len(xs) // 2], ys[len(ys) // 2]))
    return out


def latency_figure(res, sla_us=500):
    """The IX paper's memcached figure: p99 (solid) and p50 (dotted)
    latency against achieved requests/s, one curve per server (the median
    of each range of rates; every measured point faintly behind it), one
    panel per workload, the SLA drawn across. None without measured points."""
    rows = _sla_rows(res)
    if not any(r.get("points") for r in rows):
        return None
    wls = ["etc", "usr"]
    fig, axes = plt.subplots(1, len(wls), figsize=(11, 5), dpi=110, sharey=True)
    for ax, wl in zip(axes, wls):
        ax.set_title(f"memcached {wl.upper()}: latency against load", fontsize=10)
        ax.set_xlabel("achieved requests/s")
        ax.grid(True, which="both", linestyle=":", linewidth=0.6)
        for srv in MEMCACHED_SERVERS:
            _, c, mk, _ = _style(srv)
            p99 = latency_curve(rows, srv, wl, "p99_us")
            p50 = latency_curve(rows, srv, wl, "p50_us")
            for pts, size in ((p99, 6), (p50, 3)):
                if pts:
                    ax.scatter(*zip(*pts), color=c, s=size, alpha=0.25, linewidths=0)
            if p99:
                ax.plot(*zip(*binned_median(p99)), color=c, marker=mk, markersize=3, linestyle="-",
                        label=f"{MEMCACHED_LABELS[srv]} p99")
            if p50:
                ax.plot(*zip(*binned_median(p50)), color=c, marker=mk, markersize=2,
                        linestyle=":", linewidth=0.8, label=f"{MEMCACHED_LABELS[srv]} p50")
        ax.axhline(sla_us, color="black", linestyle="--", linewidth=1,
                   label=f"SLA: p99 < {sla_us} us")
        ax.set_yscale("log")
    axes[0].set_ylabel("latency (us, log)")
    # One legend below both panels (a panel may lack a server: quick mode
    # runs system against system on USR only).
    handles = {}
    for ax in axes:
        for h, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, h)
    fig.legend(handles.values(), handles.keys(), loc="lower center", ncol=3, fontsize=6.5,
               frameon=False)
    fig.tight_layout(rect=(0, 0.16, 1, 1))
    return fig


def memcached_latency(res, outdir, sla_us=500):
    fig = latency_figure(res, sla_us)
    if fig is None:
        return []
    path = os.path.join(outdir, "memcached_latency.png")
    fig.savefig(path)
    plt.close(fig)
    return [path]


def memcached(res, outdir):
    return memcached_bars(res, outdir) + memcached_latency(res, outdir)


def loss(res, outdir):
    return _lines(res, outdir, "loss.png", "Bulk echo goodput under random loss (per direction)",
                  "loss_pct", "goodput_mbps", "frames dropped per direction (%)",
                  "goodput (Mbit/s, log)", False, view="transfer", ylog=True)


def elastic(res, outdir):
    """Throughput and threads in service over time (top), p99 (bottom), for
    the elastic and the static run."""
    rows = [r for r in res["rows"] if r.get("view") == "interval"]
    if not rows:
        return []
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6.5, 5.2), dpi=110, sharex=True)
    colors = {"elastic": "#d62728", "static": "#1f77b4"}
    right = top.twinx()
    for kind in ("elastic", "static"):
        rs = [r for r in rows if r["server"] == kind]
        if not rs:
            continue
        t = [r["t_s"] for r in rs]
        top.plot(t, [r["achieved_rate"] for r in rs], color=colors[kind], label=f"{kind} req/s")
        right.step(t, [r["threads"] or 0 for r in rs], where="post", color=colors[kind],
                   linestyle=":", label=f"{kind} threads")
        bottom.plot(t, [r["p99_us"] for r in rs], color=colors[kind], label=f"{kind} p99")
    top.set_title("Stepped load: throughput and elastic threads in service", fontsize=10)
    top.set_ylabel("requests/s")
    right.set_ylabel("threads in service")
    right.set_ylim(0, 2.5)
    bottom.axhline(500, color="#7f7f7f", linestyle="--", linewidth=0.8, label="500 us SLA")
    bottom.set_yscale("log")
    bottom.set_ylabel("p99 (us, log)")
    bottom.set_xlabel("seconds")
    for ax in (top, bottom):
        ax.grid(True, linestyle=":", linewidth=0.6)
    handles = top.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    labels = top.get_legend_handles_labels()[1] + right.get_legend_handles_labels()[1]
    top.legend(handles, labels, fontsize=7, frameon=False, loc="upper left")
    return [_save(fig, bottom, os.path.join(outdir, "elastic.png"))]


DRAW = {"latency": latency, "echo": echo, "scale": scale, "batching": batching,
        "memcached": memcached, "loss": loss, "elastic": elastic}


def draw(res, outdir):
    f = DRAW.get(res["name"])
    return f(res, outdir) if f else []
