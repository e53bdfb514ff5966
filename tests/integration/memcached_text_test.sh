#!/usr/bin/env bash
# ix-memcached on AF_XDP over veth, spoken to in memcached's text protocol by
# a Linux peer (a python3 socket client): storage and retrieval commands, cas
# conflicts, incr/decr, meta commands, error strings, a 2 MB value refused as
# too large (and swallowed, the connection going on), a 200 KB value sent
# zero copy, pipelined gets, and the connection limit (-c); then, on a second
# server, -o idle_timeout (bytes of an unfinished line do not keep a
# connection alive) and an lru_crawler metadump that its client resets.
# (memccapable/memcaslap/pymemcache runs are in memcached_clients_test.sh.)
source "$(dirname "$0")/lib.sh"

ix_setup mcct$$ 1
ix_start ix-memcached --cpu 0 -p 11211 -m 16 -c 3 -I 1m
ix_ip=${IX_ADDR%/*}

cat >"$WORK/client.py" <<'PY'
import socket, sys, time

HOST = sys.argv[1]
PORT = 11211
errors = []

def connect():
    s = socket.create_connection((HOST, PORT), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s

class Conn:
    def __init__(self):
        self.s = connect()
        self.buf = b""
    def send(self, data):
        self.s.sendall(data)
    def read_exact(self, n):
        while len(self.buf) < n:
            d = self.s.recv(1 << 20)
            if not d:
                raise EOFError("closed after %r" % self.buf[:200])
            self.buf += d
        out, self.buf = self.buf[:n], self.buf[n:]
        return out
    def read_until(self, end):
        while not self.buf.endswith(end) and end not in self.buf:
            d = self.s.recv(1 << 20)
            if not d:
                raise EOFError("closed after %r" % self.buf[:200])
            self.buf += d
        i = self.buf.index(end) + len(end)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out
    def line(self):
        return self.read_until(b"\r\n")
    def closed(self):
        self.s.settimeout(5)
        try:
            d = self.s.recv(100)
            return d == b""
        except (ConnectionResetError, socket.timeout):
            return False

def check(name, got, want):
    if got != want:
        errors.append("%s: got %r, want %r" % (name, got[:300], want[:300]))
    else:
        print("ok:", name)

c = Conn()
c.send(b"set a 5 0 3\r\nabc\r\n")
check("set", c.line(), b"STORED\r\n")
c.send(b"get a nope\r\n")
check("get", c.read_until(b"END\r\n"), b"VALUE a 5 3\r\nabc\r\nEND\r\n")
c.send(b"gets a\r\n")
v = c.read_until(b"END\r\n")
cas = int(v.split(b"\r\n")[0].split()[4])
c.send(b"cas a 0 0 1 %d\r\nx\r\n" % (cas + 1))
check("cas conflict", c.line(), b"EXISTS\r\n")
c.send(b"cas a 0 0 1 %d\r\nx\r\n" % cas)
check("cas", c.line(), b"STORED\r\n")
c.send(b"cas a 0 0 1 %d\r\ny\r\n" % cas)
check("cas reused", c.line(), b"EXISTS\r\n")
c.send(b"set n 0 0 2\r\n10\r\nincr n 5\r\ndecr n 100\r\nincr nope 1\r\n")
check("incr/decr", c.read_exact(len(b"STORED\r\n15\r\n0\r\nNOT_FOUND\r\n")), b"STORED\r\n15\r\n0\r\nNOT_FOUND\r\n")
c.send(b"add a 0 0 1\r\nz\r\nappend a 0 0 2\r\n!!\r\nget a\r\n")
check("add/append", c.read_until(b"END\r\n"), b"NOT_STORED\r\nSTORED\r\nVALUE a 0 3\r\nx!!\r\nEND\r\n")
c.send(b"touch a 100\r\ndelete a\r\ndelete a\r\n")
check("touch/delete", c.read_exact(len(b"TOUCHED\r\nDELETED\r\nNOT_FOUND\r\n")), b"TOUCHED\r\nDELETED\r\nNOT_FOUND\r\n")
c.send(b"ms m 2 T0 F7 k\r\nhi\r\nmg m v f k\r\nmg nope v q\r\nma cnt N0 J5 v\r\nmd m q\r\nmg m\r\nmn\r\n")
check("meta", c.read_until(b"MN\r\n"), b"HD km\r\nVA 2 f7 km\r\nhi\r\nVA 1\r\n5\r\nEN\r\nMN\r\n")
c.send(b"bogus\r\nset a 0 0 abc\r\nset a 0 0 1\r\nxy\r\n")
check("errors", c.read_exact(len(b"ERROR\r\nCLIENT_ERROR bad command line format\r\nCLIENT_ERROR bad data chunk\r\nERROR\r\n")),
      b"ERROR\r\nCLIENT_ERROR bad command line format\r\nCLIENT_ERROR bad data chunk\r\nERROR\r\n")
# 2 MB: over the 1 MB item limit. Refused at once, its data skipped as it arrives.
c.send(b"set big 0 0 2097152\r\n")
check("too large", c.line(), b"SERVER_ERROR object too large for cache\r\n")
c.send(b"x" * 2097152 + b"\r\nget big\r\nversion\r\n")
check("after too large", c.read_until(b"END\r\n"), b"END\r\n")
check("version", c.line()[:8], b"VERSION ")
# 200 KB value: sent zero copy from the item, checked byte for byte.
big = bytes((i * 7) & 0xff for i in range(200000)).replace(b"\r", b"r")
c.send(b"set v 0 0 %d\r\n%s\r\n" % (len(big), big))
check("set 200 KB", c.line(), b"STORED\r\n")
c.send(b"get v\r\n" * 5)
for i in range(5):
    check("get 200 KB #%d" % i, c.read_exact(len(b"VALUE v 0 200000\r\n") + len(big) + 2 + 5),
          b"VALUE v 0 200000\r\n" + big + b"\r\nEND\r\n")
# A pipeline of 1000 gets in one write.
c.send(b"set p 0 0 4\r\npipe\r\n")
c.line()
c.send(b"get p\r\n" * 1000)
want = b"VALUE p 0 4\r\npipe\r\nEND\r\n" * 1000
check("1000 pipelined gets", c.read_exact(len(want)), want)
c.send(b"stats\r\n")
st = c.read_until(b"END\r\n")
if b"STAT get_hits" not in st or b"STAT curr_connections" not in st:
    errors.append("stats: %r" % st[:300])
else:
    print("ok: stats")

# Connection limit: -c 3. c is one; two more are fine, the fourth is told and closed.
c2, c3 = Conn(), Conn()
for x in (c2, c3):
    x.send(b"version\r\n")
    x.line()
c4 = Conn()
try:
    check("conn limit", c4.line(), b"ERROR Too many open connections\r\n")
    check("conn limit closes", c4.closed(), True)
except EOFError as e:
    errors.append("conn limit: %s" % e)
c3.send(b"quit\r\n")
check("quit closes", c3.closed(), True)
c3.s.close()
c4.s.close()
time.sleep(0.5)
c5 = Conn()
c5.send(b"get p\r\n")
check("a slot frees after quit", c5.read_until(b"END\r\n"), b"VALUE p 0 4\r\npipe\r\nEND\r\n")

if errors:
    print("\n".join(errors))
    sys.exit(1)
PY

out=$(peer /usr/bin/python3 "$WORK/client.py" "$ix_ip" 2>&1) || fail "text protocol client: $out"
pass "text protocol: $(echo "$out" | grep -c '^ok:') checks"

# Bad options are refused before the dataplane starts.
"$BUILD/ix-memcached" -t 2 --cpu 0 --dev lo >"$WORK/t.log" 2>&1 && fail "-t 2 with one CPU accepted"
grep -q "threads" "$WORK/t.log" || fail "-t mismatch message: $(cat "$WORK/t.log")"
"$BUILD/ix-memcached" -l not-an-address --dev lo >"$WORK/l.log" 2>&1 && fail "bad -l accepted"
grep -q "listen" "$WORK/l.log" || fail "-l message: $(cat "$WORK/l.log")"
pass "-t and -l are checked against the dataplane's settings"
ix_stop

# -o idle_timeout=1: a connection that sends no whole command for more than a
# second is closed, however many bytes of an unfinished one it trickles in
# (memcached counts commands); one that keeps sending commands stays.
ix_start ix-memcached --cpu 0 -p 11211 -o idle_timeout=1
cat >"$WORK/idle.py" <<'PY'
import socket, sys, time

HOST = sys.argv[1]

def connect():
    s = socket.create_connection((HOST, 11211), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s

def line(s):
    buf = b""
    while not buf.endswith(b"\r\n"):
        d = s.recv(4096)
        if not d:
            raise EOFError("closed after %r" % buf)
        buf += d
    return buf

def gone(s):
    s.setblocking(False)
    try:
        return s.recv(100) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True
    finally:
        s.setblocking(True)

trickler, active = connect(), connect()
trickler.sendall(b"g")
kicked_after = None
t0 = time.time()
while time.time() - t0 < 8:
    active.sendall(b"version\r\n")
    assert line(active).startswith(b"VERSION "), "the active connection was answered"
    if gone(trickler):
        kicked_after = time.time() - t0
        break
    try:
        trickler.sendall(b"e")  # more of a line that never ends
    except (BrokenPipeError, ConnectionResetError):
        kicked_after = time.time() - t0
        break
    time.sleep(0.25)
if kicked_after is None:
    sys.exit("the trickling connection was not closed in 8 s")
active.sendall(b"stats\r\n")
stats = b""
while not stats.endswith(b"END\r\n"):
    stats += active.recv(65536)
if b"STAT idle_kicks 1\r\n" not in stats:
    sys.exit("idle_kicks: %r" % [l for l in stats.split(b"\r\n") if b"idle" in l])
print("ok: closed after %.1f s of trickled bytes; the active connection stays; idle_kicks 1" % kicked_after)
PY
out=$(peer /usr/bin/python3 "$WORK/idle.py" "$ix_ip" 2>&1) || fail "idle timeout: $out"
pass "idle timeout: ${out#ok: }"

# lru_crawler metadump over a listing far larger than the server lets wait
# unacknowledged (4 MB): a client that resets mid-listing must free the
# crawler (one job at a time: else every later metadump is BUSY).
cat >"$WORK/dump.py" <<'PY'
import socket, struct, sys, time

HOST = sys.argv[1]
N = 100000

def connect(rcvbuf=None):
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(20)
    s.connect((HOST, 11211))
    return s

s = connect()
key = b"k" * 100
for start in range(0, N, 5000):
    s.sendall(b"".join(b"set %s%d 0 0 1 noreply\r\nx\r\n" % (key, i) for i in range(start, start + 5000)))
s.sendall(b"version\r\n")
buf = b""
while not buf.endswith(b"\r\n"):
    buf += s.recv(100)
d = connect(rcvbuf=65536)
d.sendall(b"lru_crawler metadump all\r\n")
got = b""
while len(got) < 100000:
    got += d.recv(65536)
if not got.startswith(b"key="):
    sys.exit("metadump: %r" % got[:100])
d.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
d.close()  # a reset, mid-listing
for attempt in range(50):
    e = connect()
    e.sendall(b"lru_crawler metadump all\r\n")
    out = b""
    while not out.endswith(b"END\r\n") and not out.startswith(b"BUSY"):
        chunk = e.recv(1 << 20)
        if not chunk:
            sys.exit("closed during the second metadump")
        out += chunk
    e.close()
    if not out.startswith(b"BUSY"):
        break
    time.sleep(0.1)
else:
    sys.exit("the crawler stayed busy after the client that held it reset")
keys = out.count(b"\nkey=") + (1 if out.startswith(b"key=") else 0)
if keys != N:
    sys.exit("second metadump listed %d of %d keys" % (keys, N))
print("ok: a reset mid-listing freed the crawler; the next metadump listed all %d keys" % N)
PY
out=$(peer /usr/bin/python3 "$WORK/dump.py" "$ix_ip" 2>&1) || fail "metadump: $out"
pass "metadump: ${out#ok: }"
ix_stop
