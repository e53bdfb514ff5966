// The Internet checksum (RFC 1071): the one's-complement of the
// one's-complement sum of 16-bit big-endian words. Sums are returned as host
// integers holding the big-endian word value, so a checksum is stored with
// Be16::set and a received header verifies when the folded sum is 0xffff.
#pragma once

#include <cstddef>
#include <cstdint>

#include "mem/mbuf.hh"
#include "net/addr.hh"

namespace ix::net {

// One's-complement sum of len bytes (an odd final byte is padded with zero),
// folded to 16 bits, not complemented.
uint16_t ones_sum(const void *data, size_t len);

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
uint16_t pseudo_header_sum(Ipv4Addr src, Ipv4Addr dst, uint8_t protocol, uint16_t l4_len);

// The checksum field value for a range: ~ones_sum.
inline uint16_t internet_checksum(const void *data, size_t len) {
  return static_cast<uint16_t>(~ones_sum(data, len));
}

}  // namespace ix::net
