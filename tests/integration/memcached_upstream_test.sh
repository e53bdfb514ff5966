#!/usr/bin/env bash
# memcached's own test suite against ix-memcached: the t/*.t files of the
# memcached source Debian ships for its memcached package (the reference the
# other memcached tests compare with), unpacked by scripts/install-deps.sh.
# Each file runs as upstream runs it, in the Linux peer namespace, except that
# each server its new_memcached() starts is an ix-memcached with the file's own
# server arguments (memcached_upstream/IxMemcachedServer.pm), attached to one
# dataplane process (ixd, AF_XDP) that serves them side by side, as upstream's
# files run several memcached servers at once. Every file listed must pass
# every test it plans. The files not listed are named in the README
# ("memcached's own test suite") with the reason each is left out.
source "$(dirname "$0")/lib.sh"

SUITE=${IX_MEMCACHED_SUITE:-/var/cache/ix/memcached-suite}
[ -f "$SUITE/t/lib/MemcachedTest.pm" ] ||
  fail "memcached's test suite is missing at $SUITE: run scripts/install-deps.sh (it unpacks Debian's memcached source there), or set IX_MEMCACHED_SUITE"
command -v perl >/dev/null || fail "perl missing (apt-get install perl)"

TESTS=(
  00-startup binary binary-get bogus-commands cas chunked-items dash-M evictions expirations
  flags getandtouch getset idle-timeout incrdecr issue_104 issue_108 issue_152 issue_183
  issue_192 issue_29 issue_3 issue_41 issue_50 issue_68 issue_70 item_size_max line-lengths
  lru-crawler malicious-commands metaget multiversioning noreply quit shutdown stats stats-conns
  stats-detail strtol-testing touch
)
# maxconns.t passes too but takes 22 s (1,024 connections, a stats call per
# connection), so the test command leaves it out; the message it checks is
# checked by memcached_text_test.sh.
# IX_SUITE_TESTS="a b ...": these files instead (to try others).
if [ -n "${IX_SUITE_TESTS:-}" ]; then read -r -a TESTS <<<"$IX_SUITE_TESTS"; fi

ix_setup mcu$$ 1
ip=${IX_ADDR%/*}
ixd_start --cpu 0

# The suite runs from its build directory: t/ beside the server binary, whose
# -h output it reads to learn what the server supports (extstore, TLS, ...).
run=$WORK/suite
mkdir -p "$run"
ln -s "$SUITE/t" "$run/t"
ln -s "$BUILD/ix-memcached" "$run/memcached-debug"

# The server command IxMemcachedServer.pm runs: PORT, then the file's own
# memcached arguments. The suite's loopback address (-l 127.0.0.1) is the
# dataplane's own address here; any other -l goes to ix-memcached as given
# (00-startup.t expects a bad one to stop the server at start-up). The
# suite is written for memcached-debug, whose debugtime command moves the
# server's clock (expirations.t): --debug-commands answers it.
cat >"$WORK/server" <<SERVER
#!/usr/bin/env bash
port=\$1; shift
args=()
while [ \$# -gt 0 ]; do
  case "\$1" in
    -l) l=\$2; shift 2 ;;
    -l*) l=\${1#-l}; shift ;;
    *) args+=("\$1"); shift; continue ;;
  esac
  case "\$l" in
    127.0.0.1 | localhost) args+=(-l "$ip") ;;
    *) args+=(-l "\$l") ;;
  esac
done
echo \$\$ >>"\${IX_SUITE_PIDS:-$WORK/server.pids}"
echo "--- ix-memcached -p \$port \${args[*]}" >>"$WORK/ix.log"
exec "$BUILD/ix-memcached" --seconds 300 --dataplane "$IXD_SOCK" --debug-commands 1 \\
  -p "\$port" -U 0 "\${args[@]}" >>"$WORK/ix.log" 2>&1
SERVER
chmod +x "$WORK/server"

# stop_servers T: file T's servers that outlived it (a file that timed out),
# so that later files' servers get their ports.
stop_servers() {
  local pids="$WORK/$1.pids" pid
  [ -f "$pids" ] || return 0
  for pid in $(cat "$pids"); do kill -INT "$pid" 2>/dev/null || true; done
  for pid in $(cat "$pids"); do
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  rm -f "$pids"
}

# run_file T PORT: runs t/T.t with its servers on ports from PORT; its TAP
# output goes to $WORK/T.tap and its exit status to $WORK/T.rc.
run_file() {
  local t=$1 rc=0
  (cd "$run" && IX_SUITE_HOST=$ip IX_SUITE_SERVER=$WORK/server IX_SUITE_SIDE_BY_SIDE=1 \
    IX_SUITE_FIRST_PORT=$2 IX_SUITE_PIDS="$WORK/$t.pids" \
    timeout 120 ip netns exec "$PEER_NS" perl -It/lib -I"$ROOT/tests/integration/memcached_upstream" \
    -MIxMemcachedServer "t/$t.t" >"$WORK/$t.tap" 2>&1) || rc=$?
  echo "$rc" >"$WORK/$t.rc"
  stop_servers "$t"
}

failed=()
total=0
# check_file T: whether t/T.t passed every test it planned.
check_file() {
  local t=$1 rc out planned ok
  rc=$(cat "$WORK/$t.rc")
  out=$(tr -d '\000' <"$WORK/$t.tap")  # binary.t's diagnostics carry NUL bytes
  # IX_SUITE_TAP_DIR=DIR keeps each file's whole TAP output there (DIR/X.tap).
  if [ -n "${IX_SUITE_TAP_DIR:-}" ]; then cp "$WORK/$t.tap" "$IX_SUITE_TAP_DIR/$t.tap"; fi
  planned=$(echo "$out" | grep -m1 -oE '^1\.\.[0-9]+' | cut -c4- || true)
  ok=$(echo "$out" | grep -cE '^ok ' || true)
  if [ "$rc" -ne 0 ] || [ -z "$planned" ] || [ "$ok" -ne "$planned" ] ||
    echo "$out" | grep -qE '^not ok '; then
    { echo "$out" | grep -E -A6 '^not ok |^# Looks like|exited|at start-up|Failed' | head -40 |
      cut -c1-200 | sed "s/^/  $t| /" >&2; } || true
    failed+=("$t (exit $rc, $ok of ${planned:-?} ok)")
  else
    total=$((total + ok))
  fi
}

# Files that mostly sleep (idle-timeout.t waits 10 s for the server to time
# its connection out, lru-crawler.t 6 s for items to expire) run beside the
# others, on ports of their own.
SLEEPERS=" idle-timeout lru-crawler "
first_port=11211
sleepers=()
sleeper_pids=()
for t in "${TESTS[@]}"; do
  [ -f "$SUITE/t/$t.t" ] || fail "t/$t.t is not in the suite at $SUITE"
  # Ports of their own per file: a server the previous file stopped may not
  # have left the dataplane yet.
  first_port=$((first_port + 16))
  if [[ "$SLEEPERS" == *" $t "* ]]; then
    run_file "$t" "$first_port" &
    sleeper_pids+=($!)
    sleepers+=("$t")
    continue
  fi
  run_file "$t" "$first_port"
  kill -0 "$IXD_PID" 2>/dev/null || fail "ixd exited during t/$t.t"
  check_file "$t"
done
for pid in "${sleeper_pids[@]}"; do wait "$pid" || true; done
for t in "${sleepers[@]}"; do check_file "$t"; done
kill -0 "$IXD_PID" 2>/dev/null || fail "ixd exited during the suite"
[ ${#failed[@]} -eq 0 ] || fail "memcached's own tests failed against ix-memcached: ${failed[*]}"
ixd_stop
pass "memcached's own test files: all ${#TESTS[@]} passed ($total tests) against ix-memcached"
