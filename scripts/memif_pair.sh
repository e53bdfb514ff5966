#!/usr/bin/env bash
# Two IX processes on one host joined by DPDK's net_memif (shared memory, no
# kernel in the path): the benchmarks' stand-in for "two machines on a fast
# network". This script starts one side; start the server first, then the
# client, each on its own core:
#
#   scripts/memif_pair.sh server BUILD_DIR APP [APP ARGS...]
#   scripts/memif_pair.sh client BUILD_DIR APP [APP ARGS...]
#   scripts/memif_pair.sh flags server|client     # print the dataplane flags only
#
# e.g.  scripts/memif_pair.sh server build ix-tcp-echo --port 7 &
#       scripts/memif_pair.sh client build ix-tcp-client --server 10.88.0.1:7 --mode bulk --bytes 100000000
#
# The script replaces itself with APP (exec), so the caller's $! is APP's pid
# and signals reach it. Flags given after APP override the pair's defaults
# (the last of a repeated flag wins).
#
# Environment (defaults in brackets):
#   MEMIF_NAME    name of the pair, for its socket /run/ix-memif-NAME.sock [ix]
#   MEMIF_SERVER_CPU / MEMIF_CLIENT_CPU       elastic thread cores [0 / 1]
#   MEMIF_SERVER_ADDR / MEMIF_CLIENT_ADDR     [10.88.0.1/24 / 10.88.0.2/24]
#   MEMIF_MEM     EAL memory in MiB without huge pages [512]
#   MEMIF_HUGE    1: use huge pages instead of --no-huge (reserve them first:
#                 echo 512 > /proc/sys/vm/nr_hugepages) [0]
#   MEMIF_EAL_EXTRA more EAL arguments, e.g. "--huge-dir /mnt/huge" []
#   MEMIF_DP_EXTRA  more dataplane flags for both sides, split on spaces,
#                 e.g. "--dpdk-tx-zero-copy off" []
#
# The server side owns the socket (memif role=server) and waits for the
# client; the client connects when its port starts. Each side has a fixed
# locally administered MAC (net_memif's default is a multicast address).
# --no-shconf keeps the EAL from writing runtime files under /var/run/dpdk
# (no DPDK secondary processes are used).
set -euo pipefail

usage() {
  sed -n '2,33p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

role=${1:-}
case "$role" in
  server | client) ;;
  flags) ;;
  *) usage ;;
esac

name=${MEMIF_NAME:-ix}
[[ "$name" =~ ^[A-Za-z0-9_.-]+$ ]] || { echo "memif_pair.sh: MEMIF_NAME '$name' may hold only letters, digits, . _ -" >&2; exit 2; }
socket=/run/ix-memif-${name}.sock
mem=${MEMIF_MEM:-512}

# flags_for ROLE: the dataplane flags, one per line (the EAL list is one).
flags_for() {
  local r=$1 cpu addr mac
  if [ "$r" = server ]; then
    cpu=${MEMIF_SERVER_CPU:-0}; addr=${MEMIF_SERVER_ADDR:-10.88.0.1/24}; mac=02:00:00:88:00:01
  else
    cpu=${MEMIF_CLIENT_CPU:-1}; addr=${MEMIF_CLIENT_ADDR:-10.88.0.2/24}; mac=02:00:00:88:00:02
  fi
  local memory="--no-huge -m $mem"
  [ "${MEMIF_HUGE:-0}" = 1 ] && memory="-m $mem"
  [ -n "${MEMIF_EAL_EXTRA:-}" ] && memory+=" $MEMIF_EAL_EXTRA"
  printf '%s\n' --driver dpdk --cpu "$cpu" --host-addr "$addr" --dpdk-port net_memif0 \
    --dpdk-args \
    "$memory --no-pci --no-shconf --no-telemetry --file-prefix ix-memif-$r --vdev=net_memif0,role=$r,id=0,socket=$socket,socket-abstract=no,mac=$mac"
}

if [ "$role" = flags ]; then
  r=${2:-}
  [ "$r" = server ] || [ "$r" = client ] || usage
  flags_for "$r"
  exit 0
fi

build=${2:?usage: memif_pair.sh $role BUILD_DIR APP [ARGS...]}
app=${3:?usage: memif_pair.sh $role BUILD_DIR APP [ARGS...]}
shift 3
[ -x "$build/$app" ] || { echo "memif_pair.sh: no program $build/$app (build it first)" >&2; exit 2; }
# A server that died without cleaning up leaves its socket file behind,
# which would make the next bind fail.
[ "$role" = server ] && rm -f "$socket"
mapfile -t dp < <(flags_for "$role")
read -r -a extra <<<"${MEMIF_DP_EXTRA:-}"
exec "$build/$app" "${dp[@]}" "${extra[@]}" "$@"
