#!/usr/bin/env bash
# Two IX processes over DPDK net_memif, no kernel in the path: ix-tcp-echo
# (server role, CPU 0) and ix-tcp-client (client role, CPU 1), each with its
# own EAL (--no-huge, its own --file-prefix), started by scripts/memif_pair.sh.
# A bulk stream must come back with the SHA-256 it was sent with, and many
# short connections must each open, echo one message and close. Each client
# run is a new process that reconnects to the same server.
source "$(dirname "$0")/lib.sh"

BULK_BYTES=${IX_MEMIF_BULK_BYTES:-30000000}
SHORT_CONNS=${IX_MEMIF_SHORT_CONNS:-2000}
export MEMIF_NAME=dpk$$
PAIR="$ROOT/scripts/memif_pair.sh"
trap 'rm -f "/run/ix-memif-$MEMIF_NAME.sock"; cleanup' EXIT
t0=$SECONDS

# start_server NAME ARGS...: ix-tcp-echo on the memif server side, bounded in
# time (no `timeout` wrapper so SIGINT reaches it), its log in $WORK/NAME.log
# and its counters in $WORK/NAME.json; returns once its socket is up.
start_server() {
  local name=$1; shift
  IX_STATS="$WORK/$name.json"
  "$PAIR" server "$BUILD" ix-tcp-echo --port 7 --seconds 120 --stats-file "$IX_STATS" "$@" \
    >"$WORK/$name.log" 2>&1 &
  IX_PID=$!
  for _ in $(seq 1 100); do
    kill -0 "$IX_PID" 2>/dev/null || fail "ix-tcp-echo (memif server $name) exited at start-up"
    grep -q "driver dpdk" "$WORK/$name.log" && [ -S "/run/ix-memif-$MEMIF_NAME.sock" ] && break
    sleep 0.1
  done
  [ -S "/run/ix-memif-$MEMIF_NAME.sock" ] || fail "the memif server did not create its socket in 10 s"
  pass "server $name up: $(grep -o 'dpdk: port 0 .*' "$WORK/$name.log" | head -1)"
}

start_server ix

# run_client NAME ARGS...: one ix-tcp-client process on the client side.
# A client that starts just after the previous one left may find the memif
# server still tearing that connection down (DPDK's memif_connect_client:
# "Failed to connect socket", and the port does not start): started again.
run_client() {
  local name=$1; shift
  local rc attempt
  for attempt in 1 2 3 4 5; do
    rc=0
    # --seconds bounds the run even if the client's own stall timeout fails.
    "$PAIR" client "$BUILD" ix-tcp-client --seconds 50 --server 10.88.0.1:7 --timeout-ms 10000 \
      --stats-file "$WORK/$name.json" "$@" >"$WORK/$name.log" 2>&1 || rc=$?
    [ "$rc" -ne 0 ] && grep -q "memif_connect_client(): Failed to connect socket" "$WORK/$name.log" ||
      break
    echo "ix-tcp-client $name: the memif server was not ready (attempt $attempt); again" >&2
    sleep 0.5
  done
  [ "$rc" -eq 0 ] || { sed 's/^/  client| /' "$WORK/$name.log" >&2; fail "ix-tcp-client $name exited with $rc"; }
}

t=$SECONDS
run_client bulk --mode bulk --bytes "$BULK_BYTES"
check_client_bulk "$WORK/bulk.log" "$BULK_BYTES" "IX->IX over memif" "$t"

t=$SECONDS
run_client conns --mode conns --count "$SHORT_CONNS" --concurrency 16
check_client_conns "$WORK/conns.log" "$SHORT_CONNS" "IX->IX over memif" "$t"

ix_stop
# Every frame crossed memif: the server's dataplane saw the whole exchange.
rx=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(t["core"]["rx_frames"] for t in d["threads"]))' "$IX_STATS")
# At least one frame per 1448-byte segment of the bulk stream.
[ "$rx" -ge $((BULK_BYTES / 1448)) ] || fail "the server received only $rx frames over memif"
pass "the server's dataplane received $rx frames over memif"
csum=$(( $(stat drop.ipv4_bad_checksum) ))
[ "$csum" -eq 0 ] || fail "$csum frames had bad IPv4 checksums"

# A trusted link (README, "Trusted links"): both ends skip every checksum;
# the stream must still come back with the SHA-256 it was sent with.
start_server ix-trusted --trusted-link on
grep -q "checksums: none (trusted link)" "$WORK/ix-trusted.log" ||
  fail "the trusted server does not say it skips checksums: $(grep -o 'dpdk: port 0 .*' "$WORK/ix-trusted.log")"
t=$SECONDS
run_client trusted --mode bulk --bytes "$BULK_BYTES" --trusted-link on
check_client_bulk "$WORK/trusted.log" "$BULK_BYTES" "IX->IX over a trusted memif link" "$t"
ix_stop
for reason in drop.ipv4_bad_checksum drop.tcp_bad_checksum; do
  n=$(( $(stat $reason) ))
  [ "$n" -eq 0 ] || fail "trusted link: $n frames dropped as $reason"
done
pass "trusted link: no checksum computed or checked, no frame refused"

echo "dpdk_memif_test: all passed in $((SECONDS - t0)) s"
