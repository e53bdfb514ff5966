// One elastic thread's network stack: Ethernet, ARP, IPv4, ICMP, UDP and TCP. It owns its ARP
// table, counters and timers; nothing in it is shared with another core. Frames come in through
// input(); frames go out through the FrameSink the core loop provides (which batches them into the
// driver's tx_burst). UDP datagrams for bound ports are handed to a UdpReceiver without copying.
#pragma once

#include <cstdint>
#include <memory>

#include "mem/mbuf.hh"
#include "mem/mbuf_pool.hh"
#include "net/addr.hh"
#include "net/counters.hh"
#include "net/link_caps.hh"
#include "net/tcp/tcp_config.hh"
#include "timing/clock.hh"
#include "timing/timer_wheel.hh"

namespace ix::net {

namespace tcp {
class Tcp;
}

struct StackConfig {
  MacAddr mac;
  Ipv4Addr addr;
  uint8_t prefix_len = 24;
  Ipv4Addr gateway;  // zero: no gateway (only the local subnet is reachable)
  uint16_t mtu = 1500;
  uint64_t arp_timeout_ns = 60'000'000'000ull;  // entry lifetime
  uint64_t arp_retry_ns = 1'000'000'000ull;     // re-send a pending request
  unsigned arp_max_retries = 3;                 // then drop held packets
  unsigned arp_hold_per_entry = 16;             // packets held while resolving
  unsigned arp_table_size = 1024;
  uint32_t icmp_rate_per_sec = 1000;  // ICMP errors (port unreachable)
  uint32_t icmp_burst = 50;
  bool gratuitous_arp = true;  // announce ourselves at start()
  tcp::TcpConfig tcp;
};

// Where the stack puts frames to transmit (the core loop batches them).
class FrameSink {
 public:
  virtual ~FrameSink() = default;
  // Takes ownership of m (a complete Ethernet frame, possibly chained).
  virtual void send_frame(mem::Mbuf *m) = 0;
};

struct UdpDatagram {
  Ipv4Addr src;
  Ipv4Addr dst;
  uint16_t src_port;
  uint16_t dst_port;
  const uint8_t *payload;  // points into m
  uint16_t len;
};

// Receives UDP datagrams for bound ports. Takes ownership of m (the whole
// frame; payload points into it) and frees it when the application is done.
class UdpReceiver {
 public:
  virtual ~UdpReceiver() = default;
  virtual void on_udp(mem::Mbuf *m, const UdpDatagram &d) = 0;
};

class NetStack {
 public:
  NetStack(const StackConfig &cfg, mem::MbufPool &pool, const timing::Clock &clock,
           timing::TimerWheel &timers, FrameSink &sink, const LinkCaps &caps);
  ~NetStack();
  NetStack(const NetStack &) = delete;
  NetStack &operator=(const NetStack &) = delete;

  // Announce our address (gratuitous ARP) if configured.
  void start();

  // Process one received frame; takes ownership. Malformed frames are freed
  // and counted in counters().drops by reason.
  void input(mem::Mbuf *m);
  // A burst of frames about to go through input(), in order: fetches what
  // processing them will need into the cache together (Tcp::prefetch_segments).
  // Reads the frames' headers only; changes nothing.
  void prefetch(mem::Mbuf *const *frames, unsigned n) const;

  // Bind a UDP port to a receiver. Returns false if the port is taken or 0.
  bool udp_bind(uint16_t port, UdpReceiver *r);
  bool udp_unbind(uint16_t port);
  // The receiver bound to `port`, or nullptr.
  const UdpReceiver *udp_owner(uint16_t port) const;

  // Send `payload` (a chain whose first segment has at least kMaxHeaders of
  // headroom, or an external segment: the stack then allocates a header mbuf
  // and chains the payload behind it) as a UDP datagram. On success the stack
  // owns payload. On failure returns a negative ix_status and the caller
  // keeps payload. IX_EAGAIN is never returned for ARP resolution: the
  // datagram is held (bounded) until the address resolves.
  int udp_send(Ipv4Addr dst, uint16_t dst_port, uint16_t src_port, mem::Mbuf *payload);

  // This thread's TCP engine (connections, listeners; see net/tcp/tcp.hh).
  tcp::Tcp &tcp();
  const tcp::Tcp &tcp() const;

  static constexpr uint16_t kMaxHeaders = 14 + 60 + 60;

  const StackConfig &config() const { return cfg_; }
  const StackCounters &counters() const { return counters_; }
  StackCounters &counters() { return counters_; }

  // ARP bindings shared between elastic threads (see Arp::set_listener):
  // `fn` hears every binding this stack learns from the wire; bindings
  // learned by sibling threads come in through arp_learned_elsewhere().
  using ArpListener = void (*)(void *arg, Ipv4Addr ip, const MacAddr &mac);
  void set_arp_listener(ArpListener fn, void *arg);
  void arp_learned_elsewhere(Ipv4Addr ip, const MacAddr &mac);

  // For tests and the control plane: ARP table lookups.
  bool arp_lookup(Ipv4Addr ip, MacAddr *out) const;
  size_t arp_entries() const;

 private:
  struct Impl;
  StackConfig cfg_;
  StackCounters counters_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ix::net
