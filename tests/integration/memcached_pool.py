#!/usr/bin/python3
"""Checks of memcached_pool_test.sh, run in the client namespace.

  proxy PROXY                     pymemcache through nutcracker: set, get,
                                  get_many, delete, add/replace of many keys,
                                  every value checked
  placement PROXY FILE SERVER...  sets keys through the proxy, finds the one
                                  server holding each (a direct get on every
                                  server) and checks it is the server
                                  libmemcached picks with KETAMA_WEIGHTED
                                  (which twemproxy's ketama with hash md5
                                  computes); writes key -> server to FILE
  after-stop PROXY FILE STOPPED SERVER...
                                  one server is stopped: waits for the proxy
                                  to eject it, then checks every key of the
                                  others is still served, where it was, and
                                  that only the stopped server's keys moved
  ixload RECORDS KEYLEN JSON DIST SERVER...
                                  after ix-load --preload with --servers:
                                  each of its keys is on exactly the server
                                  libmemcached picks (DIST ketama: KETAMA with
                                  MD5; ketama-weighted), and ix-load's
                                  per-server preload counts say the same
  evictions SERVER...             `stats` of every server: evictions 0

The key -> server answers come from the installed libmemcached through
ctypes (see tests/unit/load_ketama_vectors.py), never from our own code.
"""
import ctypes
import json
import sys
import time

from pymemcache.client.base import Client
from pymemcache.exceptions import MemcacheError

lib = ctypes.CDLL("libmemcached.so.11")
lib.memcached_create.restype = ctypes.c_void_p
lib.memcached_create.argtypes = [ctypes.c_void_p]
lib.memcached_server_add.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint16]
lib.memcached_behavior_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint64]
lib.memcached_generate_hash.restype = ctypes.c_uint32
lib.memcached_generate_hash.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def hostport(s):
    h, p = s.rsplit(":", 1)
    return h, int(p)


def libmemcached_owner(servers, weighted):
    m = lib.memcached_create(None)
    if weighted:
        assert lib.memcached_behavior_set(m, 16, 1) == 0  # KETAMA_WEIGHTED (MD5 too)
    else:
        assert lib.memcached_behavior_set(m, 3, 1) == 0  # KETAMA
        assert lib.memcached_behavior_set(m, 2, 1) == 0  # HASH = MD5
    for h, p in servers:
        assert lib.memcached_server_add(m, h.encode(), p) == 0
    return lambda key: lib.memcached_generate_hash(m, key.encode(), len(key))


def direct(servers):
    return [Client(s, connect_timeout=2, timeout=5) for s in servers]


def value_of(key):
    return ("v:" + key + ":" + "x" * (len(key) * 7 % 300)).encode()


def cmd_proxy(proxy):
    c = Client(hostport(proxy), connect_timeout=2, timeout=5)
    keys = ["py:%d" % i for i in range(800)]
    for k in keys:
        if not c.set(k, value_of(k), noreply=False):
            fail("set %s not stored" % k)
    for k in keys[:200]:
        if c.get(k) != value_of(k):
            fail("get %s: wrong value" % k)
    for lo in range(0, len(keys), 50):
        batch = keys[lo:lo + 50]
        got = c.get_many(batch)
        for k in batch:
            if got.get(k) != value_of(k):
                fail("get_many %s: wrong or missing value" % k)
    for k in keys[::3]:
        if not c.delete(k, noreply=False):
            fail("delete %s: not found" % k)
    for i, k in enumerate(keys):
        want = None if i % 3 == 0 else value_of(k)
        if c.get(k) != want:
            fail("after delete, get %s: %r" % (k, c.get(k)))
    if not c.add(keys[0], b"added", noreply=False) or c.add(keys[1], b"no", noreply=False):
        fail("add")
    if not c.replace(keys[1], b"replaced", noreply=False) or c.get(keys[1]) != b"replaced":
        fail("replace")
    print("PASS: pymemcache through the proxy: %d keys set, get, get_many, delete, add, replace; "
          "every value checked" % len(keys))


def owners_by_direct_get(clients, keys):
    owners = {}
    for k in keys:
        holders = [i for i, c in enumerate(clients) if c.get(k) is not None]
        if len(holders) != 1:
            fail("key %s is on servers %s (expected exactly one)" % (k, holders))
        owners[k] = holders[0]
    return owners


def cmd_placement(proxy, path, servers):
    hp = [hostport(s) for s in servers]
    c = Client(hostport(proxy), connect_timeout=2, timeout=5)
    keys = ["pool:%d" % i for i in range(600)]
    for k in keys:
        if not c.set(k, value_of(k), noreply=False):
            fail("set %s through the proxy not stored" % k)
    owners = owners_by_direct_get(direct(hp), keys)
    weighted = libmemcached_owner(hp, True)
    plain = libmemcached_owner(hp, False)
    wrong = [k for k in keys if owners[k] != weighted(k)]
    if wrong:
        fail("%d of %d keys not where libmemcached KETAMA_WEIGHTED puts them, e.g. %s on %d "
             "(libmemcached: %d)" % (len(wrong), len(keys), wrong[0], owners[wrong[0]],
                                     weighted(wrong[0])))
    differ = sum(1 for k in keys if owners[k] != plain(k))
    share = [sum(1 for k in keys if owners[k] == i) for i in range(len(hp))]
    json.dump(owners, open(path, "w"))
    print("PASS: nutcracker (ketama, hash md5) put all %d keys where libmemcached KETAMA_WEIGHTED "
          "does (per server %s); libmemcached's unweighted KETAMA+MD5 would differ on %d"
          % (len(keys), share, differ))


def cmd_after_stop(proxy, path, stopped, servers):
    hp = [hostport(s) for s in servers]
    owners = json.load(open(path))
    c = Client(hostport(proxy), connect_timeout=2, timeout=5)
    mine = [k for k, o in owners.items() if o == stopped]
    others = [k for k, o in owners.items() if o != stopped]
    if not mine or not others:
        fail("degenerate placement")
    # Until the proxy ejects the stopped server, its keys fail (timeouts);
    # afterwards they are misses on the servers that remain.
    deadline = time.time() + 30
    errors = 0
    while True:
        try:
            if c.get(mine[0]) is None:
                break
            fail("key %s of the stopped server still answered with a value" % mine[0])
        except (MemcacheError, OSError):
            errors += 1
            c.close()
        if time.time() > deadline:
            fail("the proxy did not eject the stopped server within 30 s")
        time.sleep(0.2)
    print("PASS: the proxy ejected the stopped server (%d failed requests before)" % errors)
    for k in others:
        if c.get(k) != value_of(k):
            fail("key %s of a live server not served through the proxy after the stop" % k)
    live = [(i, cl) for i, cl in enumerate(direct(hp)) if i != stopped]
    for k in others:
        cl = dict(live)[owners[k]]
        if cl.get(k) != value_of(k):
            fail("key %s no longer on its server %d" % (k, owners[k]))
    for k in mine:
        if c.get(k) is not None:
            fail("key %s of the stopped server answered" % k)
        if not c.set(k, value_of(k), noreply=False):
            fail("set %s after the stop" % k)
    remaining = [hp[i] for i in range(len(hp)) if i != stopped]
    index_of = [i for i in range(len(hp)) if i != stopped]
    weighted2 = libmemcached_owner(remaining, True)
    moved = owners_by_direct_get([cl for _, cl in live], mine)
    for k in mine:
        if index_of[moved[k]] != index_of[weighted2(k)]:
            fail("key %s moved to %d, libmemcached with the %d remaining servers says %d"
                 % (k, index_of[moved[k]], len(remaining), index_of[weighted2(k)]))
    for k in others:
        if c.get(k) != value_of(k):
            fail("key %s changed after the moved keys were set again" % k)
    print("PASS: after the stop: all %d keys of the live servers still served from where they "
          "were; only the stopped server's %d keys missed, and set again they went where "
          "libmemcached puts them without it" % (len(others), len(mine)))


def cmd_ixload(records, keylen, json_path, dist, servers):
    hp = [hostport(s) for s in servers]
    owner = libmemcached_owner(hp, dist == "ketama-weighted")
    clients = direct(hp)
    keys = [str(i).zfill(keylen) for i in range(records)]
    count = [0] * len(hp)
    for lo in range(0, len(keys), 100):
        batch = keys[lo:lo + 100]
        got = [cl.get_many(batch) for cl in clients]
        for k in batch:
            holders = [i for i in range(len(hp)) if k in got[i]]
            if holders != [owner(k)]:
                fail("ix-load key %s is on %s; libmemcached (%s) puts it on %d"
                     % (k, holders, dist, owner(k)))
            count[holders[0]] += 1
    report = json.load(open(json_path))
    per_server = report["preload"]["stored_per_server"]
    if per_server != count:
        fail("ix-load reported %s stored per server, the servers hold %s" % (per_server, count))
    print("PASS: ix-load --servers (%s): all %d keys on the server libmemcached picks, per server "
          "%s as ix-load reported" % (dist, records, count))


def cmd_evictions(servers):
    for s in servers:
        st = Client(hostport(s), connect_timeout=2, timeout=5).stats()
        ev = int(st.get(b"evictions", -1))
        if ev != 0:
            fail("server %s: evictions %d" % (s, ev))
    print("PASS: evictions 0 on every server")


def main():
    a = sys.argv[1:]
    if a[0] == "proxy":
        cmd_proxy(a[1])
    elif a[0] == "placement":
        cmd_placement(a[1], a[2], a[3:])
    elif a[0] == "after-stop":
        cmd_after_stop(a[1], a[2], int(a[3]), a[4:])
    elif a[0] == "ixload":
        cmd_ixload(int(a[1]), int(a[2]), a[3], a[4], a[5:])
    elif a[0] == "evictions":
        cmd_evictions(a[1:])
    else:
        fail("unknown command " + a[0])


main()
