"""Fills one memcached-protocol server with items of one value size until it
must evict, and reports how many it holds: `stats` curr_items once twice its
expected capacity has been written with pipelined `set ... noreply`. Keys are
"key:%08d" (12 bytes), flags 0, no expiry, values of the given size.

  memcached_capacity.py HOST PORT VALUE_SIZE  ->  one JSON line on stdout
"""
import json
import socket
import sys


def stats(sock):
    sock.sendall(b"stats\r\n")
    buf = b""
    while not buf.endswith(b"END\r\n"):
        chunk = sock.recv(1 << 16)
        if not chunk:
            raise SystemExit("server closed the connection during stats")
        buf += chunk
    out = {}
    for line in buf.decode().split("\r\n"):
        f = line.split(" ")
        if len(f) == 3 and f[0] == "STAT":
            out[f[1]] = f[2]
    return out


def main():
    host, port, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    sock = socket.create_connection((host, port), timeout=30)
    limit = int(stats(sock)["limit_maxbytes"])
    # Twice what would fit at 48 bytes of overhead per item: both servers
    # are evicting by the end, whatever their overhead.
    writes = 2 * limit // (size + 12 + 48)
    value = b"v" * size
    batch = []
    for i in range(writes):
        batch.append(b"set key:%08d 0 0 %d noreply\r\n%s\r\n" % (i, size, value))
        if len(batch) == 256:
            sock.sendall(b"".join(batch))
            batch = []
    sock.sendall(b"".join(batch))
    st = stats(sock)  # answered after every set before it: the stream is ordered
    # Spot-check that what is counted is there: the newest keys must read back.
    for i in range(writes - 3, writes):
        sock.sendall(b"get key:%08d\r\n" % i)
        want = b"VALUE key:%08d 0 %d\r\n%s\r\nEND\r\n" % (i, size, value)
        got = b""
        while len(got) < len(want) and not got.endswith(b"END\r\n"):
            got += sock.recv(1 << 16)
        if got != want:
            raise SystemExit(f"key:{i:08d} did not read back as written")
    print(json.dumps({"value_size": size, "written": writes, "curr_items": int(st["curr_items"]),
                      "evictions": int(st["evictions"]), "limit_maxbytes": limit}))


if __name__ == "__main__":
    main()
