// Several elastic threads on one multi-queue port: ARP bindings one thread
// learns reach its siblings, so a thread whose ARP reply landed on another
// thread's queue still resolves and sends.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "api/io_context.hh"
#include "core/elastic_thread.hh"
#include "core/runtime.hh"
#include "drivers/loop/loop_wire.hh"
#include "test_frames.hh"
#include "timing/clock.hh"

namespace ix {
namespace {

core::ElasticThreadConfig config_for(unsigned id, uint16_t queue, net::MacAddr mac,
                                     net::Ipv4Addr addr) {
  core::ElasticThreadConfig c;
  c.id = id;
  c.queue = queue;
  c.pool.count = 512;
  c.pool.try_huge_pages = false;
  c.stack.mac = mac;
  c.stack.addr = addr;
  c.stack.prefix_len = 24;
  c.stack.gratuitous_arp = false;
  return c;
}

class SiblingThreads : public ::testing::TestWithParam<bool> {};

TEST_P(SiblingThreads, ArpReplyOnAnotherQueueResolvesTheAskingThread) {
  const bool share = GetParam();
  const net::MacAddr mac_a{{0x02, 0, 0, 0, 0, 0x0a}}, mac_b{{0x02, 0, 0, 0, 0, 0x0b}};
  const auto ip_a = net::ipv4(10, 1, 0, 1), ip_b = net::ipv4(10, 1, 0, 2);
  timing::ManualClock clock;
  drivers::LoopWire wire(clock);
  auto &port_a = wire.add_port({.name = "a", .mac = mac_a, .queues = 1});
  auto &port_b = wire.add_port({.name = "b", .mac = mac_b, .queues = 2});
  core::ElasticThread a(config_for(0, 0, mac_a, ip_a), port_a, clock);
  core::ElasticThread b0(config_for(0, 0, mac_b, ip_b), port_b, clock);
  core::ElasticThread b1(config_for(1, 1, mac_b, ip_b), port_b, clock);
  core::ArpRing b0_to_b1(64), b1_to_b0(64);
  if (share) {
    b0.connect_siblings({&b0_to_b1}, {&b1_to_b0});
    b1.connect_siblings({&b1_to_b0}, {&b0_to_b1});
  }
  api::LocalContext ctx_a(a, nullptr), ctx_b1(b1, nullptr);

  ix_cmd bind{};
  bind.op = IX_CMD_UDP_BIND;
  bind.u.udp_bind.port = 9;
  ix_event evs[16];
  ASSERT_EQ(ix_run_io(&ctx_a, &bind, 1, evs, 16), 0);
  ASSERT_EQ(bind.result, IX_OK);

  // Thread b1 sends; its ARP request goes out, and a's reply (not IP, so no
  // RSS hash) lands on port b's queue 0, which thread b0 owns.
  const char msg[] = "via sibling";
  ix_cmd send{};
  send.op = IX_CMD_UDP_SEND;
  send.u.udp_send.data = msg;
  send.u.udp_send.len = sizeof msg;
  send.u.udp_send.src_port = 4000;
  send.u.udp_send.dst = ix_endpoint{ip_a.v, 9, 0};
  ix_run_io(&ctx_b1, &send, 1, evs, 16);
  ASSERT_EQ(send.result, IX_OK);

  int received = 0;
  for (int round = 0; round < 10; ++round) {
    clock.advance(50'000);
    int n = ix_run_io(&ctx_a, nullptr, 0, evs, 16);
    for (int i = 0; i < n; ++i) received += evs[i].type == IX_EV_UDP_RECV;
    b0.poll();
    ix_run_io(&ctx_b1, nullptr, 0, evs, 16);
  }
  EXPECT_EQ(b0.stack().counters().arp_replies_rx, 1u);
  EXPECT_EQ(b1.stack().counters().arp_replies_rx, 0u);
  if (share) {
    EXPECT_EQ(received, 1);
    net::MacAddr learned;
    EXPECT_TRUE(b1.stack().arp_lookup(ip_a, &learned));
    EXPECT_EQ(learned, mac_a);
  } else {
    // Without sharing the asking thread never hears the answer.
    EXPECT_EQ(received, 0);
    EXPECT_FALSE(b1.stack().arp_lookup(ip_a, nullptr));
  }
}

INSTANTIATE_TEST_SUITE_P(WithAndWithoutSharing, SiblingThreads, ::testing::Bool());

// An idle thread yields the CPU once per streak of empty polls (so kernel
// work sharing its core is not starved), and never while frames arrive.
TEST(ElasticThreadIdle, YieldsOncePerStreakOfEmptyPolls) {
  const net::MacAddr mac_a{{0x02, 0, 0, 0, 0, 0x0a}}, mac_b{{0x02, 0, 0, 0, 0, 0x0b}};
  timing::ManualClock clock;
  drivers::LoopWire wire(clock);
  wire.add_port({.name = "a", .mac = mac_a, .queues = 1});
  auto &port_b = wire.add_port({.name = "b", .mac = mac_b, .queues = 1});
  auto cfg = config_for(0, 0, mac_b, net::ipv4(10, 1, 0, 2));
  cfg.idle_polls_before_yield = 8;
  core::ElasticThread t(cfg, port_b, clock);
  for (int i = 0; i < 7; ++i) t.poll();
  EXPECT_EQ(t.stats().idle_yields, 0u);
  t.poll();
  EXPECT_EQ(t.stats().idle_yields, 1u);
  for (int i = 0; i < 16; ++i) t.poll();
  EXPECT_EQ(t.stats().idle_yields, 3u);

  cfg.idle_polls_before_yield = 0;  // dedicated cores: never yield
  timing::ManualClock clock2;
  drivers::LoopWire wire2(clock2);
  auto &port_c = wire2.add_port({.name = "c", .mac = mac_b, .queues = 1});
  core::ElasticThread never(cfg, port_c, clock2);
  for (int i = 0; i < 100; ++i) never.poll();
  EXPECT_EQ(never.stats().idle_yields, 0u);
  EXPECT_EQ(never.stats().idle_polls, 100u);
}

// The core's load in time, not polls: the time from a poll that found
// frames to the next poll is busy; idle polls add only to loop_ns.
TEST(ElasticThreadLoad, BusyTimeFollowsPollsThatFoundFrames) {
  const net::MacAddr mac_a{{0x02, 0, 0, 0, 0, 0x0a}}, mac_b{{0x02, 0, 0, 0, 0, 0x0b}};
  timing::ManualClock clock;
  drivers::LoopWire wire(clock);
  auto &port_a = wire.add_port({.name = "a", .mac = mac_a, .queues = 1});
  auto &port_b = wire.add_port({.name = "b", .mac = mac_b, .queues = 1});
  mem::MbufPool pool({.count = 64, .try_huge_pages = false, .name = "sender"});
  port_a.set_rx_pool(0, &pool);
  core::ElasticThread t(config_for(0, 0, mac_b, net::ipv4(10, 1, 0, 2)), port_b, clock);
  t.poll();  // idle: starts the clock
  clock.advance(5'000);
  test_frames::UdpSpec spec;
  spec.dst_mac = mac_b;
  spec.src_mac = mac_a;
  spec.dst_ip = net::ipv4(10, 1, 0, 2);
  spec.src_ip = net::ipv4(10, 1, 0, 1);
  mem::Mbuf *m = test_frames::to_mbuf(pool, test_frames::udp_frame(spec));
  ASSERT_EQ(port_a.tx_burst(0, &m, 1), 1);
  ASSERT_EQ(t.poll(), 1u);  // busy from here...
  clock.advance(7'000);
  EXPECT_EQ(t.poll(), 0u);  // ...to here: 7 us
  clock.advance(3'000);
  t.poll();
  EXPECT_EQ(t.stats().busy_ns, 7'000u);
  EXPECT_EQ(t.stats().loop_ns, 15'000u);
}

TEST(ElasticThreadIdle, AutoYieldsOnlyWhenFramesPassThroughTheKernel) {
  drivers::DeviceCaps kernel, bypass;
  kernel.kernel_path = true;
  EXPECT_EQ(core::idle_polls_before_yield(-1, kernel), 64u);  // AF_XDP: let softirqs run
  EXPECT_EQ(core::idle_polls_before_yield(-1, bypass), 0u);   // memif, NICs, loop: never
  EXPECT_EQ(core::idle_polls_before_yield(0, kernel), 0u);    // asked: never
  EXPECT_EQ(core::idle_polls_before_yield(10, bypass), 10u);  // asked: every 10
  timing::ManualClock clock;
  drivers::LoopWire wire(clock);
  EXPECT_FALSE(
      wire.add_port({.name = "a", .mac = {{0x02, 0, 0, 0, 0, 1}}, .queues = 1}).caps().kernel_path);
}

TEST(SpscRing, DeliversInOrderAndRefusesWhenFull) {
  core::SpscRing<int> ring(4);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(ring.push(i));
  EXPECT_FALSE(ring.push(99));
  int v;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(ring.pop(v));
    EXPECT_EQ(v, i);
  }
  EXPECT_FALSE(ring.pop(v));
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(ring.push(i));
    ASSERT_TRUE(ring.pop(v));
    EXPECT_EQ(v, i);
  }
}

}  // namespace
}  // namespace ix
