#!/usr/bin/env bash
# The benchmark harness: every experiment, IX against its Linux peers on this
# host, one command.
#
#   bench/run.sh --quick|--full [--build-dir DIR] [--out DIR] [--only LIST]
#                [--set KEY=JSON]... [--no-readme]
#
# --only runs some experiments (latency, echo, memcached, scale, batching,
# pool, loss, protected); --set overrides one parameter of the mode (bench/harness/run.py
# PARAMS), e.g. one step of the full run alone:
#   bench/run.sh --full --only scale --set scale_conns=[10000] --set rounds=1 \
#     --set scale_loop_conns=[] --out /tmp/scale10k --no-readme
#
# --quick is a smoke run of every step (a few minutes; the test command runs
# it); --full gives the figures (rounds with rotating order, longer runs).
# Builds the programs it needs in DIR (default build-bench, RelWithDebInfo),
# then runs bench/harness/run.py as root: results go to bench/results/<date>/
# (or --out): results.json, <experiment>.json and .csv, summary.csv, PNG
# figures, logs/; and the table in bench/README.md (not with --no-readme).
# Network namespaces and processes it starts are removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

args=("$@")
build=build-bench
mode=
no_build=0
rest=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick | --full) mode=$1; shift ;;
    --build-dir) build=${2:?--build-dir needs a directory}; shift 2 ;;
    --no-build) no_build=1; shift ;;
    --out | --only | --set) rest+=("$1" "${2:?$1 needs a value}"); shift 2 ;;
    --no-readme) rest+=("$1"); shift ;;
    *) echo "usage: $0 --quick|--full [--build-dir DIR] [--no-build] [--out DIR] [--only LIST] [--set KEY=JSON]... [--no-readme]" >&2; exit 2 ;;
  esac
done
[ -n "$mode" ] || { echo "bench/run.sh: say --quick or --full" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "bench/run.sh: run as root (network namespaces)" >&2; exit 1; }

if [ "$no_build" -eq 0 ]; then
  [ -f "$build/CMakeCache.txt" ] || cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  # The programs every experiment needs; the optional ones (ix-memcached,
  # ix-load, ix-netpipe, tcp_conn_scale_bench) are built when their sources
  # exist, and the steps using them are skipped (and say so) otherwise.
  cmake --build "$build" -j"$(nproc)" --target ix-tcp-echo ixd linux-tcp-echo linux-uring-echo \
    echo-rr-client tcp-echo-client tcp_echo_bench >/dev/null
  for opt in ix-memcached ix-load ix-netpipe tcp_conn_scale_bench; do
    cmake --build "$build" -j"$(nproc)" --target "$opt" >/dev/null 2>&1 ||
      echo "bench/run.sh: $opt not built (its steps will be skipped)" >&2
  done
fi
# Debian's python3 (its python3-matplotlib draws the figures), not another
# python3 that may come first in PATH.
py=/usr/bin/python3
[ -x "$py" ] || py=python3
exec "$py" bench/harness/run.py "$mode" --build-dir "$build" --command "bench/run.sh ${args[*]}" "${rest[@]}"
