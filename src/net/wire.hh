// Big-endian fields for on-the-wire header structs. Every header struct is
// built only from these and plain bytes, so it has alignment 1 and can be
// overlaid on any offset of a packet buffer without unaligned-access UB.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>

#include "net/addr.hh"

namespace ix::net {

// Each field is read and written whole (one load or store and a byte swap
// where the host is little-endian) rather than byte by byte: header fields
// are read and written for every segment, and the compiler does not always
// merge the byte accesses itself.
struct Be16 {
  uint8_t b[2];
  uint16_t get() const {
    uint16_t v;
    std::memcpy(&v, b, 2);
    if constexpr (std::endian::native == std::endian::little) v = __builtin_bswap16(v);
    return v;
  }
  void set(uint16_t v) {
    if constexpr (std::endian::native == std::endian::little) v = __builtin_bswap16(v);
    std::memcpy(b, &v, 2);
  }
};

struct Be32 {
  uint8_t b[4];
  uint32_t get() const {
    uint32_t v;
    std::memcpy(&v, b, 4);
    if constexpr (std::endian::native == std::endian::little) v = __builtin_bswap32(v);
    return v;
  }
  void set(uint32_t v) {
    if constexpr (std::endian::native == std::endian::little) v = __builtin_bswap32(v);
    std::memcpy(b, &v, 4);
  }
};

// An IPv4 address as stored in a header.
struct WireIpv4 {
  Be32 be;
  Ipv4Addr get() const { return Ipv4Addr{be.get()}; }
  void set(Ipv4Addr a) { be.set(a.v); }
};

// A MAC address as stored in a header.
struct WireMac {
  uint8_t b[6];
  MacAddr get() const {
    MacAddr m;
    std::memcpy(m.b.data(), b, 6);
    return m;
  }
  void set(const MacAddr &m) { std::memcpy(b, m.b.data(), 6); }
};

static_assert(sizeof(Be16) == 2 && alignof(Be16) == 1);
static_assert(sizeof(Be32) == 4 && alignof(Be32) == 1);
static_assert(sizeof(WireMac) == 6 && alignof(WireMac) == 1);

}  // namespace ix::net
