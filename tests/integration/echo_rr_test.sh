#!/usr/bin/env bash
# The IX paper's echo benchmark shape against ix-tcp-echo on AF_XDP over
# veth: echo-rr-client rr in the Linux peer namespace keeps C connections
# busy, each sending N messages of S bytes (waiting for every echo) before it
# closes and reconnects. Every echoed byte is verified by the client; the run
# must end without failures, with messages on many more connections than C
# (so reconnects happened), and with a latency distribution in its JSON.
source "$(dirname "$0")/lib.sh"

ix_setup nae$$ 1
ix_start ix-tcp-echo --cpu 0 --port 7
ix_ip=${IX_ADDR%/*}
t0=$SECONDS
# The client reconnects thousands of times: let its namespace reuse
# TIME_WAIT ports for new outgoing connections (a per-namespace setting).
ip netns exec "$PEER_NS" sysctl -qw net.ipv4.tcp_tw_reuse=1

# rr_run C N S: runs rr for 3 s (after echo-rr-client's 0.5 s warm-up, which
# its figures leave out) and checks its JSON.
rr_run() {
  local out
  out=$(peer "$BUILD/echo-rr-client" --dst "$ix_ip:7" --timeout-ms 5000 rr --conns "$1" \
    --rounds "$2" --size "$3" --seconds 3) || fail "rr C=$1 N=$2 S=$3: $out"
  echo "$out" | sed -n 's/^json: //p' | python3 -c '
import json, sys
c, n = int(sys.argv[1]), int(sys.argv[2])
r = json.load(sys.stdin)
problems = []
failures = r["connect_failures"] + r["stalls"] + r["resets"]
if failures or r["mismatches"]: problems.append("failures or bad echoes")
if r["msgs"] < c * n: problems.append("fewer messages than one round of connections")
if r["conns_opened"] <= c: problems.append("no reconnects")
if not (0 < r["p50_us"] <= r["p99_us"] <= r["max_us"]): problems.append("latency percentiles out of order")
if problems: sys.exit("; ".join(problems) + ": " + json.dumps(r))
' "$1" "$2" || fail "rr C=$1 N=$2 S=$3: $out"
  pass "$(echo "$out" | head -1)"
}

rr_run 32 10 64
rr_run 4 100 1460

ix_stop
sed -n 's/^ix-tcp-echo: thread/  ix| thread/p' "$WORK/ix.log"
echo "echo_rr_test: all passed in $((SECONDS - t0)) s"
