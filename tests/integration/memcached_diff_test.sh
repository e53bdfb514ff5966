#!/usr/bin/env bash
# Differential test: ix-memcached on AF_XDP over veth and Debian's memcached
# (in the peer namespace, on its loopback) get the same request streams from
# the peer namespace; their replies must match byte for byte, apart from the
# exceptions memcached_diff.py declares (README "ix-memcached and memcached").
# Streams: an edge-case corpus, seeded random text and binary mixes
# (IX_MC_DIFF_SEED=N replays one), then the -A (shutdown), -F (no flush_all)
# and -C (no cas) settings, each with a fresh pair of servers.
source "$(dirname "$0")/lib.sh"

command -v memcached >/dev/null || fail "memcached missing (apt-get install memcached)"
PORT=11211
REF_PORT=11311
SETTINGS=(-m 64 -I 1m)
ix_setup mcd$$ 1
ip=${IX_ADDR%/*}
t0=$SECONDS
REF_PID=
DRIVER=(env PYTHONPATH="$ROOT/tests/integration" /usr/bin/python3 "$ROOT/tests/integration/memcached_diff.py")

ref_start() {
  ip netns exec "$PEER_NS" ip link set lo up
  ip netns exec "$PEER_NS" memcached -u root -U 0 -p "$REF_PORT" -l 127.0.0.1 "${SETTINGS[@]}" "$@" \
    >"$WORK/ref.log" 2>&1 &
  REF_PID=$!
  for _ in $(seq 1 50); do
    peer bash -c "echo >/dev/tcp/127.0.0.1/$REF_PORT" 2>/dev/null && return 0
    sleep 0.1
  done
  fail "memcached did not listen within 5 s"
}

ref_stop() {
  if kill -0 "$REF_PID" 2>/dev/null; then kill "$REF_PID"; fi
  wait "$REF_PID" 2>/dev/null || true
  REF_PID=
}

# ix_try_start FLAGS...: false (and a message) when ix-memcached refuses the
# flags at start-up instead of serving.
ix_try_start() {
  IX_STATS="$WORK/stats.json"
  ip netns exec "$IX_NS" "$BUILD/ix-memcached" --seconds 120 --dev "$IX_IF" --host-addr "$IX_ADDR" \
    --stats-file "$IX_STATS" --cpu 0 --port "$PORT" "${SETTINGS[@]}" "$@" >"$WORK/ix.log" 2>&1 &
  IX_PID=$!
  for _ in $(seq 1 50); do
    if ! kill -0 "$IX_PID" 2>/dev/null; then
      wait "$IX_PID" || true
      IX_PID=
      return 1
    fi
    if peer ping -c 1 -W 0.2 "$ip" >/dev/null 2>&1; then return 0; fi
  done
  fail "ix-memcached did not answer ping within 10 s"
}

# ix_wait_exit: the server stopped by itself (the shutdown command).
ix_wait_exit() {
  for _ in $(seq 1 50); do
    kill -0 "$IX_PID" 2>/dev/null || { wait "$IX_PID" || true; IX_PID=; return 0; }
    sleep 0.1
  done
  return 1
}

diff_run() {  # diff_run GROUP [ARGS...]
  peer timeout 60 "${DRIVER[@]}" "$ip:$PORT" "127.0.0.1:$REF_PORT" ${IX_MC_DIFF_ARGS:-} --group "$@"
}

trap 'ref_stop; cleanup' EXIT

# 1. The corpus and the random mixes, default settings.
ref_start
ix_start ix-memcached --cpu 0 --port "$PORT" "${SETTINGS[@]}"
# A fixed seed by default, so the test command is deterministic;
# IX_MC_DIFF_SEED=random explores a new one (printed), any number replays it.
seed=${IX_MC_DIFF_SEED:-20261203}
[ "$seed" = random ] && seed=$((RANDOM * 32768 + RANDOM))
diff_run default --seed "$seed" || fail "ix-memcached and memcached differ (replay: IX_MC_DIFF_SEED=$seed)"
pass "corpus and random streams identical to memcached (seed $seed) [$((SECONDS - t0)) s]"
ix_stop
ref_stop

# 2. Settings variants: flags ix-memcached does not know yet are skipped.
for variant in "no_flush -F" "no_cas -C" "shutdown -A" "shutdown_graceful -A"; do
  group=${variant%% *}
  flag=${variant#* }
  if ! ix_try_start "$flag"; then
    echo "SKIP: $group: ix-memcached refuses $flag at start-up: $(tail -1 "$WORK/ix.log")"
    continue
  fi
  ref_start "$flag"
  diff_run "$group" || fail "$group ($flag): ix-memcached and memcached differ"
  if [ "$group" = shutdown ] || [ "$group" = shutdown_graceful ]; then
    ix_wait_exit || fail "$group: ix-memcached still running after the shutdown command"
    for _ in $(seq 1 20); do kill -0 "$REF_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$REF_PID" 2>/dev/null && fail "$group: memcached still running after the shutdown command"
  else
    ix_stop
  fi
  ref_stop
  pass "$group ($flag): identical to memcached [$((SECONDS - t0)) s]"
done
echo "memcached_diff_test: all passed in $((SECONDS - t0)) s"
