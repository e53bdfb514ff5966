// IPv4 (RFC 791, host requirements of RFC 1122): header layout, validation of
// received datagrams, our subnet and routing decision, and header output.
// We are a host: nothing is forwarded, options and fragments are refused.
#pragma once

#include <cstdint>

#include "mem/mbuf.hh"
#include "net/addr.hh"
#include "net/counters.hh"
#include "net/wire.hh"

namespace ix::net {

struct Ipv4Header {
  uint8_t version_ihl;
  uint8_t tos;
  Be16 total_len;
  Be16 id;
  Be16 frag;  // flags (3 bits) and fragment offset (13 bits)
  uint8_t ttl;
  uint8_t protocol;
  Be16 checksum;
  WireIpv4 src;
  WireIpv4 dst;

  unsigned version() const { return version_ihl >> 4; }
  unsigned header_len() const { return (version_ihl & 0xfu) * 4u; }
};
static_assert(sizeof(Ipv4Header) == 20);

constexpr uint16_t kIpv4HeaderLen = sizeof(Ipv4Header);
constexpr uint8_t kIpProtoIcmp = 1;
constexpr uint8_t kIpProtoUdp = 17;
constexpr uint16_t kIpv4FlagDf = 0x4000;
constexpr uint16_t kIpv4FlagMf = 0x2000;
constexpr uint16_t kIpv4FragOffsetMask = 0x1fff;
constexpr uint8_t kIpv4DefaultTtl = 64;

// Our place in the network: address, prefix and gateway.
class Ipv4Subnet {
 public:
  Ipv4Subnet(Ipv4Addr addr, uint8_t prefix_len, Ipv4Addr gateway);

  Ipv4Addr addr() const { return addr_; }
  bool on_link(Ipv4Addr a) const { return (a.v & mask_) == (addr_.v & mask_); }
  // The subnet-directed broadcast address (all host bits set).
  bool is_directed_broadcast(Ipv4Addr a) const {
    return mask_ != 0xffffffffu && a.v == ((addr_.v & mask_) | ~mask_);
  }
  bool is_broadcast(Ipv4Addr a) const { return a.is_broadcast() || is_directed_broadcast(a); }
  // Where to send a datagram for dst on the link: dst itself if on-link,
  // else the gateway; zero when there is no way there.
  Ipv4Addr next_hop(Ipv4Addr dst) const;

 private:
  Ipv4Addr addr_;
  uint32_t mask_;
  Ipv4Addr gateway_;
};

// A datagram accepted by ipv4_accept: where its parts are in the frame.
struct Ipv4Input {
  uint16_t l3_off;       // offset of the IPv4 header in the frame
  uint16_t payload_off;  // offset of the transport header
  uint16_t payload_len;  // transport bytes (total length - header)
  Ipv4Addr src;
  Ipv4Addr dst;
  uint8_t protocol;
  bool to_broadcast;  // limited or subnet-directed broadcast
};

struct Ipv4Verdict {
  bool ok;
  DropReason reason;  // valid when !ok
};

// Validates the IPv4 datagram that starts l3_off bytes into the single-segment
// frame m and trims Ethernet padding after it. Honours kRxIpCsumGood.
Ipv4Verdict ipv4_accept(mem::Mbuf *m, uint16_t l3_off, const Ipv4Subnet &subnet, Ipv4Input *out);

// Writes IPv4 headers for outgoing datagrams: DF set, TTL 64, a per-stack
// identification sequence, and the checksum in software or by the NIC.
class Ipv4Output {
 public:
  explicit Ipv4Output(bool tx_csum_offload) : offload_(tx_csum_offload) {}

  // Writes a 20-byte header at p; `first` is the packet's first segment,
  // which carries the offload flags.
  void write_header(mem::Mbuf *first, uint8_t *p, Ipv4Addr src, Ipv4Addr dst, uint8_t protocol,
                    uint16_t payload_len);
  // The same, with the sum of the header's fixed words given (fixed_sum):
  // only the length and identification are added per datagram.
  void write_header(mem::Mbuf *first, uint8_t *p, Ipv4Addr src, Ipv4Addr dst, uint8_t protocol,
                    uint16_t payload_len, uint16_t fixed);
  // The one's-complement sum of every header word write_header writes the
  // same for each datagram from src to dst (all but the total length, the
  // identification and the checksum).
  static uint16_t fixed_sum(Ipv4Addr src, Ipv4Addr dst, uint8_t protocol);

 private:
  // Writes every field but the checksum (left zero); returns the datagram's
  // identification.
  uint16_t write_fields(mem::Mbuf *first, uint8_t *p, Ipv4Addr src, Ipv4Addr dst, uint8_t protocol,
                        uint16_t total_len);

  bool offload_;
  uint16_t next_id_ = 0;
};

}  // namespace ix::net
