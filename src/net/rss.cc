#include "net/rss.hh"

#include <stdexcept>

namespace ix::net {

const std::array<uint8_t, 40> kDefaultRssKey = {
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
    0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
    0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa};

uint32_t toeplitz_hash(std::span<const uint8_t> key, std::span<const uint8_t> input) {
  // For every set bit i of the input (MSB first), XOR in the 32-bit window of
  // the key starting at bit i. `window` holds key bits [i, i+32) and shifts
  // one key bit in per input bit.
  uint32_t hash = 0;
  if (key.size() < 4) return 0;
  uint32_t window =
      (uint32_t{key[0]} << 24) | (uint32_t{key[1]} << 16) | (uint32_t{key[2]} << 8) | key[3];
  size_t next_key_byte = 4;
  for (uint8_t byte : input) {
    const uint8_t incoming = next_key_byte < key.size() ? key[next_key_byte] : 0;
    ++next_key_byte;
    for (int bit = 7; bit >= 0; --bit) {
      if (byte & (1u << bit)) hash ^= window;
      window = (window << 1) | ((incoming >> bit) & 1u);
    }
  }
  return hash;
}

namespace {
void put_be32(uint8_t *p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}
}  // namespace

uint32_t rss_hash_ipv4_l4(std::span<const uint8_t> key, Ipv4Addr src, Ipv4Addr dst, uint16_t sport,
                          uint16_t dport) {
  uint8_t in[12];
  put_be32(in, src.v);
  put_be32(in + 4, dst.v);
  in[8] = static_cast<uint8_t>(sport >> 8);
  in[9] = static_cast<uint8_t>(sport);
  in[10] = static_cast<uint8_t>(dport >> 8);
  in[11] = static_cast<uint8_t>(dport);
  return toeplitz_hash(key, in);
}

uint32_t rss_hash_ipv4(std::span<const uint8_t> key, Ipv4Addr src, Ipv4Addr dst) {
  uint8_t in[8];
  put_be32(in, src.v);
  put_be32(in + 4, dst.v);
  return toeplitz_hash(key, in);
}

ToeplitzTable::ToeplitzTable(std::span<const uint8_t> key) : key_(key.begin(), key.end()) {
  uint8_t input[kMaxInput] = {};
  for (size_t pos = 0; pos < kMaxInput; ++pos) {
    for (unsigned v = 0; v < 256; ++v) {
      input[pos] = static_cast<uint8_t>(v);
      table_[pos][v] = toeplitz_hash(key_, std::span<const uint8_t>(input, pos + 1));
    }
    input[pos] = 0;
  }
}

uint32_t ToeplitzTable::hash(std::span<const uint8_t> input) const {
  if (input.size() > kMaxInput) return toeplitz_hash(key_, input);
  uint32_t h = 0;
  for (size_t i = 0; i < input.size(); ++i) h ^= table_[i][input[i]];
  return h;
}

// The tuple's bytes in network order index the tables directly: no input
// buffer to assemble, and no loop (this runs per frame where steering is in
// software).
uint32_t ToeplitzTable::ipv4(Ipv4Addr src, Ipv4Addr dst) const {
  const auto &t = table_;
  return t[0][src.v >> 24] ^ t[1][(src.v >> 16) & 0xff] ^ t[2][(src.v >> 8) & 0xff] ^
         t[3][src.v & 0xff] ^ t[4][dst.v >> 24] ^ t[5][(dst.v >> 16) & 0xff] ^
         t[6][(dst.v >> 8) & 0xff] ^ t[7][dst.v & 0xff];
}

uint32_t ToeplitzTable::ipv4_l4(Ipv4Addr src, Ipv4Addr dst, uint16_t sport, uint16_t dport) const {
  const auto &t = table_;
  return ipv4(src, dst) ^ t[8][sport >> 8] ^ t[9][sport & 0xff] ^ dport_term(dport);
}

namespace {
uint16_t get_be16(const uint8_t *p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
uint32_t get_be32(const uint8_t *p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
}  // namespace

FrameFlow parse_frame_flow(std::span<const uint8_t> frame) {
  constexpr size_t kEthHeader = 14;
  constexpr uint16_t kEtherTypeIpv4 = 0x0800;
  constexpr uint8_t kProtoTcp = 6, kProtoUdp = 17;
  constexpr uint16_t kFragMask = 0x3fff;  // more-fragments flag + fragment offset
  FrameFlow f;
  if (frame.size() < kEthHeader + 20 || get_be16(frame.data() + 12) != kEtherTypeIpv4) return f;
  const uint8_t *ip = frame.data() + kEthHeader;
  const size_t ihl = size_t{ip[0] & 0x0fu} * 4;
  if ((ip[0] >> 4) != 4 || ihl < 20 || kEthHeader + ihl > frame.size()) return f;
  f.kind = FrameFlow::kIpv4;
  f.src = Ipv4Addr{get_be32(ip + 12)};
  f.dst = Ipv4Addr{get_be32(ip + 16)};
  const uint8_t proto = ip[9];
  f.proto = proto;
  const bool fragment = (get_be16(ip + 6) & kFragMask) != 0;
  if (!fragment && kEthHeader + ihl + 4 <= frame.size() &&
      (proto == kProtoTcp || proto == kProtoUdp)) {
    f.kind = FrameFlow::kIpv4L4;
    f.sport = get_be16(ip + ihl);
    f.dport = get_be16(ip + ihl + 2);
  }
  return f;
}

FrameHash rss_hash_of_flow(const ToeplitzTable &rss, const FrameFlow &flow) {
  switch (flow.kind) {
    case FrameFlow::kIpv4L4:
      return {rss.ipv4_l4(flow.src, flow.dst, flow.sport, flow.dport), true};
    case FrameFlow::kIpv4:
      return {rss.ipv4(flow.src, flow.dst), true};
    case FrameFlow::kNone:
      break;
  }
  return {};
}

FlowOwnership::FlowOwnership(std::span<const uint8_t> key, const FlowGroupTable &owners,
                             uint16_t self)
    : rss_(std::make_unique<ToeplitzTable>(key)), owners_(owners), self_(self) {}

FlowGroupTable::FlowGroupTable(uint16_t size, uint16_t queues) {
  if (size == 0) throw std::invalid_argument("flow group table needs at least one entry");
  reta_.resize(size);
  spread(queues);
}

void FlowGroupTable::spread(uint16_t queues) {
  if (queues == 0) throw std::invalid_argument("flow groups must map to at least one queue");
  for (size_t i = 0; i < reta_.size(); ++i) reta_[i] = static_cast<uint16_t>(i % queues);
}

}  // namespace ix::net
