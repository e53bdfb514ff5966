// What a connection remembers about the way to its peer, so that each
// segment it sends skips the route and ARP lookups and the sum over the
// IPv4 header's fixed fields: the next hop's MAC and the one's-complement
// sum of every IPv4 header word that does not change from datagram to
// datagram (version, TOS, flags, TTL, protocol, both addresses). It is
// valid while the stack's ARP table is at the generation it was filled in
// (Arp::generation: any change to a resolved mapping, an expiry or an
// eviction starts a new one), so a changed or expired neighbour is looked
// up again on the next segment.
#pragma once

#include <cstdint>

#include "net/addr.hh"

namespace ix::net {

struct NextHopCache {
  MacAddr mac;
  uint16_t ip_fixed_sum = 0;
  uint32_t arp_generation = 0;  // 0: empty (the table's generations start at 1)
};
static_assert(sizeof(NextHopCache) == 12);

}  // namespace ix::net
