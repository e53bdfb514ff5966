// What a multi-queue NIC computes on receive to pick the RX queue: the
// Toeplitz hash of the IPv4 4-tuple for unfragmented TCP/UDP, of the 2-tuple
// for other IPv4 (including fragments), and nothing for non-IPv4 frames
// (ARP, IPv6, truncated or malformed IPv4), which go to queue 0.
#pragma once

#include <cstdint>
#include <span>

#include "net/rss.hh"

namespace ix::drivers {

struct RxHash {
  uint32_t hash = 0;
  bool valid = false;  // false: no hash, the frame goes to queue 0
};

RxHash rx_hash_of_frame(const net::ToeplitzTable &rss, std::span<const uint8_t> frame);

}  // namespace ix::drivers
