# Shared by the in-process loop benchmarks (bench/run_*_echo_loop.sh): their
# command line, and building and running one Google Benchmark binary pinned
# to one CPU with repetitions interleaved at random. Source it from the repo
# root after `set -euo pipefail`.

# loop_bench_args SCRIPT ARGS...: sets build, cpu, reps and min_time from
# [--build-dir DIR] [--cpu N] [--repetitions R] [--min-time S]; exits 2 with
# a usage line naming SCRIPT on anything else.
loop_bench_args() {
  local script=$1
  shift
  build=build
  cpu=$(($(nproc) - 1))
  reps=5
  min_time=0.5
  while [ $# -gt 0 ]; do
    case "$1" in
      --build-dir) build=${2:?}; shift 2 ;;
      --cpu) cpu=${2:?}; shift 2 ;;
      --repetitions) reps=${2:?}; shift 2 ;;
      --min-time) min_time=${2:?}; shift 2 ;;
      *) loop_bench_usage "$script" ;;
    esac
  done
  [[ "$cpu" =~ ^[0-9]+$ && "$reps" =~ ^[0-9]+$ && "$reps" -ge 1 ]] || loop_bench_usage "$script"
  [[ "$min_time" =~ ^[0-9]+(\.[0-9]+)?$ ]] || loop_bench_usage "$script"
}

loop_bench_usage() {
  echo "usage: $1 [--build-dir DIR] [--cpu N] [--repetitions R] [--min-time SECONDS]" >&2
  exit 2
}

# loop_bench_command TARGET OUT: builds bench/TARGET in $build (configuring
# it first if needed) and sets the array bench_cmd to the pinned run that
# writes its JSON to OUT.
loop_bench_command() {
  local target=$1 out=$2
  [ -f "$build/CMakeCache.txt" ] || cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" -j"$(nproc)" --target "$target" >/dev/null
  mkdir -p "$(dirname "$out")"
  bench_cmd=(taskset -c "$cpu" "$build/bench/$target"
    --benchmark_repetitions="$reps" --benchmark_min_time="$min_time"
    --benchmark_enable_random_interleaving=true
    --benchmark_format=json --benchmark_out_format=json --benchmark_out="$out")
  echo "== ${bench_cmd[*]}" >&2
}
