// Two hosts, each a whole NetStack with its own pool and timer wheel, joined
// by the loop wire under one ManualClock. pump() moves frames both ways,
// runs the applications' queued reactions, and moves time forward: in small
// steps while frames flow, straight to the next timer when the wire is idle.
// The applications record every TCP event; they never call into Tcp from an
// event (as the engine requires) but react between steps.
#pragma once

#include <gtest/gtest.h>
#include <sys/uio.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "drivers/loop/loop_wire.hh"
#include "ix/syscall.h"
#include "mem/mbuf_pool.hh"
#include "net/stack.hh"
#include "net/tcp/tcp.hh"
#include "timing/clock.hh"
#include "timing/timer_wheel.hh"

namespace ix::net::tcp::test {

inline const MacAddr kMacA{{0x02, 0, 0, 0, 0, 0x0a}};
inline const MacAddr kMacB{{0x02, 0, 0, 0, 0, 0x0b}};
constexpr Ipv4Addr kIpA = ipv4(10, 0, 0, 1);
constexpr Ipv4Addr kIpB = ipv4(10, 0, 0, 2);

using Bytes = std::vector<uint8_t>;

inline Bytes pattern(size_t n, uint32_t seed = 1) {
  Bytes b(n);
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1103515245u + 12345u;
    b[i] = static_cast<uint8_t>(x >> 16);
  }
  return b;
}

// What the application saw on one connection.
struct ConnLog {
  Bytes received;
  uint32_t unconsumed = 0;  // bytes reported by on_recv, not yet recv_done'd
  uint64_t sent_acked = 0;
  bool fin = false;
  int fin_count = 0;
  bool connected = false;
  int connect_result = 1;  // 1: not reported
  bool dead = false;
  int dead_count = 0;
  DeadReason why = DeadReason::kClosed;
  uint64_t cookie = 0;
};

class RecordingApp final : public TcpEvents {
 public:
  void on_knock(uint64_t listener_cookie, ConnHandle h, Ipv4Addr src, uint16_t sport, Ipv4Addr dst,
                uint16_t dport) override {
    knocks.push_back({listener_cookie, h, src, sport, dst, dport});
    conns[h];
  }
  void on_connected(uint64_t cookie, ConnHandle h, int result) override {
    ConnLog &c = conns[h];
    c.cookie = cookie;
    c.connected = result == IX_OK;
    c.connect_result = result;
  }
  void on_recv(uint64_t cookie, ConnHandle h, const uint8_t *data, uint32_t len) override {
    ConnLog &c = conns[h];
    c.cookie = cookie;
    if (len == 0) {
      c.fin = true;
      ++c.fin_count;
      return;
    }
    EXPECT_FALSE(c.fin) << "data after FIN";
    c.received.insert(c.received.end(), data, data + len);
    c.unconsumed += len;
  }
  void on_sent(uint64_t, ConnHandle h, uint32_t bytes) override { conns[h].sent_acked += bytes; }
  void on_dead(uint64_t cookie, ConnHandle h, DeadReason why) override {
    ConnLog &c = conns[h];
    c.cookie = cookie;
    c.dead = true;
    ++c.dead_count;
    c.why = why;
    c.unconsumed = 0;  // the buffers are gone with the connection
  }

  // Flow-group moves: followed when `follow` is set; each side recorded.
  bool follows_moves() const override { return follow; }
  uint64_t move_tag() const override { return tag; }
  uint32_t on_moved_out(uint64_t cookie, ConnHandle h, uint32_t move) override {
    moves_out.push_back({cookie, h, move});
    return 0;
  }
  void on_moved(uint64_t cookie, ConnHandle, ConnHandle h, uint32_t move) override {
    moves_in.push_back({cookie, h, move});
  }

  struct Knock {
    uint64_t listener_cookie;
    ConnHandle h;
    Ipv4Addr src;
    uint16_t sport;
    Ipv4Addr dst;
    uint16_t dport;
  };
  struct Move {
    uint64_t cookie;
    ConnHandle h;
    uint32_t move;
  };
  std::vector<Knock> knocks;
  std::map<ConnHandle, ConnLog> conns;
  bool follow = false;
  uint64_t tag = 0;  // move_tag: its owner
  std::vector<Move> moves_out, moves_in;
};

// A FrameSink that puts frames on the wire through one port's TX queue 0.
class PortSink final : public FrameSink {
 public:
  explicit PortSink(drivers::LoopPort &p) : port_(p) {}
  void send_frame(mem::Mbuf *m) override {
    if (tap) tap(*m);
    port_.tx_burst(0, &m, 1);
  }
  // Sees every frame the stack sends, as it built it (buffer chain included).
  std::function<void(const mem::Mbuf &)> tap;

 private:
  drivers::LoopPort &port_;
};

struct Host {
  Host(drivers::LoopPort &p, const timing::Clock &clock, MacAddr mac, Ipv4Addr ip,
       const TcpConfig &tcfg, uint32_t mbufs, uint32_t rx_reserve = 0)
      : port(p), pool(pool_config(mbufs, rx_reserve)), timers(clock.now_ns()), sink(p) {
    port.set_rx_pool(0, &pool);
    StackConfig cfg;
    cfg.mac = mac;
    cfg.addr = ip;
    cfg.prefix_len = 24;
    cfg.gratuitous_arp = false;
    cfg.tcp = tcfg;
    stack = std::make_unique<NetStack>(cfg, pool, clock, timers, sink, port.caps().link_caps());
  }
  static mem::MbufPoolConfig pool_config(uint32_t n, uint32_t rx_reserve = 0) {
    mem::MbufPoolConfig c;
    c.count = n;
    c.rx_reserve = rx_reserve;
    c.try_huge_pages = false;
    c.name = "tcp_test";
    return c;
  }
  Tcp &tcp() { return stack->tcp(); }
  // Takes every due frame off the wire into the stack; returns how many.
  unsigned receive() {
    unsigned total = 0;
    mem::Mbuf *pkts[64];
    for (;;) {
      const uint16_t n = port.rx_burst(0, pkts, 64);
      // As the elastic thread does; with default_tcp()'s prefetch_min_conns
      // 0 every burst goes through the prefetch, so the sanitizers see it
      // read every kind of frame the tests send.
      stack->prefetch(pkts, n);
      for (uint16_t i = 0; i < n; ++i) {
        if (rx_tap) rx_tap(*pkts[i]);
        stack->input(pkts[i]);
      }
      total += n;
      if (n < 64) return total;
    }
  }

  drivers::LoopPort &port;
  mem::MbufPool pool;
  timing::TimerWheel timers;
  PortSink sink;
  std::unique_ptr<NetStack> stack;
  RecordingApp app;
  // Sees every frame receive() takes off the wire, before the stack does.
  std::function<void(const mem::Mbuf &)> rx_tap;
};

// A raw Ethernet/IPv4/TCP frame, checksums computed here independently of
// the stack (RFC 1071, one 16-bit word at a time).
struct RawSegment {
  Ipv4Addr src = kIpA;
  Ipv4Addr dst = kIpB;
  MacAddr src_mac = kMacA;
  MacAddr dst_mac = kMacB;
  uint16_t sport = 1234;
  uint16_t dport = 80;
  uint32_t seq = 0;
  uint32_t ack = 0;
  uint8_t flags = 0;
  uint16_t window = 65535;
  Bytes options;  // raw, padded by the caller to a multiple of 4
  Bytes payload;
  int data_off_words = -1;  // override the data offset field
  bool bad_checksum = false;
};

inline Bytes raw_frame(const RawSegment &r) {
  auto put16 = [](uint8_t *p, uint16_t v) {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
  };
  auto put32 = [&](uint8_t *p, uint32_t v) {
    put16(p, static_cast<uint16_t>(v >> 16));
    put16(p + 2, static_cast<uint16_t>(v));
  };
  auto sum = [](const uint8_t *p, size_t n, uint32_t acc) {
    for (size_t i = 0; i + 1 < n; i += 2) acc += static_cast<uint32_t>((p[i] << 8) | p[i + 1]);
    if (n % 2 != 0) acc += uint32_t{p[n - 1]} << 8;
    return acc;
  };
  auto fold = [](uint32_t acc) {
    while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
    return static_cast<uint16_t>(~acc);
  };
  Bytes tcp(20 + r.options.size());
  put16(&tcp[0], r.sport);
  put16(&tcp[2], r.dport);
  put32(&tcp[4], r.seq);
  put32(&tcp[8], r.ack);
  const int words = r.data_off_words >= 0 ? r.data_off_words : static_cast<int>(tcp.size() / 4);
  tcp[12] = static_cast<uint8_t>(words << 4);
  tcp[13] = r.flags;
  put16(&tcp[14], r.window);
  std::copy(r.options.begin(), r.options.end(), tcp.begin() + 20);
  tcp.insert(tcp.end(), r.payload.begin(), r.payload.end());
  const uint32_t pseudo = (r.src.v >> 16) + (r.src.v & 0xffff) + (r.dst.v >> 16) +
                          (r.dst.v & 0xffff) + 6 + static_cast<uint32_t>(tcp.size());
  uint16_t c = fold(sum(tcp.data(), tcp.size(), pseudo));
  if (r.bad_checksum) c = static_cast<uint16_t>(c ^ 0x5a5a);
  put16(&tcp[16], c);
  Bytes f(34 + tcp.size());
  std::copy(r.dst_mac.b.begin(), r.dst_mac.b.end(), f.begin());
  std::copy(r.src_mac.b.begin(), r.src_mac.b.end(), f.begin() + 6);
  put16(&f[12], 0x0800);
  uint8_t *ip = &f[14];
  ip[0] = 0x45;
  put16(ip + 2, static_cast<uint16_t>(20 + tcp.size()));
  put16(ip + 6, 0x4000);
  ip[8] = 64;
  ip[9] = 6;
  put32(ip + 12, r.src.v);
  put32(ip + 16, r.dst.v);
  put16(ip + 10, fold(sum(ip, 20, 0)));
  std::copy(tcp.begin(), tcp.end(), f.begin() + 34);
  return f;
}

class TcpPairTest : public ::testing::Test {
 protected:
  static TcpConfig default_tcp() {
    TcpConfig c;
    c.max_connections = 256;
    c.time_wait_ns = 2'000'000'000ull;
    c.prefetch_min_conns = 0;  // every burst goes through the prefetch (Host::receive)
    return c;
  }

  // Builds the wire and both hosts; call once per test (fault and TCP
  // settings first). Defaults: no faults, default_tcp() on both sides.
  void start(const drivers::FaultConfig &faults = {}, TcpConfig a = default_tcp(),
             TcpConfig b = default_tcp(), uint32_t mbufs = 4096) {
    drivers::LoopWireConfig wc;
    wc.faults = faults;
    wc.latency_ns = latency_ns;
    wire = std::make_unique<drivers::LoopWire>(clock, wc);
    auto &pa = wire->add_port(
        {.name = "a", .mac = kMacA, .queues = 1, .ring_depth = 4096, .trusted_link = trusted_a});
    auto &pb = wire->add_port(
        {.name = "b", .mac = kMacB, .queues = 1, .ring_depth = 4096, .trusted_link = trusted_b});
    A = std::make_unique<Host>(pa, clock, kMacA, kIpA, a, mbufs, rx_reserve);
    B = std::make_unique<Host>(pb, clock, kMacB, kIpB, b, mbufs, rx_reserve);
  }

  // Hands a raw frame to host h's stack as if it came from the wire.
  void inject(Host &h, const Bytes &frame) {
    mem::Mbuf *m = h.pool.alloc();
    ASSERT_NE(m, nullptr);
    uint8_t *p = m->append(static_cast<uint16_t>(frame.size()));
    ASSERT_NE(p, nullptr);
    std::memcpy(p, frame.data(), frame.size());
    h.stack->input(m);
  }
  // A raw segment from A's side of connection (ha at A, hb at B) to B, with
  // sequence numbers taken from A's connection state.
  RawSegment from_a(ConnHandle ha) {
    const Tcb *t = A->tcp().tcb_of(ha);
    RawSegment r;
    r.sport = t->lport;
    r.dport = t->rport;
    r.seq = t->snd_nxt;
    r.ack = t->rcv_nxt;
    r.flags = kAck;
    return r;
  }

  void TearDown() override {
    A.reset();
    B.reset();
    wire.reset();
  }

  // Applications' reactions between steps: accept knocks, consume data.
  void react(Host &h) {
    if (auto_accept) {
      for (; accepted_[&h] < h.app.knocks.size(); ++accepted_[&h]) {
        const auto &k = h.app.knocks[accepted_[&h]];
        EXPECT_EQ(h.tcp().accept(k.h, 1000 + k.h), IX_OK);
      }
    }
    if (auto_consume) {
      for (auto &[hd, c] : h.app.conns) {
        if (c.unconsumed > 0 && !c.dead) {
          EXPECT_EQ(h.tcp().recv_done(hd, c.unconsumed), IX_OK);
          c.unconsumed = 0;
        }
      }
    }
    if (on_step) on_step();
  }

  // One step: deliver frames, react, move time. Returns frames delivered.
  unsigned step() {
    unsigned moved = A->receive() + B->receive();
    react(*A);
    react(*B);
    const uint64_t tx = A->port.stats(0).tx_packets + B->port.stats(0).tx_packets;
    if (tx != last_tx_count_) {
      last_tx_count_ = tx;
      last_tx_ns_ = clock.now_ns();
    }
    if (moved == 0 && clock.now_ns() < last_tx_ns_ + latency_ns + extra_delay_ns) {
      // Frames are on the wire: wait for them, not for the timers.
      advance(std::max<uint64_t>(last_tx_ns_ + latency_ns + extra_delay_ns - clock.now_ns(), 1));
      return 0;
    }
    if (moved == 0) {
      // Idle wire: let the reorder fault release what it holds, or jump to
      // the earliest timer (bounded so waits stay in small pieces).
      for (drivers::LoopPort *p : {&A->port, &B->port}) moved += p->flush_held(0) ? 1 : 0;
      if (moved != 0) return moved;
      const uint64_t next = std::min(A->timers.next_expiry_ns(), B->timers.next_expiry_ns());
      const uint64_t d =
          next == UINT64_MAX ? 1'000'000 : std::clamp<uint64_t>(next, 16'384, 1'000'000'000);
      advance(d);
    } else {
      advance(step_ns);
    }
    return moved;
  }

  void advance(uint64_t ns) {
    clock.advance(ns);
    if (A) A->timers.advance(clock.now_ns());
    if (B) B->timers.advance(clock.now_ns());
  }

  // Steps until pred() holds or `max_ns` of simulated time pass; returns pred().
  bool run_until(const std::function<bool()> &pred, uint64_t max_ns = 10'000'000'000ull) {
    const uint64_t deadline = clock.now_ns() + max_ns;
    while (!pred()) {
      if (clock.now_ns() >= deadline) return false;
      step();
    }
    return true;
  }
  void run_for(uint64_t ns) {
    const uint64_t deadline = clock.now_ns() + ns;
    while (clock.now_ns() < deadline) step();
  }

  // B listens on `port`; A connects. Returns (A's handle, B's handle).
  std::pair<ConnHandle, ConnHandle> connect_pair(uint16_t port = 80) {
    EXPECT_EQ(B->tcp().listen(port, 77, &B->app), IX_OK);
    const int64_t h = A->tcp().connect(kIpB, port, 0, 5, &A->app);
    EXPECT_GT(h, 0);
    const size_t knocks = B->app.knocks.size();
    EXPECT_TRUE(run_until([&] {
      return A->app.conns[static_cast<ConnHandle>(h)].connected && B->app.knocks.size() > knocks;
    }));
    if (B->app.knocks.size() <= knocks) return {static_cast<ConnHandle>(h), 0};
    return {static_cast<ConnHandle>(h), B->app.knocks.back().h};
  }

  // Streams `data` from `from` on handle h, refilling as on_sent frees room,
  // until the peer's connection `to_h` has all of it. Returns success.
  bool transfer(Host &from, ConnHandle h, const Bytes &data, Host &to, ConnHandle to_h,
                uint64_t max_ns = 60'000'000'000ull) {
    size_t queued = 0;
    auto prev = on_step;
    on_step = [&] {
      if (queued < data.size()) {
        iovec iov{const_cast<uint8_t *>(data.data() + queued), data.size() - queued};
        const int64_t n = from.tcp().sendv(h, &iov, 1);
        EXPECT_GE(n, 0);
        if (n > 0) queued += static_cast<size_t>(n);
      }
      if (prev) prev();  // a check the test runs at every step
    };
    // What the peer had before counts for an earlier transfer, not this one.
    const size_t base = to.app.conns[to_h].received.size();
    const bool ok =
        run_until([&] { return to.app.conns[to_h].received.size() >= base + data.size(); }, max_ns);
    on_step = prev;
    return ok;
  }

  timing::ManualClock clock;
  uint64_t latency_ns = 10'000;
  uint64_t step_ns = 5'000;
  uint64_t extra_delay_ns = 0;  // set to the delay fault's delay_ns
  uint32_t rx_reserve = 0;      // each host's pool: buffers only reception may take
  bool auto_accept = true;
  bool auto_consume = true;
  bool trusted_a = false, trusted_b = false;  // LoopPortConfig::trusted_link of each port
  std::function<void()> on_step;
  std::unique_ptr<drivers::LoopWire> wire;
  std::unique_ptr<Host> A;
  std::unique_ptr<Host> B;

 private:
  std::map<Host *, size_t> accepted_;
  uint64_t last_tx_count_ = 0;
  uint64_t last_tx_ns_ = 0;
};

}  // namespace ix::net::tcp::test
