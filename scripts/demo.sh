#!/usr/bin/env bash
# The main job: installs what IX needs, builds it, and shows the dataplane
# serving real traffic from a Linux peer, with the same measurements taken
# against the Linux kernel stack on an identical veth path.
#
#   IX:    peer ns (Linux client) --veth--> ix ns: ix-udp-echo on AF_XDP
#   Linux: peer ns (Linux client) --veth--> linux ns: linux-udp-echo on sockets
#
# The client, the veth path and the server's core are the same in both; only
# the server's stack differs. Everything stops by itself (bounded counts and
# durations) and the namespaces are removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "demo.sh: run as root (it creates network namespaces)" >&2; exit 1; }

scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target ix-udp-echo udp-ping linux-udp-echo >/dev/null

ncpu=$(nproc)
server_cpu=$((ncpu > 1 ? 1 : 0))
client_cpu=0
work=$(mktemp -d)
cleanup() {
  [ -n "${ix_pid:-}" ] && kill "$ix_pid" 2>/dev/null || true
  [ -n "${lx_pid:-}" ] && kill "$lx_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  scripts/netns.sh down ixdemo >/dev/null 2>&1 || true
  scripts/netns.sh down lxdemo >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

eval "$(scripts/netns.sh up ixdemo --queues 1 --ix-addr 10.77.0.2/24 --peer-addr 10.77.0.1/24)"
IXD_NS=$IX_NS IXD_IF=$IX_IF IXD_PEER=$PEER_NS
eval "$(scripts/netns.sh up lxdemo --queues 1 --ix-addr 10.78.0.2/24 --peer-addr 10.78.0.1/24)"
LX_NS=$IX_NS LX_PEER=$PEER_NS
# The Linux side keeps its address in the kernel: that is the stack measured.
ip -n "$LX_NS" addr add 10.78.0.2/24 dev "$IX_IF"

client() { local ns=$1; shift; ip netns exec "$ns" taskset -c "$client_cpu" "$@"; }
json() { sed -n 's/^json: //p' "$1"; }
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

# One server at a time on the same CPU: IX polls without sleeping, so running
# both at once would starve the Linux server.
start_ix() {
  echo "== starting ix-udp-echo on AF_XDP ($IXD_IF in $IXD_NS), cpu $server_cpu"
  ip netns exec "$IXD_NS" build/ix-udp-echo --dev "$IXD_IF" --host-addr 10.77.0.2/24 \
    --cpu "$server_cpu" --port 7 --seconds 120 --stats-file "$work/ix-stats.json" >"$work/ix.log" 2>&1 &
  ix_pid=$!
  sleep 1.5
  if ! kill -0 "$ix_pid" 2>/dev/null; then cat "$work/ix.log"; exit 1; fi
}
start_linux() {
  echo "== starting linux-udp-echo on the kernel stack, cpu $server_cpu"
  ip netns exec "$LX_NS" taskset -c "$server_cpu" build/linux-udp-echo --port 7 --seconds 120 \
    >"$work/linux.log" 2>&1 &
  lx_pid=$!
  sleep 0.5
}

for side in ix lx; do
  if [ $side = ix ]; then ns=$IXD_PEER; dst=10.77.0.2; start_ix; else ns=$LX_PEER; dst=10.78.0.2; start_linux; fi
  echo "== $side: ping (ARP resolution, then 100 ICMP echoes)"
  client "$ns" ping -c 100 -i 0.01 -q "$dst" | tee "$work/$side.ping" | tail -2
  echo "== $side: UDP echo of every size 1..1472, payloads verified"
  client "$ns" build/udp-ping --dst "$dst:7" sizes --from 1 --to 1472 | tee "$work/$side.sizes" | head -1
  echo "== $side: UDP latency, 64 bytes, one in flight"
  client "$ns" build/udp-ping --dst "$dst:7" latency --count 5000 --size 64 --spin | tee "$work/$side.lat" | head -1
  echo "== $side: UDP throughput, 64 bytes, 64 in flight, 3 s"
  client "$ns" build/udp-ping --dst "$dst:7" flood --seconds 3 --window 64 --size 64 | tee "$work/$side.flood" | head -1
  if [ $side = ix ]; then
    kill -INT "$ix_pid"; wait "$ix_pid" || true; ix_pid=
    echo "== ix-udp-echo's own counters"
    cat "$work/ix.log"
  else
    kill -INT "$lx_pid"; wait "$lx_pid" || true; lx_pid=
  fi
done

python3 - "$work" <<'PY'
import json, re, sys, os
w = sys.argv[1]
def j(name):
    for line in open(os.path.join(w, name)):
        if line.startswith("json: "): return json.loads(line[6:])
def ping(name):
    t = open(os.path.join(w, name)).read()
    loss = re.search(r"([\d.]+)% packet loss", t).group(1)
    rtt = re.search(r"= [\d.]+/([\d.]+)/", t)
    return float(loss), float(rtt.group(1)) * 1000 if rtt else float("nan")
rows = []
for s in ("ix", "lx"):
    l = j(f"{s}.lat"); f = j(f"{s}.flood"); z = j(f"{s}.sizes"); p = ping(f"{s}.ping")
    rows.append(dict(loss=p[0], ping=p[1], sizes=f'{z["verified"]}/{z["to"]-z["from"]+1}',
                     p50=l["p50_us"], p99=l["p99_us"], tput=f["replies_per_sec"]))
ix, lx = rows
print()
print("IX vs Linux, same client, same veth path, server on one core")
print(f'{"":34}{"IX (AF_XDP)":>14}{"Linux":>14}{"IX/Linux":>10}')
print(f'{"ping loss (100 echoes)":34}{ix["loss"]:>13}%{lx["loss"]:>13}%')
print(f'{"ping mean RTT (us)":34}{ix["ping"]:>14.1f}{lx["ping"]:>14.1f}{ix["ping"]/lx["ping"]:>10.2f}')
print(f'{"UDP sizes 1..1472 verified":34}{ix["sizes"]:>14}{lx["sizes"]:>14}')
print(f'{"UDP 64B RTT p50 (us)":34}{ix["p50"]:>14.1f}{lx["p50"]:>14.1f}{ix["p50"]/lx["p50"]:>10.2f}')
print(f'{"UDP 64B RTT p99 (us)":34}{ix["p99"]:>14.1f}{lx["p99"]:>14.1f}{ix["p99"]/lx["p99"]:>10.2f}')
print(f'{"UDP 64B echoes/s (64 in flight)":34}{ix["tput"]:>14.0f}{lx["tput"]:>14.0f}{ix["tput"]/lx["tput"]:>10.2f}')
print("(RTTs include the Linux client's own stack on both sides; on veth the kernel's")
print(" copy into the AF_XDP socket bounds IX. See bench/README.md.)")
PY

# Then the benchmark harness's quick mode: IX's echo, latency and memcached
# servers beside Linux's and Debian memcached (bench/README.md explains each
# experiment; `bench/run.sh --full` gives the recorded figures).
bench_out=${IX_DEMO_BENCH_OUT:-/tmp/ix-demo-bench}
echo
echo "== benchmark harness, quick mode (results in $bench_out) =="
bench/run.sh --quick --build-dir build --out "$bench_out" --no-readme
