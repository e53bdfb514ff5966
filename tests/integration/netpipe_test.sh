#!/usr/bin/env bash
# ix-netpipe (NetPIPE receiver on ixev) on AF_XDP over veth, measured by the
# stock NPtcp transmitter (Debian netpipe-tcp) in the Linux peer namespace:
#  1. a complete run up to 1 MiB (-u 1048576 -p 0, about 40 points, bounded
#     by NPtcp's own 0.25 s per trial), whose output file is kept in
#     BUILD/netpipe/np.out and checked: every size of the schedule in order,
#     the last one reached, positive throughput and time everywhere;
#  2. a short run with NPtcp's default perturbation and a lower bound
#     (-l 7 -p 5 -u 3000, constant repeats -n 5), sizes checked the same way.
# ix-netpipe must end both runs cleanly (QUIT answered, session complete).
source "$(dirname "$0")/lib.sh"

command -v NPtcp >/dev/null || fail "NPtcp not installed (Debian package netpipe-tcp)"
OUT_DIR="$BUILD/netpipe"
mkdir -p "$OUT_DIR"
t0=$SECONDS

ix_setup nap$$ 1
ix_ip=${IX_ADDR%/*}

# check_output FILE "SIZES": NPtcp's output file has exactly these sizes, in
# order, each with a positive Mbps and time.
check_output() {
  python3 - "$1" "$2" <<'PY' || fail "NPtcp output $1 does not match the schedule"
import sys
path, want = sys.argv[1], [int(x) for x in sys.argv[2].split()]
rows = [l.split() for l in open(path) if l.strip()]
sizes = [int(r[0]) for r in rows]
if sizes != want:
    sys.exit(f"sizes {sizes}\n  want {want}")
if any(b > a for a, b in zip(sizes[1:], sizes)):
    sys.exit("sizes are not increasing")
for r in rows:
    if not (float(r[1]) > 0 and float(r[2]) > 0):
        sys.exit(f"non-positive throughput or time: {r}")
print(f"  {len(rows)} points, {sizes[0]}..{sizes[-1]} bytes, "
      f"{float(rows[-1][1]):.1f} Mbps at the largest")
PY
}

# The schedule both sides must walk (computed independently of ix-netpipe,
# from NetPIPE 3.7's rule; the unit test pins it to real NPtcp output).
schedule() {
  python3 - "$@" <<'PY'
import sys
lower, upper, p = map(int, sys.argv[1:4])
inc, nq, n, ln, out = (lower // 2 if lower > 1 else 1), (1 if lower > 1 else 0), 0, lower, []
while n < 8000 - 3 and ln <= upper:
    if nq > 2 and nq % 2 == 1:
        inc *= 2
    pert = -p if (p > 0 and inc > p + 1) else 0
    step = p if (p > 0 and inc > p + 1) else p + 1
    while pert <= p:
        out.append(ln + pert); n += 1; pert += step
    ln += inc; nq += 1
print(" ".join(map(str, out)))
PY
}

# --- 1. a complete run to 1 MiB ---
ix_start ix-netpipe --cpu 0 --upper 1048576 --perturbation 0
t=$SECONDS
rm -f "$OUT_DIR/np.out"
peer NPtcp -h "$ix_ip" -u 1048576 -p 0 -o "$OUT_DIR/np.out" >"$WORK/np1.log" 2>&1 ||
  fail "NPtcp run 1: $(tail -5 "$WORK/np1.log")"
grep -qi "error" "$WORK/np1.log" && fail "NPtcp run 1 reported an error: $(cat "$WORK/np1.log")"
want=$(schedule 1 1048576 0)
[ "${want##* }" = 1048576 ] || fail "schedule helper is wrong: $want"
check_output "$OUT_DIR/np.out" "$want"
sleep 0.5
grep -q "session 1: complete: $(echo "$want" | wc -w) points" "$WORK/ix.log" ||
  fail "ix-netpipe did not complete the session"
grep -q "protocol error" "$WORK/ix.log" && fail "ix-netpipe reported a protocol error"
pass "complete NPtcp run to 1 MiB against ix-netpipe, output in $OUT_DIR/np.out [$((SECONDS - t)) s]"
ix_stop

# --- 2. default perturbation, a lower bound, constant repeats ---
ix_start ix-netpipe --cpu 0 --lower 7 --upper 3000 --perturbation 5
t=$SECONDS
peer NPtcp -h "$ix_ip" -l 7 -u 3000 -p 5 -n 5 -o "$WORK/np2.out" >"$WORK/np2.log" 2>&1 ||
  fail "NPtcp run 2: $(tail -5 "$WORK/np2.log")"
check_output "$WORK/np2.out" "$(schedule 7 3000 5)"
sleep 0.5
grep -q "session 1: complete" "$WORK/ix.log" || fail "ix-netpipe did not complete run 2"
pass "NPtcp -l 7 -u 3000 -p 5 -n 5 [$((SECONDS - t)) s]"
ix_stop
grep -q "protocol error" "$WORK/ix.log" && fail "ix-netpipe reported a protocol error"
echo "netpipe_test: all passed in $((SECONDS - t0)) s"
