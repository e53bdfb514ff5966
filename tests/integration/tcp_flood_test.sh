#!/usr/bin/env bash
# ix-tcp-echo on AF_XDP under a crafted flood, while a Linux client streams
# through it: tcp_flood.py (scapy) sends, at fixed counts, blind SYNs and RSTs
# at the real connection's tuple, in-window SYNs and RSTs at an idle real
# connection (which must still echo after them), 1-byte segments above RCV.NXT on twelve
# connections it opens itself, a SYN flood from spoofed sources and bare ACKs
# with random numbers to the listening port. Checked:
# - the legitimate stream (running from before the flood until after it)
#   comes back intact (SHA-256), and new connections opened after the SYN
#   flood work;
# - each defence shows in the dataplane's statistics (written at exit):
#   SYN cookies sent once the backlog was full and accepted from the real
#   client, bad cookies dropped, challenge ACKs sent and the excess
#   suppressed (RFC 5961 7), no connection reset by a blind RST, out-of-order
#   segments refused at the per-connection cap and at the engine-wide cap.
#
# The pool is 2048 buffers (engine-wide out-of-order cap: a quarter, 512),
# so twelve flooding connections of 64 held segments each exceed it.
source "$(dirname "$0")/lib.sh"

# Debian's python3 (scapy is its package) for every python3 here and in
# lib.sh: a python3 earlier in PATH may be another (and slow to start).
PY=/usr/bin/python3
PATH=/usr/bin:$PATH
"$PY" -c 'import scapy' 2>/dev/null || fail "python3-scapy is not installed for $PY"

ix_setup ixf$$ 1
ix_start ix-tcp-echo --cpu 0 --port 7 --mbufs 2048
ix_ip=${IX_ADDR%/*}
t0=$SECONDS

bulk_pid=
flood_pid=
# A kill that finds its process gone must not end the trap (errexit) before
# cleanup removes the namespaces.
trap '[ -z "$bulk_pid" ] || kill "$bulk_pid" 2>/dev/null || true
[ -z "$flood_pid" ] || kill "$flood_pid" 2>/dev/null || true
cleanup' EXIT

# The flooder first: importing scapy and building the flood takes seconds,
# and the stream must not start before it can watch for it.
# IX_TCP_FLOOD_ARGS: more flooder options (e.g. "--syn-flood 100" to see the
# cookie check fail when the backlog never fills).
# shellcheck disable=SC2086
ip netns exec "$PEER_NS" timeout 60 "$PY" "$ROOT/tests/integration/tcp_flood.py" \
  --iface "$PEER_IF" --dst "$ix_ip" --dst-mac "$IX_MAC" --port 7 \
  --ready "$WORK/flood.ready" --out "$WORK/flood.json" ${IX_TCP_FLOOD_ARGS:-} >"$WORK/flood.log" 2>&1 &
flood_pid=$!
for _ in $(seq 1 300); do
  [ -e "$WORK/flood.ready" ] && break
  kill -0 "$flood_pid" 2>/dev/null || fail "the flooder exited while setting up: $(cat "$WORK/flood.log")"
  sleep 0.1
done
[ -e "$WORK/flood.ready" ] || fail "the flooder was not ready within 30 s: $(cat "$WORK/flood.log")"

# The legitimate stream: it runs until the flood is over (flood.done), so it
# is under attack the whole time however long the flood takes.
# Started without the peer() wrapper so that $! is timeout's pid, which
# passes a kill on to the client.
timeout 120 ip netns exec "$PEER_NS" "$BUILD/tcp-echo-client" --dst "$ix_ip:7" --timeout-ms 20000 \
  bulk --until "$WORK/flood.done" >"$WORK/bulk.log" 2>&1 &
bulk_pid=$!

wait "$flood_pid" || fail "the flooder failed: $(cat "$WORK/flood.log")"
flood_pid=
echo "  $(cat "$WORK/flood.log")"

# New connections while the SYN backlog is still full of spoofed half-open
# ones: they get SYN cookies and must work.
peer "$BUILD/tcp-echo-client" --dst "$ix_ip:7" --timeout-ms 5000 conns --count 20 --concurrency 4 \
  >"$WORK/conns.log" 2>&1 || fail "connections after the SYN flood: $(cat "$WORK/conns.log")"
[ "$(json_field "$WORK/conns.log" failures)" -eq 0 ] || fail "connections after the SYN flood failed: $(cat "$WORK/conns.log")"
pass "20 connections opened, echoed and closed after the SYN flood, 0 failures [$((SECONDS - t0)) s]"

touch "$WORK/flood.done"
wait "$bulk_pid" || fail "the stream under flood failed: $(cat "$WORK/bulk.log")"
bulk_pid=
bytes=$(json_field "$WORK/bulk.log" bytes)
[ "$bytes" -gt 0 ] || fail "the stream under flood sent nothing"
check_client_bulk "$WORK/bulk.log" "$bytes" "under flood" "$t0"

ix_stop
echo "  dataplane stopped [$((SECONDS - t0)) s]"
sed -n 's/^ix-tcp-echo: thread/  ix| thread/p' "$WORK/ix.log"

# tcp NAME: a TCP engine counter summed over all threads; fails on a name
# the statistics do not have, so a renamed counter cannot pass unseen.
tcp() {
  python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
if any(sys.argv[2] not in t["tcp"] for t in d["threads"]):
    sys.exit(f"no TCP counter {sys.argv[2]!r} in the statistics")
print(sum(t["tcp"][sys.argv[2]] for t in d["threads"]))' "$IX_STATS" "$1"
}
# net NAME: the same for a stack counter or drop reason ("drop.tcp_bad_cookie").
net() {
  python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
if any(sys.argv[2] not in t["net"] for t in d["threads"]):
    sys.exit(f"no counter {sys.argv[2]!r} in the statistics")
print(sum(t["net"][sys.argv[2]] for t in d["threads"]))' "$IX_STATS" "$1"
}
# at_least NAME VALUE MIN WHAT: VALUE (of counter NAME) is at least MIN.
at_least() {
  [ -n "$2" ] || fail "counter $1 could not be read"
  [ "$2" -ge "$3" ] || fail "$4: $1 is $2, expected at least $3"
  echo "  $1 = $2"
}

sent_syns=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["syn_flood"])' "$WORK/flood.json")
at_least tcp.syn_cookies_sent "$(tcp syn_cookies_sent)" 1 \
  "SYN flood of $sent_syns: SYN cookies did not take over from the backlog"
at_least tcp.syn_cookies_accepted "$(tcp syn_cookies_accepted)" 1 \
  "no connection of the real client was accepted by its cookie while the backlog was full"
at_least drop.tcp_bad_cookie "$(net drop.tcp_bad_cookie)" 1 \
  "bare ACKs to the listener were not checked as cookies and dropped"
pass "SYN flood: cookies sent and accepted, forged ACKs refused"

win_syns=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["window_syns"])' "$WORK/flood.json")
at_least tcp.challenge_acks "$(tcp challenge_acks)" 1 "in-window SYNs and RSTs drew no challenge ACK"
at_least tcp.challenge_acks_suppressed "$(tcp challenge_acks_suppressed)" 1 \
  "$win_syns in-window SYNs sent within about a second (limit: 1000 challenge ACKs a second), yet none suppressed"
at_least drop.tcp_syn_challenged "$(net drop.tcp_syn_challenged)" 1 \
  "in-window SYNs on an established connection were not challenged"
at_least drop.tcp_rst_ignored "$(net drop.tcp_rst_ignored)" 1 "in-window RSTs not at RCV.NXT were not ignored"
# The blind SYNs (random sequence numbers, at the stream's tuple) fall out
# at the window check; RFC 5961 4.2 answers them with a challenge ACK from
# the same rate-limited budget, so they too count in challenge_acks.
oow=$(net drop.tcp_out_of_window) || fail "counter drop.tcp_out_of_window could not be read"
blind=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["real_syns"] + d["real_rsts"])' "$WORK/flood.json")
echo "  note: $blind blind SYNs and RSTs sent; drop.tcp_out_of_window = $oow"
resets=$(tcp resets_rx) || fail "counter tcp.resets_rx could not be read"
[ "$resets" -eq 0 ] || fail "blind RSTs ended $resets connection(s) (tcp.resets_rx)"
pass "forged SYNs and RSTs: challenge ACKs, rate limited, no connection reset"

engine_full=$(tcp ooo_engine_full) || fail "counter tcp.ooo_engine_full could not be read"
at_least tcp.ooo_engine_full "$engine_full" 1 \
  "out-of-order segments beyond the engine-wide cap were not refused"
# Refusals at the per-connection cap (272) are the reassembly drops that the
# engine-wide cap does not account for.
reasm=$(net drop.tcp_reassembly_full) || fail "counter drop.tcp_reassembly_full could not be read"
at_least drop.tcp_reassembly_full "$reasm" $((engine_full + 1)) \
  "no out-of-order segment was refused at the per-connection cap"
# Buffer use: the most out-of-order segments the engine held at once never
# passed its cap (a quarter of the pool), however long the flood went on.
peak=$(tcp ooo_held_peak) || fail "counter tcp.ooo_held_peak could not be read"
cap=$(tcp ooo_cap) || fail "counter tcp.ooo_cap could not be read"
at_least tcp.ooo_held_peak "$peak" 1 "the flood's out-of-order segments were never held"
[ "$peak" -le "$cap" ] || fail "out-of-order segments held at once: $peak, above the engine's cap $cap"
echo "  note: out-of-order segments held at most $peak at once (cap $cap)"
pass "out-of-order flood: refused at the per-connection and engine-wide caps"

echo "tcp_flood_test: all passed in $((SECONDS - t0)) s"
