#!/usr/bin/env bash
# The DPDK driver's checksum offloads, end to end: ix-tcp-echo on net_tap,
# whose PMD offers IPv4/TCP/UDP checksum offload, inside a namespace of its
# own; the kernel side of the tap interface (same namespace) is the Linux
# peer. IX leaves checksums to the port (the pseudo-header sum preset, as
# DPDK's offload contract wants); the Linux stack drops any segment whose
# checksum the port did not complete, so a bulk echo with matching SHA-256
# digests and clean short connections show the offload path is right.
source "$(dirname "$0")/lib.sh"

BULK_BYTES=${IX_DPDK_TAP_BULK_BYTES:-20000000}
SHORT_CONNS=${IX_DPDK_TAP_SHORT_CONNS:-500}
NS=dpktap$$
TAP=dpktap0
IX_IP=10.79.0.2
trap 'ip netns del "$NS" 2>/dev/null || true; cleanup' EXIT
in_ns() { timeout 60 ip netns exec "$NS" "$@"; }

ip netns add "$NS"
ip -n "$NS" link set lo up
t0=$SECONDS
IX_STATS="$WORK/stats.json"
ip netns exec "$NS" "$BUILD/ix-tcp-echo" --driver dpdk --cpu 0 --port 7 --host-addr "$IX_IP/24" \
  --seconds 120 --stats-file "$IX_STATS" \
  --dpdk-args "--no-huge -m 256 --no-pci --no-shconf --file-prefix ix-test-dpdk --no-telemetry --vdev=net_tap0,iface=$TAP" \
  >"$WORK/ix.log" 2>&1 &
IX_PID=$!
# The tap PMD creates the interface when the port is probed.
for _ in $(seq 1 100); do
  kill -0 "$IX_PID" 2>/dev/null || fail "ix-tcp-echo exited at start-up"
  ip -n "$NS" link show "$TAP" >/dev/null 2>&1 && grep -q "driver dpdk" "$WORK/ix.log" && break
  sleep 0.1
done
ip -n "$NS" addr add 10.79.0.1/24 dev "$TAP"
ip -n "$NS" link set "$TAP" up
grep -q "checksums: TX IPv4 port, TX TCP/UDP port" "$WORK/ix.log" ||
  fail "net_tap's checksum offloads are not in use: $(grep -o 'dpdk: port .*' "$WORK/ix.log")"
pass "ix-tcp-echo on net_tap: $(grep -o 'checksums: .*' "$WORK/ix.log" | head -1)"
for _ in $(seq 1 50); do
  in_ns ping -c 1 -W 0.2 "$IX_IP" >/dev/null 2>&1 && break
done
in_ns ping -c 1 -W 1 "$IX_IP" >/dev/null || fail "ix-tcp-echo does not answer ping over net_tap"

t=$SECONDS
out=$(in_ns "$BUILD/tcp-echo-client" --dst "$IX_IP:7" --timeout-ms 10000 bulk --bytes "$BULK_BYTES") ||
  fail "bulk echo over net_tap: $out"
field() { echo "$out" | sed -n 's/^json: //p' | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
[ "$(field sha256_sent)" = "$(field sha256_received)" ] && [ "$(field sha256_sent | wc -c)" -eq 65 ] ||
  fail "bulk: SHA-256 of the stream sent and of its echo differ: $out"
pass "bulk with checksum offload: $(echo "$out" | head -1) [$((SECONDS - t)) s]"

t=$SECONDS
out=$(in_ns "$BUILD/tcp-echo-client" --dst "$IX_IP:7" --timeout-ms 10000 conns --count "$SHORT_CONNS" --concurrency 4) ||
  fail "short connections over net_tap: $out"
[ "$(field count)" -eq "$SHORT_CONNS" ] && [ "$(field failures)" -eq 0 ] ||
  fail "short connections over net_tap failed: $out"
pass "$(echo "$out" | head -1) [$((SECONDS - t)) s]"

# The kernel counts TCP segments with bad checksums; none may come from IX.
bad=$(ip netns exec "$NS" awk '$1 == "Tcp:" { if (!n) { for (i = 1; i <= NF; i++) col[$i] = i; n = 1 } else print $col["InCsumErrors"] }' /proc/net/snmp)
[ "${bad:-0}" -eq 0 ] || fail "the Linux peer saw $bad TCP segments with bad checksums"
ix_stop
csum=$(( $(stat drop.ipv4_bad_checksum) ))
[ "$csum" -eq 0 ] || fail "$csum frames had bad IPv4 checksums"
echo "dpdk_tap_offload_test: all passed in $((SECONDS - t0)) s"
