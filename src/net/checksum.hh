// The Internet checksum (RFC 1071): the one's-complement of the
// one's-complement sum of 16-bit big-endian words. Sums are returned as host
// integers holding the big-endian word value, so a checksum is stored with
// Be16::set and a received header verifies when the folded sum is 0xffff.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "mem/mbuf.hh"
#include "net/addr.hh"

namespace ix::net {

// One's-complement sum of len bytes (an odd final byte is padded with zero),
// folded to 16 bits, not complemented.
uint16_t ones_sum(const void *data, size_t len);

// ones_sum of a 20-byte IPv4 header without options (every header IX sends
// and nearly every one it receives): five 32-bit words added in 64 bits and
// folded, inline, without the general loop's set-up.
inline uint16_t ones_sum_ipv4_header(const void *h) {
  uint32_t w[5];
  std::memcpy(w, h, sizeof w);
  uint64_t acc = uint64_t{w[0]} + w[1] + w[2] + w[3] + w[4];
  acc = (acc & 0xffffffffu) + (acc >> 32);
  acc = (acc & 0xffff) + (acc >> 16);
  acc = (acc & 0xffff) + (acc >> 16);
  acc = (acc & 0xffff) + (acc >> 16);
  const auto native = static_cast<uint16_t>(acc);
  if constexpr (std::endian::native == std::endian::little)
    return static_cast<uint16_t>((native >> 8) | (native << 8));
  return native;
}

// One's-complement addition of two folded sums.
inline uint16_t ones_add(uint16_t a, uint16_t b) {
  uint32_t s = uint32_t{a} + b;
  return static_cast<uint16_t>((s & 0xffff) + (s >> 16));
}

// Sum of len bytes of a chain, starting offset bytes into it. Segments may
// have odd lengths: the bytes are summed as if they were contiguous. Bytes
// past the end of the chain are not read (the sum covers what exists).
uint16_t ones_sum_chain(const mem::Mbuf *m, size_t offset, size_t len);

// Sum of the IPv4 pseudo-header that TCP and UDP checksums cover.
// Inline: each TCP or UDP datagram sent or received needs one.
inline uint16_t pseudo_header_sum(Ipv4Addr src, Ipv4Addr dst, uint8_t protocol, uint16_t l4_len) {
  uint64_t s = uint64_t{src.v} + dst.v + protocol + l4_len;  // 32-bit words, carries kept
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(s);
}

// The checksum field value for a range: ~ones_sum.
inline uint16_t internet_checksum(const void *data, size_t len) {
  return static_cast<uint16_t>(~ones_sum(data, len));
}

}  // namespace ix::net
