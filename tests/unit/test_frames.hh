// Builds Ethernet/IPv4/UDP (and other) test frames, with checksums computed
// here rather than by the stack under test, so tests do not check the code
// with itself. Header-only and self-contained: include it from any unit test.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "mem/mbuf.hh"
#include "mem/mbuf_pool.hh"
#include "net/addr.hh"

namespace ix::test_frames {

constexpr uint16_t kEtherTypeIpv4 = 0x0800;
constexpr uint16_t kEtherTypeArp = 0x0806;
constexpr size_t kEthLen = 14;
constexpr size_t kIpv4Len = 20;
constexpr size_t kUdpLen = 8;
constexpr size_t kUdpPayloadOffset = kEthLen + kIpv4Len + kUdpLen;  // 42
constexpr uint16_t kDontFragment = 0x4000;
constexpr uint16_t kMoreFragments = 0x2000;

struct Ipv4Spec {
  net::MacAddr src_mac{{0x02, 0, 0, 0, 0, 0x01}};
  net::MacAddr dst_mac{{0x02, 0, 0, 0, 0, 0x02}};
  net::Ipv4Addr src_ip = net::ipv4(10, 0, 0, 1);
  net::Ipv4Addr dst_ip = net::ipv4(10, 0, 0, 2);
  uint8_t protocol = 17;
  uint8_t ttl = 64;
  uint16_t ip_id = 1;
  uint16_t frag = kDontFragment;  // flags + fragment offset field, host order
};

struct UdpSpec : Ipv4Spec {
  uint16_t src_port = 1234;
  uint16_t dst_port = 5678;
  std::vector<uint8_t> payload;
};

inline void put16(uint8_t *p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void put32(uint8_t *p, uint32_t v) {
  put16(p, static_cast<uint16_t>(v >> 16));
  put16(p + 2, static_cast<uint16_t>(v));
}
inline uint16_t get16(const uint8_t *p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline uint32_t get32(const uint8_t *p) { return (uint32_t{get16(p)} << 16) | get16(p + 2); }

// RFC 1071 one's-complement sum of big-endian 16-bit words (odd tail padded).
inline uint32_t ones_sum(const uint8_t *p, size_t n, uint32_t acc = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) acc += get16(p + i);
  if (n % 2 != 0) acc += uint32_t{p[n - 1]} << 8;
  return acc;
}
inline uint16_t fold(uint32_t acc) {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return static_cast<uint16_t>(acc);
}

// Ethernet header + payload.
inline std::vector<uint8_t> eth_frame(net::MacAddr dst, net::MacAddr src, uint16_t ethertype,
                                      std::span<const uint8_t> payload) {
  std::vector<uint8_t> f(kEthLen + payload.size());
  std::memcpy(f.data(), dst.b.data(), 6);
  std::memcpy(f.data() + 6, src.b.data(), 6);
  put16(f.data() + 12, ethertype);
  if (!payload.empty()) std::memcpy(f.data() + kEthLen, payload.data(), payload.size());
  return f;
}

// Ethernet + IPv4 header (no options, checksum filled) + `l4` bytes as is.
inline std::vector<uint8_t> ipv4_frame(const Ipv4Spec &s, std::span<const uint8_t> l4) {
  std::vector<uint8_t> ip(kIpv4Len + l4.size());
  uint8_t *h = ip.data();
  h[0] = 0x45;
  put16(h + 2, static_cast<uint16_t>(ip.size()));
  put16(h + 4, s.ip_id);
  put16(h + 6, s.frag);
  h[8] = s.ttl;
  h[9] = s.protocol;
  put32(h + 12, s.src_ip.v);
  put32(h + 16, s.dst_ip.v);
  put16(h + 10, static_cast<uint16_t>(~fold(ones_sum(h, kIpv4Len))));
  if (!l4.empty()) std::memcpy(h + kIpv4Len, l4.data(), l4.size());
  return eth_frame(s.dst_mac, s.src_mac, kEtherTypeIpv4, ip);
}

// UDP checksum over the pseudo-header and the datagram (RFC 768).
inline uint16_t udp_checksum(net::Ipv4Addr src, net::Ipv4Addr dst, const uint8_t *udp, size_t len) {
  uint8_t pseudo[12];
  put32(pseudo, src.v);
  put32(pseudo + 4, dst.v);
  pseudo[8] = 0;
  pseudo[9] = 17;
  put16(pseudo + 10, static_cast<uint16_t>(len));
  const uint16_t c = static_cast<uint16_t>(~fold(ones_sum(udp, len, ones_sum(pseudo, 12))));
  return c == 0 ? 0xffff : c;  // 0 means "no checksum" in UDP
}

inline std::vector<uint8_t> udp_frame(const UdpSpec &s) {
  std::vector<uint8_t> udp(kUdpLen + s.payload.size());
  put16(udp.data(), s.src_port);
  put16(udp.data() + 2, s.dst_port);
  put16(udp.data() + 4, static_cast<uint16_t>(udp.size()));
  if (!s.payload.empty()) std::memcpy(udp.data() + kUdpLen, s.payload.data(), s.payload.size());
  put16(udp.data() + 6, udp_checksum(s.src_ip, s.dst_ip, udp.data(), udp.size()));
  Ipv4Spec ip = s;
  ip.protocol = 17;
  return ipv4_frame(ip, udp);
}

// True if the frame holds an IPv4 header whose checksum verifies.
inline bool ipv4_checksum_ok(std::span<const uint8_t> f) {
  if (f.size() < kEthLen + kIpv4Len || get16(f.data() + 12) != kEtherTypeIpv4) return false;
  const size_t ihl = size_t{f[kEthLen] & 0x0fu} * 4;
  if (ihl < kIpv4Len || f.size() < kEthLen + ihl) return false;
  return fold(ones_sum(f.data() + kEthLen, ihl)) == 0xffff;
}

// True if the frame is IPv4/UDP (no IP options) and its UDP checksum verifies.
inline bool udp_checksum_ok(std::span<const uint8_t> f) {
  if (!ipv4_checksum_ok(f) || f[kEthLen] != 0x45 || f[kEthLen + 9] != 17) return false;
  const uint8_t *udp = f.data() + kEthLen + kIpv4Len;
  const size_t len = get16(udp + 4);
  if (len < kUdpLen || kEthLen + kIpv4Len + len > f.size()) return false;
  uint8_t pseudo[12];
  std::memcpy(pseudo, f.data() + kEthLen + 12, 8);
  pseudo[8] = 0;
  pseudo[9] = 17;
  put16(pseudo + 10, static_cast<uint16_t>(len));
  return fold(ones_sum(udp, len, ones_sum(pseudo, 12))) == 0xffff;
}

// Copies bytes into one fresh mbuf; nullptr if the pool is empty or the
// frame does not fit.
inline mem::Mbuf *to_mbuf(mem::MbufPool &pool, std::span<const uint8_t> bytes) {
  mem::Mbuf *m = pool.alloc();
  if (m == nullptr) return nullptr;
  if (bytes.size() > m->tailroom()) {
    pool.free_one(m);
    return nullptr;
  }
  uint8_t *p = m->append(static_cast<uint16_t>(bytes.size()));
  if (!bytes.empty()) std::memcpy(p, bytes.data(), bytes.size());
  return m;
}

inline mem::Mbuf *udp_mbuf(mem::MbufPool &pool, const UdpSpec &s) {
  return to_mbuf(pool, udp_frame(s));
}

// The packet's bytes across the whole chain.
inline std::vector<uint8_t> bytes_of(const mem::Mbuf *m) {
  std::vector<uint8_t> out(m->pkt_len);
  m->copy_out(out.data());
  return out;
}

// A small payload carrying a 32-bit sequence number (for ordering checks).
inline std::vector<uint8_t> seq_payload(uint32_t seq, size_t len = 16) {
  std::vector<uint8_t> p(len < 4 ? 4 : len, 0xa5);
  put32(p.data(), seq);
  return p;
}
inline uint32_t seq_of(std::span<const uint8_t> frame) {
  return frame.size() >= kUdpPayloadOffset + 4 ? get32(frame.data() + kUdpPayloadOffset) : ~0u;
}

}  // namespace ix::test_frames
