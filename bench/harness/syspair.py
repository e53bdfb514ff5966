"""System against system: each system with its own stack on both sides and
the same client program, ix-load, in both.

IX: the IX server and ix-load --transport ix, two IX processes joined by
DPDK net_memif (scripts/memif_pair.sh), one core each, no kernel in the
path. Linux: the Linux server and ix-load on Linux sockets over 127.0.0.1
in the server's namespace, one core each."""

import json
import os
import subprocess
import time

from common import ROOT, BenchError, build_path, log

MEMIF_SERVER_IP = "10.88.0.1"


class MemifServer:
    """An IX server application on the server core, the server side of a
    memif pair; ix-load runs as the client side (load_prefix)."""

    def __init__(self, ctx, kind, app, app_args, limit_s=900):
        self.ctx, self.kind = ctx, kind
        # One name per pair so that a leftover socket of an earlier run is
        # never mistaken for this one.
        self.name = f"bh{os.getpid() % 100000}{int(time.time() * 1000) % 100000}"
        self.sock = f"/run/ix-memif-{self.name}.sock"
        pair = os.path.join(ROOT, "scripts", "memif_pair.sh")
        self.log = os.path.join(ctx.workdir, f"{kind}-{time.time():.3f}.log")
        self.stats_file = self.log + ".stats.json"
        self.proc = ctx.procs.start(
            ["env", f"MEMIF_NAME={self.name}", f"MEMIF_SERVER_CPU={ctx.cpus['server']}", pair,
             "server", ctx.build, app, *app_args, "--seconds", str(limit_s), "--stats-file",
             self.stats_file], self.log)
        self.load_dst = MEMIF_SERVER_IP
        self.load_prefix = ["env", f"MEMIF_NAME={self.name}",
                            f"MEMIF_CLIENT_CPU={ctx.cpus['client']}", pair, "client", ctx.build,
                            "ix-load", "--transport", "ix", "--seconds", str(limit_s)]
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"{kind} exited at start-up: {open(self.log).read()[-400:]}")
            if os.path.exists(self.sock):
                time.sleep(0.5)
                return
            time.sleep(0.2)
        self.stop()
        raise BenchError(f"{kind}: no memif socket {self.sock} within 20 s")

    def stop(self):
        rc = self.ctx.procs.stop(self.proc)
        try:
            os.unlink(self.sock)
        except OSError:
            pass
        stats = None
        if os.path.exists(self.stats_file):
            try:
                stats = json.load(open(self.stats_file))
            except ValueError:
                pass
        return rc, stats


def loopback_prefix(ctx, host):
    """ix-load on Linux sockets in the server's namespace on the client core:
    the Linux side of system against system (connect to 127.0.0.1)."""
    return ["ip", "netns", "exec", host.server_ns, "taskset", "-c", str(ctx.cpus["client"]),
            os.path.join(ctx.build, "ix-load")]


def available(ctx):
    return (os.path.exists(os.path.join(ROOT, "scripts", "memif_pair.sh"))
            and build_path(ctx.build, "ix-load") is not None)


def ix_load(ctx, prefix, dst, args, timeout, what):
    """Runs ix-load (prefix: how and where) against dst (IPv4:PORT) to the
    end; returns its JSON document, with exit_code. A run that measured
    nothing or failed outright raises BenchError."""
    out = os.path.join(ctx.workdir, f"load-{time.time():.3f}.json")
    argv = [*prefix, "--server", dst, *args, "--json", out]
    log("run: " + " ".join(argv))
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise BenchError(f"{what}: ix-load gave no result within {timeout:.0f} s")
    if not os.path.exists(out):
        raise BenchError(f"{what}: ix-load exit {r.returncode}: {(r.stdout + r.stderr)[-500:]}")
    doc = json.load(open(out))
    if doc.get("outcome") != "ok" or not doc.get("runs"):
        raise BenchError(f"{what}: ix-load: {doc.get('outcome')} (exit {r.returncode}): "
                         f"{(r.stdout + r.stderr)[-300:]}")
    doc["exit_code"] = r.returncode
    return doc


def echo_run(ctx, prefix, dst, conns, seconds, warmup, what, extra=()):
    """A closed-loop echo run of 64-byte messages, one outstanding per
    connection (ping-pong when conns is 1); the last run's figures."""
    d = ix_load(ctx, prefix, dst,
                ["--protocol", "echo", "--size", "64", "--rate", "0", "--conns", str(conns),
                 "--depth", "1", "--warmup", str(warmup), "--time", str(seconds), *extra],
                seconds + warmup + 90, what)
    run = d["runs"][-1]
    if run.get("errors"):
        raise BenchError(f"{what}: {run['errors']} errors (corrupt echoes or broken connections)")
    return run
