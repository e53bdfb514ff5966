#include "drivers/loop/rx_steering.hh"

#include "net/rss.hh"

namespace ix::drivers {

namespace {

constexpr size_t kEthHeader = 14;
constexpr uint16_t kEtherTypeIpv4 = 0x0800;
constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;
constexpr uint16_t kFragMask = 0x3fff;  // more-fragments flag + fragment offset

uint16_t be16(const uint8_t *p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
uint32_t be32(const uint8_t *p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

}  // namespace

RxHash rx_hash_of_frame(const net::ToeplitzTable &rss, std::span<const uint8_t> frame) {
  if (frame.size() < kEthHeader + 20 || be16(frame.data() + 12) != kEtherTypeIpv4) return {};
  const uint8_t *ip = frame.data() + kEthHeader;
  const size_t ihl = size_t{ip[0] & 0x0fu} * 4;
  if ((ip[0] >> 4) != 4 || ihl < 20 || kEthHeader + ihl > frame.size()) return {};

  const net::Ipv4Addr src{be32(ip + 12)};
  const net::Ipv4Addr dst{be32(ip + 16)};
  const uint8_t proto = ip[9];
  const bool fragment = (be16(ip + 6) & kFragMask) != 0;
  const bool has_ports = kEthHeader + ihl + 4 <= frame.size();
  if (!fragment && has_ports && (proto == kProtoTcp || proto == kProtoUdp)) {
    const uint8_t *l4 = ip + ihl;
    return {rss.ipv4_l4(src, dst, be16(l4), be16(l4 + 2)), true};
  }
  return {rss.ipv4(src, dst), true};
}

}  // namespace ix::drivers
