"""The flooder of tcp_flood_test.sh: crafted TCP at a dataplane while a real
Linux connection streams through it. Run with /usr/bin/python3 (Debian's
scapy) in the peer namespace:

  tcp_flood.py --iface peer0 --dst IP --dst-mac MAC --port 7 --ready FILE --out JSON

Every crafted packet comes from an address the peer namespace's kernel does
not own and from a MAC nobody has (the dataplane learns it from our ARP
requests), so the dataplane's answers reach the wire but no kernel answers
them with RSTs; the one exception is the real connection's own tuple, which
we forge to attack it. Scapy builds the packets; a raw AF_PACKET socket
sends them (scapy's own send path manages a few thousand packets a second
on a busy host, too slow for the burst the challenge-ACK limit needs).

Phases, each a fixed number of packets (defaults well past each limit, so
that a few frames lost on the way, e.g. to a full RX ring, change nothing:
3000 in-window SYNs against 1000 challenge ACKs a second, whose count two
one-second slots can share; 1600 SYNs against a backlog of 1024; 12
connections of 80 segments against 64 per connection and 512 in all):
  1. wait for the real connection to dst:port (ESTABLISHED in /proc/net/tcp);
  2. at its tuple, SYNs and RSTs with random sequence numbers (blind); and
     at the tuple of an idle connection of our own kernel socket, whose
     RCV.NXT we know, SYNs and RSTs inside the window (RFC 5961: challenge
     ACKs, more than the per-second limit, so some are suppressed); that
     connection must still echo afterwards;
  3. a few connections opened for real (SYN, the dataplane's SYN-ACK, ACK),
     each then sent 1-byte segments above RCV.NXT with gaps between them,
     more than the per-connection and engine-wide out-of-order caps hold;
  4. a SYN flood from spoofed sources, more than the SYN backlog (cookies);
  5. bare ACKs with random numbers to the listening port (bad cookies).
Writes what it sent to --out; exits non-zero naming the phase that failed."""

import argparse
import ipaddress
import json
import os
import random
import select
import socket
import struct
import sys
import time

from scapy.arch.linux import attach_filter
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import ARP, Ether

ETH_P_ALL = 0x0003
FAKE_MAC = "02:00:5e:10:fd:01"  # locally administered: no interface has it
CHUNK = 100  # packets per burst; a pause (2 ms) between bursts lets the RX ring drain


def fail(msg):
    print(f"tcp_flood.py: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


class Wire:
    def __init__(self, iface):
        self.s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.s.bind((iface, 0))
        # Only for sending: nothing queues here for reading.
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 0)
        self.mac = self.s.getsockname()[4]

    def burst(self, frames):
        """Sends every frame, CHUNK at a time with a millisecond between
        chunks; an ENOBUFS is retried, so the count sent is exact."""
        for i in range(0, len(frames), CHUNK):
            for f in frames[i:i + CHUNK]:
                while True:
                    try:
                        self.s.send(f)
                        break
                    except OSError as e:
                        if e.errno != 105:  # ENOBUFS
                            raise
                        time.sleep(0.001)
            time.sleep(0.002)
        return len(frames)

    def listener(self, iface, bpf):
        """A receiving socket that the kernel gives only frames matching the
        tcpdump expression bpf: the real stream's frames would otherwise fill
        its buffer and crowd out the few we wait for."""
        # Protocol 0 receives nothing until bind: the filter is in place
        # before the first frame is queued.
        r = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        attach_filter(r, bpf, iface)
        r.bind((iface, ETH_P_ALL))
        return r

    @staticmethod
    def recv_until(sock, deadline, want):
        """Reads frames until want(frame) returns True or the deadline."""
        while time.time() < deadline:
            r, _, _ = select.select([sock], [], [], max(0.0, deadline - time.time()))
            if not r:
                break
            if want(sock.recv(65536)):
                return True
        return False


def echo_exact(sock, data, when):
    """data goes out on sock and comes back unchanged, or we fail."""
    try:
        sock.sendall(data)
        got = b""
        while len(got) < len(data):
            chunk = sock.recv(len(data) - len(got))
            if not chunk:
                break
            got += chunk
    except OSError as e:
        fail(f"the idle real connection, {when}: {e}")
    if got != data:
        fail(f"the idle real connection, {when}: echo of {len(data)} bytes came back as "
             f"{len(got)} bytes {got[:20]!r}")


def real_tuple(dst, port, limit_s):
    """(local ip, local port) of the ESTABLISHED connection to dst:port in
    this namespace, waiting up to limit_s."""
    want = f"{struct.unpack('<I', socket.inet_aton(dst))[0]:08X}:{port:04X}"
    deadline = time.time() + limit_s
    while time.time() < deadline:
        with open("/proc/net/tcp") as f:
            for line in f.readlines()[1:]:
                fld = line.split()
                if fld[2] == want and fld[3] == "01":
                    ip_hex, port_hex = fld[1].split(":")
                    return socket.inet_ntoa(struct.pack("<I", int(ip_hex, 16))), int(port_hex, 16)
        time.sleep(0.02)
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iface", required=True)
    ap.add_argument("--dst", required=True)
    ap.add_argument("--dst-mac", required=True)
    ap.add_argument("--port", type=int, default=7)
    ap.add_argument("--ready", required=True, help="file written once set up")
    ap.add_argument("--out", required=True)
    ap.add_argument("--real-syns", type=int, default=200)
    ap.add_argument("--real-rsts", type=int, default=100)
    ap.add_argument("--window-syns", type=int, default=3000)
    ap.add_argument("--window-rsts", type=int, default=200)
    ap.add_argument("--ooo-conns", type=int, default=12)
    ap.add_argument("--ooo-segments", type=int, default=80)
    # The first connection sends more than a connection may hold out of
    # order (rcv_buf / 1024 + 16 = 272 by default), the others fill the
    # engine-wide cap.
    ap.add_argument("--ooo-first-segments", type=int, default=300)
    ap.add_argument("--syn-flood", type=int, default=1600)
    ap.add_argument("--ack-flood", type=int, default=300)
    a = ap.parse_args()
    rnd = random.Random()
    net = ipaddress.ip_network(f"{a.dst}/24", strict=False)
    # Spoofed sources: 60 addresses of the subnet that no interface has.
    spoofed = [str(net.network_address + 100 + i) for i in range(60)]
    w = Wire(a.iface)
    eth = Ether(src=FAKE_MAC, dst=a.dst_mac)
    sent = {}

    # The dataplane learns who we are from ARP requests for its address, so
    # its replies go to FAKE_MAC without an ARP round of their own.
    sent["arp"] = w.burst([bytes(Ether(src=FAKE_MAC, dst="ff:ff:ff:ff:ff:ff") /
                                 ARP(op=1, hwsrc=FAKE_MAC, psrc=ip, pdst=a.dst))
                           for ip in spoofed])
    # Built ahead, so the flood phases start at once.
    syn_flood = [bytes(eth / IP(src=spoofed[i % len(spoofed)], dst=a.dst) /
                       TCP(sport=20000 + i, dport=a.port, flags="S", seq=rnd.getrandbits(32),
                           window=65535, options=[("MSS", 1460)]))
                 for i in range(a.syn_flood)]
    ack_flood = [bytes(eth / IP(src=spoofed[i % len(spoofed)], dst=a.dst) /
                       TCP(sport=30000 + i, dport=a.port, flags="A", seq=rnd.getrandbits(32),
                           ack=rnd.getrandbits(32), window=65535))
                 for i in range(a.ack_flood)]
    open(a.ready, "w").close()

    # 1. The real connection.
    t = real_tuple(a.dst, a.port, 20)
    if t is None:
        fail(f"no ESTABLISHED connection to {a.dst}:{a.port} appeared within 20 s")
    real_ip, real_port = t
    real_mac = w.mac  # the real client sits on this interface

    # 2. Blind SYNs and RSTs at its tuple, random sequence numbers.
    reth = Ether(src=real_mac, dst=a.dst_mac)
    base = IP(src=real_ip, dst=a.dst) / TCP(sport=real_port, dport=a.port, window=65535)
    frames = []
    for flags, n in (("S", a.real_syns), ("R", a.real_rsts)):
        for _ in range(n):
            p = base.copy()
            p[TCP].flags = flags
            p[TCP].seq = rnd.getrandbits(32)
            frames.append(bytes(reth / p))
    sent["real_tuple"] = f"{real_ip}:{real_port}"
    sent["real_syns"] = w.burst(frames[:a.real_syns])
    sent["real_rsts"] = w.burst(frames[a.real_syns:])

    # 2b. The same at a real connection whose numbers we know: a kernel
    # socket of ours, idle after one echo, so RCV.NXT stands still. SYNs
    # and RSTs inside its window take the challenge-ACK path (RFC 5961 3.2,
    # 4.2) whatever the blind ones above do, enough of them within a second
    # to pass the limit (RFC 5961 7). The connection must survive them.
    idle = socket.socket()
    idle.bind(("0.0.0.0", 0))
    idle_port = idle.getsockname()[1]
    lis = w.listener(a.iface, f"tcp and src port {idle_port} and dst host {a.dst} and "
                              "tcp[13] & 0x12 == 0x02")
    idle.settimeout(5)
    idle.connect((a.dst, a.port))
    isn = []

    def own_syn(f):
        ihl = (f[14] & 0x0F) * 4
        isn.append(struct.unpack("!I", f[14 + ihl + 4:14 + ihl + 8])[0])
        return True

    if not w.recv_until(lis, time.time() + 5, own_syn):
        fail(f"did not see our own SYN from port {idle_port}")
    lis.close()
    idle_ip = idle.getsockname()[0]
    echo_exact(idle, b"a" * 100, "before the in-window SYNs and RSTs")
    rcv_nxt = (isn[0] + 1 + 100) & 0xFFFFFFFF
    base = IP(src=idle_ip, dst=a.dst) / TCP(sport=idle_port, dport=a.port, window=65535)
    frames = []
    for flags, n, lo in (("S", a.window_syns, 0), ("R", a.window_rsts, 1)):
        for _ in range(n):
            p = base.copy()
            p[TCP].flags = flags
            # Inside any window the dataplane offers; a RST never at
            # RCV.NXT exactly (that one would reset).
            p[TCP].seq = (rcv_nxt + rnd.randrange(lo, 500)) & 0xFFFFFFFF
            frames.append(bytes(reth / p))
    sent["window_tuple"] = f"{idle_ip}:{idle_port}"
    sent["window_syns"] = w.burst(frames[:a.window_syns])
    sent["window_rsts"] = w.burst(frames[a.window_syns:])
    echo_exact(idle, b"b" * 100, "after the in-window SYNs and RSTs")

    # 3. Connections opened for real, then stuffed with out-of-order bytes.
    conns = []
    for i in range(a.ooo_conns):
        src = spoofed[i]
        sport = 41000 + i
        isn = rnd.getrandbits(32)
        conns.append((src, sport, isn))
    synacks = {}

    def synack(f):
        # IPv4 TCP from the dataplane, SYN+ACK, to one of ours.
        if len(f) < 54 or f[12:14] != b"\x08\x00" or f[23] != 6:
            return False
        if socket.inet_ntoa(f[26:30]) != a.dst:
            return False
        ihl = (f[14] & 0x0F) * 4
        tcp = 14 + ihl
        sport, dport, seq, ack = struct.unpack("!HHII", f[tcp:tcp + 12])
        flags = f[tcp + 13]
        key = (socket.inet_ntoa(f[30:34]), dport)
        if sport == a.port and flags & 0x12 == 0x12 and key not in synacks:
            synacks[key] = (seq, ack)
        return len(synacks) == len(conns)

    lis = w.listener(a.iface, f"tcp and src host {a.dst} and src port {a.port} and "
                              f"ether dst {FAKE_MAC} and tcp[13] & 0x12 == 0x12")
    w.burst([bytes(eth / IP(src=s, dst=a.dst) /
                   TCP(sport=p, dport=a.port, flags="S", seq=isn, window=65535,
                       options=[("MSS", 1460)])) for s, p, isn in conns])
    w.recv_until(lis, time.time() + 5, synack)
    lis.close()
    missing = [f"{s}:{p}" for s, p, _ in conns if (s, p) not in synacks]
    if missing:
        fail(f"no SYN-ACK from {a.dst}:{a.port} within 5 s for {missing}")
    frames = []
    for n, (s, p, isn) in enumerate(conns):
        srv_isn, acked = synacks[(s, p)]
        if acked != (isn + 1) & 0xFFFFFFFF:
            fail(f"SYN-ACK to {s}:{p} acknowledges {acked}, not our ISN + 1")
        hdr = eth / IP(src=s, dst=a.dst)
        frames.append(bytes(hdr / TCP(sport=p, dport=a.port, flags="A", seq=isn + 1,
                                      ack=srv_isn + 1, window=65535)))
        # Byte isn+1 (RCV.NXT) never comes: each later byte, with a gap
        # before it, is one held segment, one packet buffer.
        for k in range(a.ooo_first_segments if n == 0 else a.ooo_segments):
            frames.append(bytes(hdr / TCP(sport=p, dport=a.port, flags="A",
                                          seq=(isn + 1 + 2 * (k + 1)) & 0xFFFFFFFF,
                                          ack=srv_isn + 1, window=65535) / b"x"))
    sent["ooo_conns"] = len(conns)
    sent["ooo_frames"] = w.burst(frames)

    # 4 and 5. SYN flood, then bare ACKs while cookies are in use.
    sent["syn_flood"] = w.burst(syn_flood)
    sent["ack_flood"] = w.burst(ack_flood)
    echo_exact(idle, b"c" * 100, "after the whole flood")
    idle.close()
    with open(a.out, "w") as f:
        json.dump(sent, f)
    print("tcp_flood.py: sent " + ", ".join(f"{k} {v}" for k, v in sent.items()), flush=True)


if __name__ == "__main__":
    main()
