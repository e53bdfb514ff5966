// ARP (RFC 826) for IPv4 over Ethernet: answers requests for our address,
// learns neighbours the way Linux does (refresh what is cached; cache a sender
// only when its request is for us), resolves next hops for output with a
// bounded hold queue, retries, and expiry on the timer wheel.
#pragma once

#include <cstdint>

#include "mem/mbuf.hh"
#include "net/addr.hh"
#include "net/arp_table.hh"
#include "net/ipv4.hh"
#include "net/stack_context.hh"
#include "net/wire.hh"

namespace ix::net {

struct ArpHeader {
  Be16 htype;
  Be16 ptype;
  uint8_t hlen;
  uint8_t plen;
  Be16 op;
  WireMac sha;
  WireIpv4 spa;
  WireMac tha;
  WireIpv4 tpa;
};
static_assert(sizeof(ArpHeader) == 28);

constexpr uint16_t kArpHtypeEthernet = 1;
constexpr uint16_t kArpOpRequest = 1;
constexpr uint16_t kArpOpReply = 2;

class Arp {
 public:
  Arp(StackContext &ctx, const Ipv4Subnet &subnet);
  ~Arp();  // cancels timers, frees held packets
  Arp(const Arp &) = delete;
  Arp &operator=(const Arp &) = delete;

  // Gratuitous ARP: a request for our own address, so neighbours update.
  void announce();

  // A received ARP frame (single segment, Ethernet header at offset 0).
  // Takes ownership.
  void input(mem::Mbuf *m);

  // The entry through which to send to next_hop: cached, or newly pending
  // (a request goes out at once). nullptr only when the table is full of
  // pending entries; the caller then keeps its packet.
  ArpEntry *entry_for(Ipv4Addr next_hop);

  // Sends frame (Ethernet header written, destination MAC left to us) via e:
  // now if resolved, else held until the reply (excess is dropped and
  // counted). Takes ownership.
  void output(ArpEntry *e, mem::Mbuf *frame);

  bool lookup(Ipv4Addr ip, MacAddr *out) const;
  // Changes whenever a resolved mapping may have changed or gone (a binding
  // learned, an entry made pending again, expired or evicted), so that a
  // mapping copied at one generation may be used while it lasts
  // (NextHopCache). Starts at 1.
  uint32_t generation() const { return generation_; }

  // Elastic threads each keep their own table, but an ARP reply lands on
  // whichever queue the NIC picks, not necessarily the one of the thread
  // that asked. So every binding learned from the wire is reported to the
  // listener (the core forwards it to sibling threads), and bindings that
  // siblings learned come in through learn_from_sibling().
  using Listener = void (*)(void *arg, Ipv4Addr ip, const MacAddr &mac);
  void set_listener(Listener fn, void *arg) {
    listener_ = fn;
    listener_arg_ = arg;
  }
  // Caches the binding (resolving a pending entry and sending what it
  // held); never answers or reports it again.
  void learn_from_sibling(Ipv4Addr ip, const MacAddr &mac);
  size_t entries() const { return table_.size(); }

 private:
  static void on_timer(timing::Timer *t, void *arg);
  void timer_fired(ArpEntry *e);
  void send_request(Ipv4Addr target, Ipv4Addr sender);
  void reply_in_place(mem::Mbuf *m, const MacAddr &to_mac, Ipv4Addr to_ip);
  void learn(ArpEntry *e, const MacAddr &mac);
  void mark_pending(ArpEntry *e);
  void release(ArpEntry *e, DropReason held_reason);
  bool fresh(const ArpEntry &e) const;
  ArpEntry *evict_oldest_resolved();

  StackContext &ctx_;
  const Ipv4Subnet &subnet_;
  ArpTable table_;
  Listener listener_ = nullptr;
  void *listener_arg_ = nullptr;
  uint32_t generation_ = 1;
  void next_generation() { generation_ = generation_ == UINT32_MAX ? 1 : generation_ + 1; }
};

}  // namespace ix::net
