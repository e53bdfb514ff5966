#include "net/addr.hh"

#include <charconv>
#include <cstdio>

namespace ix::net {

std::string MacAddr::to_string() const {
  char s[18];
  std::snprintf(s, sizeof s, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
  return s;
}

std::optional<MacAddr> MacAddr::parse(std::string_view s) {
  MacAddr m;
  size_t pos = 0;
  for (int i = 0; i < 6; ++i) {
    if (pos + 2 > s.size()) return std::nullopt;
    unsigned v = 0;
    auto r = std::from_chars(s.data() + pos, s.data() + pos + 2, v, 16);
    if (r.ec != std::errc{} || r.ptr != s.data() + pos + 2) return std::nullopt;
    m.b[i] = static_cast<uint8_t>(v);
    pos += 2;
    if (i < 5) {
      if (pos >= s.size() || s[pos] != ':') return std::nullopt;
      ++pos;
    }
  }
  if (pos != s.size()) return std::nullopt;
  return m;
}

std::string Ipv4Addr::to_string() const {
  char s[16];
  std::snprintf(s, sizeof s, "%u.%u.%u.%u", v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff);
  return s;
}

std::optional<Ipv4Addr> Ipv4Addr::parse(std::string_view s) {
  uint32_t out = 0;
  size_t pos = 0;
  for (int i = 0; i < 4; ++i) {
    unsigned v = 0;
    auto r = std::from_chars(s.data() + pos, s.data() + s.size(), v, 10);
    size_t digits = static_cast<size_t>(r.ptr - (s.data() + pos));
    if (r.ec != std::errc{} || digits == 0 || digits > 3 || v > 255) return std::nullopt;
    out = (out << 8) | v;
    pos += digits;
    if (i < 3) {
      if (pos >= s.size() || s[pos] != '.') return std::nullopt;
      ++pos;
    }
  }
  if (pos != s.size()) return std::nullopt;
  return Ipv4Addr{out};
}

}  // namespace ix::net
