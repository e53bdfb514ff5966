#!/usr/bin/python3
"""Differential test: the same request streams to ix-memcached and to Debian's
memcached, replies compared byte for byte.

usage: memcached_diff.py IX_HOST:PORT REF_HOST:PORT [--seed N] [--group NAME]

Each stream is one connection. After every request a sentinel follows (text:
"mn", binary: a NOOP with a marked opaque), so a reply is complete when the
sentinel's answer ends it; silence (noreply, a data block still awaited) ends
it after a short quiet time, and a close is recorded as "connection closed".

Declared exceptions (normalised before comparing, README "ix-memcached and
memcached"): the version string; stats values (keys and line format are
compared); cas values, compared by order of first appearance in a stream;
time-dependent meta fields (mg t/l, me exp/la) and memcached's slab-class
figures in `me` (cls, size).

"""
import re
import socket
import struct
import sys
import time

import memcached_diff_corpus as corpus

FIRST_BYTE = 4.0  # seconds to wait for a reply to start
QUIET = 0.25  # seconds of silence that end a reply without its sentinel
SENTINEL_TEXT = b"mn\r\n"
SENTINEL_TEXT_REPLY = b"MN\r\n"
SENTINEL_OPAQUE = 0x5E171E1
SENTINEL_BIN = struct.pack(">BBHBBHIIQ", 0x80, 0x0A, 0, 0, 0, 0, 0, SENTINEL_OPAQUE, 0)
CLOSED = b"<connection closed>"
TRACE = "--trace" in sys.argv


def addr(s):
    host, port = s.rsplit(":", 1)
    return host, int(port)


class Conn:
    def __init__(self, where, binary):
        self.sock = socket.create_connection(where, timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.binary = binary
        self.closed = False

    def ends_with_sentinel(self, buf, data):
        if not self.binary:
            # a request may itself hold "mn" commands: wait for all of them
            wanted = 1 + len(re.findall(rb"(?m)^mn( |\r|$)", data))
            return buf.endswith(SENTINEL_TEXT_REPLY) and buf.count(SENTINEL_TEXT_REPLY) >= wanted
        if len(buf) < 24:
            return False
        h = buf[-24:]
        return h[0] == 0x81 and h[1] == 0x0A and struct.unpack(">I", h[12:16])[0] == SENTINEL_OPAQUE

    def request(self, data, sentinel=True):
        """Sends data (and the sentinel); returns the reply bytes."""
        if self.closed:
            return CLOSED
        try:
            self.sock.sendall(data + ((SENTINEL_BIN if self.binary else SENTINEL_TEXT) if sentinel else b""))
        except OSError:
            self.closed = True
            return CLOSED
        out = b""
        deadline = time.monotonic() + 5
        # The first byte may take a while (a megabyte multi-get); after it,
        # a short silence ends the reply.
        self.sock.settimeout(FIRST_BYTE)
        while time.monotonic() < deadline:
            try:
                b = self.sock.recv(1 << 20)
            except socket.timeout:
                break
            except OSError:
                b = b""
            if not b:
                self.closed = True
                return out + CLOSED
            out += b
            self.sock.settimeout(QUIET)
            if sentinel and self.ends_with_sentinel(out, data):
                break
        return out

    def close(self):
        self.sock.close()


class Normaliser:
    """Per stream and server: cas values by order of first appearance and
    the declared exceptions blanked."""

    def __init__(self):
        self.cas = {}
        self.last_cas = 0  # the newest cas this server handed out in the stream

    def cas_index(self, v):
        v = int(v)
        if v == 0:
            return "0"
        self.last_cas = v
        return "#%d" % self.cas.setdefault(v, len(self.cas) + 1)

    def text(self, reply):
        lines = reply.split(b"\r\n")
        out = []
        seen = set()
        for ln in lines:
            s = ln.decode("latin-1")
            m = re.fullmatch(r"(VALUE \S+ \d+ \d+ )(\d+)", s)
            if m:
                s = m.group(1) + self.cas_index(m.group(2))
            elif re.match(r"(HD|VA \d+|EN|NF|NS|EX)( |$)", s):
                toks = s.split(" ")
                for i, t in enumerate(toks):
                    if i == 0 or (toks[0] == "VA" and i == 1):
                        continue
                    if re.fullmatch(r"c\d+", t):
                        toks[i] = "c" + self.cas_index(t[1:])
                    elif re.fullmatch(r"[tl]-?\d+", t):
                        toks[i] = t[0] + "<time>"
                s = " ".join(toks)
            elif s.startswith("ME "):
                s = re.sub(r"\b(exp|la)=-?\d+", r"\1=<time>", s)
                s = re.sub(r"\b(cls|size)=\d+", r"\1=<slab>", s)
                s = re.sub(r"\bcas=(\d+)", lambda m: "cas=" + self.cas_index(m.group(1)), s)
            elif s.startswith("STAT "):
                parts = s.split(" ", 2)
                # per-class groups (stats items, slabs): the classes in use
                # are memcached's slab allocator's, so only the key names count
                parts[1] = re.sub(r"^(items:)?\d+:", r"\1<class>:", parts[1])
                s = " ".join(parts[:2]) + (" <value>" if len(parts) == 3 else "")
                if s in seen:
                    continue
                seen.add(s)
            elif s.startswith("VERSION "):
                s = "VERSION <version>"
            out.append(s.encode("latin-1"))
        return b"\r\n".join(out)

    def binary(self, reply):
        out = b""
        seen = set()
        i = 0
        while i + 24 <= len(reply) and reply[i] == 0x81:
            h = bytearray(reply[i : i + 24])
            op, klen, elen, status, blen, opaque, cas = struct.unpack(">xBHBxHIIQ", h)
            body = reply[i + 24 : i + 24 + blen]
            if op == 0x10 and status == 0 and klen:  # stat: key kept, value blanked
                key = re.sub(rb"^(items:)?\d+:", rb"\1<class>:", body[elen : elen + klen])
                i += 24 + blen
                if key in seen:  # per-class groups: key names only, as in text
                    continue
                seen.add(key)
                out += b"STAT " + key + b"|"
                continue
            if op == 0x0B and status == 0:  # version
                body = b"<version>"
                h[8:12] = bytes(4)
            out += bytes(h[:16]) + self.cas_index(cas).encode() + b"|" + body + b"|"
            i += 24 + blen
        return out + reply[i:]

    def __call__(self, reply, binary):
        closed = reply.endswith(CLOSED)
        if closed:
            reply = reply[: -len(CLOSED)]
        r = self.binary(reply) if binary else self.text(reply)
        return r + (CLOSED if closed else b"")


def with_cas(data, cas, binary):
    """The request with corpus.CAS (text) or corpus.CAS_BIN (a binary
    header's cas) replaced by the server's own last cas value."""
    if not binary:
        return data.replace(corpus.CAS, b"%d" % cas)
    if len(data) >= 24 and struct.unpack(">Q", data[16:24])[0] == corpus.CAS_BIN:
        return data[:16] + struct.pack(">Q", cas) + data[24:]
    return data


class Mismatch(Exception):
    pass


def run_stream(name, binary, requests, ix, ref, seed=None):
    conns = [Conn(ix, binary), Conn(ref, binary)]
    norms = [Normaliser(), Normaliser()]
    try:
        for n, req in enumerate(requests):
            data, sentinel = (req, True) if isinstance(req, bytes) else req
            raw = [conns[k].request(with_cas(data, norms[k].last_cas, binary), sentinel) for k in range(2)]
            got = [norms[k](raw[k], binary) for k in range(2)]
            if TRACE:
                print("%s %d: %r -> %r | %r" % (name, n, data[:200], raw[0][:200], raw[1][:200]))
            if got[0] != got[1]:
                where = "stream %s, request %d" % (name, n)
                if seed is not None:
                    where += " (seed %d)" % seed
                print("MISMATCH in " + where, file=sys.stderr)
                print("  request:     %r" % data[:600], file=sys.stderr)
                print("  ix-memcached: %r" % raw[0][:1200], file=sys.stderr)
                print("  memcached:    %r" % raw[1][:1200], file=sys.stderr)
                if raw != got:
                    print("  normalised ix: %r" % got[0][:1200], file=sys.stderr)
                    print("  normalised mc: %r" % got[1][:1200], file=sys.stderr)
                raise Mismatch(where)
            if all(c.closed for c in conns):
                break
    finally:
        for c in conns:
            c.close()


def main():
    args = sys.argv[1:]
    seed = int(time.time()) & 0xFFFF
    group = "default"
    keep_going = False
    pos = []
    while args:
        a = args.pop(0)
        if a == "--seed":
            seed = int(args.pop(0))
        elif a == "--group":
            group = args.pop(0)
        elif a == "--trace":
            pass
        elif a == "--keep-going":
            keep_going = True
        else:
            pos.append(a)
    ix, ref = addr(pos[0]), addr(pos[1])
    streams = corpus.streams(group)
    if group == "default":
        streams += corpus.random_streams(seed)
    failures = 0
    t0 = time.monotonic()
    for name, binary, reqs in streams:
        ts = time.monotonic()
        try:
            run_stream(name, binary, reqs, ix, ref, seed if name.startswith("random") else None)
        except Mismatch as e:
            failures += 1
            if not keep_going:
                print("FAIL: %s" % e, file=sys.stderr)
                return 1
        if "-v" in sys.argv:
            print("  %s: %.2f s" % (name, time.monotonic() - ts))
    n = sum(len(r) for _, _, r in streams)
    if failures:
        print("FAIL: %d streams differ" % failures, file=sys.stderr)
        return 1
    print("memcached_diff (%s): %d streams, %d requests identical (random seed %d) in %.1f s"
          % (group, len(streams), n, seed, time.monotonic() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
