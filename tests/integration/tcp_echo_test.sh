#!/usr/bin/env bash
# ix-tcp-echo (ixev, zero-copy echo) on AF_XDP over veth, against the Linux
# TCP stack in the peer namespace: the handshake's options (captured with
# tcpdump), a 100 MB stream echoed with matching SHA-256 digests, 10,000 short
# connections with no failure, and request/response latency.
source "$(dirname "$0")/lib.sh"

BULK_BYTES=${IX_TCP_BULK_BYTES:-100000000}
SHORT_CONNS=${IX_TCP_SHORT_CONNS:-10000}

ix_setup ixt$$ 1
ix_start ix-tcp-echo --cpu 0 --port 7
ix_ip=${IX_ADDR%/*}
t0=$SECONDS

# The handshake, captured on the peer while the first connection opens.
pcap="$WORK/handshake.pcap"
ip netns exec "$PEER_NS" tcpdump -i "$PEER_IF" -n -U -w "$pcap" \
  'tcp port 7 and (tcp[tcpflags] & tcp-syn != 0)' >"$WORK/tcpdump.log" 2>&1 &
dump_pid=$!
sleep 1
peer "$BUILD/tcp-echo-client" --dst "$ix_ip:7" pingpong --count 10 --size 32 >/dev/null ||
  fail "first connection"
sleep 1
kill -INT "$dump_pid"; wait "$dump_pid" || true
if command -v tshark >/dev/null; then
  decoded=$(tshark -r "$pcap" -V 2>/dev/null)
  syn=$(echo "$decoded" | grep -c "Maximum segment size" || true)
  echo "$decoded" | grep -q "SACK permitted" || fail "no SACK permitted in the handshake"
  echo "$decoded" | grep -q "Window scale" || fail "no window scale in the handshake"
  echo "$decoded" | grep -q "Timestamps" || fail "no timestamps in the handshake"
  [ "$syn" -ge 2 ] || fail "MSS missing in SYN or SYN-ACK"
  pass "handshake (tshark): MSS, window scale, SACK permitted and timestamps in SYN and SYN-ACK"
else
  decoded=$(tcpdump -r "$pcap" -n -v 2>/dev/null)
  synack=$(echo "$decoded" | grep -A1 "$ix_ip.7 > .*Flags \[S\.\]" | tr '\n' ' ')
  syn=$(echo "$decoded" | grep -A1 "> $ix_ip.7: Flags \[S\]" | head -2 | tr '\n' ' ')
  [ -n "$synack" ] || fail "no SYN-ACK captured: $decoded"
  for opt in "mss [0-9]" "sackOK" "TS val" "wscale [0-9]"; do
    echo "$syn" | grep -q "$opt" || fail "SYN lacks '$opt': $syn"
    echo "$synack" | grep -q "$opt" || fail "SYN-ACK lacks '$opt': $synack"
  done
  pass "handshake (tcpdump -v): SYN-ACK options $(echo "$synack" | grep -o 'options \[[^]]*\]' | head -1)"
fi

t=$SECONDS
out=$(peer "$BUILD/tcp-echo-client" --dst "$ix_ip:7" --timeout-ms 10000 bulk --bytes "$BULK_BYTES") ||
  fail "bulk echo of $BULK_BYTES bytes: $out"
echo "$out" | grep -q '"match":true' || fail "bulk digests differ: $out"
sha() { echo "$out" | sed -n 's/^json: //p' | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
[ "$(sha sha256_sent)" = "$(sha sha256_received)" ] && [ "$(sha sha256_sent | wc -c)" -eq 65 ] ||
  fail "bulk: SHA-256 of the stream sent and of its echo differ: $out"
pass "bulk: $(echo "$out" | head -1) [$((SECONDS - t)) s]"

t=$SECONDS
out=$(peer "$BUILD/tcp-echo-client" --dst "$ix_ip:7" conns --count "$SHORT_CONNS" --concurrency 4) ||
  fail "short connections: $out"
echo "$out" | grep -q '"failures":0' || fail "short connections failed: $out"
pass "$(echo "$out" | head -1) [$((SECONDS - t)) s]"

out=$(peer "$BUILD/tcp-echo-client" --dst "$ix_ip:7" pingpong --count 5000 --size 64) ||
  fail "pingpong: $out"
pass "$(echo "$out" | head -1)"

ix_stop
grep -q "accepted" "$WORK/ix.log" && sed -n 's/^ix-tcp-echo: thread/  ix| thread/p' "$WORK/ix.log"
csum=$(( $(stat drop.ipv4_bad_checksum) ))
[ "$csum" -eq 0 ] || fail "$csum frames had bad IPv4 checksums"
echo "tcp_echo_test: all passed in $((SECONDS - t0)) s"
