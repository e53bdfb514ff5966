# Shared by the integration tests: test hosts in network namespaces and an
# IX application driven through AF_XDP inside one of them. Source it; call
# ix_setup NAME QUEUES, ix_start ARGS..., ix_stop, then read $IX_STATS.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${1:?usage: $0 BUILD_DIR}
BUILD=$(cd "$BUILD" && pwd)
WORK=$(mktemp -d)
IX_PID=
NS_NAME=

fail() { echo "FAIL: $*" >&2; [ -f "$WORK/ix.log" ] && sed 's/^/  ix| /' "$WORK/ix.log" >&2; exit 1; }
pass() { echo "PASS: $*"; }

POOL_PIDS=()   # processes of a pool test (ix_pool_start, pool_bg), stopped on exit
POOL_NS=()     # namespaces ix_pool_setup made

cleanup() {
  if [ -n "$IX_PID" ]; then kill -INT "$IX_PID" 2>/dev/null || true; sleep 0.5; kill -9 "$IX_PID" 2>/dev/null || true; fi
  if [ -n "$IXD_PID" ]; then kill -INT "$IXD_PID" 2>/dev/null || true; sleep 0.5; kill -9 "$IXD_PID" 2>/dev/null || true; fi
  if [ "${#POOL_PIDS[@]}" -gt 0 ]; then
    for p in "${POOL_PIDS[@]}"; do kill -INT "$p" 2>/dev/null || true; done
    sleep 0.5
    for p in "${POOL_PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  fi
  for ns in "${POOL_NS[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  [ -n "$NS_NAME" ] && "$ROOT/scripts/netns.sh" down "$NS_NAME" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

[ "$(id -u)" -eq 0 ] || { echo "integration tests need root (network namespaces)"; exit 1; }

# ix_setup NAME QUEUES: namespaces NAME-ix / NAME-peer, 10.77.x.2 (IX) and .1 (Linux).
ix_setup() {
  NS_NAME=$1
  "$ROOT/scripts/netns.sh" down "$NS_NAME" >/dev/null 2>&1 || true
  eval "$("$ROOT/scripts/netns.sh" up "$NS_NAME" --queues "$2" --ix-addr 10.77.0.2/24 --peer-addr 10.77.0.1/24)"
}

peer() { timeout 120 ip netns exec "$PEER_NS" "$@"; }

# ixd_start ARGS...: the dataplane process (protected mode) in the IX
# namespace, applications attaching at $IXD_SOCK; waits until it answers ping.
IXD_PID=
IXD_SOCK=
ixd_start() {
  IX_STATS="$WORK/stats.json"
  IXD_SOCK="$WORK/ixd.sock"
  ip netns exec "$IX_NS" "$BUILD/ixd" --seconds 300 --dev "$IX_IF" --host-addr "$IX_ADDR" \
    --stats-file "$IX_STATS" --socket "$IXD_SOCK" "$@" >"$WORK/ixd.log" 2>&1 &
  IXD_PID=$!
  for _ in $(seq 1 50); do
    kill -0 "$IXD_PID" 2>/dev/null || { sed 's/^/  ixd| /' "$WORK/ixd.log" >&2; fail "ixd exited at start-up"; }
    [ -S "$IXD_SOCK" ] || { sleep 0.2; continue; }
    if peer ping -c 1 -W 0.2 "${IX_ADDR%/*}" >/dev/null 2>&1; then return 0; fi
  done
  sed 's/^/  ixd| /' "$WORK/ixd.log" >&2
  fail "ixd did not answer ping within 10 s"
}

ixd_stop() {
  kill -INT "$IXD_PID"
  wait "$IXD_PID" || { sed 's/^/  ixd| /' "$WORK/ixd.log" >&2; fail "ixd exited with an error"; }
  IXD_PID=
  [ -s "$IX_STATS" ] || fail "ixd wrote no statistics"
}

# ix_start APP ARGS...: runs build/APP in the IX namespace; waits until it
# answers ping. IX_PROTECTED=1: APP runs in protected mode, attached to an
# ixd started here (with APP's --cpu, --control-socket, --driver and
# --dpdk-args, which are the dataplane's), which owns the NIC and writes the
# stats.
ix_start() {
  local app=$1; shift
  IX_STATS="$WORK/stats.json"
  if [ "${IX_PROTECTED:-0}" = 1 ]; then
    local dp=() prev=
    for a in "$@"; do
      case "$prev" in --cpu | --control-socket | --driver | --dpdk-args) dp+=("$prev" "$a") ;; esac
      case "$a" in --cpu=* | --control-socket=* | --driver=* | --dpdk-args=*) dp+=("$a") ;; esac
      prev=$a
    done
    ixd_start "${dp[@]}"
    "$BUILD/$app" --seconds 300 --dataplane "$IXD_SOCK" "$@" >"$WORK/ix.log" 2>&1 &
    IX_PID=$!
    for _ in $(seq 1 50); do
      kill -0 "$IX_PID" 2>/dev/null || fail "$app exited at start-up"
      if grep -q "as application" "$WORK/ix.log" && grep -q "attached on" "$WORK/ixd.log"; then
        sleep 0.3  # its first batch (listen, bind) is served within a loop iteration
        return 0
      fi
      sleep 0.2
    done
    fail "$app did not attach to ixd within 10 s"
  fi
  # --seconds bounds the run; no `timeout` wrapper, so signals reach the app.
  ip netns exec "$IX_NS" "$BUILD/$app" --seconds 300 --dev "$IX_IF" --host-addr "$IX_ADDR" \
    --stats-file "$IX_STATS" "$@" >"$WORK/ix.log" 2>&1 &
  IX_PID=$!
  for _ in $(seq 1 50); do
    kill -0 "$IX_PID" 2>/dev/null || fail "$app exited at start-up"
    if peer ping -c 1 -W 0.2 "${IX_ADDR%/*}" >/dev/null 2>&1; then return 0; fi
  done
  fail "$app did not answer ping within 10 s"
}

ix_stop() {
  kill -INT "$IX_PID"
  wait "$IX_PID" || fail "dataplane exited with an error"
  IX_PID=
  if [ -n "$IXD_PID" ]; then ixd_stop; fi
  [ -s "$IX_STATS" ] || fail "no statistics written"
}

# stat NAME: a counter summed over all threads ("drop.ipv4_fragment", "udp_rx", ...).
stat() {
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(t["net"][sys.argv[2]] for t in d["threads"]))' "$IX_STATS" "$1"
}

# json_field LOG KEY: a field of the "json: {...}" line a client wrote to LOG.
json_field() {
  sed -n 's/^json: //p' "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2"
}

# The checks of ix-tcp-client's two echo tests, whoever the server is.
# check_client_bulk LOG BYTES WHAT START: the bulk run in LOG got all BYTES
# back, with the SHA-256 they were sent with; passes "bulk WHAT" with the
# time since START (a $SECONDS value).
check_client_bulk() {
  local log=$1 bytes=$2 what=$3 start=$4
  [ "$(json_field "$log" received)" -eq "$bytes" ] || fail "bulk: not every byte came back"
  local sent_sha recv_sha
  sent_sha=$(json_field "$log" sha256_sent)
  recv_sha=$(json_field "$log" sha256_received)
  [ "${#sent_sha}" -eq 64 ] || fail "bulk: no SHA-256 of the sent stream"
  [ "$sent_sha" = "$recv_sha" ] || fail "bulk: SHA-256 differs: sent $sent_sha received $recv_sha"
  pass "bulk $what: $bytes bytes echoed in $(json_field "$log" seconds) s" \
    "($(json_field "$log" gbps) Gbit/s), sha256 sent = received = $sent_sha [$((SECONDS - start)) s]"
}

# check_client_conns LOG COUNT WHAT START: the conns run in LOG completed all
# COUNT short connections without a failure.
check_client_conns() {
  local log=$1 count=$2 what=$3 start=$4
  [ "$(json_field "$log" completed)" -eq "$count" ] || fail "conns: not all completed"
  [ "$(json_field "$log" failures)" -eq 0 ] || fail "conns: failures: $(grep '^json' "$log")"
  pass "conns $what: $count connections opened, echoed and closed, 0 failures," \
    "$(json_field "$log" seconds) s ($(json_field "$log" per_second) conn/s) [$((SECONDS - start)) s]"
}

# A pool of dataplanes, each as on a machine of its own, all reached from one
# client namespace: ix_pool_setup NAME COUNT makes NAME-cl (the Linux
# client side) and NAME-s1..NAME-sCOUNT, joined by one veth pair each:
# ix0 in NAME-sN (driven by the dataplane through AF_XDP, no kernel
# address) and pN in NAME-cl with 10.78.N.1/24; the dataplane is 10.78.N.2.
# Distinct subnets, so the client's kernel routes each server's traffic out
# of its own veth. The veth settings are scripts/netns.sh's (one queue,
# checksum offload off, IPv6 off). Sets POOL_CLIENT_NS.
ix_pool_setup() {
  local name=$1 count=$2 n
  POOL_CLIENT_NS=$name-cl
  POOL_NS+=("$POOL_CLIENT_NS")
  ip netns add "$POOL_CLIENT_NS"
  ip -n "$POOL_CLIENT_NS" link set lo up
  ip netns exec "$POOL_CLIENT_NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  for n in $(seq 1 "$count"); do
    local ns=$name-s$n
    POOL_NS+=("$ns")
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    ip -n "$ns" link add ix0 numrxqueues 1 numtxqueues 1 type veth \
      peer name "p$n" netns "$POOL_CLIENT_NS" numrxqueues 1 numtxqueues 1
    ip netns exec "$ns" ethtool -K ix0 tx off >/dev/null
    ip netns exec "$POOL_CLIENT_NS" ethtool -K "p$n" tx off >/dev/null
    ip -n "$POOL_CLIENT_NS" addr add "10.78.$n.1/24" dev "p$n"
    ip -n "$ns" link set ix0 up
    ip -n "$POOL_CLIENT_NS" link set "p$n" up
  done
}

client() { timeout 120 ip netns exec "$POOL_CLIENT_NS" "$@"; }

# ix_pool_start NAME N APP ARGS...: server N's dataplane in NAME-sN as
# 10.78.N.2; waits until it answers ping. Its pid is POOL_SERVER_PID[N].
declare -A POOL_SERVER_PID=()
ix_pool_start() {
  local name=$1 n=$2 app=$3
  shift 3
  ip netns exec "$name-s$n" "$BUILD/$app" --seconds 300 --dev ix0 --host-addr "10.78.$n.2/24" \
    --stats-file "$WORK/s$n.stats.json" "$@" >"$WORK/s$n.log" 2>&1 &
  POOL_SERVER_PID[$n]=$!
  POOL_PIDS+=("$!")
  for _ in $(seq 1 50); do
    kill -0 "${POOL_SERVER_PID[$n]}" 2>/dev/null || { sed 's/^/  s'"$n"'| /' "$WORK/s$n.log" >&2; fail "$app (server $n) exited at start-up"; }
    if client ping -c 1 -W 0.2 "10.78.$n.2" >/dev/null 2>&1; then return 0; fi
  done
  fail "$app (server $n) did not answer ping within 10 s"
}

# ix_pool_stop N: stops server N (SIGINT) and checks it exited cleanly.
ix_pool_stop() {
  kill -INT "${POOL_SERVER_PID[$1]}"
  wait "${POOL_SERVER_PID[$1]}" || { sed 's/^/  s'"$1"'| /' "$WORK/s$1.log" >&2; fail "server $1 exited with an error"; }
}

# check_memcaslap WHAT OUTPUT: memcaslap's summary in OUTPUT shows work done
# (ops, gets) and no verify failure, verify miss or error line; fails naming
# WHAT otherwise.
check_memcaslap() {
  local what=$1 out=$2 ops gets vfail vmiss errors
  ops=$(echo "$out" | sed -n 's/^Run time: .* Ops: \([0-9]*\) .*/\1/p' | tail -1)
  gets=$(echo "$out" | sed -n 's/^cmd_get: \([0-9]*\)/\1/p' | tail -1)
  vfail=$(echo "$out" | sed -n 's/^verify_failed: \([0-9]*\)/\1/p' | tail -1)
  vmiss=$(echo "$out" | sed -n 's/^verify_misses: \([0-9]*\)/\1/p' | tail -1)
  errors=$(echo "$out" | grep -iE 'error|fail|unexpected|timed? ?out|abort' | grep -vE '^verify_failed: 0$' || true)
  if [ -z "$ops" ] || [ "$ops" -eq 0 ] || [ -z "$gets" ] || [ "$gets" -eq 0 ] ||
     [ "$vfail" != 0 ] || [ "$vmiss" != 0 ] || [ -n "$errors" ]; then
    echo "$out" | sed 's/^/  memcaslap| /' >&2
    fail "memcaslap ($what): ops=$ops gets=$gets verify_failed=$vfail verify_misses=$vmiss errors: $errors"
  fi
}
