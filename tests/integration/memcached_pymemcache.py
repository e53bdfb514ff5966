#!/usr/bin/python3
# A memcached server checked through Debian's pymemcache (text protocol) and a
# small binary-protocol pipeline over a raw socket. Run with Debian's python3
# (/usr/bin/python3), which has pymemcache:
#   memcached_pymemcache.py HOST PORT
# Prints one PASS line per check and exits non-zero at the first failure.
import hashlib
import os
import socket
import struct
import sys
import threading
import time

from pymemcache.client.base import Client

HOST, PORT = sys.argv[1], int(sys.argv[2])
SIZES = [1, 2, 13, 100, 255, 256, 1000, 1400, 1460, 1500, 2920, 4096, 9000, 16384, 65535,
         65536, 100000, 250000, 400000, 500000]


def fail(msg):
    print(f"FAIL: {msg}", flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def value_for(key, size):
    # Content derived from key and size, so a value served for the wrong key
    # or cut short is caught.
    seed = hashlib.sha256(f"{key}:{size}".encode()).digest()
    reps = size // len(seed) + 1
    return (seed * reps)[:size]


def client():
    return Client((HOST, PORT), connect_timeout=5, timeout=10, default_noreply=False)


def sizes_roundtrip(c):
    for size in SIZES:
        key = f"size-{size}"
        v = value_for(key, size)
        check(c.set(key, v) is True, f"set of {size} B not stored")
        got = c.get(key)
        check(got == v, f"get of {size} B: {len(got) if got is not None else None} B, "
              f"content {'differs' if got is not None else 'missing'}")
    print(f"PASS: set/get of {len(SIZES)} sizes {SIZES[0]} B .. {SIZES[-1]} B, contents verified")


def multi_get(c):
    keys = [f"multi-{i}" for i in range(200)]
    want = {k: value_for(k, (i * 997) % 20000) for i, k in enumerate(keys)}
    for k, v in want.items():
        c.set(k, v)
    got = c.get_many(keys + ["multi-missing-1", "multi-missing-2"])
    check(set(got) == set(keys), f"get_many returned {len(got)} of {len(keys)} keys")
    for k in keys:
        check(got[k] == want[k], f"get_many: {k} differs")
    print(f"PASS: get_many of {len(keys)} keys (+2 missing), {sum(map(len, want.values()))} B verified")


def gets_cas(c):
    c.set("cas-key", b"v1")
    v, token = c.gets("cas-key")
    check(v == b"v1" and token is not None, f"gets: {v!r} {token!r}")
    check(c.cas("cas-key", b"v2", token) is True, "cas with the current token was refused")
    check(c.get("cas-key") == b"v2", "cas did not store")
    check(c.cas("cas-key", b"v3", token) is False, "cas with a stale token succeeded")
    check(c.get("cas-key") == b"v2", "a refused cas changed the value")
    check(c.cas("cas-absent", b"x", token) is None, "cas on a missing key did not say NOT_FOUND")
    print("PASS: gets + cas (success, conflict, missing)")


def incr_decr(c):
    c.set("counter", b"5")
    check(c.incr("counter", 10) == 15, "incr 5+10")
    check(c.decr("counter", 20) == 0, "decr below zero does not floor at 0")
    check(c.incr("counter", 2**64 - 1) == 2**64 - 1, "incr to 2^64-1")
    check(c.incr("counter", 2) == 1, "incr does not wrap at 2^64")
    check(c.incr("counter-absent", 1) is None, "incr of a missing key")
    c.set("counter-text", b"abc")
    try:
        c.incr("counter-text", 1)
        fail("incr of a non-numeric value succeeded")
    except Exception as e:  # pymemcache raises MemcacheClientError on CLIENT_ERROR
        check("non-numeric" in str(e).lower() or "invalid" in str(e).lower(),
              f"incr of a non-numeric value: unexpected error {e!r}")
    print("PASS: incr/decr (floor at 0, wrap at 2^64, missing, non-numeric)")


def delete(c):
    c.set("del-key", b"x")
    check(c.delete("del-key") is True, "delete of a present key")
    check(c.get("del-key") is None, "deleted key still readable")
    check(c.delete("del-key") is False, "delete of a missing key said DELETED")
    print("PASS: delete")


def expiry_and_touch(c):
    c.set("exp-short", b"a", expire=1)
    c.set("exp-touched", b"b", expire=1)
    c.set("exp-long", b"c", expire=100)
    check(c.touch("exp-touched", 100) is True, "touch of a present key")
    check(c.touch("exp-absent", 100) is False, "touch of a missing key")
    check(c.get("exp-short") == b"a", "item with expire=1 gone at once")
    time.sleep(2.2)
    check(c.get("exp-short") is None, "item with expire=1 still there after 2.2 s")
    check(c.get("exp-touched") == b"b", "touched item expired at its old time")
    check(c.get("exp-long") == b"c", "item with expire=100 gone")
    print("PASS: expiry (expire=1 gone after 2.2 s) and touch (extends the expiry)")


def binary_pipeline():
    # 300 SETQ of varied sizes, then 300 GETKQ for them and 50 missing keys,
    # then NOOP, all written before anything is read: hits come back in order
    # with their keys, misses stay silent, NOOP ends the batch.
    def req(op, key=b"", extras=b"", value=b"", opaque=0):
        return struct.pack(">BBHBBHIIQ", 0x80, op, len(key), len(extras), 0, 0,
                           len(key) + len(extras) + len(value), opaque, 0) + extras + key + value

    want = {}
    out = bytearray()
    for i in range(300):
        key = f"bin-{i}".encode()
        want[key] = value_for(key.decode(), (i * 7919) % 30000)
        out += req(0x11, key, struct.pack(">II", i, 0), want[key], i)
    for i in range(350):
        out += req(0x0D, f"bin-{i}".encode(), opaque=1000 + i)
    out += req(0x0A, opaque=9999)
    s = socket.create_connection((HOST, PORT), timeout=10)
    # Sent from a thread: the answers flow back while the requests still go out.
    sender = threading.Thread(target=s.sendall, args=(bytes(out),))
    sender.start()
    buf = bytearray()
    answers = []
    while True:
        while len(buf) >= 24:
            magic, op, klen, elen, _, status, blen, opaque, _ = struct.unpack(">BBHBBHIIQ", buf[:24])
            if len(buf) < 24 + blen:
                break
            body = bytes(buf[24:24 + blen])
            del buf[:24 + blen]
            check(magic == 0x81, f"binary: response magic {magic:#x}")
            answers.append((op, status, opaque, body[:elen], body[elen:elen + klen], body[elen + klen:]))
        if answers and answers[-1][0] == 0x0A:
            break
        chunk = s.recv(1 << 20)
        check(chunk, "binary: connection closed before the NOOP answer")
        buf += chunk
    sender.join()
    s.close()
    check(len(answers) == 301, f"binary: {len(answers)} answers, expected 300 hits + NOOP")
    for i, (op, status, opaque, extras, key, value) in enumerate(answers[:-1]):
        check(op == 0x0D and status == 0 and opaque == 1000 + i, f"binary: answer {i}: op {op:#x} "
              f"status {status:#x} opaque {opaque}")
        check(key == f"bin-{i}".encode() and extras == struct.pack(">I", i), f"binary: answer {i} key/flags")
        check(value == want[key], f"binary: value of {key!r} differs ({len(value)} B)")
    print(f"PASS: binary pipeline of 300 SETQ + 350 GETKQ + NOOP, {sum(map(len, want.values()))} B verified")


def main():
    c = client()
    c.flush_all()
    sizes_roundtrip(c)
    multi_get(c)
    gets_cas(c)
    incr_decr(c)
    delete(c)
    expiry_and_touch(c)
    binary_pipeline()
    c.close()


if __name__ == "__main__":
    main()
