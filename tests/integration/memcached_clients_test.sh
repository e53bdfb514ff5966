#!/usr/bin/env bash
# ix-memcached on AF_XDP over veth, driven by real memcached clients from the
# Linux peer namespace:
#   - memccapable (libmemcached-tools): every text and binary protocol test;
#   - memcaslap: a few seconds of mixed get/set load, text and binary, with
#     verification of the values read;
#   - pymemcache (Debian's python3): values of 1 B .. 500 KB, multi-get,
#     gets/cas, expiry, incr/decr, delete, touch; and a pipelined binary batch.
# IX_MC_REFERENCE=1 serves with Debian's memcached in the same place instead,
# to see what passing looks like.
source "$(dirname "$0")/lib.sh"

PORT=11211
for tool in memccapable memcaslap; do
  command -v "$tool" >/dev/null || fail "$tool missing (apt-get install libmemcached-tools)"
done
/usr/bin/python3 -c 'import pymemcache' 2>/dev/null || fail "pymemcache missing (apt-get install python3-pymemcache)"

ix_setup mcb$$ 1
ip=${IX_ADDR%/*}
t0=$SECONDS
if [ "${IX_MC_REFERENCE:-0}" = 1 ]; then
  ip -n "$IX_NS" addr add "$IX_ADDR" dev "$IX_IF"
  ip netns exec "$IX_NS" memcached -u root -p "$PORT" -l "$ip" -U 0 >"$WORK/ix.log" 2>&1 &
  IX_PID=$!
  sleep 1
else
  ix_start ix-memcached --cpu 0 --port "$PORT"
fi

# memccapable: one line per test, "[pass]" or a failure; all must pass.
out=$(peer timeout 60 memccapable -h "$ip" -p "$PORT" -t 10 2>&1) || true
passed=$(echo "$out" | grep -c '\[pass\]' || true)
failed=$(echo "$out" | grep -v '\[pass\]' | grep -v '^All tests passed' | grep -v '^$' || true)
if [ -n "$failed" ] || [ "$passed" -lt 50 ] || ! echo "$out" | grep -q '^All tests passed'; then
  echo "$out" | sed 's/^/  memccapable| /' >&2
  fail "memccapable: $passed passed; not passing: $(echo "$failed" | tr '\n' ';')"
fi
pass "memccapable: all $passed text and binary tests passed"

# memcaslap: bounded load; its summary must show work done and no failure.
for mode in text binary; do
  flags=(-s "$ip:$PORT" -t 3s -T 1 -c 16 -v 0.1)
  [ "$mode" = binary ] && flags+=(-B)
  out=$(peer timeout 30 memcaslap "${flags[@]}" 2>&1) || { echo "$out" >&2; fail "memcaslap ($mode) exited with an error"; }
  ops=$(echo "$out" | sed -n 's/^Run time: .* Ops: \([0-9]*\) .*/\1/p' | tail -1)
  gets=$(echo "$out" | sed -n 's/^cmd_get: \([0-9]*\)/\1/p' | tail -1)
  vfail=$(echo "$out" | sed -n 's/^verify_failed: \([0-9]*\)/\1/p' | tail -1)
  vmiss=$(echo "$out" | sed -n 's/^verify_misses: \([0-9]*\)/\1/p' | tail -1)
  errors=$(echo "$out" | grep -iE 'error|fail|unexpected|timed? ?out|abort' | grep -vE '^verify_failed: 0$' || true)
  if [ -z "$ops" ] || [ "$ops" -eq 0 ] || [ -z "$gets" ] || [ "$gets" -eq 0 ] ||
     [ "$vfail" != 0 ] || [ "$vmiss" != 0 ] || [ -n "$errors" ]; then
    echo "$out" | sed 's/^/  memcaslap| /' >&2
    fail "memcaslap ($mode): ops=$ops gets=$gets verify_failed=$vfail verify_misses=$vmiss errors: $errors"
  fi
  pass "memcaslap ($mode): $(echo "$out" | grep '^Run time:' | tail -1), verify_failed 0"
done

# pymemcache and a raw binary pipeline.
peer timeout 60 /usr/bin/python3 "$ROOT/tests/integration/memcached_pymemcache.py" "$ip" "$PORT" ||
  fail "pymemcache checks"

if [ "${IX_MC_REFERENCE:-0}" = 1 ]; then
  kill "$IX_PID"; wait "$IX_PID" || true; IX_PID=
else
  ix_stop
fi
echo "memcached_clients_test: all passed in $((SECONDS - t0)) s"
