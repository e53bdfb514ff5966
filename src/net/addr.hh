// Addresses as they appear on the wire, and their textual forms.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ix::net {

struct MacAddr {
  std::array<uint8_t, 6> b{};
  bool operator==(const MacAddr &) const = default;
  bool is_broadcast() const { return b == std::array<uint8_t, 6>{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}; }
  bool is_multicast() const { return (b[0] & 1) != 0; }
  bool is_zero() const { return b == std::array<uint8_t, 6>{}; }
  static MacAddr broadcast() { return MacAddr{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}; }
  std::string to_string() const;
  static std::optional<MacAddr> parse(std::string_view s);
};

// IPv4 address held in host byte order (conversion happens at the header).
struct Ipv4Addr {
  uint32_t v = 0;
  bool operator==(const Ipv4Addr &) const = default;
  auto operator<=>(const Ipv4Addr &) const = default;
  bool is_broadcast() const { return v == 0xffffffffu; }
  bool is_multicast() const { return (v >> 28) == 0xe; }
  bool is_zero() const { return v == 0; }
  std::string to_string() const;
  static std::optional<Ipv4Addr> parse(std::string_view s);
};

constexpr Ipv4Addr ipv4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return Ipv4Addr{(uint32_t{a} << 24) | (uint32_t{b} << 16) | (uint32_t{c} << 8) | d};
}

}  // namespace ix::net
