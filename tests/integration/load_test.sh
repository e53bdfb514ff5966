#!/usr/bin/env bash
# ix-load, the memcached load generator, against servers with known
# behaviour and against real memcached, over Linux sockets and over IX:
#  (a) Linux transport vs delay-kv-server (every reply exactly 2000 us late)
#      at a low open-loop rate: no latency below the delay, percentiles in
#      order, the achieved rate close to the offered one;
#  (b) Linux transport vs Debian's memcached, ETC and USR after --preload:
#      no errors, every get a hit;
#  (c) the same options with --transport ix: ix-load on the dataplane
#      (AF_XDP) in the IX namespace, memcached in the peer namespace;
#  (d) ix-memcached from this build tree (in the IX namespace) measured by
#      ix-load over Linux from the peer namespace, with the same options.
# The Linux-transport runs use the peer namespace's own address.
source "$(dirname "$0")/lib.sh"

DELAY_PORT=11311
MC_PORT=11211
SERVER_PID=
LOAD_PREFIX=()  # load_linux runs ix-load under this (e.g. chrt)

stop_server() {
  if [ -n "$SERVER_PID" ]; then kill -TERM "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  SERVER_PID=
}
trap 'stop_server; cleanup' EXIT

[ -x "$BUILD/ix-load" ] || fail "$BUILD/ix-load is missing"
[ -x "$BUILD/delay-kv-server" ] || fail "$BUILD/delay-kv-server is missing"
[ -x "$BUILD/ix-memcached" ] || fail "$BUILD/ix-memcached is missing"
command -v memcached >/dev/null || fail "memcached is not installed (scripts/install-deps.sh)"

ix_setup ldg$$ 1
peer_ip=${PEER_ADDR%/*}
ix_ip=${IX_ADDR%/*}
t0=$SECONDS

# wait_listen PORT LOG: until something listens on PORT in the namespace NS.
wait_listen() {
  local ns=${3:-$PEER_NS}
  for _ in $(seq 1 50); do
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$2" >&2; fail "server exited at start-up"; }
    ip netns exec "$ns" ss -Hltn "sport = :$1" | grep -q LISTEN && return 0
    sleep 0.1
  done
  fail "nothing listens on port $1 after 5 s"
}

# load_linux NAME ARGS...: ix-load over Linux in the peer namespace.
load_linux() {
  local name=$1; shift
  local rc=0
  peer "${LOAD_PREFIX[@]}" "$BUILD/ix-load" --json "$WORK/$name.json" --csv "$WORK/$name.csv" "$@" \
    >"$WORK/$name.log" 2>"$WORK/$name.err" || rc=$?
  sed 's/^/  load| /' "$WORK/$name.log"
  [ "$rc" -eq 0 ] || { sed 's/^/  load| /' "$WORK/$name.err" >&2; fail "ix-load $name exited with $rc"; }
  [ -s "$WORK/$name.json" ] || fail "ix-load $name wrote no JSON"
  [ "$(wc -l <"$WORK/$name.csv")" -ge 2 ] || fail "ix-load $name wrote no CSV row"
}

# load_ix NAME ARGS...: ix-load with --transport ix on the dataplane in the
# IX namespace (AF_XDP on ix0); it ends the dataplane itself.
load_ix() {
  local name=$1; shift
  IX_STATS="$WORK/$name.stats.json"
  ip netns exec "$IX_NS" "$BUILD/ix-load" --transport ix --seconds 60 --dev "$IX_IF" \
    --host-addr "$IX_ADDR" --cpu 0 --stats-file "$IX_STATS" \
    --json "$WORK/$name.json" --csv "$WORK/$name.csv" "$@" >"$WORK/$name.log" 2>"$WORK/$name.err" &
  IX_PID=$!
  local rc=0
  wait "$IX_PID" || rc=$?
  IX_PID=
  grep '^ix-load' "$WORK/$name.log" | sed 's/^/  load| /'
  cp "$WORK/$name.log" "$WORK/ix.log"  # what fail() shows
  [ "$rc" -eq 0 ] || { sed 's/^/  load| /' "$WORK/$name.err" >&2; fail "ix-load --transport ix $name exited with $rc"; }
  [ -s "$WORK/$name.json" ] || fail "ix-load $name wrote no JSON"
  grep -q '"transport":"ix"' "$WORK/$name.json" || fail "$name: not run over IX"
}

# verify NAME KIND: checks ix-load's --json document in one python run
# (python starts slowly on a busy machine) and prints what it found.
#   delay: no latency below the 2000 us delay, percentiles in order, p50
#          within 100x of it, achieved close to offered, offered close to 200/s;
#   kv:    preload stored every key, then no errors, nothing unanswered, every
#          get a hit, and a fair share of the requests answered.
verify() {
  local out rc=0
  out=$(python3 - "$WORK/$1.json" "$2" 2>&1 <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); kind = sys.argv[2]; r = d["runs"][0]
problems = []
def need(ok, what):
    if not ok: problems.append(what)
need(r["errors"] == 0, "errors")
need(r["unanswered"] == 0, "unanswered requests")
if kind == "delay":
    need(r["completed"] >= 400, "too few replies")
    need(r["min_us"] >= 2000, "a latency below the server's 2000 us delay")
    # The delay is a floor no schedule can lower; how far above it the
    # tail lands depends on the machine's load, so the upper checks are the
    # histogram's own consistency and a 100x margin that only a broken unit
    # or bucket would cross.
    need(2000 <= r["p50_us"] <= 200000, "p50 not within 2000..200000 us")
    need(r["min_us"] <= r["p50_us"] <= r["p90_us"] <= r["p95_us"] <= r["p99_us"] <= r["p999_us"]
         <= r["max_us"], "percentiles out of order (min <= p50 <= ... <= p99.9 <= max)")
    need(r["min_us"] <= r["mean_us"] <= r["max_us"], "mean outside min..max")
    need(0.85 <= r["achieved_rate"] / max(r["offered_rate"], 1) <= 1.0001,
         "achieved rate not close to the offered one")
    need(0.8 <= r["offered_rate"] / 200 <= 1.2, "offered rate not close to 200/s")
    line = "delay 2000 us: p50 %.1f us p99 %.1f us min %.1f us, offered %.1f/s achieved %.1f/s" % (
        r["p50_us"], r["p99_us"], r["min_us"], r["offered_rate"], r["achieved_rate"])
else:
    p = d["preload"]
    need(p["keys"] > 0 and p["stored"] == p["keys"] and p["errors"] == 0,
         "preload did not store every key: %s" % p)
    need(r["hits"] > 0 and r["misses"] == 0, "not every get hit after preload")
    # Loose on purpose: only a stalled generator or server falls below this.
    need(r["completed"] >= 0.25 * r["target_rate"] * r["seconds"], "few requests answered")
    line = ("%s: %d requests (%d skipped at --depth), %d hits, 0 misses, 0 errors, "
            "offered %.0f/s achieved %.0f/s, p50 %.1f us p99 %.1f us") % (
        d["workload"], r["completed"], r["skipped"], r["hits"], r["offered_rate"],
        r["achieved_rate"], r["p50_us"], r["p99_us"])
if problems:
    print("; ".join(problems) + ": " + json.dumps(r))
    sys.exit(1)
print(line)
PY
) || rc=$?
  [ "$rc" -eq 0 ] || fail "$1: $out"
  pass "$1: $out"
}

COMMON=(--records 2000 --preload --conns 8 --depth 32 --rate 2000 --warmup 0.3 --time 1)

# ---- (a) the latency histogram against a known delay
t=$SECONDS
# Both ends run at a real-time priority (they sleep between requests, so
# they starve nobody): on a machine busy with other work, ordinary wake-ups
# can come tens of ms late, which would be measured, not the histogram.
ip netns exec "$PEER_NS" chrt -f 10 "$BUILD/delay-kv-server" --addr "$peer_ip" --port "$DELAY_PORT" \
  --delay-us 2000 --seconds 60 >"$WORK/delay.log" 2>&1 &
SERVER_PID=$!
wait_listen "$DELAY_PORT" "$WORK/delay.log"
LOAD_PREFIX=(chrt -f 10)
load_linux delay --server "$peer_ip:$DELAY_PORT" --workload usr --rate 200 --conns 4 --depth 8 \
  --warmup 0.5 --time 3 --preload --records 500
LOAD_PREFIX=()
verify delay delay
stop_server
grep -q "errors 0" "$WORK/delay.log" || fail "delay-kv-server saw errors: $(cat "$WORK/delay.log")"
echo "  (a) took $((SECONDS - t)) s"

# ---- (b) Linux transport vs memcached
t=$SECONDS
ip netns exec "$PEER_NS" memcached -u root -p "$MC_PORT" -l "$peer_ip" -t 1 -U 0 \
  >"$WORK/memcached.log" 2>&1 &
SERVER_PID=$!
wait_listen "$MC_PORT" "$WORK/memcached.log"
for wl in etc usr; do
  load_linux "linux-$wl" --server "$peer_ip:$MC_PORT" --workload "$wl" "${COMMON[@]}"
  verify "linux-$wl" kv
done
echo "  (b) took $((SECONDS - t)) s"

# ---- (c) IX transport vs the same memcached
t=$SECONDS
for wl in etc usr; do
  load_ix "ix-$wl" --server "$peer_ip:$MC_PORT" --workload "$wl" "${COMMON[@]}"
  verify "ix-$wl" kv
done
stop_server
echo "  (c) took $((SECONDS - t)) s"

# ---- (d) ix-memcached on the dataplane, measured from the peer namespace
t=$SECONDS
ix_start ix-memcached --cpu 0 --port "$MC_PORT"
for wl in etc usr; do
  load_linux "ixmc-$wl" --server "$ix_ip:$MC_PORT" --workload "$wl" "${COMMON[@]}"
  verify "ixmc-$wl" kv
done
ix_stop
echo "  (d) took $((SECONDS - t)) s"

echo "load_test: all passed in $((SECONDS - t0)) s"
