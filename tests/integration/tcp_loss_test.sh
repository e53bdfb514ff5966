#!/usr/bin/env bash
# ix-tcp-echo on AF_XDP against the Linux TCP stack, first over the clean veth
# and then with a tc BPF program dropping ~2% of TCP segments each way:
# - clean: tshark sees MSS, window scale, SACK permitted and timestamps in the
#   SYN and SYN-ACK, and not one malformed frame, bad checksum, retransmission
#   or duplicate ACK;
# - lossy: a bulk stream is echoed with matching digests, the dropper really
#   dropped in both directions (qdisc drop count for IX->Linux, Linux's
#   retransmissions for Linux->IX, IX's retransmissions seen in the capture),
#   and tshark finds nothing malformed and no bad checksum.
#
# Where the drops happen: both on peer0 in the Linux namespace. tc egress on
# ix0 never sees the dataplane's frames (AF_XDP copy-mode TX hands them to the
# driver directly, past the qdisc layer and its clsact hooks), so IX->Linux loss
# is made at peer0's ingress; Linux->IX loss at peer0's egress.
source "$(dirname "$0")/lib.sh"

BULK_BYTES=${IX_TCP_LOSS_BULK_BYTES:-20000000}
DROP_PER_MILLE=${IX_TCP_LOSS_PER_MILLE:-20}
CLEAN_BYTES=2000000

command -v tshark >/dev/null || fail "tshark is not installed (scripts/install-deps.sh installs it)"
command -v tcpdump >/dev/null || fail "tcpdump is not installed"
command -v clang >/dev/null || fail "clang is not installed (needed to build the BPF dropper)"

# The checks themselves must be able to fail: run them on captures made to break them.
/usr/bin/python3 "$ROOT/tests/integration/tshark_check.py" self-test >"$WORK/selftest.log" 2>&1 ||
  fail "tshark_check.py self-test: $(cat "$WORK/selftest.log")"

# Compile the dropper now, so the loss rate is a build-time constant.
bpf_obj="$WORK/random_drop.bpf.o"
clang -O2 -g -target bpf -DDROP_PER_MILLE="$DROP_PER_MILLE" \
  -I"/usr/include/$(uname -m)-linux-gnu" \
  -c "$ROOT/tests/integration/bpf/random_drop.bpf.c" -o "$bpf_obj" 2>"$WORK/clang.log" ||
  fail "clang cannot build the BPF program (needs clang with the bpf target and libbpf-dev): $(cat "$WORK/clang.log")"

ix_setup ixl$$ 1
ix_start ix-tcp-echo --cpu 0 --port 7
ix_ip=${IX_ADDR%/*}
t0=$SECONDS

# A failed check must not leave tcpdump behind.
dump_pid=
# A kill that finds tcpdump gone must not end the trap (errexit) before cleanup.
trap '[ -z "$dump_pid" ] || kill "$dump_pid" 2>/dev/null || true; cleanup' EXIT

# capture_start FILE: tcpdump on peer0 (sees every frame IX sent, and what
# Linux sent after the egress dropper); capture_stop waits for it to flush.
capture_start() {
  ip netns exec "$PEER_NS" tcpdump -i "$PEER_IF" -n -U -B 32768 -w "$1" 'tcp port 7' >"$WORK/tcpdump.log" 2>&1 &
  dump_pid=$!
  for _ in $(seq 1 50); do
    grep -q "listening on" "$WORK/tcpdump.log" && return 0
    sleep 0.1
  done
  fail "tcpdump did not start: $(cat "$WORK/tcpdump.log")"
}
capture_stop() {
  sleep 0.5
  kill -INT "$dump_pid"
  wait "$dump_pid" || true
  dump_pid=
  capture_lost=$(sed -n 's/^\([0-9]*\) packets\{0,1\} dropped by kernel.*/\1/p' "$WORK/tcpdump.log")
  [ -n "$capture_lost" ] || fail "tcpdump did not report its drops: $(cat "$WORK/tcpdump.log")"
  # IX_TCP_LOSS_KEEP_PCAPS=DIR keeps the captures for a closer look.
  if [ -n "${IX_TCP_LOSS_KEEP_PCAPS:-}" ]; then cp "$1" "$IX_TCP_LOSS_KEEP_PCAPS/"; fi
}

bulk() {
  peer "$BUILD/tcp-echo-client" --dst "$ix_ip:7" --timeout-ms 20000 bulk --bytes "$1"
}

# --- clean path: options and well-formedness ---
# The gap check below is only sound on a complete capture. tcpdump may fall
# behind on a busy 2-core host (it shares the CPUs with IX and the client);
# a capture with kernel drops is retaken, up to three times.
clean_pcap="$WORK/clean.pcap"
for attempt in 1 2 3; do
  capture_start "$clean_pcap"
  out=$(bulk "$CLEAN_BYTES") || fail "clean bulk echo: $out"
  echo "$out" | grep -q '"match":true' || fail "clean bulk digests differ: $out"
  capture_stop "$clean_pcap"
  [ "$capture_lost" -eq 0 ] && break
  echo "  note: tcpdump lost $capture_lost frames of clean capture $attempt; retaking it"
done
[ "$capture_lost" -eq 0 ] || fail "tcpdump lost $capture_lost frames of all three clean captures"
/usr/bin/python3 "$ROOT/tests/integration/tshark_check.py" handshake "$clean_pcap" "$ix_ip" ||
  fail "handshake options (tshark)"
/usr/bin/python3 "$ROOT/tests/integration/tshark_check.py" clean "$clean_pcap" ||
  fail "clean capture (tshark)"

# --- lossy path ---
peer tc qdisc add dev "$PEER_IF" clsact
peer tc filter add dev "$PEER_IF" ingress bpf da obj "$bpf_obj" sec tc_ingress
peer tc filter add dev "$PEER_IF" egress bpf da obj "$bpf_obj" sec tc_egress

# nstat keeps its history in a file shared by all namespaces: read absolute values.
linux_counter() { peer nstat -az "$1" | awk -v n="$1" '$1 == n {print $2}'; }
qdisc_drops() { peer tc -s qdisc show dev "$PEER_IF" | awk '/clsact/ {getline; print $0}' | sed -n 's/.*(dropped \([0-9]*\),.*/\1/p'; }
retrans0=$(linux_counter TcpRetransSegs)
out0=$(linux_counter TcpOutSegs)
drops0=$(qdisc_drops)

lossy_pcap="$WORK/lossy.pcap"
capture_start "$lossy_pcap"
t=$SECONDS
out=$(bulk "$BULK_BYTES") || fail "bulk echo of $BULK_BYTES bytes under loss: $out"
secs=$((SECONDS - t))
capture_stop "$lossy_pcap"
[ "$capture_lost" -eq 0 ] || echo "  note: tcpdump lost $capture_lost frames of the lossy capture"
echo "$out" | grep -q '"match":true' || fail "bulk digests differ under loss: $out"
pass "bulk under ${DROP_PER_MILLE}/1000 loss each way: $(echo "$out" | head -1) [$secs s]"

ix_drops=$(($(qdisc_drops) - drops0))
linux_retrans=$(($(linux_counter TcpRetransSegs) - retrans0))
linux_out=$(($(linux_counter TcpOutSegs) - out0))
echo "  IX->Linux segments dropped at peer0 ingress: $ix_drops"
echo "  Linux->IX: Linux sent $linux_out segments, retransmitted $linux_retrans"
[ "$ix_drops" -gt 0 ] || fail "the ingress dropper dropped nothing"
[ "$linux_retrans" -gt 0 ] || fail "Linux retransmitted nothing: the egress dropper did not bite"

lossy=$(/usr/bin/python3 "$ROOT/tests/integration/tshark_check.py" lossy "$lossy_pcap" "$ix_ip") ||
  fail "lossy capture (tshark): $lossy"
echo "$lossy" | head -1
ix_retrans=$(echo "$lossy" | sed -n 's/^json: //p' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["from_server"].get("retransmission",0))')
echo "  IX retransmissions seen by tshark: $ix_retrans"
[ "$ix_retrans" -gt 0 ] || fail "IX lost $ix_drops segments but tshark saw no retransmission from it"

ix_stop
sed -n 's/^ix-tcp-echo: thread/  ix| thread/p; s/^  drops:/  ix|   drops:/p' "$WORK/ix.log"
csum=$(($(stat drop.ipv4_bad_checksum)))
[ "$csum" -eq 0 ] || fail "$csum frames had bad IPv4 checksums"
echo "tcp_loss_test: all passed in $((SECONDS - t0)) s"
