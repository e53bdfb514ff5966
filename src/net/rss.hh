// Receive-side scaling as a NIC computes it: the Toeplitz hash of the IPv4
// 4-tuple (or 2-tuple) with a 40-byte key, and an indirection table (RETA)
// that maps the hash to a flow group. IX assigns each flow group to one
// elastic thread, so every packet of a flow is handled by one core.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
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
  // What the destination port adds to an IPv4 4-tuple hash (bytes 10 and 11
  // of the input): ipv4_l4(s, d, sp, dp) == ipv4_l4(s, d, sp, 0) ^ dport_term(dp).
  uint32_t dport_term(uint16_t dport) const {
    return table_[10][dport >> 8] ^ table_[11][dport & 0xff];
  }

 private:
  std::vector<uint8_t> key_;
  std::array<std::array<uint32_t, 256>, kMaxInput> table_{};
};

// What a NIC's RSS looks at in a received Ethernet frame: the IPv4 addresses,
// and the ports of an unfragmented TCP or UDP datagram. Anything else
// (ARP, IPv6, truncated or malformed IPv4) has no flow (kind kNone).
struct FrameFlow {
  enum Kind : uint8_t { kNone, kIpv4, kIpv4L4 };
  Kind kind = kNone;
  Ipv4Addr src, dst;
  uint16_t sport = 0, dport = 0;  // kIpv4L4 only
  uint8_t proto = 0;              // the IPv4 protocol (kIpv4, kIpv4L4)
};
FrameFlow parse_frame_flow(std::span<const uint8_t> frame);

// The hash a NIC computes for a parsed flow: 4-tuple for kIpv4L4, 2-tuple
// for kIpv4; nullopt-like `valid = false` for kNone.
struct FrameHash {
  uint32_t hash = 0;
  bool valid = false;
};
FrameHash rss_hash_of_flow(const ToeplitzTable &rss, const FrameFlow &flow);

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

// One elastic thread's read-only view of flow ownership: the RSS key (so it
// computes the same hash as the NIC), the flow group table mapping each
// group to the elastic thread that owns it, and which thread it is. Each
// thread holds its own copy (built at start-up), so the per-packet check and
// the per-connect port search read only core-local memory.
//
// Direction matters: a flow's group is the hash of a frame as it *arrives*
// (src = the remote end). For an outgoing connection that is the reply
// direction: src = remote addr/port, dst = local addr/port.
class FlowOwnership {
 public:
  // `owners`: group -> elastic thread id. A single-thread view (everything
  // owned by `self`) is FlowOwnership(key, FlowGroupTable(n, 1), 0).
  FlowOwnership(std::span<const uint8_t> key, const FlowGroupTable &owners, uint16_t self);

  uint16_t self() const { return self_; }
  uint16_t groups() const { return owners_.size(); }
  const FlowGroupTable &owners() const { return owners_; }
  const ToeplitzTable &hasher() const { return *rss_; }

  uint16_t group_of_hash(uint32_t hash) const { return owners_.group_of(hash); }
  uint16_t owner_of_group(uint16_t group) const { return owners_.queue_of_group(group); }
  bool owns_group(uint16_t group) const { return owners_.queue_of_group(group) == self_; }
  // A flow-group move changed the group's owner (this thread's copy only).
  void set_owner(uint16_t group, uint16_t owner) { owners_.assign(group, owner); }
  // The group of an arriving frame of flow src:sport -> dst:dport.
  uint16_t group_of_flow(Ipv4Addr src, Ipv4Addr dst, uint16_t sport, uint16_t dport) const {
    return group_of_hash(rss_->ipv4_l4(src, dst, sport, dport));
  }
  // Whether replies to an outgoing connection local:lport -> remote:rport
  // land in a group this thread owns (the RSS-aware connect test).
  bool owns_reply_flow(Ipv4Addr local, uint16_t lport, Ipv4Addr remote, uint16_t rport) const {
    return owns_group(group_of_flow(remote, local, rport, lport));
  }
  // The same test split for a port search: the hash of the reply flow with
  // local port 0 once, then two table loads per probed port.
  uint32_t reply_hash_base(Ipv4Addr local, Ipv4Addr remote, uint16_t rport) const {
    return rss_->ipv4_l4(remote, local, rport, 0);
  }
  bool owns_reply_port(uint32_t base, uint16_t lport) const {
    return owns_group(group_of_hash(base ^ rss_->dport_term(lport)));
  }

 private:
  std::unique_ptr<ToeplitzTable> rss_;  // 12 KiB of tables: kept off the object itself
  FlowGroupTable owners_;
  uint16_t self_;
};

}  // namespace ix::net
