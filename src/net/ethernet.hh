// Ethernet II framing: header layout, receive-side acceptance, and writing a
// header in front of an outgoing packet.
#pragma once

#include <cstdint>

#include "mem/mbuf.hh"
#include "net/addr.hh"
#include "net/counters.hh"
#include "net/wire.hh"

namespace ix::net {

struct EthHeader {
  WireMac dst;
  WireMac src;
  Be16 ether_type;
};
static_assert(sizeof(EthHeader) == 14);

constexpr uint16_t kEthHeaderLen = sizeof(EthHeader);
constexpr uint16_t kEtherTypeIpv4 = 0x0800;
constexpr uint16_t kEtherTypeArp = 0x0806;
constexpr uint16_t kEtherTypeVlan = 0x8100;  // 802.1Q
constexpr uint16_t kEtherTypeQinQ = 0x88a8;  // 802.1ad

struct EthInput {
  bool ok;
  DropReason reason;  // valid when !ok
  uint16_t ether_type;
};

// Checks a received frame's Ethernet header: long enough, addressed to us
// (or broadcast), a unicast source, and an EtherType we handle.
EthInput ethernet_accept(const mem::Mbuf *m, const MacAddr &our_mac);

inline void write_ethernet(uint8_t *p, const MacAddr &dst, const MacAddr &src, uint16_t type) {
  auto *h = reinterpret_cast<EthHeader *>(p);
  h->dst.set(dst);
  h->src.set(src);
  h->ether_type.set(type);
}

}  // namespace ix::net
