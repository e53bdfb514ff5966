"""Pool: three ix-memcached servers, each an IX dataplane on AF_XDP over a
veth pair of its own (as on three machines), reached from one client
namespace. ix-load (Linux sockets, closed loop, USR) drives the pool two
ways: straight at the servers with libmemcached's ketama (ix-load
--servers), and through nutcracker (twemproxy: ketama, hash md5,
auto_eject_hosts) on 127.0.0.1 in the client namespace. Both see the same
servers and keys; the difference is the proxy's hop and its one core.
On this 2-core host the three servers, the proxy and the client share the
cores (servers yield when idle), so the figures show the proxy's cost, not
what three machines would serve. Runs only when ix-memcached, ix-load and
nutcracker are present."""

import json
import os
import shutil
import subprocess
import time

from common import BenchError, Results, build_path, log
from measure import median_of, ratio

SERVERS = 3
PROXY = "127.0.0.1:22121"


def sh(argv):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise BenchError(f"{' '.join(argv)}: {r.stderr.strip()}")


class PoolHosts:
    """NAME-cl (client) and NAME-s1..sN (one dataplane each), veth ix0 in
    NAME-sN to pN in NAME-cl, 10.78.N.1 (client) / 10.78.N.2 (server).
    The same layout as tests/integration/lib.sh's ix_pool_setup."""

    def __init__(self, name, count):
        self.client_ns = f"{name}-cl"
        self.server_ns = [f"{name}-s{n}" for n in range(1, count + 1)]
        self.server_ip = [f"10.78.{n}.2" for n in range(1, count + 1)]

    def up(self):
        self.down()
        try:
            self._make_ns(self.client_ns)
            for n, ns in enumerate(self.server_ns, start=1):
                self._make_ns(ns)
                sh(["ip", "-n", ns, "link", "add", "ix0", "numrxqueues", "1", "numtxqueues", "1",
                    "type", "veth", "peer", "name", f"p{n}", "netns", self.client_ns,
                    "numrxqueues", "1", "numtxqueues", "1"])
                sh(["ip", "netns", "exec", ns, "ethtool", "-K", "ix0", "tx", "off"])
                sh(["ip", "netns", "exec", self.client_ns, "ethtool", "-K", f"p{n}", "tx", "off"])
                sh(["ip", "-n", self.client_ns, "addr", "add", f"10.78.{n}.1/24", "dev", f"p{n}"])
                sh(["ip", "-n", ns, "link", "set", "ix0", "up"])
                sh(["ip", "-n", self.client_ns, "link", "set", f"p{n}", "up"])
        except BenchError:
            self.down()
            raise

    def _make_ns(self, ns):
        sh(["ip", "netns", "add", ns])
        sh(["ip", "-n", ns, "link", "set", "lo", "up"])
        sh(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"])

    def down(self):
        for ns in [self.client_ns, *self.server_ns]:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=60)


def wait_tcp(ctx, ns, host, port, what, proc):
    probe = ("import socket,sys\ns=socket.create_connection((sys.argv[1],int(sys.argv[2])),"
             "timeout=0.5)\ns.sendall(b'get probe\\r\\n')\n"
             "sys.exit(0 if s.recv(100).startswith(b'END') else 1)\n")
    deadline = time.time() + 15
    while time.time() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"{what} exited at start-up: {open(proc.logfile).read()[-400:]}")
        r = subprocess.run(["ip", "netns", "exec", ns, "python3", "-c", probe, host, str(port)],
                           capture_output=True, timeout=10)
        if r.returncode == 0:
            return
        time.sleep(0.3)
    raise BenchError(f"{what} did not answer within 15 s")


def start_pool(ctx, hosts):
    procs = []
    cpus = [ctx.cpus["server"], ctx.cpus["client"]]
    for n, (ns, ip) in enumerate(zip(hosts.server_ns, hosts.server_ip)):
        log_path = os.path.join(ctx.workdir, f"pool-s{n + 1}-{time.time():.3f}.log")
        p = ctx.procs.start(["ip", "netns", "exec", ns, os.path.join(ctx.build, "ix-memcached"),
                             "--dev", "ix0", "--host-addr", f"{ip}/24", "--cpu",
                             str(cpus[n % len(cpus)]), "--port", "11211", "--memory-limit",
                             "512", "--seconds", "900"], log_path)
        procs.append(p)
        wait_tcp(ctx, hosts.client_ns, ip, 11211, f"ix-memcached {n + 1}", p)
    conf = os.path.join(ctx.workdir, "pool-nutcracker.yml")
    with open(conf, "w") as f:
        f.write(f"pool:\n  listen: {PROXY}\n  hash: md5\n  distribution: ketama\n"
                "  auto_eject_hosts: true\n  server_retry_timeout: 2000\n"
                "  server_failure_limit: 3\n  timeout: 2000\n  servers:\n" +
                "".join(f"   - {ip}:11211:1\n" for ip in hosts.server_ip))
    p = ctx.procs.start(["ip", "netns", "exec", hosts.client_ns, "taskset", "-c",
                         str(ctx.cpus["server"]), shutil.which("nutcracker"), "-c", conf, "-s",
                         "22222", "-a", "127.0.0.1"],
                        os.path.join(ctx.workdir, f"pool-nutcracker-{time.time():.3f}.log"))
    procs.append(p)
    wait_tcp(ctx, hosts.client_ns, "127.0.0.1", 22121, "nutcracker", p)
    return procs


def ix_load(ctx, hosts, target, what):
    """One closed-loop USR run; target is ["--server", proxy] or
    ["--servers", list]. Its last run's figures."""
    p = ctx.p
    out = os.path.join(ctx.workdir, f"pool-load-{time.time():.3f}.json")
    argv = ["ip", "netns", "exec", hosts.client_ns, "taskset", "-c", str(ctx.cpus["client"]),
            os.path.join(ctx.build, "ix-load"), *target, "--workload", "usr", "--conns",
            str(p["pool_conns"]), "--depth", str(p["mc_depth"]), "--records",
            str(p["mc_records"]), "--preload", "--rate", "0", "--warmup", str(p["mc_warmup"]),
            "--time", str(p["mc_time"]), "--json", out]
    log("run: " + " ".join(argv))
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=p["mc_timeout"])
    except subprocess.TimeoutExpired:
        raise BenchError(f"{what}: ix-load gave no result within {p['mc_timeout']} s")
    if not os.path.exists(out):
        raise BenchError(f"{what}: ix-load exit {r.returncode}: {(r.stdout + r.stderr)[-500:]}")
    doc = json.load(open(out))
    if doc.get("outcome") != "ok" or not doc.get("runs"):
        raise BenchError(f"{what}: ix-load: {doc.get('outcome')}: {(r.stdout + r.stderr)[-300:]}")
    run = doc["runs"][-1]
    row = {k: run.get(k) for k in ("achieved_rate", "p50_us", "p99_us", "errors", "misses")}
    if "per_server" in run:
        row["per_server_completed"] = [s["completed"] for s in run["per_server"]]
    return row


def available(ctx):
    return (build_path(ctx.build, "ix-memcached") and build_path(ctx.build, "ix-load")
            and shutil.which("nutcracker"))


def run(ctx):
    R = Results("pool", "pool of 3 ix-memcached: ix-load direct (ketama) vs through nutcracker")
    R.columns = ("direct", "nutcracker")
    if not available(ctx):
        R.notes.append("Skipped: ix-memcached, ix-load or nutcracker missing.")
        return R
    pool = ",".join(f"10.78.{n}.2:11211" for n in range(1, SERVERS + 1))
    ways = {"direct-ketama": ["--servers", pool, "--distribution", "ketama"],
            "nutcracker": ["--server", PROXY]}
    for rnd in range(ctx.rounds):
        hosts = procs = None
        try:
            hosts = PoolHosts(f"{ctx.hosts.prefix}pl", SERVERS)
            # Known to the harness's Hosts first, so an interrupt anywhere
            # still removes the namespaces (run.py's final hosts.down()).
            ctx.hosts.pairs["pool"] = hosts
            hosts.up()
            procs = start_pool(ctx, hosts)
            order = list(ways)[rnd % 2:] + list(ways)[:rnd % 2]
            for way in order:
                try:
                    R.add(way=way, round=rnd + 1, **ix_load(ctx, hosts, ways[way], way))
                except BenchError as e:
                    R.error(e)
        except BenchError as e:
            R.error(e)
        finally:
            for p in reversed(procs or []):
                ctx.procs.stop(p)
            if hosts:
                hosts.down()
                ctx.hosts.pairs.pop("pool", None)
    direct = median_of(R.rows, "achieved_rate", way="direct-ketama")
    proxied = median_of(R.rows, "achieved_rate", way="nutcracker")
    if direct is not None or proxied is not None:
        R.summary.append(("pool of 3 ix-memcached, USR closed loop: requests/s", direct, proxied,
                          ratio(direct, proxied), None, None))
    R.bounds.append("one host of 2 cores for three servers, the proxy and the client: the "
                    "client's core (direct) or the proxy's (nutcracker is single-threaded and "
                    "copies every request and reply), not the servers, which yield when idle")
    R.notes.append("Direct: ix-load sends each key to its server (libmemcached's ketama, MD5); "
                   "nutcracker: one connection set to the proxy, which hashes the same way "
                   "(ketama, hash md5) and forwards. Both on the shared 2-core host.")
    return R
