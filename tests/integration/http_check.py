#!/usr/bin/env python3
"""Checks ix-http's responses over real sockets (run in the Linux peer
namespace): http.client for ordinary keep-alive use, raw sockets for
pipelining, split requests, bodies, HTTP/1.0, Connection: close and the
error paths (400, 431, 501) that must close the connection.

usage: http_check.py HOST PORT BODY_SIZE"""
import http.client
import re
import socket
import sys
import time

HOST, PORT, BODY = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
DATE = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$")
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def conn():
    s = socket.create_connection((HOST, PORT), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_responses(s, n):
    """Reads n responses (status, headers, body) from s; stops early at EOF."""
    buf = b""
    out = []
    while len(out) < n:
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                return out, buf, True
            buf += chunk
        head, buf = buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {k.lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(buf) < length:
            chunk = s.recv(65536)
            if not chunk:
                return out, buf, True
            buf += chunk
        out.append((status, headers, buf[:length]))
        buf = buf[length:]
    return out, buf, False


def closed_after(s):
    """True if the server closes the connection (EOF) within 5 s."""
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


# 1. http.client: keep-alive GETs on one connection, the body, the headers.
c = http.client.HTTPConnection(HOST, PORT, timeout=5)
for i in range(3):
    c.request("GET", "/")
    r = c.getresponse()
    body = r.read()
    check(r.status == 200 and len(body) == BODY, f"GET / #{i + 1}: 200 with {BODY} bytes (got {r.status}, {len(body)})")
    check(DATE.match(r.getheader("Date", "")) is not None, f"Date header is an IMF-fixdate: {r.getheader('Date')}")
    check(r.getheader("Connection") is None, "no Connection: close on a keep-alive response")
sock_before = c.sock
c.request("GET", "/missing")
r = c.getresponse()
r.read()
check(r.status == 404, f"GET /missing: 404 (got {r.status})")
check(c.sock is sock_before, "the same connection served all four requests")
c.request("POST", "/", body=b"x" * 1000)
r = c.getresponse()
r.read()
check(r.status == 405 and r.getheader("Allow") == "GET, HEAD", f"POST /: 405 with Allow (got {r.status})")
c.request("HEAD", "/")
r = c.getresponse()
r.read()
check(r.status == 200 and r.getheader("Content-Length") == str(BODY), "HEAD /: 200, Content-Length, no body")
c.request("GET", "/")
r = c.getresponse()
check(r.status == 200 and len(r.read()) == BODY, "GET after HEAD on the same connection")
c.close()

# 2. Pipelining: five requests in one write, five responses in order.
s = conn()
reqs = b"".join(b"GET /%s HTTP/1.1\r\nHost: h\r\n\r\n" % p for p in [b"", b"a", b"", b"b", b""])
s.sendall(reqs)
out, rest, eof = read_responses(s, 5)
check([st for st, _, _ in out] == [200, 404, 200, 404, 200] and not eof, f"pipelined: statuses in order {[st for st, _, _ in out]}")

# 3. A request split at every byte (one byte per write, Nagle off).
req = b"GET / HTTP/1.1\r\nHost: h\r\nUser-Agent: split\r\n\r\n"
for b in req:
    s.sendall(bytes([b]))
    time.sleep(0.002)
out, rest, eof = read_responses(s, 1)
check(len(out) == 1 and out[0][0] == 200 and len(out[0][2]) == BODY, "request sent one byte at a time")

# 4. A request body (Content-Length) is skipped, then the next request works.
s.sendall(b"PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 20000\r\n\r\n")
s.sendall(b"GET / HTTP/1.1\r\n" * 1250)  # 20000 bytes of body that look like requests
s.sendall(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
out, rest, eof = read_responses(s, 2)
check([st for st, _, _ in out] == [405, 200], f"body skipped, next request answered: {[st for st, _, _ in out]}")

# 5. Connection: close: answered, then the server closes.
s.sendall(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
out, rest, eof = read_responses(s, 1)
check(len(out) == 1 and out[0][1].get("connection") == "close", "Connection: close echoed")
check(closed_after(s), "server closed after Connection: close")
s.close()

# 6. HTTP/1.0: closes unless keep-alive is asked for.
s = conn()
s.sendall(b"GET / HTTP/1.0\r\n\r\n")
out, rest, eof = read_responses(s, 1)
check(len(out) == 1 and out[0][0] == 200 and closed_after(s), "HTTP/1.0: answered, then closed")
s.close()
s = conn()
s.sendall(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
out, rest, eof = read_responses(s, 2)
check(len(out) == 2 and all(h.get("connection") == "keep-alive" for _, h, _ in out), "HTTP/1.0 keep-alive: two answers on one connection")
s.close()

# 7. Errors: the status, Connection: close, and the connection closes.
for name, raw, want in [
    ("malformed request line", b"GET /\r\nHost: h\r\n\r\n", 400),
    ("no Host in HTTP/1.1", b"GET / HTTP/1.1\r\n\r\n", 400),
    ("space before colon", b"GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400),
    ("not HTTP at all", b"\x16\x03\x01\x00\xa5\x01\x00\x00", 400),
    ("too long header", b"GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", 431),
    ("chunked body", b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 501),
    ("HTTP/2.0 request line", b"GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505),
]:
    s = conn()
    # A good request first: the error must not take earlier answers with it.
    s.sendall(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n" + raw)
    out, rest, eof = read_responses(s, 2)
    statuses = [st for st, _, _ in out]
    check(statuses == [200, want] and out[1][1].get("connection") == "close",
          f"{name}: {want} with Connection: close after a good request (got {statuses})")
    check(closed_after(s), f"{name}: connection closed")
    s.close()

# 8. The server still serves new connections after all that.
c = http.client.HTTPConnection(HOST, PORT, timeout=5)
c.request("GET", "/")
r = c.getresponse()
check(r.status == 200 and len(r.read()) == BODY, "a fresh connection after the error cases")
c.close()

print(f"http_check: {len(failures)} failures")
sys.exit(1 if failures else 0)
