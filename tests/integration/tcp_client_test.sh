#!/usr/bin/env bash
# IX as the TCP client, the Linux stack as the server: ix-tcp-client (ixev)
# on AF_XDP over veth dials linux-tcp-echo (epoll) in the peer namespace.
# A 100 MB stream must come back with the same SHA-256 as was sent, and
# 10,000 short connections must each open, echo one message and close
# without a failure. The client ends the dataplane by itself after each test.
source "$(dirname "$0")/lib.sh"

BULK_BYTES=${IX_TCP_BULK_BYTES:-100000000}
SHORT_CONNS=${IX_TCP_SHORT_CONNS:-10000}
PORT=7

SERVER_PID=
stop_server() {
  if [ -n "$SERVER_PID" ]; then kill -TERM "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  SERVER_PID=
}
trap 'stop_server; cleanup' EXIT

ix_setup ixc$$ 1
peer_ip=${PEER_ADDR%/*}
t0=$SECONDS

# The Linux server, bounded in time; no `timeout` wrapper so SIGTERM reaches it.
ip netns exec "$PEER_NS" "$BUILD/linux-tcp-echo" --port "$PORT" --seconds 170 \
  >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 50); do
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; fail "linux-tcp-echo exited at start-up"; }
  ip netns exec "$PEER_NS" ss -Hltn "sport = :$PORT" | grep -q LISTEN && break
  sleep 0.1
done

# run_client NAME ARGS...: one ix-tcp-client run (one test) in the IX namespace;
# its output is in $WORK/NAME.log, its statistics in $WORK/NAME.json.
run_client() {
  local name=$1; shift
  IX_STATS="$WORK/$name.json"
  # --seconds bounds the run even if the client's own stall timeout fails.
  ip netns exec "$IX_NS" "$BUILD/ix-tcp-client" --seconds 60 --dev "$IX_IF" --host-addr "$IX_ADDR" \
    --cpu 0 --stats-file "$IX_STATS" --server "$peer_ip:$PORT" --timeout-ms 10000 "$@" \
    >"$WORK/$name.log" 2>&1 &
  IX_PID=$!
  local rc=0
  wait "$IX_PID" || rc=$?
  IX_PID=
  cp "$WORK/$name.log" "$WORK/ix.log"  # what fail() shows
  [ "$rc" -eq 0 ] || fail "ix-tcp-client $name exited with $rc"
  [ -s "$IX_STATS" ] || fail "ix-tcp-client $name wrote no statistics"
}

t=$SECONDS
run_client bulk --mode bulk --bytes "$BULK_BYTES"
check_client_bulk "$WORK/bulk.log" "$BULK_BYTES" "IX->Linux" "$t"

t=$SECONDS
run_client conns --mode conns --count "$SHORT_CONNS" --concurrency 16
check_client_conns "$WORK/conns.log" "$SHORT_CONNS" "IX->Linux" "$t"

stop_server
sed 's/^/  server| /' "$WORK/server.log"
grep -q "accepted $((SHORT_CONNS + 1)) closed $((SHORT_CONNS + 1)) errors 0" "$WORK/server.log" ||
  fail "linux-tcp-echo did not see $((SHORT_CONNS + 1)) clean connections: $(cat "$WORK/server.log")"
pass "linux-tcp-echo saw $((SHORT_CONNS + 1)) connections, all closed cleanly, no errors"
csum=$(( $(stat drop.ipv4_bad_checksum) ))
[ "$csum" -eq 0 ] || fail "$csum frames had bad IPv4 checksums"
echo "tcp_client_test: all passed in $((SECONDS - t0)) s"
