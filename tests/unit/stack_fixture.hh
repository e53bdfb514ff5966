// Test bench for one NetStack: a small mbuf pool, a manual clock, a timer
// wheel, and a FrameSink that keeps every transmitted frame for inspection.
// Frame builders compute checksums with their own (slow, obvious) RFC 1071
// code, so the stack's checksum code is never checked against itself.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "drivers/device.hh"
#include "mem/mbuf.hh"
#include "mem/mbuf_pool.hh"
#include "net/addr.hh"
#include "net/counters.hh"
#include "net/stack.hh"
#include "timing/clock.hh"
#include "timing/timer_wheel.hh"

namespace ix::net::test {

using Bytes = std::vector<uint8_t>;

inline const MacAddr kOurMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
inline const MacAddr kPeerMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}};
inline const MacAddr kGatewayMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0xfe}};
inline const MacAddr kOtherMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x33}};
constexpr Ipv4Addr kOurIp = ipv4(10, 0, 0, 1);
constexpr Ipv4Addr kPeerIp = ipv4(10, 0, 0, 2);
constexpr Ipv4Addr kGatewayIp = ipv4(10, 0, 0, 254);
constexpr Ipv4Addr kRemoteIp = ipv4(192, 168, 7, 9);  // off-link
constexpr Ipv4Addr kSubnetBroadcast = ipv4(10, 0, 0, 255);

// ---- byte helpers ----
inline void put16(uint8_t *p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void put32(uint8_t *p, uint32_t v) {
  put16(p, static_cast<uint16_t>(v >> 16));
  put16(p + 2, static_cast<uint16_t>(v));
}
inline uint16_t get16(const Bytes &b, size_t off) {
  return static_cast<uint16_t>((b.at(off) << 8) | b.at(off + 1));
}
inline uint32_t get32(const Bytes &b, size_t off) {
  return (uint32_t{get16(b, off)} << 16) | get16(b, off + 2);
}
inline MacAddr get_mac(const Bytes &b, size_t off) {
  MacAddr m;
  for (int i = 0; i < 6; ++i) m.b[i] = b.at(off + i);
  return m;
}

// Reference RFC 1071 sum, one 16-bit word at a time.
inline uint32_t ref_sum(const uint8_t *p, size_t n, uint32_t acc = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) acc += static_cast<uint32_t>((p[i] << 8) | p[i + 1]);
  if (n % 2 != 0) acc += uint32_t{p[n - 1]} << 8;
  return acc;
}
inline uint16_t ref_fold(uint32_t acc) {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return static_cast<uint16_t>(acc);
}
inline uint16_t ref_checksum(const uint8_t *p, size_t n, uint32_t acc = 0) {
  return static_cast<uint16_t>(~ref_fold(ref_sum(p, n, acc)));
}
inline uint32_t ref_pseudo(Ipv4Addr src, Ipv4Addr dst, uint8_t proto, uint16_t len) {
  return (src.v >> 16) + (src.v & 0xffff) + (dst.v >> 16) + (dst.v & 0xffff) + proto + len;
}

// ---- frame builders ----
inline Bytes eth_frame(const MacAddr &dst, const MacAddr &src, uint16_t type,
                       const Bytes &payload) {
  Bytes f(14);
  std::memcpy(f.data(), dst.b.data(), 6);
  std::memcpy(f.data() + 6, src.b.data(), 6);
  put16(f.data() + 12, type);
  f.insert(f.end(), payload.begin(), payload.end());
  return f;
}

inline Bytes arp_packet(uint16_t op, const MacAddr &sha, Ipv4Addr spa, const MacAddr &tha,
                        Ipv4Addr tpa) {
  Bytes a(28);
  put16(&a[0], 1);
  put16(&a[2], 0x0800);
  a[4] = 6;
  a[5] = 4;
  put16(&a[6], op);
  std::memcpy(&a[8], sha.b.data(), 6);
  put32(&a[14], spa.v);
  std::memcpy(&a[18], tha.b.data(), 6);
  put32(&a[24], tpa.v);
  return a;
}

struct IpSpec {
  Ipv4Addr src = kPeerIp;
  Ipv4Addr dst = kOurIp;
  uint8_t proto = 17;
  uint8_t ttl = 64;
  uint16_t frag = 0x4000;
  uint16_t id = 7;
  Bytes options;  // appended to the header (multiple of 4 bytes)
};

inline Bytes ipv4_packet(const IpSpec &s, const Bytes &payload) {
  const size_t hlen = 20 + s.options.size();
  Bytes p(hlen);
  p[0] = static_cast<uint8_t>(0x40 | (hlen / 4));
  put16(&p[2], static_cast<uint16_t>(hlen + payload.size()));
  put16(&p[4], s.id);
  put16(&p[6], s.frag);
  p[8] = s.ttl;
  p[9] = s.proto;
  put32(&p[12], s.src.v);
  put32(&p[16], s.dst.v);
  if (!s.options.empty()) std::memcpy(&p[20], s.options.data(), s.options.size());
  put16(&p[10], ref_checksum(p.data(), hlen));
  p.insert(p.end(), payload.begin(), payload.end());
  return p;
}

inline Bytes udp_segment(Ipv4Addr src, Ipv4Addr dst, uint16_t sport, uint16_t dport,
                         const Bytes &data, bool with_checksum = true) {
  Bytes u(8);
  put16(&u[0], sport);
  put16(&u[2], dport);
  put16(&u[4], static_cast<uint16_t>(8 + data.size()));
  u.insert(u.end(), data.begin(), data.end());
  if (with_checksum) {
    uint16_t c =
        ref_checksum(u.data(), u.size(), ref_pseudo(src, dst, 17, static_cast<uint16_t>(u.size())));
    put16(&u[6], c == 0 ? 0xffff : c);
  }
  return u;
}

inline Bytes icmp_message(uint8_t type, uint8_t code, uint16_t id, uint16_t seq,
                          const Bytes &data) {
  Bytes m(8);
  m[0] = type;
  m[1] = code;
  put16(&m[4], id);
  put16(&m[6], seq);
  m.insert(m.end(), data.begin(), data.end());
  put16(&m[2], ref_checksum(m.data(), m.size()));
  return m;
}

// A complete Ethernet+IPv4+UDP frame from the peer to us.
inline Bytes udp_frame(uint16_t sport, uint16_t dport, const Bytes &data, IpSpec ip = {},
                       const MacAddr &dst_mac = kOurMac) {
  ip.proto = 17;
  return eth_frame(dst_mac, kPeerMac, 0x0800,
                   ipv4_packet(ip, udp_segment(ip.src, ip.dst, sport, dport, data)));
}

// A ping (echo request) from the peer to us.
inline Bytes ping_frame(uint16_t id, uint16_t seq, const Bytes &data, IpSpec ip = {},
                        const MacAddr &dst_mac = kOurMac) {
  ip.proto = 1;
  return eth_frame(dst_mac, kPeerMac, 0x0800, ipv4_packet(ip, icmp_message(8, 0, id, seq, data)));
}

inline Bytes pattern(size_t n, uint8_t seed = 1) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(seed + i * 7);
  return b;
}

// ---- the sink and the receiver ----
class CapturingSink final : public FrameSink {
 public:
  ~CapturingSink() override { clear(); }
  void send_frame(mem::Mbuf *m) override { frames.push_back(m); }

  size_t size() const { return frames.size(); }
  // The bytes of frame i, the chain linearized.
  Bytes bytes(size_t i) const {
    const mem::Mbuf *m = frames.at(i);
    size_t total = 0;
    for (const mem::Mbuf *s = m; s != nullptr; s = s->next) total += s->data_len;
    Bytes b(total);
    m->copy_out(b.data());
    return b;
  }
  // Frees every captured frame (as a driver would after transmitting).
  void clear() {
    for (mem::Mbuf *m : frames) mem::MbufPool::free_chain(m);
    frames.clear();
  }

  std::vector<mem::Mbuf *> frames;
};

struct ReceivedDatagram {
  UdpDatagram d;
  Bytes payload;
};

class RecordingReceiver final : public UdpReceiver {
 public:
  void on_udp(mem::Mbuf *m, const UdpDatagram &d) override {
    got.push_back({d, Bytes(d.payload, d.payload + d.len)});
    // The payload must lie inside the frame we were given.
    EXPECT_GE(d.payload, m->data());
    EXPECT_LE(d.payload + d.len, m->data() + m->data_len);
    mem::MbufPool::free_chain(m);
  }
  std::vector<ReceivedDatagram> got;
};

// ---- the fixture ----
class StackTest : public ::testing::Test {
 public:
  static mem::MbufPoolConfig pool_config() {
    mem::MbufPoolConfig c;
    c.count = 256;
    c.try_huge_pages = false;
    c.name = "stack_test";
    return c;
  }

 protected:
  StackTest() : pool(pool_config()), timers(clock.now_ns()) {
    cfg.mac = kOurMac;
    cfg.addr = kOurIp;
    cfg.prefix_len = 24;
    cfg.gateway = kGatewayIp;
    cfg.gratuitous_arp = false;
  }

  // (Re)creates the stack from cfg and caps.
  NetStack &make_stack() {
    stack.reset();
    sink.clear();
    stack = std::make_unique<NetStack>(cfg, pool, clock, timers, sink, caps.link_caps());
    return *stack;
  }
  NetStack &s() {
    if (!stack) make_stack();
    return *stack;
  }

  void advance(uint64_t ns) {
    clock.advance(ns);
    timers.advance(clock.now_ns());
  }

  mem::Mbuf *to_mbuf(const Bytes &b, uint16_t headroom = 128) {
    mem::Mbuf *m = pool.alloc();
    EXPECT_NE(m, nullptr);
    if (m == nullptr) return nullptr;
    m->data_off = headroom;
    uint8_t *p = m->append(static_cast<uint16_t>(b.size()));
    EXPECT_NE(p, nullptr);
    if (p != nullptr && !b.empty()) std::memcpy(p, b.data(), b.size());
    return m;
  }
  void inject(const Bytes &b, uint32_t ol_flags = 0) {
    mem::Mbuf *m = to_mbuf(b);
    m->ol_flags = ol_flags;
    s().input(m);
  }

  // Teaches the stack the peer's MAC (a request from the peer for us) and
  // discards the reply.
  void learn_peer(Ipv4Addr ip = kPeerIp, const MacAddr &mac = kPeerMac) {
    inject(eth_frame(MacAddr::broadcast(), mac, 0x0806, arp_packet(1, mac, ip, MacAddr{}, kOurIp)));
    sink.clear();
  }

  // Sends a good ping and checks that exactly one echo reply comes back.
  void expect_ping_works(uint16_t seq = 99) {
    sink.clear();
    inject(ping_frame(0x1234, seq, pattern(24)));
    ASSERT_EQ(sink.size(), 1u);
    Bytes r = sink.bytes(0);
    ASSERT_GE(r.size(), 42u);
    EXPECT_EQ(r[34], 0);  // echo reply
    EXPECT_EQ(get16(r, 40), seq);
    sink.clear();
  }

  // Injects b and checks that it was dropped, counted exactly once, under r,
  // and that nothing was sent.
  void expect_drop(const Bytes &b, DropReason r, uint32_t ol_flags = 0) {
    s();
    const uint64_t before = total_drops(), before_r = drops(r);
    const size_t sent = sink.size();
    inject(b, ol_flags);
    EXPECT_EQ(drops(r), before_r + 1) << drop_reason_name(r);
    EXPECT_EQ(total_drops(), before + 1) << drop_reason_name(r);
    EXPECT_EQ(sink.size(), sent) << drop_reason_name(r);
  }

  uint64_t drops(DropReason r) const { return stack->counters().dropped(r); }
  uint64_t total_drops() const { return stack->counters().total_drops(); }

  mem::MbufPool pool;
  timing::ManualClock clock;
  timing::TimerWheel timers;
  CapturingSink sink;
  drivers::DeviceCaps caps;
  StackConfig cfg;
  std::unique_ptr<NetStack> stack;
};

}  // namespace ix::net::test
