#!/usr/bin/env bash
# ix-http (HTTP/1.1 keep-alive server on ixev) on AF_XDP over veth, against
# Linux clients in the peer namespace: wrk (-t1 -c N -d 3s) must finish with
# requests and without socket errors or non-2xx responses; curl checks a
# plain GET and connection reuse; http_check.py checks pipelining, split
# requests, bodies, HTTP/1.0, Connection: close and the error statuses.
source "$(dirname "$0")/lib.sh"

command -v wrk >/dev/null || fail "wrk not installed"
BODY=${IX_HTTP_BODY:-1024}
CONNS=${IX_HTTP_CONNS:-32}
t0=$SECONDS

ix_setup nah$$ 1
ix_start ix-http --cpu 0 --port 80 --body-size "$BODY"
ix_ip=${IX_ADDR%/*}
url="http://$ix_ip/"

# curl: one GET, its size and status; two URLs on one reused connection.
out=$(peer curl -s -o /dev/null -w '%{http_code} %{size_download}' "$url") || fail "curl: $out"
[ "$out" = "200 $BODY" ] || fail "curl GET /: '$out', want '200 $BODY'"
peer curl -sv -o /dev/null -o /dev/null "$url" "$url" 2>"$WORK/curl.log" || fail "curl twice"
grep -qi "re-using existing connection" "$WORK/curl.log" ||
  fail "curl did not reuse the connection: $(grep -i connect "$WORK/curl.log")"
pass "curl: GET / is 200 with $BODY bytes; keep-alive reused the connection"

peer /usr/bin/python3 "$ROOT/tests/integration/http_check.py" "$ix_ip" 80 "$BODY" >"$WORK/check.log" 2>&1 ||
  { cat "$WORK/check.log"; fail "http_check.py"; }
pass "http_check.py: $(grep -c '^ok' "$WORK/check.log") checks"

t=$SECONDS
peer wrk -t1 -c "$CONNS" -d 3s --timeout 5s "$url" >"$WORK/wrk.log" 2>&1 || { cat "$WORK/wrk.log"; fail "wrk"; }
requests=$(sed -n 's/^ *\([0-9]\+\) requests in .*/\1/p' "$WORK/wrk.log")
[ -n "$requests" ] && [ "$requests" -gt 0 ] || { cat "$WORK/wrk.log"; fail "wrk made no requests"; }
if grep -q "Socket errors" "$WORK/wrk.log"; then
  cat "$WORK/wrk.log"
  fail "wrk: $(grep 'Socket errors' "$WORK/wrk.log")"
fi
if grep -q "Non-2xx" "$WORK/wrk.log"; then
  cat "$WORK/wrk.log"
  fail "wrk: $(grep 'Non-2xx' "$WORK/wrk.log")"
fi
pass "wrk -c $CONNS: $requests requests, no socket errors, no non-2xx ($(grep 'Requests/sec' "$WORK/wrk.log" | tr -s ' ')) [$((SECONDS - t)) s]"

ix_stop
sed -n 's/^ix-http: thread/  ix| thread/p' "$WORK/ix.log"
served=$(sed -n 's/^ix-http: thread [0-9]*: connections [0-9]* requests \([0-9]*\).*/\1/p' "$WORK/ix.log" | awk '{ s += $1 } END { print s + 0 }')
[ "${served:-0}" -ge "$requests" ] || fail "ix-http counted $served requests, wrk alone made $requests"
echo "http_test: all passed in $((SECONDS - t0)) s"
