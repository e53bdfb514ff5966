#!/usr/bin/env bash
# Protected mode: ixd owns the NIC (AF_XDP over veth) and serves several
# application processes at once, each attached through its Unix socket.
#   - ix-tcp-echo, ix-memcached and ix-udp-echo run side by side: a 20 MB
#     echo with matching SHA-256, memcached's own client tests (memccapable)
#     and checked set/get, UDP echo of every size with payloads verified;
#   - a scribbler (tests/programs/ix_scribbler.cc) writes garbage over every
#     shared page it can write and sends commands the dataplane must refuse,
#     while the other two keep serving checked traffic; ixd's counters name
#     what it refused, and its receive regions stay read-only to it;
#   - kill -9 of the echo application in the middle of a transfer: its peer
#     sees a reset, memcached goes on, a new echo application takes the port,
#     and ixd's buffer pool is back to idle at the end;
#   - an application given a socket where no ixd listens stops at once and
#     says how to start one; kill -9 of ixd itself: an attached application
#     notices, says so and exits with an error instead of waiting for ever.
source "$(dirname "$0")/lib.sh"

ix_setup ixpr$$ 1
ixd_start --cpu 0
ip=${IX_ADDR%/*}
t0=$SECONDS

start_app() {  # start_app LOG APP ARGS...: attached in protected mode, pid in APP_PID
  local log=$1 app=$2; shift 2
  "$BUILD/$app" --dataplane "$IXD_SOCK" --seconds 300 "$@" >"$log" 2>&1 &
  APP_PID=$!
  POOL_PIDS+=("$APP_PID")
  for _ in $(seq 1 50); do
    grep -q "as application" "$log" && { sleep 0.3; return 0; }
    kill -0 "$APP_PID" 2>/dev/null || { cat "$log" >&2; fail "$app exited at start-up"; }
    sleep 0.1
  done
  fail "$app did not attach"
}

cat >"$WORK/mc.py" <<'PY'
import socket, sys
host, port, tag, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
s = socket.create_connection((host, port), timeout=10)
f = s.makefile("rb")
for i in range(n):
    v = (f"{tag}-{i}-" * (1 + i % 50)).encode()
    s.sendall(b"set %s:%d 0 0 %d\r\n%s\r\n" % (tag.encode(), i, len(v), v))
    assert f.readline() == b"STORED\r\n", "set"
for i in range(n):
    v = (f"{tag}-{i}-" * (1 + i % 50)).encode()
    s.sendall(b"get %s:%d\r\n" % (tag.encode(), i))
    assert f.readline() == b"VALUE %s:%d 0 %d\r\n" % (tag.encode(), i, len(v)), "header"
    assert f.readline() == v + b"\r\n", "value"
    assert f.readline() == b"END\r\n", "end"
print(f"memcached: {n} sets and gets checked ({tag})")
PY
mc_check() { peer /usr/bin/python3 "$WORK/mc.py" "$ip" 11211 "$1" "$2" || fail "memcached check $1"; }
bulk() {  # bulk BYTES: an echo of BYTES with matching digests
  local out
  out=$(peer "$BUILD/tcp-echo-client" --dst "$ip:7" --timeout-ms 10000 bulk --bytes "$1") ||
    fail "bulk echo: $out"
  echo "$out" | grep -q '"match":true' || fail "bulk digests differ: $out"
  echo "$out" | head -1
}

start_app "$WORK/echo.log" ix-tcp-echo --port 7
ECHO_PID=$APP_PID
start_app "$WORK/mc.log" ix-memcached --port 11211 -m 64
MC_PID=$APP_PID
grep -q "application 2 (ix-memcached" "$WORK/ixd.log" || fail "ixd did not log the second application"
pass "two applications attached: $(grep -c 'attached on' "$WORK/ixd.log")"

pass "echo: $(bulk 20000000)"
mc_check first 300
pass "memcached next to it: 300 sets and gets"

start_app "$WORK/udp.log" ix-udp-echo --port 9
UDP_PID=$APP_PID
peer "$BUILD/udp-ping" --dst "$ip:9" sizes --from 1 --to 1472 >/dev/null || fail "UDP echo sizes 1..1472"
pass "a third application, UDP: echo of every size 1..1472 verified"

if command -v memccapable >/dev/null; then
  out=$(peer timeout 60 memccapable -h "$ip" -p 11211 -t 10 2>&1) || true
  echo "$out" | grep -q '^All tests passed' ||
    { echo "$out" | sed 's/^/  memccapable| /' >&2; fail "memccapable in protected mode"; }
  pass "memccapable in protected mode: $(echo "$out" | grep -c '\[pass\]') tests passed"
fi

# The scribbler, while the others serve.
"$BUILD/ix-scribbler" --dataplane "$IXD_SOCK" --steal-port 7 --scribble-ms 3000 --seed 7 \
  >"$WORK/scribbler.log" 2>&1 &
SCRIB_PID=$!
POOL_PIDS+=("$SCRIB_PID")
for round in 1 2 3; do
  bulk 5000000 >/dev/null
  mc_check "during$round" 200
  out=$(peer "$BUILD/tcp-echo-client" --dst "$ip:7" pingpong --count 500 --size 64) || fail "pingpong: $out"
done
wait "$SCRIB_PID" || { cat "$WORK/scribbler.log" >&2; fail "the scribbler found a hole (exit $?)"; }
grep -q "receive regions read-only" "$WORK/scribbler.log" || fail "scribbler: $(cat "$WORK/scribbler.log")"
pass "$(grep '^scribbler:' "$WORK/scribbler.log")"
for _ in $(seq 1 50); do grep -q "(ix-scribbler, pid $SCRIB_PID) detached" "$WORK/ixd.log" && break; sleep 0.1; done
detach=$(grep "(ix-scribbler, pid $SCRIB_PID) detached" "$WORK/ixd.log") || fail "ixd did not log the scribbler's end"
count() { echo "$detach" | grep -o "$1 [0-9]*" | awk '{print $2}'; }
for c in rejected_bad_handle rejected_bad_ref rejected_unknown_op; do
  [ "$(count $c)" -gt 0 ] || fail "ixd counted no $c for the scribbler: $detach"
done
pass "ixd refused the scribbler's commands: bad handles $(count rejected_bad_handle), bad references $(count rejected_bad_ref), unknown operations $(count rejected_unknown_op), invalid $(count rejected_invalid)"
pass "echo and memcached served checked traffic throughout"

# kill -9 in the middle of a transfer.
peer "$BUILD/tcp-echo-client" --dst "$ip:7" --timeout-ms 5000 bulk --bytes 2000000000 >"$WORK/killed.log" 2>&1 &
client=$!
sleep 1
kill -9 "$ECHO_PID"
t=$SECONDS
wait "$client" && fail "the killed application's peer saw its transfer complete"
[ $((SECONDS - t)) -le 8 ] || fail "the killed application's peer took $((SECONDS - t)) s to notice"
for _ in $(seq 1 50); do grep -q "(ix-tcp-echo, pid $ECHO_PID) detached" "$WORK/ixd.log" && break; sleep 0.1; done
grep -q "(ix-tcp-echo, pid $ECHO_PID) is gone" "$WORK/ixd.log" || fail "ixd did not notice the kill"
pass "kill -9: the peer's transfer ended ($(tail -1 "$WORK/killed.log" | cut -c1-80)); ixd reset the connections"
mc_check after 300
start_app "$WORK/echo2.log" ix-tcp-echo --port 7
ECHO_PID=$APP_PID
pass "after the kill: memcached still serves, and a new echo takes port 7: $(bulk 5000000)"

peer "$BUILD/udp-ping" --dst "$ip:9" latency --count 500 --size 64 >/dev/null || fail "UDP after all"
kill -INT "$ECHO_PID" "$MC_PID" "$UDP_PID"
wait "$UDP_PID" || fail "udp echo exited with an error"
wait "$ECHO_PID" || fail "echo exited with an error"
wait "$MC_PID" || fail "memcached exited with an error"
ixd_stop
python3 - "$IX_STATS" <<'PY' || fail "pool not back to idle"
import json, sys
d = json.load(open(sys.argv[1]))
for t in d["threads"]:
    p = t["pool"]
    # Buffers the AF_XDP queue keeps posted for reception are idle too.
    assert p["available"] + p["in_device"] == p["capacity"], p
print("PASS: ixd's pool is back to idle:", [(t["pool"]["available"], t["pool"]["capacity"]) for t in d["threads"]])
PY
# No dataplane at the socket: a clear refusal, not a hang.
if "$BUILD/ix-tcp-echo" --dataplane "$WORK/nobody.sock" --seconds 5 >"$WORK/nobody.log" 2>&1; then
  fail "an application attached to a socket nobody listens on"
fi
grep -q "cannot reach ixd at '$WORK/nobody.sock'.*start the dataplane process first" "$WORK/nobody.log" ||
  { cat "$WORK/nobody.log" >&2; fail "no clear message for a missing dataplane"; }
pass "no dataplane at the socket: $(head -1 "$WORK/nobody.log" | cut -c1-100)"

# kill -9 of the dataplane under an attached, idle application.
ixd_start --cpu 0
start_app "$WORK/orphan.log" ix-tcp-echo --port 7
ORPHAN_PID=$APP_PID
bulk 1000000 >/dev/null
kill -9 "$IXD_PID"
wait "$IXD_PID" 2>/dev/null || true
IXD_PID=
# A hang detector, not a speed test: the application checks the socket
# between futex waits of a few milliseconds.
for _ in $(seq 1 100); do
  kill -0 "$ORPHAN_PID" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$ORPHAN_PID" 2>/dev/null; then
  kill -9 "$ORPHAN_PID"
  fail "the application did not notice that ixd was killed"
fi
wait "$ORPHAN_PID" && fail "the application exited with success after losing its dataplane"
grep -q "went away (it exited or was killed)" "$WORK/orphan.log" ||
  { cat "$WORK/orphan.log" >&2; fail "no clear message after the dataplane died"; }
pass "kill -9 of ixd: the attached application said so and exited with an error"

echo "protected_test: all passed in $((SECONDS - t0)) s"
