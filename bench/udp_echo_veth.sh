#!/usr/bin/env bash
# UDP echo over veth, server on one core: IX (ix-udp-echo on AF_XDP) against
# the Linux kernel (linux-udp-echo on sockets, sleeping in poll and then
# busy-polling, its strongest setting), measured in one invocation by the
# same client (udp-ping) over identical veth pairs between network namespaces.
#
#   bench/udp_echo_veth.sh [--seconds N] [--quick] [--rounds R] [--window W] [--build-dir DIR]
#
# Layout (as scripts/demo.sh):  bvix<pid>-peer --veth--> bvix<pid>-ix: ix-udp-echo, AF_XDP
#                               bvlx<pid>-peer --veth--> bvlx<pid>-ix: linux-udp-echo
# Servers on CPU 1, the client on CPU 0. Only one server runs at a time (IX
# polls without sleeping, so it would take CPU 1 from a Linux server beside it);
# each round runs all three in turn, the order rotating between rounds, and
# the figures are medians over rounds. Per server and round: flood throughput
# at 64 B and 1024 B with a window of W datagrams in flight (every reply
# verified), then RTT at 64 B with one in flight, with the client spinning
# (so the client's own wake-up is left out) and sleeping in poll.
#
# Prints a table with ratios, writes bench/results/udp_echo_veth.json and
# rewrites the section "UDP echo over veth" of bench/README.md. Root only;
# the namespaces are removed on exit; every process is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."
invocation="bench/udp_echo_veth.sh $*"

build=build
seconds=3
rounds=3
window=256
count=5000
usage() {
  echo "usage: $0 [--seconds N] [--quick] [--rounds R] [--window W] [--build-dir DIR]" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=${2:?}; shift 2 ;;
    --quick) seconds=1; rounds=1; count=1000; shift ;;
    --rounds) rounds=${2:?}; shift 2 ;;
    --window) window=${2:?}; shift 2 ;;
    --build-dir) build=${2:?}; shift 2 ;;
    *) usage ;;
  esac
done
[[ "$seconds" =~ ^[0-9]+$ && "$seconds" -ge 1 && "$seconds" -le 60 ]] || usage
[[ "$rounds" =~ ^[0-9]+$ && "$rounds" -ge 1 && "$rounds" -le 20 ]] || usage
[[ "$window" =~ ^[0-9]+$ && "$window" -ge 1 && "$window" -le 65536 ]] || usage
[ "$(id -u)" -eq 0 ] || { echo "udp_echo_veth.sh: run as root (it creates network namespaces)" >&2; exit 1; }

[ -f "$build/CMakeCache.txt" ] || cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target ix-udp-echo udp-ping linux-udp-echo >/dev/null

ncpu=$(nproc)
server_cpu=$((ncpu > 1 ? 1 : 0))
client_cpu=0
warmup=0.5
# A server outlives its measurements by a margin, never by more.
server_limit=$((2 * (seconds + 2) + 30))
client_limit=$((seconds + 30))

work=$(mktemp -d)
ix_name=bvix$$
lx_name=bvlx$$
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then
    kill -INT "$server_pid" 2>/dev/null || true
    sleep 0.5
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  scripts/netns.sh down "$ix_name" >/dev/null 2>&1 || true
  scripts/netns.sh down "$lx_name" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

eval "$(scripts/netns.sh up "$ix_name" --queues 1 --ix-addr 10.79.0.2/24 --peer-addr 10.79.0.1/24)"
ix_ns=$IX_NS ix_peer=$PEER_NS
eval "$(scripts/netns.sh up "$lx_name" --queues 1 --ix-addr 10.80.0.2/24 --peer-addr 10.80.0.1/24)"
lx_ns=$IX_NS lx_peer=$PEER_NS
# The Linux side keeps its address in the kernel: that is the stack measured.
ip -n "$lx_ns" addr add 10.80.0.2/24 dev "$IX_IF"

client() {
  local ns=$1
  shift
  timeout "$client_limit" ip netns exec "$ns" taskset -c "$client_cpu" "$build/udp-ping" "$@"
}

# start_server KIND ROUND: starts it and waits until it answers.
start_server() {
  local kind=$1 round=$2 log=$work/$1.$2.log
  case "$kind" in
    ix)
      ip netns exec "$ix_ns" "$build/ix-udp-echo" --dev "$IX_IF" --host-addr 10.79.0.2/24 \
        --cpu "$server_cpu" --port 7 --seconds "$server_limit" \
        --stats-file "$work/ix.$round.stats.json" >"$log" 2>&1 &
      server_pid=$!
      peer_ns=$ix_peer dst=10.79.0.2
      ;;
    linux | linux-busy)
      local busy=()
      [ "$kind" = linux-busy ] && busy=(--busy-poll)
      ip netns exec "$lx_ns" taskset -c "$server_cpu" "$build/linux-udp-echo" --port 7 \
        --seconds "$server_limit" "${busy[@]}" >"$log" 2>&1 &
      server_pid=$!
      peer_ns=$lx_peer dst=10.80.0.2
      ;;
  esac
  for _ in $(seq 1 50); do
    kill -0 "$server_pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
    if client "$peer_ns" --dst "$dst:7" --timeout-ms 200 latency --count 1 >/dev/null 2>&1; then
      return 0
    fi
  done
  echo "udp_echo_veth.sh: $kind did not answer within 10 s" >&2
  cat "$log" >&2
  exit 1
}

stop_server() {
  kill -INT "$server_pid"
  wait "$server_pid" || { echo "udp_echo_veth.sh: server exited with an error" >&2; exit 1; }
  server_pid=
}

# One client run; its JSON line (plus the CPUs' /proc/stat before and after)
# goes to FILE.
run() {
  local file=$1
  shift
  grep '^cpu[0-9]' /proc/stat >"$file.cpu0"
  client "$peer_ns" --dst "$dst:7" "$@" >"$file.out" || {
    echo "udp_echo_veth.sh: udp-ping $* failed:" >&2
    cat "$file.out" >&2
    exit 1
  }
  grep '^cpu[0-9]' /proc/stat >"$file.cpu1"
  sed -n 's/^json: //p' "$file.out" >"$file"
  head -1 "$file.out"
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
kinds=(ix linux linux-busy)
for round in $(seq 1 "$rounds"); do
  for i in 0 1 2; do
    kind=${kinds[$(((i + round - 1) % 3))]}
    echo "== round $round/$rounds: $kind"
    start_server "$kind" "$round"
    for size in 64 1024; do
      run "$work/$kind.$round.flood$size" --timeout-ms 200 flood --seconds "$seconds" \
        --warmup "$warmup" --window "$window" --size "$size"
    done
    run "$work/$kind.$round.spin" latency --count "$count" --size 64 --spin
    run "$work/$kind.$round.sleep" latency --count "$count" --size 64
    stop_server
  done
done

python3 - "$work" "$rounds" "$invocation" "$seconds" "$window" "$count" "$client_cpu" \
  "$server_cpu" "$warmup" "$load_start" <<'PY'
import datetime, json, os, statistics, sys

sys.path.insert(0, "bench")
import readme_section

work, rounds, invocation, seconds, window, count, ccpu, scpu, warmup, load_start = sys.argv[1:11]
load_end = " ".join(open("/proc/loadavg").read().split()[:3])
rounds, ccpu, scpu = int(rounds), int(ccpu), int(scpu)
kinds = ["ix", "linux", "linux-busy"]
names = {"ix": "IX (AF_XDP)", "linux": "Linux", "linux-busy": "Linux busy-poll"}

def load(path):
    return json.loads(open(path).read())

def cpu_time(path, cpu, fields):
    """Fraction of CPU `cpu`'s time between the two /proc/stat snapshots spent
    in the given fields (user nice system idle iowait irq softirq steal ...)."""
    def read(p):
        for line in open(p):
            f = line.split()
            if f[0] == f"cpu{cpu}":
                v = list(map(int, f[1:]))
                return sum(v), sum(v[i] for i in fields)
    t0, x0 = read(path + ".cpu0")
    t1, x1 = read(path + ".cpu1")
    return (x1 - x0) / max(1, t1 - t0)

def busy(path, cpu):
    return 1 - cpu_time(path, cpu, (3, 4))

per_round = []
for k in kinds:
    for r in range(1, rounds + 1):
        base = f"{work}/{k}.{r}"
        row = {"server": k, "round": r}
        for size in (64, 1024):
            f = load(f"{base}.flood{size}")
            f["client_cpu_busy"] = busy(f"{base}.flood{size}", ccpu)
            f["server_cpu_busy"] = busy(f"{base}.flood{size}", scpu)
            f["client_cpu_softirq"] = cpu_time(f"{base}.flood{size}", ccpu, (6,))
            row[f"flood{size}"] = f
        row["latency_spin"] = load(f"{base}.spin")
        row["latency_sleep"] = load(f"{base}.sleep")
        if k == "ix":
            st = load(f"{work}/ix.{r}.stats.json")["threads"][0]
            c = st["core"]
            busy_polls = c["iterations"] - c["idle_polls"]
            drops = {n: v for n, v in st["net"].items() if n.startswith("drop.") and v}
            row["ix_counters"] = {
                "rx_frames": c["rx_frames"], "tx_frames": c["tx_frames"],
                "iterations": c["iterations"], "idle_polls": c["idle_polls"],
                "mean_batch": c["rx_frames"] / busy_polls if busy_polls else 0,
                "idle_fraction": c["idle_polls"] / c["iterations"] if c["iterations"] else 0,
                "batch_hist": c["batch_hist"], "tx_full": c["tx_full"],
                "tx_dropped": c["tx_dropped"], "rx_paused": c["rx_paused"],
                "drops": drops, "queue": st["queue"], "pool": st["pool"]}
        per_round.append(row)

def med(k, get):
    return statistics.median(get(r) for r in per_round if r["server"] == k)

metrics = [  # (label, getter, format, higher is better)
    ("64 B echoes/s (flood)", lambda r: r["flood64"]["replies_per_sec"], "{:.0f}", True),
    ("1024 B echoes/s (flood)", lambda r: r["flood1024"]["replies_per_sec"], "{:.0f}", True),
    ("64 B RTT p50, spinning client (us)", lambda r: r["latency_spin"]["p50_us"], "{:.1f}", False),
    ("64 B RTT p99, spinning client (us)", lambda r: r["latency_spin"]["p99_us"], "{:.1f}", False),
    ("64 B RTT p50, sleeping client (us)", lambda r: r["latency_sleep"]["p50_us"], "{:.1f}", False),
    ("64 B RTT p99, sleeping client (us)", lambda r: r["latency_sleep"]["p99_us"], "{:.1f}", False),
    ("64 B flood: datagrams lost (%)", lambda r: 100 * r["flood64"]["loss"], "{:.3f}", False),
    ("64 B flood: replies per client recvmmsg", lambda r: r["flood64"]["replies_per_recv_call"], "{:.2f}", None),
    ("64 B flood: client CPU busy (%)", lambda r: 100 * r["flood64"]["client_cpu_busy"], "{:.0f}", None),
    ("64 B flood: server CPU busy (%)", lambda r: 100 * r["flood64"]["server_cpu_busy"], "{:.0f}", None),
]
summary = []
for label, get, fmt, better in metrics:
    v = {k: med(k, get) for k in kinds}
    ratio = lambda a, b: (v[a] / v[b]) if v[b] else None
    row = {"metric": label, **{k: v[k] for k in kinds}}
    if better is not None and "lost" not in label:
        row["ix_over_linux"] = ratio("ix", "linux")
        row["ix_over_linux_busy"] = ratio("ix", "linux-busy")
    summary.append((row, fmt))

ixc = [r["ix_counters"] for r in per_round if r["server"] == "ix"]
ix_batch = statistics.median(c["mean_batch"] for c in ixc)
ix_idle = statistics.median(c["idle_fraction"] for c in ixc)
ix_drops = sum(sum(c["drops"].values()) + c["queue"]["rx_dropped"] + c["tx_dropped"] for c in ixc)

def cell(x, fmt):
    return "-" if x is None else fmt.format(x)

w = 38
print()
print(f"UDP echo over veth, server on CPU {scpu}, client on CPU {ccpu}; median of {rounds} round(s)")
print(f'{"":{w}}{"IX":>11}{"Linux":>11}{"Lx busy":>11}{"IX/Linux":>10}{"IX/busy":>9}')
for row, fmt in summary:
    print(f'{row["metric"]:{w}}{cell(row["ix"], fmt):>11}{cell(row["linux"], fmt):>11}'
          f'{cell(row["linux-busy"], fmt):>11}{cell(row.get("ix_over_linux"), "{:.3g}"):>10}'
          f'{cell(row.get("ix_over_linux_busy"), "{:.3g}"):>9}')
print(f"IX: mean batch {ix_batch:.2f} frames per non-empty poll, {100 * ix_idle:.2f}% of polls idle,"
      f" {ix_drops} frames dropped")
print("(throughput: IX/Linux > 1 favours IX; RTT: IX/Linux < 1 favours IX)")

date = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
machine = readme_section.machine()
result = {
    "command": invocation.strip(), "date": date, "machine": machine,
    "load_average": {"start": load_start, "end": load_end},
    "params": {"seconds": int(seconds), "warmup": float(warmup), "window": int(window),
               "latency_count": int(count), "rounds": rounds, "client_cpu": ccpu,
               "server_cpu": scpu},
    "summary": [row for row, _ in summary],
    "ix_mean_batch": ix_batch, "ix_idle_fraction": ix_idle, "ix_drops": ix_drops,
    "rounds": per_round,
}
os.makedirs("bench/results", exist_ok=True)
json.dump(result, open("bench/results/udp_echo_veth.json", "w"), indent=1)

table = ["| | IX (AF_XDP) | Linux | Linux busy-poll | IX/Linux | IX/Linux busy-poll |",
         "|---|---:|---:|---:|---:|---:|"]
for row, fmt in summary:
    table.append(f'| {row["metric"]} | {cell(row["ix"], fmt)} | {cell(row["linux"], fmt)} | '
                 f'{cell(row["linux-busy"], fmt)} | {cell(row.get("ix_over_linux"), "{:.3g}")} | '
                 f'{cell(row.get("ix_over_linux_busy"), "{:.3g}")} |')
s = {row["metric"]: row for row, _ in summary}
client_busy = s["64 B flood: client CPU busy (%)"]
p99_spread = "; ".join(
    names[k] + " " + ", ".join(f'{r["latency_spin"]["p99_us"]:.0f}'
                               for r in per_round if r["server"] == k) for k in kinds)
section = f"""## UDP echo over veth

- **Command:** `{invocation.strip()}` (as root)
- **Date:** {date}
- **Machine:** {machine}; load average {load_start} at the start, {load_end} at
  the end (other jobs share both CPUs: hence medians over rotating rounds)
- **Raw results:** `bench/results/udp_echo_veth.json` (every round, the client's
  JSON lines, CPU use, and ix-udp-echo's own counters)

Server on CPU {scpu} (ix-udp-echo on AF_XDP in copy mode, one queue; or
linux-udp-echo with `recvmmsg`/`sendmmsg`, sleeping in `poll` or with
`--busy-poll`), the client `udp-ping` on CPU {ccpu}, one server at a time.
Median of {rounds} round(s), the servers' order rotating between rounds.
Flood: {window} datagrams in flight for {seconds} s after a {warmup} s warm-up,
every reply checked by sequence number and content; RTT: {count} datagrams,
one in flight. IX/Linux above 1 favours IX for throughput, below 1 for RTT.

{chr(10).join(table)}

IX's own counters: a median of {ix_batch:.2f} frames per non-empty poll and
{100 * ix_idle:.2f}% of its polls empty; {ix_drops} frames dropped. (A polling
server, IX or Linux with `--busy-poll`, keeps its CPU 100% busy by design, so
"server CPU busy" says something only for the sleeping Linux server.)

What bounds these figures on this host:

- **The client, not the server, sets the flood rate.** The client shares the
  2-core machine: during the 64 B flood CPU {ccpu} was busy
  {client_busy["ix"]:.0f}% (IX run), {client_busy["linux"]:.0f}% (Linux),
  {client_busy["linux-busy"]:.0f}% (busy-poll). Its send path runs the
  kernel's UDP/IP output and `veth_xmit`, and, in softirq on the same CPU, the
  receiving side of the veth: for IX the veth's NAPI poll, the XDP program and
  the **kernel's copy of each frame into the AF_XDP socket** (copy mode: veth
  has no zero-copy; veth's XDP path may also re-allocate a socket-sent frame
  whose headroom is short of XDP's 256 B); for Linux the IP/UDP input and
  socket enqueue of the server's datagrams. Per datagram the IX path costs the
  client's CPU more than the Linux path does (one more copy of the frame at
  least, so the gap grows with size), which is why IX's flood figure comes
  out at or below Linux's here although IX itself is mostly idle. It is not
  the replies: IX's arrive at the client in larger bursts
  ({s["64 B flood: replies per client recvmmsg"]["ix"]:.0f} per `recvmmsg`, against
  {s["64 B flood: replies per client recvmmsg"]["linux"]:.0f} from Linux), so the client spends less on receiving them. With IX polling mostly empty rings (a few frames per busy poll),
  the dataplane has headroom that this client cannot use; a faster load
  generator (another machine, or a kernel-bypass sender) would be needed to
  find IX's own ceiling on veth.
- **The reply path is the kernel's too.** In copy mode an AF_XDP transmit
  becomes an skb and a `veth_xmit` inside IX's `sendto()` kick on CPU {scpu},
  and the kernel then runs the client's IP/UDP input in softirq on that CPU;
  the Linux server pays the same for its replies. Both servers therefore carry
  the client's receive processing, and IX carries one kernel transmit per kick.
- **The p99s move with the machine's load.** Spinning client, 64 B, p99 per
  round (us): {p99_spread}. A polling server on a CPU that other jobs also
  want loses it for scheduler time slices (milliseconds), and a sleeping
  Linux server pays a wake-up of its idle virtual CPU; the medians above
  hide neither.
- **Latency** is the round trip through both veth directions and the client's
  own socket calls; the server's part is a fraction of it. The spinning client
  shows the server's difference best; a sleeping client adds its wake-up (and
  the VM's scheduling noise, visible in the p99), the same for both servers.
"""
readme_section.update_readme("UDP echo over veth", section)
print("wrote bench/results/udp_echo_veth.json and the section in bench/README.md")
PY
