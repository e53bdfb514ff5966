#!/usr/bin/python3
"""Sends malformed frames from the Linux side at the dataplane.

Each case is a frame the dataplane must drop and count under one drop reason.
Prints a JSON object {reason: frames_sent} for the caller to compare with the
dataplane's counters. Frames go out raw (AF_PACKET via scapy) on --iface only.
"""
import argparse
import json
import sys

from scapy.all import ARP, ICMP, IP, UDP, Ether, Raw, conf, raw, sendp  # noqa: E402

conf.verb = 0


def cases(dst_mac, src_mac, dst_ip, src_ip):
    eth = Ether(dst=dst_mac, src=src_mac, type=0x0800)  # explicit: Raw payloads would get a default type
    good_udp = IP(src=src_ip, dst=dst_ip) / UDP(sport=4000, dport=7) / Raw(b"x" * 16)
    good_icmp = IP(src=src_ip, dst=dst_ip) / ICMP(id=1, seq=1) / Raw(b"ping")

    def ip_bytes(pkt):
        return bytearray(raw(pkt))

    out = []
    # Unknown EtherType.
    out.append(("eth_unknown_type", Ether(dst=dst_mac, src=src_mac, type=0x88B5) / Raw(b"\0" * 46)))
    # VLAN tagged.
    out.append(("eth_vlan", Ether(dst=dst_mac, src=src_mac, type=0x8100) / Raw(b"\x00\x05\x08\x00" + b"\0" * 42)))
    # Unicast to another MAC.
    out.append(("eth_not_for_us", Ether(dst="02:aa:bb:cc:dd:ee", src=src_mac) / good_udp))
    # IPv4 header cut short (10 bytes of IP).
    out.append(("ipv4_truncated", eth / Raw(bytes(ip_bytes(good_udp)[:10]))))
    # Total length larger than the frame.
    b = ip_bytes(good_udp); b[2:4] = (len(b) + 100).to_bytes(2, "big")
    out.append(("ipv4_truncated", eth / Raw(bytes(fix_ip_csum(b)))))
    # Total length smaller than the header.
    b = ip_bytes(good_udp); b[2:4] = (12).to_bytes(2, "big")
    out.append(("ipv4_bad_total_length", eth / Raw(bytes(fix_ip_csum(b)))))
    # Version 6 in an IPv4 EtherType.
    b = ip_bytes(good_udp); b[0] = 0x65
    out.append(("ipv4_bad_version", eth / Raw(bytes(fix_ip_csum(b)))))
    # IHL below 5.
    b = ip_bytes(good_udp); b[0] = 0x44
    out.append(("ipv4_bad_ihl", eth / Raw(bytes(b))))
    # Bad header checksum.
    b = ip_bytes(good_udp); b[10] ^= 0x5A
    out.append(("ipv4_bad_checksum", eth / Raw(bytes(b))))
    # IP options (a record-route option).
    out.append(("ipv4_options", eth / IP(src=src_ip, dst=dst_ip, options=[b"\x07\x07\x04\x00\x00\x00\x00", b"\x00"]) / UDP(sport=4000, dport=7) / Raw(b"opt")))
    # Fragments: first (MF) and a later one (offset).
    out.append(("ipv4_fragment", eth / IP(src=src_ip, dst=dst_ip, flags="MF", id=77) / UDP(sport=4000, dport=7) / Raw(b"f" * 32)))
    out.append(("ipv4_fragment", eth / IP(src=src_ip, dst=dst_ip, frag=4, id=77, proto=17) / Raw(b"f" * 32)))
    # Not our address.
    out.append(("ipv4_not_for_us", eth / IP(src=src_ip, dst="10.99.99.99") / UDP(sport=4000, dport=7) / Raw(b"x")))
    # Martian source.
    out.append(("ipv4_bad_source", eth / IP(src="224.0.0.5", dst=dst_ip) / UDP(sport=4000, dport=7) / Raw(b"x")))
    # Unknown protocol.
    out.append(("ipv4_unknown_protocol", eth / IP(src=src_ip, dst=dst_ip, proto=200) / Raw(b"x" * 8)))
    # UDP header cut short.
    out.append(("udp_truncated", eth / IP(src=src_ip, dst=dst_ip, proto=17) / Raw(b"\x0f\xa0\x00")))
    # UDP length past the datagram, and below 8.
    b = bytearray(raw(UDP(sport=4000, dport=7) / Raw(b"y" * 8))); b[4:6] = (200).to_bytes(2, "big")
    out.append(("udp_bad_length", eth / IP(src=src_ip, dst=dst_ip, proto=17) / Raw(bytes(b))))
    b = bytearray(raw(UDP(sport=4000, dport=7) / Raw(b"y" * 8))); b[4:6] = (4).to_bytes(2, "big")
    out.append(("udp_bad_length", eth / IP(src=src_ip, dst=dst_ip, proto=17) / Raw(bytes(b))))
    # Bad UDP checksum.
    out.append(("udp_bad_checksum", eth / IP(src=src_ip, dst=dst_ip) / UDP(sport=4000, dport=7, chksum=0x1234) / Raw(b"bad sum")))
    # ICMP: truncated, bad checksum, unsupported type.
    out.append(("icmp_truncated", eth / IP(src=src_ip, dst=dst_ip, proto=1) / Raw(b"\x08\x00")))
    out.append(("icmp_bad_checksum", eth / IP(src=src_ip, dst=dst_ip) / ICMP(id=1, seq=1, chksum=0x4242) / Raw(b"ping")))
    out.append(("icmp_unsupported_type", eth / IP(src=src_ip, dst=dst_ip) / ICMP(type=13) / Raw(b"\0" * 12)))
    # ARP with bad fields.
    out.append(("arp_bad_op", Ether(dst="ff:ff:ff:ff:ff:ff", src=src_mac) / ARP(op=9, hwsrc=src_mac, psrc=src_ip, pdst=dst_ip)))
    out.append(("arp_bad_hw_type", Ether(dst="ff:ff:ff:ff:ff:ff", src=src_mac) / ARP(hwtype=6, hwsrc=src_mac, psrc=src_ip, pdst=dst_ip)))
    out.append(("arp_truncated", Ether(dst="ff:ff:ff:ff:ff:ff", src=src_mac, type=0x0806) / Raw(b"\x00\x01\x08\x00\x06")))
    # UDP to a port nobody bound (answered with a rate-limited ICMP error).
    out.append(("udp_no_port", eth / IP(src=src_ip, dst=dst_ip) / UDP(sport=4000, dport=9999) / Raw(b"anyone?")))
    del good_icmp
    return out


def fix_ip_csum(b):
    b[10:12] = b"\0\0"
    ihl = (b[0] & 0x0F) * 4
    s = 0
    for i in range(0, ihl, 2):
        s += (b[i] << 8) | b[i + 1]
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    b[10:12] = ((~s) & 0xFFFF).to_bytes(2, "big")
    return b


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iface", required=True)
    ap.add_argument("--dst-mac", required=True)
    ap.add_argument("--src-mac", required=True)
    ap.add_argument("--dst-ip", required=True)
    ap.add_argument("--src-ip", required=True)
    ap.add_argument("--count", type=int, default=5)
    a = ap.parse_args()
    sent = {}
    for reason, frame in cases(a.dst_mac, a.src_mac, a.dst_ip, a.src_ip):
        sendp(frame, iface=a.iface, count=a.count)
        sent[reason] = sent.get(reason, 0) + a.count
    json.dump(sent, sys.stdout)
    print()


if __name__ == "__main__":
    main()
