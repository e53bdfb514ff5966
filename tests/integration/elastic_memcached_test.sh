#!/usr/bin/env bash
# Cores that come and go under a real client: ix-memcached on two elastic
# threads over AF_XDP on a veth pair with two queues, ix-load over Linux in
# the peer namespace (preloaded keys, then gets and sets, every reply
# checked: kind, value, and that none is missing), while the control socket
# shrinks the dataplane to one core and grows it back, twice. veth does not
# steer (the peer's TX queue picks the RX queue), so the parked thread's
# queue is polled by the running one. No request may fail, go unanswered or
# miss; the flow groups must have moved and come back.
# IX_ELASTIC_DRIVER=dpdk: the same over DPDK's net_af_packet with two queue
# pairs on the same veth end (no RSS there either). IX_PROTECTED=1: ixd owns
# the NIC and the control socket, and ix-memcached is attached to it: its
# connections follow their flow groups from one of its threads to the other
# (every connection's record in the client library with them).
source "$(dirname "$0")/lib.sh"

MC_PORT=11211
ix_setup elm$$ 2
SOCK="$WORK/ix.sock"
driver=()
if [ "${IX_ELASTIC_DRIVER:-xdp}" = dpdk ]; then
  driver=(--driver dpdk --dpdk-args "--no-huge -m 256 --no-pci --no-shconf --file-prefix ix-test-elastic --no-telemetry --vdev=net_af_packet0,iface=$IX_IF,qpairs=2")
fi
ix_start ix-memcached --cpu 0,1 --port "$MC_PORT" --control-socket "$SOCK" "${driver[@]}"
ix_ip=${IX_ADDR%/*}
t0=$SECONDS
ixctl() { "$BUILD/ixctl" "$SOCK" "$@"; }
[ -S "$SOCK" ] || fail "no control socket at $SOCK"

# ix-load runs long enough for four changes of the core count; its own
# deadline (--time) bounds it.
peer "$BUILD/ix-load" --server "$ix_ip:$MC_PORT" --workload etc --records 2000 --preload \
  --conns 16 --depth 8 --rate 4000 --warmup 0.5 --time 6 --json "$WORK/load.json" \
  >"$WORK/load.log" 2>"$WORK/load.err" &
load=$!
sleep 1.5  # preload and warm-up done; measured requests flowing

changes=()
for n in 1 2 1 2; do
  t_start=$(date +%s%N)
  out=$(ixctl cores "$n" 2>&1) || fail "cores $n: $out"
  t_ms=$(( ($(date +%s%N) - t_start) / 1000000 ))
  [ "$out" = ok ] || fail "cores $n answered: $out"
  groups=$(ixctl groups) || fail "ixctl groups: $groups"
  if [ "$n" = 1 ]; then
    echo "$groups" | grep -q '^thread 0 running groups 128 ' || fail "cores 1: $groups"
    echo "$groups" | grep -q '^thread 1 parked groups 0 ' || fail "cores 1: $groups"
    "$BUILD/ixcp" "$SOCK" status | grep -q '^thread 1 parked groups 0 ' || fail "ixcp status"
  else
    echo "$groups" | grep -q '^thread 0 running groups 64 ' || fail "cores 2: $groups"
    echo "$groups" | grep -q '^thread 1 running groups 64 ' || fail "cores 2: $groups"
  fi
  changes+=("$n (${t_ms} ms)")
  sleep 0.8
done
pass "cores ${changes[*]}: answered ok, groups gathered and spread"

rc=0
wait "$load" || rc=$?
sed 's/^/  load| /' "$WORK/load.log"
[ "$rc" -eq 0 ] || { sed 's/^/  load| /' "$WORK/load.err" >&2; fail "ix-load exited with $rc"; }
out=$(python3 - "$WORK/load.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); r = d["runs"][0]; p = d["preload"]
problems = []
if not (p["keys"] > 0 and p["stored"] == p["keys"] and p["errors"] == 0):
    problems.append("preload: %s" % p)
for k in ("errors", "unanswered", "misses"):
    if r[k] != 0:
        problems.append("%s %d" % (k, r[k]))
if r["completed"] < 1000:
    problems.append("only %d requests answered" % r["completed"])
if problems:
    print("; ".join(problems) + ": " + json.dumps(r)); sys.exit(1)
print("%d requests, %d hits, 0 misses, 0 errors, 0 unanswered, p99 %.0f us" % (
    r["completed"], r["hits"], r["p99_us"]))
PY
) || fail "ix-load across the core changes: $out"
pass "ix-load across the core changes: $out"

ix_stop
read -r moved adopted <<<"$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(sum(t["core"]["groups_in"] for t in d["threads"]),
      sum(t["core"]["adopted_rx"] for t in d["threads"]))' "$IX_STATS")"
[ "$moved" -ge 128 ] || fail "only $moved flow-group moves counted"
pass "$moved flow-group moves; $adopted frames taken from the parked thread's queue by the running one"
if [ "${IX_PROTECTED:-0}" = 1 ]; then
  # ixd's line for the application as it left: its connections moved and
  # arrived, none of its commands was refused.
  line=$(grep -m1 'ix-memcached.*detached' "$WORK/ixd.log") || fail "ixd logged no detach: $(cat "$WORK/ixd.log")"
  field() { sed -n "s/.* $1 \([0-9]*\).*/\1/p" <<<"$line"; }
  [ "$(field conns_moved_in)" -ge 16 ] || fail "the application's connections did not move: $line"
  for k in rejected_bad_handle rejected_bad_ref rejected_invalid bad_rx_frees; do
    [ "$(field $k)" = 0 ] || fail "$k: $line"
  done
  pass "protected: $(field conns_moved_out) connections moved out, $(field conns_moved_in) in, no command refused"
fi
echo "elastic_memcached_test (${IX_ELASTIC_DRIVER:-xdp}${IX_PROTECTED:+, protected}): all passed in $((SECONDS - t0)) s"
