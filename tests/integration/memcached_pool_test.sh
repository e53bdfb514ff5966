#!/usr/bin/env bash
# A pool of three ix-memcached servers, each an IX dataplane on AF_XDP over
# its own veth pair (as on three machines), reached from one client
# namespace over three subnets 10.78.N.0/24:
#   - nutcracker (twemproxy) in front, ketama with hash md5, auto-eject:
#     memcaslap through it (verify on, no failures or misses, no evictions),
#     pymemcache through it (set/get/get_many/delete, values checked), and
#     the placement of its keys checked against libmemcached's;
#   - ix-load straight at the pool (--servers, ketama as libmemcached does),
#     every reply checked, each key found on the server libmemcached picks;
#   - one server stopped: after the proxy ejects it, every key of the other
#     two is still served from where it was; only the stopped one's moved.
# Two CPUs: the servers share them (--cpu 0, 1, 0); idle AF_XDP threads
# yield (ix-memcached's --idle-yield auto), so they do not starve the rest.
source "$(dirname "$0")/lib.sh"

for tool in nutcracker memcaslap; do
  command -v "$tool" >/dev/null || fail "$tool missing (apt-get install nutcracker libmemcached-tools)"
done
/usr/bin/python3 -c 'import pymemcache' 2>/dev/null || fail "pymemcache missing (apt-get install python3-pymemcache)"

PORT=11211
PROXY=127.0.0.1:22121
SERVERS=(10.78.1.2:$PORT 10.78.2.2:$PORT 10.78.3.2:$PORT)
POOL=$(IFS=,; echo "${SERVERS[*]}")
PY=(client /usr/bin/python3 "$ROOT/tests/integration/memcached_pool.py")
t0=$SECONDS

ix_pool_setup mcp$$ 3
cpus=(0 1 0)
for n in 1 2 3; do
  # 256 MB each: far more than the test stores, so nothing is evicted.
  ix_pool_start mcp$$ "$n" ix-memcached --cpu "${cpus[$((n - 1))]}" --port "$PORT" --memory-limit 256
done
pass "3 ix-memcached servers up (${SERVERS[*]}) [$((SECONDS - t0)) s]"

# The proxy. hash md5 makes its ketama the same as libmemcached's
# KETAMA_WEIGHTED (the placement check below shows it); the default port
# is left out of the hashed names by both. One failure ejects a server for
# 30 s, longer than the rest of the test, so the ring stays at two.
cat >"$WORK/nutcracker.yml" <<YML
pool:
  listen: $PROXY
  hash: md5
  distribution: ketama
  auto_eject_hosts: true
  server_retry_timeout: 30000
  server_failure_limit: 1
  timeout: 1000
  servers:
$(for s in "${SERVERS[@]}"; do echo "   - $s:1"; done)
YML
ip netns exec "$POOL_CLIENT_NS" nutcracker -c "$WORK/nutcracker.yml" -s 22222 -a 127.0.0.1 \
  -o "$WORK/nutcracker.log" &
POOL_PIDS+=("$!")
for _ in $(seq 1 50); do
  client bash -c "exec 3<>/dev/tcp/127.0.0.1/22121" 2>/dev/null && break
  sleep 0.1
done
client bash -c "exec 3<>/dev/tcp/127.0.0.1/22121" 2>/dev/null || fail "nutcracker not listening on $PROXY"

# memcaslap through the proxy: bounded, verifying what it reads. Its key set
# is bounded by its window and value size (16 x 2k keys of 1000 B), not by
# how fast it runs, so the servers' 256 MB never evict (checked below).
out=$(client timeout 30 memcaslap -s "$PROXY" -t 3s -T 1 -c 16 -w 2k -X 1000 -v 0.1 2>&1) ||
  { echo "$out" >&2; fail "memcaslap through the proxy exited with an error"; }
check_memcaslap "through the proxy" "$out"
pass "memcaslap through nutcracker: $(echo "$out" | grep '^Run time:' | tail -1), verify_failed 0, verify_misses 0 [$((SECONDS - t0)) s]"
"${PY[@]}" evictions "${SERVERS[@]}" || fail "evictions after memcaslap"

"${PY[@]}" proxy "$PROXY" || fail "pymemcache through the proxy"

# ix-load straight at the pool, both ketama layouts: every key to its
# server, every reply checked (ix-load exits non-zero on any error).
for dist in ketama ketama-weighted; do
  log=$WORK/ixload-$dist.log
  client "$BUILD/ix-load" --servers "$POOL" --distribution "$dist" --workload fixed \
    --records 3000 --preload --rate 0 --conns 2 --depth 4 --warmup 0 --time 1 \
    --json "$WORK/ixload-$dist.json" >"$log" 2>&1 || { sed 's/^/  ix-load| /' "$log" >&2; fail "ix-load --servers ($dist)"; }
  grep -q 'misses 0)' "$log" || { cat "$log" >&2; fail "ix-load ($dist): misses after preload"; }
  for k in 0 1 2; do
    grep -qE "run 1 server $k [0-9.:]+: [1-9][0-9]* replies" "$log" || { cat "$log" >&2; fail "ix-load ($dist): server $k got no requests"; }
  done
  "${PY[@]}" ixload 3000 30 "$WORK/ixload-$dist.json" "$dist" "${SERVERS[@]}" || fail "ix-load placement ($dist)"
  # The next layout's keys are the same names: clear them so the check
  # above finds each key on one server only.
  client /usr/bin/python3 -c 'import sys
from pymemcache.client.base import Client
for s in sys.argv[1:]:
    h, p = s.rsplit(":", 1); Client((h, int(p))).flush_all(noreply=False)' "${SERVERS[@]}"
done
grep '^ix-load: run 1 ' "$WORK/ixload-ketama.log" | sed 's/^/  /'
"${PY[@]}" evictions "${SERVERS[@]}" || fail "evictions after ix-load"

# Placement through the proxy, then one server stops.
"${PY[@]}" placement "$PROXY" "$WORK/owners.json" "${SERVERS[@]}" || fail "proxy placement"
ix_pool_stop 2
pass "server 2 stopped [$((SECONDS - t0)) s]"
"${PY[@]}" after-stop "$PROXY" "$WORK/owners.json" 1 "${SERVERS[@]}" || fail "pool after the stop"

for n in 1 3; do ix_pool_stop "$n"; done
echo "memcached_pool_test: all passed in $((SECONDS - t0)) s"
