// SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF",
// 2012): a keyed 64-bit hash that an attacker who does not know the key
// cannot predict, cheap enough for every SYN. Used for ISNs (RFC 6528) and
// SYN cookies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace ix::net::tcp {

class SipHash24 {
 public:
  // The 128-bit key as 16 bytes, read little endian as in the paper.
  explicit SipHash24(std::span<const uint8_t, 16> key);
  uint64_t hash(std::span<const uint8_t> msg) const;
  uint64_t hash(const void *msg, size_t len) const {
    return hash(std::span<const uint8_t>(static_cast<const uint8_t *>(msg), len));
  }

 private:
  uint64_t k0_;
  uint64_t k1_;
};

inline uint64_t siphash24(std::span<const uint8_t, 16> key, std::span<const uint8_t> msg) {
  return SipHash24(key).hash(msg);
}

}  // namespace ix::net::tcp
