// Big-endian fields for on-the-wire header structs. Every header struct is
// built only from these and plain bytes, so it has alignment 1 and can be
// overlaid on any offset of a packet buffer without unaligned-access UB.
#pragma once

#include <array>
#include <cstdint>

#include "net/addr.hh"

namespace ix::net {

struct Be16 {
  uint8_t b[2];
  uint16_t get() const { return static_cast<uint16_t>((b[0] << 8) | b[1]); }
  void set(uint16_t v) {
    b[0] = static_cast<uint8_t>(v >> 8);
    b[1] = static_cast<uint8_t>(v);
  }
};

struct Be32 {
  uint8_t b[4];
  uint32_t get() const {
    return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
  }
  void set(uint32_t v) {
    b[0] = static_cast<uint8_t>(v >> 24);
    b[1] = static_cast<uint8_t>(v >> 16);
    b[2] = static_cast<uint8_t>(v >> 8);
    b[3] = static_cast<uint8_t>(v);
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
    for (int i = 0; i < 6; ++i) m.b[i] = b[i];
    return m;
  }
  void set(const MacAddr &m) {
    for (int i = 0; i < 6; ++i) b[i] = m.b[i];
  }
};

static_assert(sizeof(Be16) == 2 && alignof(Be16) == 1);
static_assert(sizeof(Be32) == 4 && alignof(Be32) == 1);
static_assert(sizeof(WireMac) == 6 && alignof(WireMac) == 1);

}  // namespace ix::net
