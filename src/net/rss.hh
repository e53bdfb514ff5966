// Receive-side scaling as a NIC computes it: the Toeplitz hash of the IPv4
// 4-tuple (or 2-tuple) with a 40-byte key, and an indirection table (RETA)
// that maps the hash to a flow group. IX assigns each flow group to one
// elastic thread, so every packet of a flow is handled by one core.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "net/addr.hh"

namespace ix::net {

// The widely used default key (Microsoft's RSS verification key), which
// Intel and Mellanox NICs ship with.
extern const std::array<uint8_t, 40> kDefaultRssKey;

// Toeplitz hash over `input` (bytes in network order).
uint32_t toeplitz_hash(std::span<const uint8_t> key, std::span<const uint8_t> input);

// Hash of an IPv4 TCP/UDP flow as a NIC computes it: input is
// src addr | dst addr | src port | dst port, all big-endian.
uint32_t rss_hash_ipv4_l4(std::span<const uint8_t> key, Ipv4Addr src, Ipv4Addr dst, uint16_t sport,
                          uint16_t dport);
// Hash of IPv4 traffic without ports (non-TCP/UDP, fragments).
uint32_t rss_hash_ipv4(std::span<const uint8_t> key, Ipv4Addr src, Ipv4Addr dst);

// The Toeplitz hash is linear over XOR, so the contribution of each input
// byte can be tabulated per key: hashing a 12-byte IPv4 4-tuple becomes 12
// loads and XORs instead of 96 bit steps (what a software NIC model or a
// source-port search for RSS-local connections needs per probe).
class ToeplitzTable {
 public:
  static constexpr size_t kMaxInput = 12;  // src addr, dst addr, src port, dst port
  explicit ToeplitzTable(std::span<const uint8_t> key);

  // Same value as toeplitz_hash(key, input); inputs longer than kMaxInput
  // fall back to the bitwise computation.
  uint32_t hash(std::span<const uint8_t> input) const;
  uint32_t ipv4_l4(Ipv4Addr src, Ipv4Addr dst, uint16_t sport, uint16_t dport) const;
  uint32_t ipv4(Ipv4Addr src, Ipv4Addr dst) const;

 private:
  std::vector<uint8_t> key_;
  std::array<std::array<uint32_t, 256>, kMaxInput> table_{};
};

// The indirection table: flow groups (default 128), each mapped to a queue.
class FlowGroupTable {
 public:
  static constexpr uint16_t kDefaultSize = 128;
  explicit FlowGroupTable(uint16_t size = kDefaultSize, uint16_t queues = 1);

  uint16_t size() const { return static_cast<uint16_t>(reta_.size()); }
  // The flow group a hash lands in (low bits of the hash, as NICs do).
  uint16_t group_of(uint32_t hash) const { return static_cast<uint16_t>(hash % reta_.size()); }
  uint16_t queue_of_group(uint16_t group) const { return reta_[group]; }
  uint16_t queue_of(uint32_t hash) const { return reta_[group_of(hash)]; }
  void assign(uint16_t group, uint16_t queue) { reta_[group] = queue; }
  // Spread groups round-robin over `queues` queues.
  void spread(uint16_t queues);

 private:
  std::vector<uint16_t> reta_;
};

}  // namespace ix::net
