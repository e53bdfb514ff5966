#!/usr/bin/env bash
# Multi-queue AF_XDP with TCP: ix-tcp-echo with two elastic threads on a
# two-queue veth, one AF_XDP socket per queue per thread, and hundreds of
# Linux client connections. veth's RX queue cannot be programmed (the peer's
# TX queue selection picks it), so each thread checks the flow group of
# every frame and hands frames of the other thread's groups over: every
# connection must echo correctly, both threads must serve connections, no
# segment may reach a thread without its connection (no stray resets), and
# the start-up log must say how flows are steered.
source "$(dirname "$0")/lib.sh"

CONNS=${IX_FLOW_GROUP_CONNS:-400}

ix_setup flg$$ 2
if [ "$(nproc)" -ge 2 ]; then cpus=0,1; else cpus=-1,-1; fi
ix_start ix-tcp-echo --cpu "$cpus" --port 7
ix_ip=${IX_ADDR%/*}
t0=$SECONDS

grep -q "128 flow groups, round robin over 2 elastic threads" "$WORK/ix.log" ||
  fail "start-up log does not describe the flow groups"
grep -q "cannot be programmed" "$WORK/ix.log" || fail "start-up log does not say veth cannot be steered"
pass "start-up: $(grep -o '128 flow groups, round robin.*' "$WORK/ix.log" | head -1 | cut -c1-200)..."

out=$(peer "$BUILD/tcp-echo-client" --dst "$ix_ip:7" conns --count "$CONNS" --concurrency 8) ||
  fail "short connections: $out"
echo "$out" | grep -q '"failures":0' || fail "short connections failed: $out"
pass "$(echo "$out" | head -1)"

out=$(peer "$BUILD/tcp-echo-client" --dst "$ix_ip:7" --timeout-ms 10000 bulk --bytes 5000000) ||
  fail "bulk echo: $out"
echo "$out" | grep -q '"match":true' || fail "bulk digests differ: $out"
pass "bulk: $(echo "$out" | head -1)"

ix_stop
# Per-thread connections, from the application's exit report.
for t in 0 1; do
  n=$(sed -n "s/^ix-tcp-echo: thread $t: accepted \([0-9]*\).*/\1/p" "$WORK/ix.log")
  [ -n "$n" ] || fail "no exit report for thread $t"
  [ "$n" -gt 0 ] || fail "thread $t served no connection"
  echo "  thread $t accepted $n connections"
done
total=$(sed -n 's/^ix-tcp-echo: thread [0-9]*: accepted \([0-9]*\).*/\1/p' "$WORK/ix.log" | awk '{s += $1} END {print s + 0}')
[ "$total" -eq $((CONNS + 1)) ] || fail "threads accepted $total connections, expected $((CONNS + 1))"
pass "both threads served connections ($total in all)"

python3 - "$IX_STATS" <<'PY' || fail "per-thread counters"
import json, sys
d = json.load(open(sys.argv[1]))
th = d["threads"]
assert len(th) == 2, f"{len(th)} threads in the stats"
for t in th:
    c, q = t["core"], t["queue"]
    print(f"  thread {t['id']}: rx {c['rx_frames']} (queue rx {q['rx_packets']}), "
          f"fwd_out {c['fwd_out']} fwd_in {c['fwd_in']} fwd_dropped {c['fwd_dropped']}, "
          f"tcp_no_connection {t['net']['drop.tcp_no_connection']}")
    # Every frame the thread's queue delivered went through its loop.
    assert c["rx_frames"] == q["rx_packets"], "thread rx and queue rx differ"
    assert c["fwd_dropped"] == 0, "frames of the other thread were dropped"
    assert t["net"]["drop.tcp_no_connection"] == 0, "a segment reached a thread without its connection"
out = sum(t["core"]["fwd_out"] for t in th)
inn = sum(t["core"]["fwd_in"] for t in th)
assert out == inn, f"forwarded {out} but received {inn}"
PY
pass "counters: thread rx = queue rx, forwarded frames all delivered, no segment without its connection"
echo "tcp_flow_groups_test: all passed in $((SECONDS - t0)) s"
