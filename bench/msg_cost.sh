#!/usr/bin/env bash
# The cost of a message in instructions: two IX stacks echo 64-byte messages
# over the in-process loop wire (bench/tcp_echo_bench.cc, IxTcpEcho) under
# valgrind's callgrind, counting only the echo loop (LoopEchoPair::step and
# ::turn: both stacks, the wire and the echo application; not Google
# Benchmark's own bookkeeping). Instruction counts do not depend on the
# machine's speed or load, so this is the figure to compare between commits.
#
#   bench/msg_cost.sh [--build-dir DIR] [--conns N] [--min-time S] [--top K] [--trusted-link]
#
# --trusted-link measures IxTcpEchoTrusted instead: both ports on a trusted
# link, so neither stack computes or checks a checksum (README, "Trusted
# links"), the cost between two IX processes on a trusted memif link.
#
# Prints instructions per message per side (each side receives one segment
# and sends one per message: total instructions / (2 x round trips)), the
# round trips counted from the calls to Tcp::input and the benchmark's own
# segments per message, and the K functions with the most instructions.
# The total includes the connections' set-up (handshakes, the first use of
# connection slots), which a short run under valgrind does not amortize, so
# the benchmark runs a second time, three times as long, and the script also
# prints the steady state: the instructions the longer run added over the
# round trips it added (the marginal cost of a message).
set -euo pipefail
cd "$(dirname "$0")/.."

build=build conns=16 min_time=0.3 top=15 bench_name=IxTcpEcho
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build=${2:?}; shift 2 ;;
    --conns) conns=${2:?}; shift 2 ;;
    --min-time) min_time=${2:?}; shift 2 ;;
    --top) top=${2:?}; shift 2 ;;
    --trusted-link) bench_name=IxTcpEchoTrusted; shift ;;
    *)
      echo "usage: $0 [--build-dir DIR] [--conns N] [--min-time SECONDS] [--top K] [--trusted-link]" >&2
      exit 2
      ;;
  esac
done
[[ "$conns" =~ ^[0-9]+$ && "$top" =~ ^[0-9]+$ ]] || { echo "$0: --conns and --top take numbers" >&2; exit 2; }
[[ "$min_time" =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "$0: --min-time takes seconds" >&2; exit 2; }

exe=$build/bench/tcp_echo_bench
if [ ! -x "$exe" ]; then
  echo "$0: $exe is missing: build first (cmake --build $build --target tcp_echo_bench)" >&2
  exit 1
fi
if ! command -v valgrind >/dev/null; then
  echo "$0: valgrind is missing: scripts/install-deps.sh installs it" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# run TAG MIN_TIME: one callgrind run, its files named TAG.*
run() {
  valgrind --tool=callgrind --callgrind-out-file="$work/$1.callgrind.out" \
    --toggle-collect='*LoopEchoPair::step*' --toggle-collect='*LoopEchoPair::turn*' \
    "$exe" --benchmark_filter="$bench_name/conns:$conns\$" --benchmark_min_time="$2" \
    --benchmark_repetitions=1 --benchmark_format=json >"$work/$1.bench.json" 2>"$work/$1.valgrind.log" ||
    { echo "$0: the benchmark failed under valgrind:" >&2; tail -20 "$work/$1.valgrind.log" >&2; exit 1; }
}
run short "$min_time"
run long "$(python3 -c "print(3 * float('$min_time'))")"
callgrind_annotate --threshold=100 "$work/long.callgrind.out" >"$work/annotate.txt" 2>/dev/null || true

python3 - "$work" "$conns" "$top" "$exe" "$min_time" "$bench_name" <<'PY'
import json, re, sys

work, conns, top, exe, min_time, bench_name = (sys.argv[1], int(sys.argv[2]), int(sys.argv[3]),
                                               sys.argv[4], sys.argv[5], sys.argv[6])

# callgrind's format: "fn=(id) name" / "cfn=(id) name" name a function the
# first time (later only "(id)"); a "calls=N ..." line after a cfn= line says
# N calls were made to it from the current function.
def measure(tag):
    """(instructions, Tcp::input calls, segments per message) of one run."""
    names, calls, total = {}, {}, None
    cfn = None
    ref = re.compile(r"^c?fn=\((\d+)\)(?: (.*))?$")
    with open(f"{work}/{tag}.callgrind.out") as f:
        for line in f:
            m = ref.match(line)
            if m:
                fid, name = m.group(1), m.group(2)
                if name:
                    names[fid] = name
                cfn = fid if line.startswith("cfn=") else None
                continue
            if line.startswith("calls=") and cfn is not None:
                calls[cfn] = calls.get(cfn, 0) + int(line.split()[0][6:])
                cfn = None
            elif line.startswith(("summary:", "totals:")):
                total = int(line.split()[1])
    if total is None:
        sys.exit("msg_cost: no instruction total in callgrind's output")
    inputs = sum(n for fid, n in calls.items()
                 if re.search(r"ix::net::tcp::Tcp::input\(", names.get(fid, "")))
    bench = json.load(open(f"{work}/{tag}.bench.json"))
    runs = [b for b in bench["benchmarks"] if b.get("run_type") == "iteration"]
    if inputs == 0 or not runs:
        sys.exit("msg_cost: the echo ran no segments (Tcp::input was never called)")
    return total, inputs, runs[0].get("segments_per_msg") or 2.0

short_total, short_inputs, _ = measure("short")
total, inputs, spm = measure("long")
trips = inputs / spm
per_side = total / (2 * trips)
added_trips = (inputs - short_inputs) / spm
if added_trips < trips / 4:
    sys.exit("msg_cost: the longer run added too few round trips for a steady-state figure")
steady = (total - short_total) / (2 * added_trips)
print(f"msg_cost: {exe} {bench_name}/conns:{conns}, min time {float(min_time) * 3:g} s "
      f"(and {min_time} s for the steady state), under callgrind")
print(f"  instructions in the echo loop: {total:,}")
print(f"  Tcp::input calls: {inputs:,}; segments per message (both directions): {spm:.3f}; "
      f"round trips: {trips:,.0f}")
print(f"  instructions per message per side: {per_side:,.0f} (connection set-up included)")
print(f"  steady state, per message per side: {steady:,.0f} "
      f"(what {added_trips:,.0f} more round trips added)")

# The most expensive functions (self cost), from callgrind_annotate.
rows = []
for line in open(f"{work}/annotate.txt", errors="replace"):
    m = re.match(r"^\s*([\d,]+)\s+(?:\(\s*[\d.]+%\)\s+)?(\S.*?)\s*$", line)
    if m and ":" in m.group(2) and not m.group(2).startswith(("PROGRAM", "Ir")):
        rows.append((int(m.group(1).replace(",", "")), m.group(2)))
if rows:
    print(f"  top {top} functions by own instructions (per message per side):")
    for ir, name in rows[:top]:
        fn = name.split(":", 1)[1] if ":" in name else name
        print(f"    {ir / (2 * trips):8.0f}  {ir * 100 / total:5.1f}%  {fn[:110]}")
print(f"json: {json.dumps(dict(benchmark=bench_name, conns=conns, instructions=total, tcp_input_calls=inputs, segments_per_msg=spm, round_trips=round(trips), instructions_per_msg_per_side=round(per_side), steady_state_per_msg_per_side=round(steady)))}")
PY
