#include "net/checksum.hh"

#include <bit>
#include <cstring>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace ix::net {

namespace {

// Sum in the machine's native byte order: one's-complement addition commutes
// with byte swapping (RFC 1071 section 2(B)), so we load words natively and
// swap the folded result once at the end.
uint64_t add_carry(uint64_t acc, uint64_t w) {
  acc += w;
  return acc + (acc < w ? 1 : 0);
}

uint16_t fold64(uint64_t acc) {
  acc = (acc & 0xffffffffu) + (acc >> 32);
  acc = (acc & 0xffffffffu) + (acc >> 32);
  acc = (acc & 0xffff) + (acc >> 16);
  acc = (acc & 0xffff) + (acc >> 16);
  return static_cast<uint16_t>(acc);
}

uint16_t to_big_endian_value(uint16_t native) {
  if constexpr (std::endian::native == std::endian::little) {
    return static_cast<uint16_t>((native >> 8) | (native << 8));
  } else {
    return native;
  }
}

uint16_t swap16(uint16_t v) { return static_cast<uint16_t>((v >> 8) | (v << 8)); }

}  // namespace

uint16_t ones_sum(const void *data, size_t len) {
  const auto *p = static_cast<const uint8_t *>(data);
  // Each 64-bit word is one add-with-carry into the running sum (the carry
  // out of one word goes into the next, and the last one back in at the
  // end: one's-complement addition), with no compare per word.
  uint64_t acc = 0;
#if defined(__x86_64__)
  unsigned char carry = 0;
  while (len >= 32) {
    uint64_t w0, w1, w2, w3;
    std::memcpy(&w0, p, 8);
    std::memcpy(&w1, p + 8, 8);
    std::memcpy(&w2, p + 16, 8);
    std::memcpy(&w3, p + 24, 8);
    unsigned long long a = acc;
    carry = _addcarry_u64(carry, a, w0, &a);
    carry = _addcarry_u64(carry, a, w1, &a);
    carry = _addcarry_u64(carry, a, w2, &a);
    carry = _addcarry_u64(carry, a, w3, &a);
    acc = a;
    p += 32;
    len -= 32;
  }
  acc = add_carry(acc, carry);
#else
  while (len >= 32) {
    uint64_t w[4];
    std::memcpy(w, p, 32);
    acc = add_carry(acc, w[0]);
    acc = add_carry(acc, w[1]);
    acc = add_carry(acc, w[2]);
    acc = add_carry(acc, w[3]);
    p += 32;
    len -= 32;
  }
#endif
  while (len >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    acc = add_carry(acc, w);
    p += 8;
    len -= 8;
  }
  if (len >= 4) {
    uint32_t w;
    std::memcpy(&w, p, 4);
    acc = add_carry(acc, w);
    p += 4;
    len -= 4;
  }
  if (len >= 2) {
    uint16_t w;
    std::memcpy(&w, p, 2);
    acc = add_carry(acc, w);
    p += 2;
    len -= 2;
  }
  if (len == 1) {
    // The odd byte is the high-order byte of a zero-padded big-endian word,
    // i.e. the byte at the lower address of a native load.
    uint8_t pad[2] = {p[0], 0};
    uint16_t w;
    std::memcpy(&w, pad, 2);
    acc = add_carry(acc, w);
  }
  return to_big_endian_value(fold64(acc));
}

uint16_t ones_sum_chain(const mem::Mbuf *m, size_t offset, size_t len) {
  uint16_t sum = 0;
  bool odd = false;  // an odd number of bytes has been summed so far
  for (const mem::Mbuf *s = m; s != nullptr && len > 0; s = s->next) {
    size_t seg = s->data_len;
    if (offset >= seg) {
      offset -= seg;
      continue;
    }
    size_t n = seg - offset;
    if (n > len) n = len;
    uint16_t part = ones_sum(s->data() + offset, n);
    // A segment that starts at an odd position has its bytes in the other
    // halves of the words; swapping its sum moves them back.
    sum = ones_add(sum, odd ? swap16(part) : part);
    if (n & 1) odd = !odd;
    len -= n;
    offset = 0;
  }
  return sum;
}

}  // namespace ix::net
