"""The hosts the experiments run on, built from scripts/netns.sh pairs of
network namespaces joined by veth, and the echo servers started on them.

  ix   NAME-ix holds ix0 driven by the dataplane (AF_XDP, no kernel address);
       the Linux client runs in NAME-peer.
  ix2  the same with two queues, for the dataplane on two cores.
  lx   NAME-ix holds ix0 with the address in the kernel: the Linux servers;
       the same client in NAME-peer. Its own loopback is the "Linux client
       against Linux server" host (127.0.0.1).
  loss like ix, but IX and the Linux server take turns on it (the kernel
       holds the address only while Linux serves), so both see one path and
       one dropper (loss.py).

Each client namespace gets tcp_tw_reuse and the full ephemeral port range
(per-namespace settings), so a client that opens a connection per message
does not run out of ports to TIME_WAIT."""

import os
import subprocess
import time

from common import ROOT, BenchError, log, run_json

NETNS = os.path.join(ROOT, "scripts", "netns.sh")


class Pair:
    def __init__(self, name, queues, subnet, kernel_addr):
        self.name = name
        self.server_ip = f"{subnet}.2"
        self.client_ip = f"{subnet}.1"
        out = subprocess.run([NETNS, "up", name, "--queues", str(queues), "--ix-addr",
                              f"{self.server_ip}/24", "--peer-addr", f"{self.client_ip}/24"],
                             capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise BenchError(f"netns.sh up {name}: {out.stderr.strip()}")
        env = dict(kv.split("=", 1) for kv in out.stdout.split())
        self.server_ns, self.client_ns, self.dev = env["IX_NS"], env["PEER_NS"], env["IX_IF"]
        self.queues = queues
        if kernel_addr:
            sh(["ip", "-n", self.server_ns, "addr", "add", f"{self.server_ip}/24", "dev", self.dev])
        for ns in (self.client_ns, self.server_ns):
            sh(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.tcp_tw_reuse=1"])
            sh(["ip", "netns", "exec", ns, "sysctl", "-qw",
                "net.ipv4.ip_local_port_range=1024 65535"])

    def down(self):
        subprocess.run([NETNS, "down", self.name], capture_output=True, timeout=60)


def sh(argv):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise BenchError(f"{' '.join(argv)}: {r.stderr.strip()}")


class Hosts:
    """All namespaces of one run; down() removes every one that was made."""

    def __init__(self, prefix):
        self.prefix = prefix
        self.pairs = {}

    def get(self, kind):
        if kind not in self.pairs:
            # "loss": one queue, no kernel address at first; the loss
            # experiment gives the kernel the address while Linux serves.
            spec = {"ix": (1, "10.81.0", False), "ix2": (2, "10.82.0", False),
                    "lx": (1, "10.83.0", True), "loss": (1, "10.84.0", False)}[kind]
            name = f"{self.prefix}{kind}"
            subprocess.run([NETNS, "down", name], capture_output=True, timeout=60)
            self.pairs[kind] = Pair(name, *spec)
        return self.pairs[kind]

    def down(self):
        for p in self.pairs.values():
            p.down()
        self.pairs.clear()


# Servers: name -> (host kind, how it is started). Every one echoes on port 7.
SERVERS = {
    "ix": "IX ix-tcp-echo, AF_XDP, 1 core",
    "ix-2core": "IX ix-tcp-echo, AF_XDP, 2 cores (2 queues)",
    "ix-protected": "IX protected mode: ixd (AF_XDP, 1 core) and ix-tcp-echo attached to it, "
                    "both on the server core",
    "linux-epoll": "Linux linux-tcp-echo (epoll)",
    "linux-epoll-busy": "Linux linux-tcp-echo --busy-poll (spinning epoll, SO_BUSY_POLL)",
    "linux-uring": "Linux linux-uring-echo (io_uring)",
}


class Server:
    """One echo server on its host, ready when start() returns."""

    def __init__(self, ctx, kind, batch=None, limit_s=600, host=None):
        """host: a Pair to serve from instead of the kind's own (the loss
        experiment serves IX and Linux from one pair in turn)."""
        self.ctx, self.kind = ctx, kind
        b, cpus = ctx.build, ctx.cpus
        self.host = host or ctx.hosts.get("ix2" if kind == "ix-2core" else
                                          "ix" if kind.startswith("ix") else "lx")
        self.log = os.path.join(ctx.workdir, f"{kind}-{len(ctx.procs.live)}-{time.time():.0f}.log")
        self.stats_file = None
        ns = self.host.server_ns
        self.app_proc = None
        if kind == "ix-protected":
            # The dataplane process owns the NIC; the application attaches to
            # it and shares its core (the placement measured here: with one
            # client core and one server core there is no third).
            core = str(cpus["server"])
            self.stats_file = self.log + ".stats.json"
            sock = self.log + ".sock"
            argv = ["ip", "netns", "exec", ns, f"{b}/ixd", "--dev", self.host.dev,
                    "--host-addr", f"{self.host.server_ip}/24", "--cpu", core, "--socket", sock,
                    "--seconds", str(limit_s + 5), "--stats-file", self.stats_file]
            if batch is not None:
                argv += ["--batch", str(batch)]
            self.argv = argv
            self.proc = ctx.procs.start(argv, self.log)
            deadline = time.time() + 15
            while not os.path.exists(sock) and time.time() < deadline:
                if self.proc.poll() is not None:
                    raise BenchError(f"ixd exited at start-up: {tail(self.log)}")
                time.sleep(0.1)
            self.app_proc = ctx.procs.start(
                ["taskset", "-c", core, f"{b}/ix-tcp-echo", "--dataplane", sock, "--port", "7",
                 "--seconds", str(limit_s)], self.log + ".app")
            self._wait_ready()
            return
        if kind.startswith("ix"):
            cores = ",".join(map(str, cpus["server2"])) if kind == "ix-2core" else str(cpus["server"])
            self.stats_file = self.log + ".stats.json"
            argv = ["ip", "netns", "exec", ns, f"{b}/ix-tcp-echo", "--dev", self.host.dev,
                    "--host-addr", f"{self.host.server_ip}/24", "--cpu", cores, "--port", "7",
                    "--seconds", str(limit_s), "--stats-file", self.stats_file]
            if batch is not None:
                argv += ["--batch", str(batch)]
        else:
            prog = {"linux-epoll": ["linux-tcp-echo"],
                    "linux-epoll-busy": ["linux-tcp-echo", "--busy-poll"],
                    "linux-uring": ["linux-uring-echo"],
                    "linux-uring-spin": ["linux-uring-echo", "--spin"]}[kind]
            argv = ["ip", "netns", "exec", ns, "taskset", "-c", str(cpus["server"]),
                    f"{b}/{prog[0]}", *prog[1:], "--port", "7", "--seconds", str(limit_s)]
        self.argv = argv
        self.proc = ctx.procs.start(argv, self.log)
        self._wait_ready()

    def _wait_ready(self):
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"{self.kind} exited at start-up: {tail(self.log)}")
            try:
                r = run_json(self.client_argv(["pingpong", "--count", "1"], timeout_ms=300),
                             5, f"{self.kind} readiness")
                if r["exit_code"] == 0:
                    return
            except Exception:
                pass
            time.sleep(0.2)
        raise BenchError(f"{self.kind} did not answer within 15 s: {tail(self.log)}")

    def client_argv(self, args, timeout_ms=2000, ns=None, dst=None):
        c = self.ctx
        return ["ip", "netns", "exec", ns or self.host.client_ns, "taskset", "-c",
                str(c.cpus["client"]), f"{c.build}/echo-rr-client", "--dst",
                f"{dst or self.host.server_ip}:7", "--timeout-ms", str(timeout_ms), *args]

    def stop(self):
        if self.app_proc is not None:
            app_rc = self.ctx.procs.stop(self.app_proc)
            if app_rc not in (0,):
                log(f"{self.kind}'s application exited with {app_rc}: {tail(self.log + '.app')}")
        rc = self.ctx.procs.stop(self.proc)
        stats = None
        if self.stats_file and os.path.exists(self.stats_file):
            import json
            try:
                stats = json.load(open(self.stats_file))
            except ValueError:
                stats = None
        if rc not in (0,):
            log(f"{self.kind} exited with {rc}: {tail(self.log)}")
        return rc, stats


def tail(path, n=600):
    try:
        return open(path).read()[-n:].strip()
    except OSError:
        return "(no log)"
