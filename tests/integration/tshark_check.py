#!/usr/bin/python3
"""Checks a TCP capture with tshark, with IP and TCP checksum validation on.

  tshark_check.py handshake PCAP SERVER_IP   SYN and SYN-ACK carry MSS, window
                                             scale, SACK permitted, timestamps
  tshark_check.py clean PCAP                 nothing malformed, no bad checksum,
                                             no sequence gap (segment or ACK of a
                                             segment never sent)
  tshark_check.py lossy PCAP SERVER_IP       nothing malformed, no bad checksum;
                                             prints what the analysis saw
  tshark_check.py self-test                  each check fails on a capture made
                                             to break it (needs python3-scapy)

Prints one human line and one "json: {...}" line; exits 1 on a failed check,
2 on a usage or tshark error.
"""
import collections
import json
import subprocess
import sys

# Validation is off by default in tshark; without it a bad checksum is "unverified".
PREFS = ["-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE"]
# tcp.checksum.status / ip.checksum.status: 0 bad, 1 good, 2 unverified.
# A TCP checksum of 0xffff where 0x0000 was computed is the same value in
# one's complement (-0, RFC 1624); Linux's incremental checksum updates can
# emit it, and both stacks accept it. tshark marks it bad, so it is excluded.
BAD = ("_ws.malformed || ip.checksum.status == 0 || "
       "(tcp.checksum.status == 0 && !tcp.checksum.ffff)")
# A sequence gap: a segment the capture never saw, or an ACK for one. On a
# loss-free wire, captured whole, that can only mean a sender skipped bytes.
# Retransmissions and duplicate ACKs are not errors there: a host that is
# descheduled for a few milliseconds on this 2-core VM makes the other side's
# tail-loss probe or retransmission timer fire, and the reply to the repeated
# segment is a duplicate ACK. They are reported, not failed on.
GAPS = "tcp.analysis.lost_segment || tcp.analysis.ack_lost_segment"
# A fast retransmission is also flagged as a retransmission.
ANALYSIS = [
    "retransmission", "fast_retransmission", "spurious_retransmission", "out_of_order",
    "lost_segment", "ack_lost_segment", "duplicate_ack", "zero_window", "zero_window_probe",
    "window_full", "keep_alive", "reused_ports", "window_update"
]


def tshark(pcap, display_filter, fields):
    cmd = ["tshark", "-n", "-r", pcap, *PREFS, "-Y", display_filter, "-T", "fields",
           "-E", "separator=\t", "-E", "occurrence=f"]
    for f in fields:
        cmd += ["-e", f]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        print(f"tshark failed ({r.returncode}): {r.stderr.strip()}", file=sys.stderr)
        sys.exit(2)
    return [line.split("\t") for line in r.stdout.splitlines() if line]


def count(pcap, display_filter):
    return len(tshark(pcap, display_filter, ["frame.number"]))


def bad_frames(pcap):
    rows = tshark(pcap, BAD, ["frame.number", "ip.src", "_ws.col.Info"])
    return [" ".join(r) for r in rows]


def report(ok, line, data):
    print(("" if ok else "FAIL: ") + line)
    print("json: " + json.dumps(data, sort_keys=True))
    return 0 if ok else 1


def check_handshake(pcap, server_ip):
    fields = ["ip.src", "tcp.flags.ack", "tcp.options.mss_val", "tcp.options.wscale.shift",
              "tcp.options.sack_perm", "tcp.options.timestamp.tsval"]
    rows = tshark(pcap, "tcp.flags.syn == 1", fields)
    syn = [r for r in rows if r[0] != server_ip and r[1] in ("0", "False")]
    synack = [r for r in rows if r[0] == server_ip and r[1] in ("1", "True")]
    data = {"syn": len(syn), "synack": len(synack)}
    problems = []
    if not syn or not synack:
        problems.append(f"need a SYN and a SYN-ACK, saw {len(syn)} and {len(synack)}")
    for name, seg in (("syn", syn), ("synack", synack)):
        if not seg:
            continue
        # sack_perm carries no value to print; its presence is tested by a filter below.
        _, _, mss, wscale, _, tsval = seg[0]
        data[name] = {"mss": mss, "wscale": wscale, "tsval": tsval}
        for what, v in (("MSS", mss), ("window scale", wscale), ("timestamps", tsval)):
            if v == "":
                problems.append(f"{name} lacks {what}")
    for name, flt in (("syn", f"ip.dst == {server_ip}"), ("synack", f"ip.src == {server_ip}")):
        with_sack = count(pcap, f"tcp.flags.syn == 1 && {flt} && tcp.options.sack_perm")
        data.setdefault(name, {})["sack_permitted"] = with_sack > 0
        if with_sack == 0:
            problems.append(f"{name} lacks SACK permitted")
    bad = bad_frames(pcap)
    data["bad_frames"] = len(bad)
    if bad:
        problems.append("malformed or bad checksum: " + "; ".join(bad[:5]))
    if problems:
        return report(False, "handshake: " + ", ".join(problems), data)
    s, a = data["syn"], data["synack"]
    return report(True, f"handshake: SYN mss {s['mss']} wscale {s['wscale']} sack_perm ts; "
                  f"SYN-ACK mss {a['mss']} wscale {a['wscale']} sack_perm ts {a['tsval']}", data)


def analysis_counts(pcap, direction_filter):
    rows = tshark(pcap, f"tcp.analysis.flags && {direction_filter}",
                  [f"tcp.analysis.{a}" for a in ANALYSIS])
    counts = collections.Counter()
    for r in rows:
        for name, v in zip(ANALYSIS, r):
            if v != "":
                counts[name] += 1
    return dict(counts)


def check_clean(pcap):
    frames = count(pcap, "tcp")
    bad = bad_frames(pcap)
    gaps = tshark(pcap, GAPS, ["frame.number", "ip.src", "_ws.col.Info"])
    data = {"tcp_frames": frames, "bad_frames": len(bad), "gaps": len(gaps),
            "analysis": analysis_counts(pcap, "tcp")}
    problems = []
    if frames == 0:
        problems.append("no TCP frames captured")
    if bad:
        problems.append("malformed or bad checksum: " + "; ".join(bad[:5]))
    if gaps:
        problems.append("sequence gaps on a loss-free path: " +
                        "; ".join(" ".join(r) for r in gaps[:5]))
    if problems:
        return report(False, "clean capture: " + ", ".join(problems), data)
    return report(True, f"clean capture: {frames} TCP frames, none malformed, all checksums "
                  f"good, no sequence gap; analysis {data['analysis']}", data)


def stalls(pcap, min_seconds):
    """Pauses in the capture longer than min_seconds: time lost waiting on timers."""
    gaps = [float(r[0]) for r in tshark(pcap, f"frame.time_delta > {min_seconds}",
                                        ["frame.time_delta"])]
    return {"count": len(gaps), "seconds": round(sum(gaps), 3)}


def check_lossy(pcap, server_ip):
    frames = count(pcap, "tcp")
    bad = bad_frames(pcap)
    data = {"tcp_frames": frames, "bad_frames": len(bad), "stalls_over_100ms": stalls(pcap, 0.1),
            "from_server": analysis_counts(pcap, f"ip.src == {server_ip}"),
            "from_client": analysis_counts(pcap, f"ip.dst == {server_ip}")}
    if frames == 0 or bad:
        why = "no TCP frames captured" if frames == 0 else "; ".join(bad[:5])
        return report(False, f"lossy capture: {why}", data)
    return report(True, f"lossy capture: {frames} TCP frames, none malformed, all checksums "
                  f"good; analysis from server {data['from_server']}, "
                  f"from client {data['from_client']}; pauses over 100 ms: "
                  f"{data['stalls_over_100ms']}", data)


def self_test():
    """Shows that each check can fail: hand-made captures with one fault each."""
    import os
    import tempfile
    from scapy.all import IP, TCP, Ether, Raw, wrpcap  # only the self-test needs scapy

    client, server = "10.77.0.1", "10.77.0.2"
    full = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (1, 0)), ("WScale", 7)]

    def seg(src, dst, flags, options=(), payload=b"", seq=1000, ack=0):
        sport, dport = (40000, 7) if src == client else (7, 40000)
        return (Ether() / IP(src=src, dst=dst) /
                TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack,
                    options=list(options)) / Raw(payload))

    good = [seg(client, server, "S", full), seg(server, client, "SA", full, ack=1001),
            seg(client, server, "A", seq=1001, ack=1, payload=b"x" * 100)]
    no_sack = [seg(client, server, "S", full),
               seg(server, client, "SA", [o for o in full if o[0] != "SAckOK"], ack=1001)]
    bad_sum = good[:2] + [seg(client, server, "A", seq=1001, ack=1, payload=b"y" * 100)]
    bad_sum[2][TCP].chksum = 0x1234
    # Data offset claims 60 bytes of header; only 20 are there.
    malformed = good[:2] + [Ether(bytes(good[2])[:14 + 20 + 20])]
    malformed[2][IP].len = 40
    malformed[2][TCP].dataofs = 15
    malformed[2][IP].chksum = None
    malformed[2] = Ether(bytes(malformed[2]))
    gap = good[:2] + [seg(client, server, "A", seq=5001, ack=1, payload=b"z" * 100)]

    cases = [("handshake", good, 0), ("clean", good, 0), ("handshake", no_sack, 1),
             ("clean", bad_sum, 1), ("clean", malformed, 1), ("clean", gap, 1)]
    failures = 0
    with tempfile.TemporaryDirectory() as d:
        for i, (mode, frames, want) in enumerate(cases):
            path = os.path.join(d, f"case{i}.pcap")
            wrpcap(path, frames)
            args = [mode, path] + ([server] if mode == "handshake" else [])
            r = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
            ok = r.returncode == want
            failures += not ok
            print(f"self-test case {i} ({mode}, expect exit {want}): exit {r.returncode} "
                  f"{'ok' if ok else 'WRONG'}: {r.stdout.splitlines()[0] if r.stdout else ''}")
    return 1 if failures else 0


def main(argv):
    if len(argv) == 2 and argv[1] == "self-test":
        return self_test()
    if len(argv) == 4 and argv[1] == "handshake":
        return check_handshake(argv[2], argv[3])
    if len(argv) == 3 and argv[1] == "clean":
        return check_clean(argv[2])
    if len(argv) == 4 and argv[1] == "lossy":
        return check_lossy(argv[2], argv[3])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
