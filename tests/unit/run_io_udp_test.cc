// The batched system-call interface, UDP part, end to end: two elastic
// threads (each with its own pool, timers and stack) joined by the loop wire,
// driven only through ix_run_io with a manual clock.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "api/io_context.hh"
#include "core/elastic_thread.hh"
#include "drivers/loop/loop_wire.hh"
#include "ix/ix.hh"
#include "timing/clock.hh"

namespace ix {
namespace {

using net::ipv4;

constexpr uint32_t kAddrA = (10u << 24) | 1;  // 10.0.0.1
constexpr uint32_t kAddrB = (10u << 24) | 2;  // 10.0.0.2

core::ElasticThreadConfig thread_config(unsigned id, net::MacAddr mac, net::Ipv4Addr addr,
                                        uint32_t mbufs = 1024) {
  core::ElasticThreadConfig c;
  c.id = id;
  c.queue = 0;
  c.batch = 64;
  c.pool.count = mbufs;
  c.pool.try_huge_pages = false;
  c.stack.mac = mac;
  c.stack.addr = addr;
  c.stack.prefix_len = 8;
  c.stack.gratuitous_arp = false;
  return c;
}

class RunIoUdp : public ::testing::Test {
 protected:
  RunIoUdp()
      : wire_(clock_),
        port_a_(wire_.add_port({.name = "a", .mac = mac_a_, .queues = 1})),
        port_b_(wire_.add_port({.name = "b", .mac = mac_b_, .queues = 1})),
        ta_(thread_config(0, mac_a_, net::Ipv4Addr{kAddrA}), port_a_, clock_),
        tb_(thread_config(1, mac_b_, net::Ipv4Addr{kAddrB}, b_mbufs_), port_b_, clock_),
        a_(ta_, nullptr),
        b_(tb_, nullptr) {}

  // One run_io on each side with no commands; returns events of each.
  void pump(int rounds = 4) {
    for (int i = 0; i < rounds; ++i) {
      clock_.advance(20'000);
      collect(a_, ev_a_);
      collect(b_, ev_b_);
    }
  }
  static void collect(ix_ctx &ctx, std::vector<ix_event> &out, ix_cmd *cmds = nullptr,
                      size_t n = 0) {
    ix_event evs[64];
    int got = ix_run_io(&ctx, cmds, n, evs, 64);
    ASSERT_GE(got, 0);
    out.insert(out.end(), evs, evs + got);
  }
  int submit(ix_ctx &ctx, ix_cmd c, std::vector<ix_event> &out) {
    collect(ctx, out, &c, 1);
    return c.result;
  }
  static ix_cmd send_cmd(const void *data, uint32_t len, uint16_t sport, uint32_t dst,
                         uint16_t dport, uint64_t cookie) {
    ix_cmd c{};
    c.op = IX_CMD_UDP_SEND;
    c.cookie = cookie;
    c.u.udp_send.data = data;
    c.u.udp_send.len = len;
    c.u.udp_send.src_port = sport;
    c.u.udp_send.dst = ix_endpoint{dst, dport, 0};
    return c;
  }
  static ix_cmd bind_cmd(uint16_t port) {
    ix_cmd c{};
    c.op = IX_CMD_UDP_BIND;
    c.u.udp_bind.port = port;
    return c;
  }
  static ix_cmd done_cmd(ix_buf_handle h) {
    ix_cmd c{};
    c.op = IX_CMD_UDP_RECV_DONE;
    c.u.recv_done.buf = h;
    return c;
  }
  static std::vector<ix_event> of_type(const std::vector<ix_event> &evs, uint16_t type) {
    std::vector<ix_event> out;
    for (auto &e : evs)
      if (e.type == type) out.push_back(e);
    return out;
  }

  static constexpr uint32_t b_mbufs_ = 256;
  net::MacAddr mac_a_{{0x02, 0, 0, 0, 0, 0x0a}};
  net::MacAddr mac_b_{{0x02, 0, 0, 0, 0, 0x0b}};
  timing::ManualClock clock_;
  drivers::LoopWire wire_;
  drivers::LoopPort &port_a_;
  drivers::LoopPort &port_b_;
  core::ElasticThread ta_;
  core::ElasticThread tb_;
  api::LocalContext a_;
  api::LocalContext b_;
  std::vector<ix_event> ev_a_, ev_b_;
};

TEST_F(RunIoUdp, DatagramArrivesZeroCopyAndBufferIsReturned) {
  ASSERT_EQ(submit(b_, bind_cmd(7), ev_b_), IX_OK);
  const std::string msg = "hello, dataplane";
  ASSERT_EQ(submit(a_, send_cmd(msg.data(), msg.size(), 1000, kAddrB, 7, 42), ev_a_), IX_OK);
  pump();

  auto recv = of_type(ev_b_, IX_EV_UDP_RECV);
  ASSERT_EQ(recv.size(), 1u);
  const auto &r = recv[0].u.udp_recv;
  EXPECT_EQ(std::string(reinterpret_cast<const char *>(r.data), r.len), msg);
  EXPECT_EQ(r.src.addr, kAddrA);
  EXPECT_EQ(r.src.port, 1000);
  EXPECT_EQ(r.dst.addr, kAddrB);
  EXPECT_EQ(r.dst.port, 7);

  auto sent = of_type(ev_a_, IX_EV_UDP_SENT);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].cookie, 42u);

  const uint32_t before = tb_.pool().available();
  EXPECT_EQ(submit(b_, done_cmd(r.buf), ev_b_), IX_OK);
  EXPECT_EQ(tb_.pool().available(), before + 1);
  // The handle is stale now; a forged one never matches.
  EXPECT_EQ(submit(b_, done_cmd(r.buf), ev_b_), IX_EBADH);
  EXPECT_EQ(submit(b_, done_cmd(0xdeadbeefcafef00dull), ev_b_), IX_EBADH);
  EXPECT_EQ(submit(b_, done_cmd(r.buf & 0x0000ffffffffffffull), ev_b_), IX_EBADH);
}

TEST_F(RunIoUdp, SendReadsApplicationMemoryAtTransmitTime) {
  // The first datagram waits for ARP. Changing the buffer before it leaves
  // shows that udp_send did not copy it: the peer sees the new bytes. (The
  // contract forbids changing it before IX_EV_UDP_SENT, and the UDP checksum
  // was computed at send time; swapping two aligned 16-bit words keeps that
  // one's-complement sum valid, so the datagram still arrives.)
  ASSERT_EQ(submit(b_, bind_cmd(9), ev_b_), IX_OK);
  char buf[8] = {'o', 'r', 'i', 'g', 'i', 'n', 'a', 'l'};
  ix_cmd c = send_cmd(buf, sizeof buf, 2000, kAddrB, 9, 7);
  std::vector<ix_event> evs;
  // Submit without letting b answer ARP yet.
  ix_event tmp[8];
  ASSERT_EQ(ix_run_io(&a_, &c, 1, tmp, 8), 0);
  ASSERT_EQ(c.result, IX_OK);
  std::memcpy(buf, "igorinal", 8);
  pump();
  auto recv = of_type(ev_b_, IX_EV_UDP_RECV);
  ASSERT_EQ(recv.size(), 1u);
  EXPECT_EQ(std::string(reinterpret_cast<const char *>(recv[0].u.udp_recv.data), 8), "igorinal");
  ASSERT_EQ(of_type(ev_a_, IX_EV_UDP_SENT).size(), 1u);
}

TEST_F(RunIoUdp, CommandErrorsAreReported) {
  EXPECT_EQ(submit(b_, bind_cmd(7), ev_b_), IX_OK);
  EXPECT_EQ(submit(b_, bind_cmd(7), ev_b_), IX_EADDRINUSE);
  EXPECT_EQ(submit(b_, bind_cmd(0), ev_b_), IX_EINVAL);
  ix_cmd unbind{};
  unbind.op = IX_CMD_UDP_UNBIND;
  unbind.u.udp_bind.port = 8;
  EXPECT_EQ(submit(b_, unbind, ev_b_), IX_EINVAL);
  ix_cmd bogus{};
  bogus.op = 999;
  EXPECT_EQ(submit(a_, bogus, ev_a_), IX_EOPNOTSUPP);
  char data[2000] = {};
  EXPECT_EQ(submit(a_, send_cmd(data, 10, 1000, kAddrB, 0, 1), ev_a_), IX_EINVAL);
  EXPECT_EQ(submit(a_, send_cmd(data, 10, 0, kAddrB, 7, 1), ev_a_), IX_EINVAL);
  EXPECT_EQ(submit(a_, send_cmd(data, 10, 1000, 0, 7, 1), ev_a_), IX_EINVAL);
  EXPECT_EQ(submit(a_, send_cmd(nullptr, 10, 1000, kAddrB, 7, 1), ev_a_), IX_EINVAL);
  EXPECT_EQ(submit(a_, send_cmd(data, 1473, 1000, kAddrB, 7, 1), ev_a_), IX_EMSGSIZE);
  // A failed send produces no IX_EV_UDP_SENT.
  pump();
  EXPECT_TRUE(of_type(ev_a_, IX_EV_UDP_SENT).empty());
  EXPECT_EQ(submit(a_, send_cmd(data, 1472, 1000, kAddrB, 7, 1), ev_a_), IX_OK);
}

TEST_F(RunIoUdp, EverySizeEchoedIntact) {
  // b echoes from the received buffer (zero copy both ways), a verifies.
  ASSERT_EQ(submit(b_, bind_cmd(7), ev_b_), IX_OK);
  ASSERT_EQ(submit(a_, bind_cmd(5000), ev_a_), IX_OK);
  std::vector<uint8_t> payload(1472);
  for (uint32_t size = 1; size <= 1472; size += (size < 64 ? 1 : 37)) {
    for (uint32_t i = 0; i < size; ++i) payload[i] = static_cast<uint8_t>(size * 31 + i);
    ev_a_.clear();
    ev_b_.clear();
    ASSERT_EQ(submit(a_, send_cmd(payload.data(), size, 5000, kAddrB, 7, size), ev_a_), IX_OK);
    pump(2);
    auto in = of_type(ev_b_, IX_EV_UDP_RECV);
    ASSERT_EQ(in.size(), 1u) << "size " << size;
    const auto &r = in[0].u.udp_recv;
    std::vector<ix_event> b_events;
    ASSERT_EQ(submit(b_, send_cmd(r.data, r.len, 7, r.src.addr, r.src.port, r.buf), b_events),
              IX_OK);
    pump(2);
    for (auto &e : of_type(ev_b_, IX_EV_UDP_SENT)) submit(b_, done_cmd(e.cookie), b_events);
    for (auto &e : of_type(b_events, IX_EV_UDP_SENT)) submit(b_, done_cmd(e.cookie), b_events);
    auto back = of_type(ev_a_, IX_EV_UDP_RECV);
    ASSERT_EQ(back.size(), 1u) << "size " << size;
    const auto &e = back[0].u.udp_recv;
    ASSERT_EQ(e.len, size);
    EXPECT_EQ(std::memcmp(e.data, payload.data(), size), 0) << "size " << size;
    submit(a_, done_cmd(e.buf), ev_a_);
  }
  // Every buffer went back: nothing leaked on either side.
  pump();
  EXPECT_EQ(tb_.pool().available(), tb_.pool().capacity());
}

TEST_F(RunIoUdp, HeldBuffersExhaustThePoolAndTrafficRecovers) {
  // b never returns buffers: its pool drains, the NIC counts the drops, and
  // nothing crashes. Returning them lets traffic flow again.
  ASSERT_EQ(submit(b_, bind_cmd(7), ev_b_), IX_OK);
  char data[32] = {};
  for (int i = 0; i < 400; ++i) {
    ASSERT_EQ(submit(a_, send_cmd(data, sizeof data, 1000, kAddrB, 7, i), ev_a_), IX_OK);
    pump(1);
  }
  pump();
  auto held = of_type(ev_b_, IX_EV_UDP_RECV);
  EXPECT_LT(held.size(), 400u);
  EXPECT_GT(port_b_.stats(0).rx_nombuf, 0u);
  ev_b_.clear();
  for (auto &e : held) ASSERT_EQ(submit(b_, done_cmd(e.u.udp_recv.buf), ev_b_), IX_OK);
  ASSERT_EQ(submit(a_, send_cmd(data, sizeof data, 1000, kAddrB, 7, 999), ev_a_), IX_OK);
  pump();
  EXPECT_EQ(of_type(ev_b_, IX_EV_UDP_RECV).size(), 1u);
}

TEST_F(RunIoUdp, EventsAreKeptWhenTheApplicationLags) {
  ASSERT_EQ(submit(b_, bind_cmd(7), ev_b_), IX_OK);
  char data[16] = {};
  // Resolve b first: while ARP is pending only a few datagrams are held.
  ASSERT_EQ(submit(a_, send_cmd(data, sizeof data, 1000, kAddrB, 7, 1), ev_a_), IX_OK);
  pump();
  for (auto &e : of_type(ev_b_, IX_EV_UDP_RECV)) submit(b_, done_cmd(e.u.udp_recv.buf), ev_b_);
  std::vector<ix_cmd> cmds;
  for (int i = 0; i < 100; ++i) cmds.push_back(send_cmd(data, sizeof data, 1000, kAddrB, 7, i));
  ix_event none[1];
  ix_run_io(&a_, cmds.data(), cmds.size(), none, 0);
  // b takes no events at all for a while ...
  for (int i = 0; i < 10; ++i) {
    clock_.advance(20'000);
    ix_run_io(&a_, nullptr, 0, none, 0);
    ix_run_io(&b_, nullptr, 0, none, 0);
  }
  EXPECT_GT(b_.pending_events(), 0u);
  // ... then drains them all, 7 at a time: every datagram is there once.
  size_t got = 0;
  for (int i = 0; i < 100 && got < 100; ++i) {
    ix_event evs[7];
    int n = ix_run_io(&b_, nullptr, 0, evs, 7);
    for (int k = 0; k < n; ++k) got += evs[k].type == IX_EV_UDP_RECV;
  }
  EXPECT_EQ(got, 100u);
}

TEST_F(RunIoUdp, ApplicationTimerFires) {
  ix_cmd t{};
  t.op = IX_CMD_TIMER_ARM;
  t.cookie = 77;
  t.u.timer_arm.delay_ns = 1'000'000;
  ASSERT_EQ(submit(a_, t, ev_a_), IX_OK);
  clock_.advance(500'000);
  collect(a_, ev_a_);
  EXPECT_TRUE(of_type(ev_a_, IX_EV_TIMER).empty());
  clock_.advance(600'000);
  collect(a_, ev_a_);
  auto fired = of_type(ev_a_, IX_EV_TIMER);
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0].cookie, 77u);
}

TEST_F(RunIoUdp, StatusNamesAreKnown) {
  EXPECT_STREQ(ix_status_name(IX_OK), "OK");
  EXPECT_STREQ(ix_status_name(IX_EBADH), "BADH");
  EXPECT_STREQ(ix_status_name(IX_ECONNRESET), "CONNRESET");
  EXPECT_STREQ(ix_status_name(IX_ETIMEDOUT), "TIMEDOUT");
  EXPECT_STREQ(ix_status_name(-1000), "UNKNOWN");
  EXPECT_EQ(ix_run_io(nullptr, nullptr, 0, nullptr, 0), IX_EINVAL);
}

// A clock that counts how often the dataplane reads it.
class CountingClock final : public timing::Clock {
 public:
  uint64_t now_ns() const override {
    ++reads;
    return inner.now_ns();
  }
  timing::ManualClock inner;
  mutable uint64_t reads = 0;
};

// One clock read per run_io call, however much happens in it (commands,
// frames in, timers, frames out): the stack and the timers see the time read
// when the call began.
TEST(RunIoClock, OneClockReadPerCall) {
  timing::ManualClock wire_clock;
  CountingClock clock_a, clock_b;
  drivers::LoopWire wire(wire_clock);
  const net::MacAddr mac_a{{0x02, 0, 0, 0, 0, 0x0a}}, mac_b{{0x02, 0, 0, 0, 0, 0x0b}};
  auto &port_a = wire.add_port({.name = "a", .mac = mac_a, .queues = 1});
  auto &port_b = wire.add_port({.name = "b", .mac = mac_b, .queues = 1});
  core::ElasticThread ta(thread_config(0, mac_a, net::Ipv4Addr{kAddrA}), port_a, clock_a);
  core::ElasticThread tb(thread_config(1, mac_b, net::Ipv4Addr{kAddrB}), port_b, clock_b);
  api::LocalContext a(ta, nullptr), b(tb, nullptr);

  ix_cmd bind{};
  bind.op = IX_CMD_UDP_BIND;
  bind.u.udp_bind.port = 7;
  ix_event evs[64];
  ASSERT_EQ(ix_run_io(&b, &bind, 1, evs, 64), 0);
  ASSERT_EQ(bind.result, IX_OK);

  const char msg[] = "tick";
  uint64_t received = 0;
  for (int round = 0; round < 50; ++round) {
    ix_cmd send{};
    send.op = IX_CMD_UDP_SEND;
    send.u.udp_send.data = msg;
    send.u.udp_send.len = sizeof msg;
    send.u.udp_send.src_port = 1000;
    send.u.udp_send.dst = ix_endpoint{kAddrB, 7, 0};
    const uint64_t before_a = clock_a.reads, before_b = clock_b.reads;
    const int na = ix_run_io(&a, &send, 1, evs, 64);
    ASSERT_GE(na, 0);
    EXPECT_EQ(clock_a.reads - before_a, 1u) << "round " << round;
    const int nb = ix_run_io(&b, nullptr, 0, evs, 64);
    ASSERT_GE(nb, 0);
    EXPECT_EQ(clock_b.reads - before_b, 1u) << "round " << round;
    std::vector<ix_cmd> done;
    for (int i = 0; i < nb; ++i) {
      if (evs[i].type != IX_EV_UDP_RECV) continue;
      ++received;
      ix_cmd d{};
      d.op = IX_CMD_UDP_RECV_DONE;
      d.u.recv_done.buf = evs[i].u.udp_recv.buf;
      done.push_back(d);
    }
    if (!done.empty()) {
      ASSERT_GE(ix_run_io(&b, done.data(), done.size(), evs, 64), 0);
    }
    clock_a.inner.advance(50'000);  // timers (ARP retries) come due too
    clock_b.inner.advance(50'000);
    wire_clock.advance(50'000);
  }
  EXPECT_GT(received, 40u) << "the datagrams went through";
}

}  // namespace
}  // namespace ix
