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

cleanup() {
  if [ -n "$IX_PID" ]; then kill -INT "$IX_PID" 2>/dev/null || true; sleep 0.5; kill -9 "$IX_PID" 2>/dev/null || true; fi
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

# ix_start APP ARGS...: runs build/APP in the IX namespace; waits until it answers ping.
ix_start() {
  local app=$1; shift
  IX_STATS="$WORK/stats.json"
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
