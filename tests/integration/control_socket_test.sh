#!/usr/bin/env bash
# The control socket of a running dataplane: ix-tcp-echo on AF_XDP with
# --control-socket, Linux connections held open in the peer namespace, and
# ixctl listing them (state ESTABLISHED, the right endpoints, plausible TCP
# fields), `conns json` and `stats` valid JSON (python3 -m json.tool), the
# control plane's commands (groups, move, cores, park, elastic), a bad
# command answered with an error line, and the socket file gone at exit.
source "$(dirname "$0")/lib.sh"

CONNS=5
ix_setup ixc$$ 1
SOCK="$WORK/ix.sock"
ix_start ix-tcp-echo --cpu 0 --port 7 --control-socket "$SOCK"
ix_ip=${IX_ADDR%/*}
t0=$SECONDS
ixctl() { "$BUILD/ixctl" "$SOCK" "$@"; }

[ -S "$SOCK" ] || fail "no control socket at $SOCK"
[ "$(command stat -c %a "$SOCK")" = 700 ] || fail "control socket mode $(command stat -c %a "$SOCK"), not owner only"

# A Linux client holding $CONNS echoed connections open until told to close.
ports="$WORK/ports"
go="$WORK/close"
peer python3 - "$ix_ip" "$CONNS" "$ports" "$go" >"$WORK/client.log" 2>&1 <<'EOF' &
import os, socket, sys, time
ip, n, ports, go = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
socks = []
for i in range(n):
    s = socket.create_connection((ip, 7), timeout=10)
    msg = b"hello %d\n" % i
    s.sendall(msg)
    got = b""
    while len(got) < len(msg):
        got += s.recv(100)
    assert got == msg, got
    socks.append(s)
with open(ports + ".tmp", "w") as f:
    f.write("\n".join(str(s.getsockname()[1]) for s in socks) + "\n")
os.rename(ports + ".tmp", ports)
for _ in range(600):
    if os.path.exists(go):
        break
    time.sleep(0.1)
for s in socks:
    s.close()
EOF
client=$!
for _ in $(seq 1 100); do [ -s "$ports" ] && break; sleep 0.1; done
[ -s "$ports" ] || fail "the Linux client did not connect: $(cat "$WORK/client.log")"

out=$(ixctl conns) || fail "ixctl conns: exit $?: $out"
echo "$out" | sed 's/^/  ixctl| /'
while read -r port; do
  line=$(echo "$out" | grep "^ESTABLISHED $ix_ip:7 10.77.0.1:$port ") ||
    fail "connection from port $port not listed as ESTABLISHED"
  field() { echo "$line" | grep -o " $1:[^ ]*" | cut -d: -f2; }
  [ "$(field mss)" -ge 500 ] && [ "$(field mss)" -le 1460 ] || fail "mss: $line"
  [ "$(field cwnd)" -ge "$(field mss)" ] || fail "cwnd: $line"
  [ "$(field rto_ms)" -ge 200 ] && [ "$(field rto_ms)" -le 60000 ] || fail "rto: $line"
  [ "$(field in_flight)" -eq 0 ] && [ "$(field send_q)" -eq 0 ] || fail "data left unacknowledged: $line"
  [ "$(field retrans)" -ge 0 ] && [ "$(field thread)" -eq 0 ] || fail "thread/retrans: $line"
done <"$ports"
[ "$(echo "$out" | grep -c '^ESTABLISHED ')" -eq "$CONNS" ] || fail "not $CONNS connections: $out"
pass "ixctl conns: $CONNS Linux connections listed ESTABLISHED with their ports and TCP state"

json=$(ixctl conns json) || fail "ixctl conns json: exit $?"
echo "$json" | python3 -m json.tool >/dev/null || fail "conns json is not JSON: $json"
n=$(echo "$json" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(sum(c["state"]=="ESTABLISHED" for c in d["conns"]))')
[ "$n" -eq "$CONNS" ] || fail "conns json lists $n established connections: $json"
pass "ixctl conns json: valid JSON, $n established"

stats=$(ixctl stats) || fail "ixctl stats: exit $?"
echo "$stats" | python3 -m json.tool >/dev/null || fail "stats is not JSON: $stats"
opens=$(echo "$stats" | python3 -c 'import json,sys; print(sum(t["tcp"]["passive_opens"] for t in json.load(sys.stdin)["threads"]))')
[ "$opens" -ge "$CONNS" ] || fail "stats: passive_opens $opens while $CONNS are open"
pass "ixctl stats: valid JSON while running, passive_opens $opens"

if bad=$(ixctl frobnicate 2>&1); then fail "a bad command succeeded: $bad"; fi
[ "$(echo "$bad" | head -c 7)" = "error: " ] && [ "$(echo "$bad" | wc -l)" -eq 1 ] ||
  fail "a bad command got: $bad"
pass "bad command: $bad"

# The control plane's commands on the running binary (one elastic thread:
# it owns every flow group; moving one onto it or running on one core is a
# no-op that must say ok; the policy is off unless --elastic on).
groups=$(ixctl groups) || fail "ixctl groups: exit $?: $groups"
echo "$groups" | grep -q '^thread 0 running groups 128 busy_pct [0-9]* rx_frames [1-9]' ||
  fail "groups: $groups"
[ "$(ixctl move 5 0)" = ok ] && [ "$(ixctl cores 1)" = ok ] || fail "move/cores on the only thread"
for bad in "move 128 0" "move 5 1" "cores 2" "park 0" "elastic"; do
  if out=$(ixctl $bad 2>&1); then fail "'$bad' succeeded: $out"; fi
  [ "$(echo "$out" | head -c 7)" = "error: " ] || fail "'$bad' got: $out"
done
pass "ixctl groups/move/cores/park/elastic: $(echo "$groups" | cut -d' ' -f1-5), mistakes refused"

# ixcp: the control plane's own command.
st=$("$BUILD/ixcp" "$SOCK" status) || fail "ixcp status: exit $?: $st"
echo "$st" | grep -q '^thread 0 running groups 128 ' || fail "ixcp status: $st"
echo "$st" | grep -q '^policy: off (start with --elastic on)$' || fail "ixcp status: $st"
[ "$("$BUILD/ixcp" "$SOCK" cores 1)" = ok ] || fail "ixcp cores 1"
for bad in "cores" "move 1" "bogus" "status now"; do
  rc=0; "$BUILD/ixcp" "$SOCK" $bad >/dev/null 2>&1 || rc=$?
  [ "$rc" -eq 2 ] || fail "ixcp $bad: exit $rc, not 2 (usage)"
done
rc=0; "$BUILD/ixcp" "$SOCK" park 0 >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "ixcp park 0 (owns every group): exit $rc, not 1 (refused)"
pass "ixcp status/cores, usage errors (exit 2) and a refusal (exit 1)"

touch "$go"
wait "$client" || fail "the Linux client failed: $(cat "$WORK/client.log")"
for _ in $(seq 1 50); do
  left=$(ixctl conns | grep -c '^ESTABLISHED ' || true)
  [ "$left" -eq 0 ] && break
  sleep 0.1
done
[ "$left" -eq 0 ] || fail "connections still ESTABLISHED after the client closed: $(ixctl conns)"
pass "ixctl conns: none established once the client closed"

ix_stop
[ ! -e "$SOCK" ] || fail "the control socket was left behind"
echo "control_socket_test: all passed in $((SECONDS - t0)) s"
