#!/usr/bin/env bash
# ix-tcp-echo with --driver dpdk on DPDK's net_af_packet over veth, answering
# the Linux TCP client (tcp-echo-client) in the peer namespace: a bulk stream
# echoed with matching SHA-256 digests and many short connections. The veth
# end in the IX namespace has no kernel address, so the kernel there ignores
# the frames that AF_PACKET also shows it; the dataplane owns 10.77.0.2.
source "$(dirname "$0")/lib.sh"

BULK_BYTES=${IX_DPDK_BULK_BYTES:-30000000}
SHORT_CONNS=${IX_DPDK_SHORT_CONNS:-3000}
# Two polling elastic threads share the 2-core host with the client: fewer.
SHORT_CONNS_2Q=${IX_DPDK_SHORT_CONNS_2Q:-500}

ix_setup dpk$$ 1
t0=$SECONDS
# --no-shconf: no EAL runtime files to collide with another DPDK process's
# or to leave behind; -m 256 without huge pages is plenty for one queue.
ix_start ix-tcp-echo --driver dpdk --cpu 0 --port 7 \
  --dpdk-args "--no-huge -m 256 --no-pci --no-shconf --file-prefix ix-test-dpdk --no-telemetry --vdev=net_af_packet0,iface=$IX_IF"
grep -q "dpdk: port 0 net_af_packet0 (driver net_af_packet)" "$WORK/ix.log" ||
  fail "the dataplane did not report the DPDK port it drives"
pass "ix-tcp-echo up on DPDK: $(grep -o 'dpdk: port 0 .*' "$WORK/ix.log" | head -1)"
ix_ip=${IX_ADDR%/*}

t=$SECONDS
out=$(peer "$BUILD/tcp-echo-client" --dst "$ix_ip:7" --timeout-ms 10000 bulk --bytes "$BULK_BYTES") ||
  fail "bulk echo of $BULK_BYTES bytes: $out"
field() { echo "$out" | sed -n 's/^json: //p' | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
[ "$(field sha256_sent)" = "$(field sha256_received)" ] && [ "$(field sha256_sent | wc -c)" -eq 65 ] ||
  fail "bulk: SHA-256 of the stream sent and of its echo differ: $out"
pass "bulk over DPDK af_packet: $(echo "$out" | head -1) [$((SECONDS - t)) s]"

t=$SECONDS
out=$(peer "$BUILD/tcp-echo-client" --dst "$ix_ip:7" --timeout-ms 10000 conns --count "$SHORT_CONNS" --concurrency 4) ||
  fail "short connections: $out"
[ "$(field count)" -eq "$SHORT_CONNS" ] && [ "$(field failures)" -eq 0 ] ||
  fail "short connections failed: $out"
pass "$(echo "$out" | head -1) [$((SECONDS - t)) s]"

ix_stop
csum=$(( $(stat drop.ipv4_bad_checksum) ))
[ "$csum" -eq 0 ] || fail "$csum frames had bad IPv4 checksums"

# Two elastic threads on two af_packet queue pairs. net_af_packet has no RSS:
# the kernel's fanout hash picks the queue, so the driver must say so at
# start-up; each flow still stays on one queue, which is all a server needs.
ix_setup dpk$$ 2
ix_start ix-tcp-echo --driver dpdk --cpu 0,1 --port 7 \
  --dpdk-args "--no-huge -m 256 --no-pci --no-shconf --file-prefix ix-test-dpdk --no-telemetry --vdev=net_af_packet0,iface=$IX_IF,qpairs=2"
grep -q "dpdk: warning: .*cannot steer flows by RSS, yet 2 queues" "$WORK/ix.log" ||
  fail "no warning that net_af_packet cannot steer 2 queues by RSS"
pass "two queues without RSS: the driver warned at start-up"
t=$SECONDS
out=$(peer "$BUILD/tcp-echo-client" --dst "$ix_ip:7" --timeout-ms 10000 conns --count "$SHORT_CONNS_2Q" --concurrency 8) ||
  fail "short connections over two queues: $out"
[ "$(field count)" -eq "$SHORT_CONNS_2Q" ] && [ "$(field failures)" -eq 0 ] ||
  fail "short connections over two queues failed: $out"
ix_stop
busy=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(1 for t in d["threads"] if t["core"]["rx_frames"] > 0))' "$IX_STATS")
pass "$(echo "$out" | head -1), frames arrived on $busy of 2 threads [$((SECONDS - t)) s]"
echo "dpdk_tcp_echo_test: all passed in $((SECONDS - t0)) s"
