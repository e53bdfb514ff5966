// The in-process wire: delivery, RSS steering, faults, buffer exhaustion,
// scatter-gather TX, bad input and concurrent senders.
#include "drivers/loop/loop_wire.hh"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "net/rss.hh"
#include "test_frames.hh"
#include "timing/clock.hh"

namespace ix::drivers {
namespace {

using mem::Mbuf;
using mem::MbufPool;
using test_frames::UdpSpec;

net::MacAddr mac(uint8_t n) { return net::MacAddr{{0x02, 0, 0, 0, 0, n}}; }
net::Ipv4Addr ip(uint8_t n) { return net::ipv4(10, 0, 0, n); }

mem::MbufPoolConfig pool_cfg(uint32_t count, uint16_t data_size = 2048) {
  mem::MbufPoolConfig c;
  c.count = count;
  c.data_size = data_size;
  c.try_huge_pages = false;
  return c;
}

LoopPortConfig port_cfg(uint8_t n, uint16_t queues = 1) {
  LoopPortConfig c;
  c.name = "loop" + std::to_string(n);
  c.mac = mac(n);
  c.queues = queues;
  return c;
}

// A UDP frame from host `from` to host `to` carrying sequence number `seq`.
UdpSpec udp(uint8_t from, uint8_t to, uint16_t sport, uint16_t dport, uint32_t seq = 0) {
  UdpSpec s;
  s.src_mac = mac(from);
  s.dst_mac = mac(to);
  s.src_ip = ip(from);
  s.dst_ip = ip(to);
  s.src_port = sport;
  s.dst_port = dport;
  s.payload = test_frames::seq_payload(seq);
  return s;
}

struct Received {
  std::vector<uint8_t> bytes;
  uint32_t rss_hash;
  bool hash_valid;
  uint16_t rx_queue;
  uint16_t segs;
};

class LoopWireTest : public ::testing::Test {
 protected:
  // Gives each RX queue of `port` its own pool.
  void give_pools(LoopPort &port, uint32_t count = 512, uint16_t data_size = 2048) {
    for (uint16_t q = 0; q < port.caps().rx_queues; ++q) {
      pools_.push_back(std::make_unique<MbufPool>(pool_cfg(count, data_size)));
      port.set_rx_pool(q, pools_.back().get());
    }
  }

  bool send(LoopPort &port, std::span<const uint8_t> frame, uint16_t q = 0) {
    Mbuf *m = test_frames::to_mbuf(tx_pool_, frame);
    if (m == nullptr) return false;
    if (port.tx_burst(q, &m, 1) == 1) return true;
    MbufPool::free_chain(m);
    return false;
  }
  bool send(LoopPort &port, const UdpSpec &s, uint16_t q = 0) {
    return send(port, test_frames::udp_frame(s), q);
  }

  static std::vector<Received> drain(LoopPort &port, uint16_t q) {
    std::vector<Received> out;
    Mbuf *burst[32];
    for (;;) {
      const uint16_t n = port.rx_burst(q, burst, 32);
      if (n == 0) return out;
      for (uint16_t i = 0; i < n; ++i) {
        Mbuf *m = burst[i];
        out.push_back({test_frames::bytes_of(m), m->rss_hash,
                       (m->ol_flags & mem::kRxRssHashValid) != 0, m->rx_queue, m->nb_segs});
        MbufPool::free_chain(m);
      }
    }
  }
  static std::vector<Received> drain_all(LoopPort &port) {
    std::vector<Received> out;
    for (uint16_t q = 0; q < port.caps().rx_queues; ++q) {
      auto part = drain(port, q);
      out.insert(out.end(), part.begin(), part.end());
    }
    return out;
  }

  static std::vector<uint32_t> seqs(const std::vector<Received> &rx) {
    std::vector<uint32_t> out;
    for (const auto &r : rx) out.push_back(test_frames::seq_of(r.bytes));
    return out;
  }

  timing::ManualClock clock_;
  MbufPool tx_pool_{pool_cfg(1024, 4096)};
  std::vector<std::unique_ptr<MbufPool>> pools_;
};

// ---- delivery ----

TEST_F(LoopWireTest, UnicastDeliversExactBytesToPeer) {
  LoopWire wire(clock_);
  LoopPort &a = wire.add_port(port_cfg(1));
  LoopPort &b = wire.add_port(port_cfg(2));
  give_pools(a);
  give_pools(b);
  const auto frame = test_frames::udp_frame(udp(1, 2, 1000, 2000, 77));
  ASSERT_TRUE(send(a, frame));
  EXPECT_EQ(tx_pool_.available(), tx_pool_.capacity());  // the sent mbuf was freed

  auto rx = drain(b, 0);
  ASSERT_EQ(rx.size(), 1u);
  EXPECT_EQ(rx[0].bytes, frame);
  EXPECT_TRUE(test_frames::udp_checksum_ok(rx[0].bytes));
  EXPECT_TRUE(drain(a, 0).empty());
  EXPECT_EQ(a.stats(0).tx_packets, 1u);
  EXPECT_EQ(a.stats(0).tx_bytes, frame.size());
  EXPECT_EQ(b.stats(0).rx_packets, 1u);
  EXPECT_EQ(b.stats(0).rx_bytes, frame.size());
  EXPECT_EQ(pools_[1]->available(), pools_[1]->capacity());
}

TEST_F(LoopWireTest, ThreePortsUnicastReachesOnlyTheDestination) {
  LoopWire wire(clock_);
  LoopPort &a = wire.add_port(port_cfg(1));
  LoopPort &b = wire.add_port(port_cfg(2));
  LoopPort &c = wire.add_port(port_cfg(3));
  for (LoopPort *p : {&a, &b, &c}) give_pools(*p);
  ASSERT_TRUE(send(a, udp(1, 3, 1, 2, 5)));
  ASSERT_TRUE(send(c, udp(3, 2, 1, 2, 6)));
  EXPECT_TRUE(drain(a, 0).empty());
  auto at_b = drain(b, 0), at_c = drain(c, 0);
  ASSERT_EQ(at_b.size(), 1u);
  ASSERT_EQ(at_c.size(), 1u);
  EXPECT_EQ(test_frames::seq_of(at_b[0].bytes), 6u);
  EXPECT_EQ(test_frames::seq_of(at_c[0].bytes), 5u);
}

TEST_F(LoopWireTest, BroadcastAndMulticastReachEveryOtherPort) {
  LoopWire wire(clock_);
  LoopPort &a = wire.add_port(port_cfg(1));
  LoopPort &b = wire.add_port(port_cfg(2));
  LoopPort &c = wire.add_port(port_cfg(3));
  for (LoopPort *p : {&a, &b, &c}) give_pools(*p);
  const std::vector<uint8_t> arp_body(28, 0x01);
  const auto bcast = test_frames::eth_frame(net::MacAddr::broadcast(), mac(1),
                                            test_frames::kEtherTypeArp, arp_body);
  const auto mcast = test_frames::eth_frame(net::MacAddr{{0x01, 0x00, 0x5e, 0, 0, 1}}, mac(2),
                                            test_frames::kEtherTypeIpv4, arp_body);
  ASSERT_TRUE(send(a, bcast));
  ASSERT_TRUE(send(b, mcast));
  auto at_a = drain(a, 0), at_b = drain(b, 0), at_c = drain(c, 0);
  ASSERT_EQ(at_a.size(), 1u);  // only the multicast from b
  EXPECT_EQ(at_a[0].bytes, mcast);
  ASSERT_EQ(at_b.size(), 1u);  // only the broadcast from a
  EXPECT_EQ(at_b[0].bytes, bcast);
  ASSERT_EQ(at_c.size(), 2u);
  EXPECT_EQ(at_c[0].bytes, bcast);
  EXPECT_EQ(at_c[1].bytes, mcast);
}

TEST_F(LoopWireTest, UnknownDestinationIsCounted) {
  LoopWire wire(clock_);
  LoopPort &a = wire.add_port(port_cfg(1));
  LoopPort &b = wire.add_port(port_cfg(2));
  give_pools(b);
  ASSERT_TRUE(send(a, udp(1, 9, 1, 2)));
  EXPECT_TRUE(drain(b, 0).empty());
  EXPECT_EQ(a.queue_stats(0).tx_no_dest, 1u);
  EXPECT_EQ(a.stats(0).tx_packets, 1u);
}

TEST_F(LoopWireTest, CapsDescribeASoftwareChecksumRssNic) {
  LoopWire wire(clock_);
  LoopPortConfig cfg = port_cfg(1, 4);
  cfg.mtu = 9000;
  LoopPort &a = wire.add_port(cfg);
  const DeviceCaps &caps = a.caps();
  EXPECT_EQ(caps.rx_queues, 4);
  EXPECT_EQ(caps.tx_queues, 4);
  EXPECT_TRUE(caps.rss);
  EXPECT_TRUE(caps.rx_hash);
  EXPECT_EQ(caps.reta_size, 128);
  EXPECT_FALSE(caps.rx_ip_csum || caps.rx_l4_csum || caps.tx_ip_csum || caps.tx_l4_csum);
  EXPECT_TRUE(caps.tx_multi_seg);
  EXPECT_TRUE(caps.tx_external);
  EXPECT_FALSE(caps.zero_copy);
  EXPECT_EQ(caps.mtu, 9000);
  EXPECT_EQ(a.name(), "loop1");
  EXPECT_EQ(a.mac(), mac(1));
  ASSERT_EQ(a.rss_key().size(), 40u);
  EXPECT_EQ(std::memcmp(a.rss_key().data(), net::kDefaultRssKey.data(), 40), 0);
}

TEST_F(LoopWireTest, RejectsBadPortConfig) {
  LoopWire wire(clock_);
  wire.add_port(port_cfg(1));
  EXPECT_THROW(wire.add_port(port_cfg(1)), std::invalid_argument);  // duplicate MAC
  LoopPortConfig c = port_cfg(2);
  c.mac = net::MacAddr::broadcast();
  EXPECT_THROW(wire.add_port(c), std::invalid_argument);
  c = port_cfg(2);
  c.mac = net::MacAddr{};
  EXPECT_THROW(wire.add_port(c), std::invalid_argument);
  c = port_cfg(2, 0);
  EXPECT_THROW(wire.add_port(c), std::invalid_argument);
  c = port_cfg(2);
  c.ring_depth = 0;
  EXPECT_THROW(wire.add_port(c), std::invalid_argument);
  c = port_cfg(2);
  c.mtu = 20;
  EXPECT_THROW(wire.add_port(c), std::invalid_argument);
  c = port_cfg(2);
  c.reta_size = 0;
  EXPECT_THROW(wire.add_port(c), std::invalid_argument);
  EXPECT_EQ(wire.port_count(), 1u);
}

// ---- RSS steering ----

TEST_F(LoopWireTest, UdpFlowsLandOnTheQueueOfTheirHash) {
  LoopWire wire(clock_);
  LoopPort &a = wire.add_port(port_cfg(1));
  LoopPort &b = wire.add_port(port_cfg(2, 4));
  give_pools(b);
  const net::FlowGroupTable reta(128, 4);
  std::set<uint16_t> queues_used;
  for (uint16_t i = 0; i < 200; ++i) {
    const uint16_t sport = static_cast<uint16_t>(20000 + i * 7);
    ASSERT_TRUE(send(a, udp(1, 2, sport, 11211, i)));
    const uint32_t expect_hash =
        net::rss_hash_ipv4_l4(net::kDefaultRssKey, ip(1), ip(2), sport, 11211);
    const uint16_t expect_q = reta.queue_of(expect_hash);
    EXPECT_EQ(b.queue_of_hash(expect_hash), expect_q);
    auto rx = drain(b, expect_q);
    ASSERT_EQ(rx.size(), 1u) << "flow " << i << " not on queue " << expect_q;
    EXPECT_EQ(rx[0].rss_hash, expect_hash);
    EXPECT_TRUE(rx[0].hash_valid);
    EXPECT_EQ(rx[0].rx_queue, expect_q);
    EXPECT_EQ(test_frames::seq_of(rx[0].bytes), i);
    EXPECT_TRUE(drain_all(b).empty());
    queues_used.insert(expect_q);
  }
  EXPECT_EQ(queues_used.size(), 4u);
}

TEST_F(LoopWireTest, MovingAFlowGroupMovesTheFlow) {
  LoopWire wire(clock_);
  LoopPort &a = wire.add_port(port_cfg(1));
  LoopPort &b = wire.add_port(port_cfg(2, 4));
  give_pools(b);
  const uint32_t hash = net::rss_hash_ipv4_l4(net::kDefaultRssKey, ip(1), ip(2), 40000, 80);
  const uint16_t group = static_cast<uint16_t>(hash % 128);
  const uint16_t before = b.queue_of_hash(hash);
  const uint16_t after = static_cast<uint16_t>((before + 1) % 4);

  ASSERT_TRUE(send(a, udp(1, 2, 40000, 80, 1)));
  EXPECT_EQ(drain(b, before).size(), 1u);
  ASSERT_TRUE(b.assign_flow_group(group, after));
  EXPECT_EQ(b.flow_groups().queue_of_group(group), after);
  ASSERT_TRUE(send(a, udp(1, 2, 40000, 80, 2)));
  EXPECT_TRUE(drain(b, before).empty());
  auto rx = drain(b, after);
  ASSERT_EQ(rx.size(), 1u);
  EXPECT_EQ(rx[0].rx_queue, after);

  // A whole new table, e.g. the control plane shrinking to one core.
  net::FlowGroupTable all_on_3(128, 1);
  for (uint16_t g = 0; g < 128; ++g) all_on_3.assign(g, 3);
  ASSERT_TRUE(b.set_flow_groups(all_on_3));
  for (uint16_t i = 0; i < 20; ++i) ASSERT_TRUE(send(a, udp(1, 2, uint16_t(1000 + i), 80, i)));
  EXPECT_EQ(drain(b, 3).size(), 20u);

  // Bad updates change nothing.
  EXPECT_FALSE(b.assign_flow_group(128, 0));
  EXPECT_FALSE(b.assign_flow_group(0, 4));
  EXPECT_FALSE(b.set_flow_groups(net::FlowGroupTable(64, 4)));
  EXPECT_FALSE(b.set_flow_groups(net::FlowGroupTable(128, 5)));
  EXPECT_EQ(b.flow_groups().queue_of_group(0), 3);
  EXPECT_EQ(b.flow_groups().queue_of_group(127), 3);
}

TEST_F(LoopWireTest, NonIpv4GoesToQueueZeroWithoutHash) {
  LoopWire wire(clock_);
  LoopPort &a = wire.add_port(port_cfg(1));
  LoopPort &b = wire.add_port(port_cfg(2, 4));
  give_pools(b);
  // Move every flow group off queue 0 so that only the no-hash rule can put a frame there.
  net::FlowGroupTable off_zero(128, 1);
  for (uint16_t g = 0; g < 128; ++g) off_zero.assign(g, 1);
  ASSERT_TRUE(b.set_flow_groups(off_zero));
  const std::vector<uint8_t> body(28, 0);
  ASSERT_TRUE(send(a, test_frames::eth_frame(mac(2), mac(1), test_frames::kEtherTypeArp, body)));
  // IPv4 whose header claims options beyond the frame: no hash either.
  auto truncated = test_frames::udp_frame(udp(1, 2, 5, 6));
  truncated[test_frames::kEthLen] = 0x4f;  // IHL 60 bytes
  truncated.resize(test_frames::kEthLen + 40);
  ASSERT_TRUE(send(a, truncated));
  auto rx = drain(b, 0);
  ASSERT_EQ(rx.size(), 2u);
  for (const auto &r : rx) {
    EXPECT_FALSE(r.hash_valid);
    EXPECT_EQ(r.rx_queue, 0);
  }
}

TEST_F(LoopWireTest, FragmentsAndOtherProtocolsUseTheTwoTupleHash) {
  LoopWire wire(clock_);
  LoopPort &a = wire.add_port(port_cfg(1));
  LoopPort &b = wire.add_port(port_cfg(2, 4));
  give_pools(b);
  const uint32_t two_tuple = net::rss_hash_ipv4(net::kDefaultRssKey, ip(1), ip(2));
  UdpSpec frag = udp(1, 2, 3000, 4000);
  frag.frag = test_frames::kMoreFragments;
  ASSERT_TRUE(send(a, frag));
  test_frames::Ipv4Spec icmp;
  icmp.src_mac = mac(1);
  icmp.dst_mac = mac(2);
  icmp.src_ip = ip(1);
  icmp.dst_ip = ip(2);
  icmp.protocol = 1;
  const std::vector<uint8_t> echo(16, 0x08);
  ASSERT_TRUE(send(a, test_frames::ipv4_frame(icmp, echo)));
  auto rx = drain(b, b.queue_of_hash(two_tuple));
  ASSERT_EQ(rx.size(), 2u);
  for (const auto &r : rx) {
    EXPECT_TRUE(r.hash_valid);
    EXPECT_EQ(r.rss_hash, two_tuple);
  }
}

TEST_F(LoopWireTest, ConfiguredKeyIsUsed) {
  LoopWire wire(clock_);
  LoopPort &a = wire.add_port(port_cfg(1));
  LoopPortConfig cfg = port_cfg(2, 2);
  for (size_t i = 0; i < cfg.rss_key.size(); ++i) cfg.rss_key[i] = static_cast<uint8_t>(i * 37 + 1);
  LoopPort &b = wire.add_port(cfg);
  give_pools(b);
  ASSERT_TRUE(send(a, udp(1, 2, 555, 666)));
  auto rx = drain_all(b);
  ASSERT_EQ(rx.size(), 1u);
  EXPECT_EQ(rx[0].rss_hash, net::rss_hash_ipv4_l4(cfg.rss_key, ip(1), ip(2), 555, 666));
  EXPECT_NE(rx[0].rss_hash, net::rss_hash_ipv4_l4(net::kDefaultRssKey, ip(1), ip(2), 555, 666));
}

// ---- faults ----

struct FaultRun {
  std::vector<uint32_t> received;
  FaultStats faults;
};

FaultRun run_with_faults(const FaultConfig &f, uint32_t frames) {
  timing::ManualClock clock;
  LoopWire wire(clock, {.faults = f});
  LoopPort &a = wire.add_port(port_cfg(1));
  LoopPort &b = wire.add_port(port_cfg(2));
  MbufPool tx(pool_cfg(64)), rx(pool_cfg(256));
  b.set_rx_pool(0, &rx);
  FaultRun run;
  Mbuf *burst[32];
  for (uint32_t i = 0; i < frames; ++i) {
    Mbuf *m = test_frames::udp_mbuf(tx, udp(1, 2, 1, 2, i));
    EXPECT_EQ(a.tx_burst(0, &m, 1), 1);
    for (uint16_t n; (n = b.rx_burst(0, burst, 32)) != 0;)
      for (uint16_t k = 0; k < n; ++k) {
        run.received.push_back(test_frames::seq_of(test_frames::bytes_of(burst[k])));
        MbufPool::free_chain(burst[k]);
      }
  }
  run.faults = a.queue_stats(0).faults;
  return run;
}

TEST_F(LoopWireTest, DropRateIsCloseToConfigured) {
  const uint32_t kFrames = 10000;
  const FaultRun run = run_with_faults({.drop = 0.1, .seed = 7}, kFrames);
  const uint64_t lost = kFrames - run.received.size();
  EXPECT_EQ(run.faults.dropped, lost);
  EXPECT_GT(lost, 850u);  // 1000 expected, sd 30
  EXPECT_LT(lost, 1150u);
  EXPECT_TRUE(std::is_sorted(run.received.begin(), run.received.end()));
  EXPECT_EQ(run.faults.duplicated + run.faults.reordered + run.faults.corrupted, 0u);
}

TEST_F(LoopWireTest, FaultsAreRepeatableForASeed) {
  const FaultConfig f{.drop = 0.2, .duplicate = 0.1, .reorder = 0.1, .seed = 99};
  const FaultRun one = run_with_faults(f, 2000), two = run_with_faults(f, 2000);
  EXPECT_EQ(one.received, two.received);
  FaultConfig other = f;
  other.seed = 100;
  EXPECT_NE(run_with_faults(other, 2000).received, one.received);
}

TEST_F(LoopWireTest, DuplicateDeliversTwice) {
  const FaultRun run = run_with_faults({.duplicate = 1.0}, 50);
  ASSERT_EQ(run.received.size(), 100u);
  for (uint32_t i = 0; i < 50; ++i) {
    EXPECT_EQ(run.received[2 * i], i);
    EXPECT_EQ(run.received[2 * i + 1], i);
  }
  EXPECT_EQ(run.faults.duplicated, 50u);
}

TEST_F(LoopWireTest, ReorderSwapsWithTheNextFrame) {
  const FaultRun run = run_with_faults({.reorder = 1.0}, 6);
  // Every other frame is held (one is held at a time) and overtaken by the next.
  EXPECT_EQ(run.received, (std::vector<uint32_t>{1, 0, 3, 2, 5, 4}));
  EXPECT_EQ(run.faults.reordered, 3u);
}

TEST_F(LoopWireTest, ReorderWithGapAndFlushLosesNothing) {
  LoopWire wire(clock_, {.faults = {.reorder = 0.3, .reorder_gap = 3, .seed = 5}});
  LoopPort &a = wire.add_port(port_cfg(1));
  LoopPort &b = wire.add_port(port_cfg(2));
  give_pools(b);
  for (uint32_t i = 0; i < 300; ++i) ASSERT_TRUE(send(a, udp(1, 2, 1, 2, i)));
  a.flush_held(0);
  EXPECT_FALSE(a.flush_held(0));
  auto got = seqs(drain(b, 0));
  ASSERT_EQ(got.size(), 300u);
  EXPECT_FALSE(std::is_sorted(got.begin(), got.end()));
  // A held frame arrives right after the three frames that overtook it (the
  // last one may have been flushed early).
  size_t late = 0;
  for (size_t pos = 1; pos + 1 < got.size(); ++pos) {
    if (got[pos] > got[pos - 1]) continue;
    EXPECT_EQ(got[pos - 1] - got[pos], 3u) << "at position " << pos;
    ++late;
  }
  EXPECT_GT(late, 40u);
  std::vector<uint32_t> sorted = got;
  std::sort(sorted.begin(), sorted.end());
  for (uint32_t i = 0; i < 300; ++i) ASSERT_EQ(sorted[i], i);
  EXPECT_GT(a.queue_stats(0).faults.reordered, 50u);
}

TEST_F(LoopWireTest, CorruptFlipsExactlyOneBit) {
  LoopWire wire(clock_, {.faults = {.corrupt = 1.0, .seed = 3}});
  LoopPort &a = wire.add_port(port_cfg(1));
  LoopPort &b = wire.add_port(port_cfg(2));
  give_pools(b);
  const auto frame = test_frames::udp_frame(udp(1, 2, 1, 2, 0));
  const uint32_t kFrames = 200;
  for (uint32_t i = 0; i < kFrames; ++i) ASSERT_TRUE(send(a, frame));
  auto rx = drain(b, 0);
  std::set<size_t> bits;
  for (const auto &r : rx) {
    ASSERT_EQ(r.bytes.size(), frame.size());
    int flipped = 0;
    for (size_t k = 0; k < frame.size(); ++k) {
      const int d = std::popcount(static_cast<unsigned>(r.bytes[k] ^ frame[k]));
      if (d != 0)
        bits.insert(k * 8 + static_cast<size_t>(std::countr_zero(unsigned(r.bytes[k] ^ frame[k]))));
      flipped += d;
    }
    EXPECT_EQ(flipped, 1);
  }
  // A flipped destination MAC bit (48 of the frame's 464 bits) can send a frame nowhere.
  EXPECT_EQ(rx.size() + a.queue_stats(0).tx_no_dest, kFrames);
  EXPECT_GT(rx.size(), kFrames * 8 / 10);
  EXPECT_EQ(a.queue_stats(0).faults.corrupted, kFrames);
  EXPECT_GT(bits.size(), 50u);  // the bit is chosen at random
}

// A one-segment frame goes on the wire from the sender's own buffer (no
// gather copy): the wire must be done with that buffer when it releases it
// (the sender may reuse it at once), and a fault that flips a bit must flip
// it on the wire, not in that buffer, which the sender may still hold (a
// retransmission's data, an application's send region).
TEST_F(LoopWireTest, TheSendersBufferIsReadBeforeItsReleaseAndNeverWritten) {
  LoopWire wire(clock_, {.faults = {.corrupt = 1.0, .seed = 5}});
  LoopPort &a = wire.add_port(port_cfg(1));
  LoopPort &b = wire.add_port(port_cfg(2));
  give_pools(b);
  const auto frame = test_frames::udp_frame(udp(1, 2, 1, 2, 0));
  struct Sender {
    std::vector<uint8_t> buf;
    std::vector<uint8_t> original;
    int released = 0;
    int written_before_release = 0;
  } sender{{frame.begin(), frame.end()}, {frame.begin(), frame.end()}};
  const uint32_t kFrames = 50;
  for (uint32_t i = 0; i < kFrames; ++i) {
    sender.buf = sender.original;
    Mbuf *m = tx_pool_.alloc();
    ASSERT_NE(m, nullptr);
    m->attach_external(
        sender.buf.data(), static_cast<uint16_t>(sender.buf.size()),
        [](Mbuf *, void *arg) {
          auto *s = static_cast<Sender *>(arg);
          ++s->released;
          if (s->buf != s->original) ++s->written_before_release;
          std::fill(s->buf.begin(), s->buf.end(), uint8_t{0xee});  // reused at once
        },
        &sender, 0);
    ASSERT_EQ(m->next, nullptr);
    ASSERT_EQ(a.tx_burst(0, &m, 1), 1);
  }
  EXPECT_EQ(sender.released, static_cast<int>(kFrames));
  EXPECT_EQ(sender.written_before_release, 0) << "the wire flipped bits in the sender's buffer";
  EXPECT_EQ(a.queue_stats(0).faults.corrupted, kFrames);
  const auto rx = drain(b, 0);
  EXPECT_EQ(rx.size() + a.queue_stats(0).tx_no_dest, kFrames);
  // A flipped destination MAC bit (48 of the frame's bits) sends a frame
  // nowhere; the others arrive.
  EXPECT_GT(rx.size(), kFrames / 2);
  for (const auto &r : rx) {
    ASSERT_EQ(r.bytes.size(), frame.size());
    int flipped = 0;  // one bit off the original: not the reused buffer's bytes
    for (size_t k = 0; k < frame.size(); ++k)
      flipped += std::popcount(static_cast<unsigned>(r.bytes[k] ^ frame[k]));
    EXPECT_EQ(flipped, 1);
  }
}

TEST_F(LoopWireTest, DelayHoldsFramesUntilTheClockReachesTheirDueTime) {
  LoopWire wire(clock_, {.faults = {.delay = 1.0, .delay_ns = 1000}});
  LoopPort &a = wire.add_port(port_cfg(1));
  LoopPort &b = wire.add_port(port_cfg(2));
  give_pools(b);
  ASSERT_TRUE(send(a, udp(1, 2, 1, 2, 1)));
  clock_.advance(400);
  ASSERT_TRUE(send(a, udp(1, 2, 1, 2, 2)));  // due 400 ns after the first
  EXPECT_TRUE(drain(b, 0).empty());
  clock_.advance(599);
  EXPECT_TRUE(drain(b, 0).empty());
  clock_.advance(1);
  EXPECT_EQ(seqs(drain(b, 0)), std::vector<uint32_t>{1});
  clock_.advance(399);
  EXPECT_TRUE(drain(b, 0).empty());
  clock_.advance(1);
  EXPECT_EQ(seqs(drain(b, 0)), std::vector<uint32_t>{2});
  EXPECT_EQ(a.queue_stats(0).faults.delayed, 2u);
}

TEST_F(LoopWireTest, WireLatencyAppliesToEveryFrame) {
  LoopWire wire(clock_, {.latency_ns = 5000});
  LoopPort &a = wire.add_port(port_cfg(1));
  LoopPort &b = wire.add_port(port_cfg(2));
  give_pools(b);
  for (uint32_t i = 0; i < 3; ++i) ASSERT_TRUE(send(a, udp(1, 2, 1, 2, i)));
  clock_.advance(4999);
  EXPECT_TRUE(drain(b, 0).empty());
  clock_.advance(1);
  EXPECT_EQ(seqs(drain(b, 0)), (std::vector<uint32_t>{0, 1, 2}));
  EXPECT_EQ(a.queue_stats(0).faults.delayed, 0u);
}

TEST_F(LoopWireTest, PortFaultsOverrideWireFaults) {
  LoopWire wire(clock_, {.faults = {.drop = 1.0}});
  LoopPortConfig clean = port_cfg(1);
  clean.faults = FaultConfig{};
  LoopPort &a = wire.add_port(clean);
  LoopPort &b = wire.add_port(port_cfg(2));
  give_pools(a);
  give_pools(b);
  ASSERT_TRUE(send(a, udp(1, 2, 1, 2)));
  ASSERT_TRUE(send(b, udp(2, 1, 1, 2)));
  EXPECT_EQ(drain(b, 0).size(), 1u);
  EXPECT_TRUE(drain(a, 0).empty());
  EXPECT_EQ(b.queue_stats(0).faults.dropped, 1u);
}

// ---- buffers and bad input ----

TEST_F(LoopWireTest, ReceiverPoolExhaustionIsCountedAndRecovers) {
  LoopWire wire(clock_);
  LoopPort &a = wire.add_port(port_cfg(1));
  LoopPort &b = wire.add_port(port_cfg(2));
  MbufPool small(pool_cfg(8));
  b.set_rx_pool(0, &small);
  for (uint32_t i = 0; i < 20; ++i) ASSERT_TRUE(send(a, udp(1, 2, 1, 2, i)));
  Mbuf *burst[32];
  const uint16_t n = b.rx_burst(0, burst, 32);
  EXPECT_EQ(n, 8);
  EXPECT_EQ(b.stats(0).rx_nombuf, 12u);
  EXPECT_EQ(b.stats(0).rx_packets, 8u);
  EXPECT_EQ(small.stats().alloc_failures, 12u);
  for (uint16_t i = 0; i < n; ++i) MbufPool::free_chain(burst[i]);
  for (uint32_t i = 0; i < 5; ++i) ASSERT_TRUE(send(a, udp(1, 2, 1, 2, 100 + i)));
  EXPECT_EQ(seqs(drain(b, 0)), (std::vector<uint32_t>{100, 101, 102, 103, 104}));
}

TEST_F(LoopWireTest, FullRingDropsAndCounts) {
  LoopWire wire(clock_);
  LoopPort &a = wire.add_port(port_cfg(1));
  LoopPortConfig cfg = port_cfg(2);
  cfg.ring_depth = 16;
  LoopPort &b = wire.add_port(cfg);
  give_pools(b);
  for (uint32_t i = 0; i < 20; ++i) ASSERT_TRUE(send(a, udp(1, 2, 1, 2, i)));
  auto got = seqs(drain(b, 0));
  ASSERT_EQ(got.size(), 16u);
  EXPECT_EQ(got.front(), 0u);
  EXPECT_EQ(got.back(), 15u);
  EXPECT_EQ(b.stats(0).rx_dropped, 4u);
  EXPECT_EQ(b.queue_stats(0).rx_ring_full, 4u);
  // The ring wraps around cleanly.
  for (uint32_t lap = 0; lap < 5; ++lap) {
    for (uint32_t i = 0; i < 16; ++i) ASSERT_TRUE(send(a, udp(1, 2, 1, 2, i)));
    EXPECT_EQ(drain(b, 0).size(), 16u);
  }
}

struct ReleaseLog {
  int calls = 0;
};
void count_release(Mbuf *, void *arg) { ++static_cast<ReleaseLog *>(arg)->calls; }

TEST_F(LoopWireTest, ChainedAndExternalSegmentsAreGathered) {
  LoopWire wire(clock_);
  LoopPort &a = wire.add_port(port_cfg(1));
  LoopPort &b = wire.add_port(port_cfg(2));
  give_pools(b);
  UdpSpec spec = udp(1, 2, 7, 8);
  spec.payload.resize(600);
  for (size_t i = 0; i < spec.payload.size(); ++i) spec.payload[i] = static_cast<uint8_t>(i * 13);
  const auto frame = test_frames::udp_frame(spec);
  // Headers in a pool buffer, the middle in application memory, the tail in another pool buffer.
  const std::vector<uint8_t> app_memory(frame.begin() + 42, frame.begin() + 442);
  ReleaseLog log;
  Mbuf *hdr = test_frames::to_mbuf(tx_pool_, std::span(frame).subspan(0, 42));
  Mbuf *ext = tx_pool_.alloc();
  ext->attach_external(app_memory.data(), static_cast<uint16_t>(app_memory.size()), count_release,
                       &log, 1);
  Mbuf *tail = test_frames::to_mbuf(tx_pool_, std::span(frame).subspan(442));
  hdr->chain(ext);
  hdr->chain(tail);
  ASSERT_EQ(hdr->pkt_len, frame.size());
  ASSERT_EQ(a.tx_burst(0, &hdr, 1), 1);
  EXPECT_EQ(log.calls, 1);
  EXPECT_EQ(tx_pool_.available(), tx_pool_.capacity());
  auto rx = drain(b, 0);
  ASSERT_EQ(rx.size(), 1u);
  EXPECT_EQ(rx[0].bytes, frame);
  EXPECT_EQ(rx[0].segs, 1);
  EXPECT_TRUE(test_frames::udp_checksum_ok(rx[0].bytes));
  EXPECT_EQ(log.calls, 1);
}

TEST_F(LoopWireTest, ReceiveScattersAFrameLargerThanOneBuffer) {
  LoopWire wire(clock_);
  LoopPort &a = wire.add_port(port_cfg(1));
  LoopPort &b = wire.add_port(port_cfg(2));
  give_pools(b, 64, 256);
  UdpSpec spec = udp(1, 2, 7, 8);
  spec.payload.assign(1000, 0x3c);
  const auto frame = test_frames::udp_frame(spec);
  ASSERT_TRUE(send(a, frame));
  auto rx = drain(b, 0);
  ASSERT_EQ(rx.size(), 1u);
  EXPECT_EQ(rx[0].segs, 5);  // 1042 bytes over 256-byte buffers
  EXPECT_EQ(rx[0].bytes, frame);
  EXPECT_EQ(pools_[0]->available(), 64u);

  // Not enough buffers for the whole frame: dropped, partial chain returned.
  MbufPool tiny(pool_cfg(3, 256));
  b.set_rx_pool(0, &tiny);
  ASSERT_TRUE(send(a, frame));
  EXPECT_TRUE(drain(b, 0).empty());
  EXPECT_EQ(b.stats(0).rx_nombuf, 1u);
  EXPECT_EQ(tiny.available(), 3u);
}

TEST_F(LoopWireTest, MalformedTxIsRefusedCountedAndFreed) {
  LoopWire wire(clock_);
  LoopPort &a = wire.add_port(port_cfg(1));
  LoopPort &b = wire.add_port(port_cfg(2));
  give_pools(b);
  ReleaseLog log;
  // Runt.
  const std::vector<uint8_t> runt(10, 0xff);
  ASSERT_TRUE(send(a, runt));
  // Oversize: 1500 + 18 is the largest frame.
  UdpSpec big = udp(1, 2, 1, 2);
  big.payload.assign(1500 + 18 - 42 + 1, 0);
  ASSERT_TRUE(send(a, test_frames::udp_frame(big)));
  big.payload.pop_back();
  ASSERT_TRUE(send(a, test_frames::udp_frame(big)));  // exactly the limit: carried
  // pkt_len that disagrees with the segments, with an external segment to release.
  static const uint8_t app[64] = {};
  Mbuf *bad = test_frames::udp_mbuf(tx_pool_, udp(1, 2, 1, 2));
  Mbuf *ext = tx_pool_.alloc();
  ext->attach_external(app, sizeof(app), count_release, &log, 0);
  bad->chain(ext);
  bad->pkt_len += 5;
  Mbuf *null_pkt = nullptr;
  Mbuf *burst[2] = {bad, null_pkt};
  EXPECT_EQ(a.tx_burst(0, burst, 2), 2);

  EXPECT_EQ(log.calls, 1);
  EXPECT_EQ(tx_pool_.available(), tx_pool_.capacity());
  const LoopQueueStats qs = a.queue_stats(0);
  EXPECT_EQ(qs.tx_runt, 1u);
  EXPECT_EQ(qs.tx_oversize, 1u);
  EXPECT_EQ(qs.tx_bad_chain, 2u);
  EXPECT_EQ(a.stats(0).tx_dropped, 4u);
  EXPECT_EQ(a.stats(0).tx_packets, 1u);
  EXPECT_EQ(drain(b, 0).size(), 1u);
}

TEST_F(LoopWireTest, SmallerMtuReceiverDropsGiantFrames) {
  LoopWire wire(clock_);
  LoopPortConfig jumbo = port_cfg(1);
  jumbo.mtu = 9000;
  LoopPort &a = wire.add_port(jumbo);
  LoopPort &b = wire.add_port(port_cfg(2));
  give_pools(b);
  UdpSpec big = udp(1, 2, 1, 2);
  big.payload.assign(3000, 1);
  ASSERT_TRUE(send(a, test_frames::udp_frame(big)));
  EXPECT_TRUE(drain_all(b).empty());
  EXPECT_EQ(b.stats(0).rx_dropped, 1u);
  EXPECT_EQ(b.queue_stats(0).rx_oversize, 1u);
}

TEST_F(LoopWireTest, BadQueueOrMissingPoolNeverCrashes) {
  LoopWire wire(clock_);
  LoopPort &a = wire.add_port(port_cfg(1, 2));
  LoopPort &b = wire.add_port(port_cfg(2));
  Mbuf *m = test_frames::udp_mbuf(tx_pool_, udp(1, 2, 1, 2, 42));
  EXPECT_EQ(a.tx_burst(2, &m, 1), 0);  // no such queue: caller keeps the mbuf
  EXPECT_EQ(m->in_use, 1);
  ASSERT_EQ(a.tx_burst(1, &m, 1), 1);
  Mbuf *burst[4];
  EXPECT_EQ(b.rx_burst(0, burst, 4), 0);  // no pool yet: the frame waits in the ring
  EXPECT_EQ(b.rx_burst(7, burst, 4), 0);
  EXPECT_EQ(b.stats(7).rx_packets, 0u);
  give_pools(b);
  EXPECT_EQ(seqs(drain(b, 0)), std::vector<uint32_t>{42});
  EXPECT_EQ(b.rx_burst(0, burst, 0), 0);
}

// ---- threads ----

// Two elastic threads, each owning one TX queue on port a and one RX queue on
// port b, send flows that hash to both RX queues, so each RX ring has two
// producers. Every frame must be received once or counted as dropped.
TEST_F(LoopWireTest, ConcurrentSendersAccountForEveryFrame) {
  constexpr uint32_t kPerThread = 20000;
  LoopWire wire(clock_);
  LoopPort &a = wire.add_port(port_cfg(1, 2));
  LoopPort &b = wire.add_port(port_cfg(2, 2));
  give_pools(b, 512);

  std::atomic<uint64_t> received{0};
  std::atomic<bool> timed_out{false};
  std::vector<std::vector<uint8_t>> seen(2, std::vector<uint8_t>(kPerThread, 0));
  std::mutex seen_mu;  // guards `seen` (test bookkeeping, not the wire)

  auto accounted = [&] {
    uint64_t total = received.load();
    for (uint16_t q = 0; q < 2; ++q) total += b.stats(q).rx_dropped + b.stats(q).rx_nombuf;
    return total;
  };
  auto worker = [&](uint16_t q) {
    MbufPool tx(pool_cfg(256));
    Mbuf *burst[32];
    auto poll_rx = [&] {
      const uint16_t n = b.rx_burst(q, burst, 32);
      for (uint16_t k = 0; k < n; ++k) {
        const auto bytes = test_frames::bytes_of(burst[k]);
        const uint32_t tag = test_frames::seq_of(bytes);
        EXPECT_TRUE(test_frames::udp_checksum_ok(bytes));
        EXPECT_EQ(burst[k]->rx_queue, q);
        {
          std::lock_guard lock(seen_mu);
          const uint32_t from = tag >> 24, seq = tag & 0xffffff;
          if (from < 2 && seq < kPerThread) ++seen[from][seq];
        }
        MbufPool::free_chain(burst[k]);
      }
      received += n;
    };
    for (uint32_t i = 0; i < kPerThread;) {
      Mbuf *out[16];
      uint16_t n = 0;
      for (; n < 16 && i < kPerThread; ++n, ++i) {
        const auto sport = static_cast<uint16_t>(1000 + (i % 64) * 3 + q);
        out[n] = test_frames::udp_mbuf(tx, udp(1, 2, sport, 9, (uint32_t{q} << 24) | i));
        ASSERT_NE(out[n], nullptr);
      }
      EXPECT_EQ(a.tx_burst(q, out, n), n);
      poll_rx();
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (accounted() < 2 * kPerThread) {
      if (std::chrono::steady_clock::now() > deadline) {
        timed_out = true;
        return;
      }
      poll_rx();
    }
  };
  std::thread t0(worker, 0), t1(worker, 1);
  t0.join();
  t1.join();

  ASSERT_FALSE(timed_out);
  EXPECT_EQ(accounted(), 2 * kPerThread);
  EXPECT_EQ(a.stats(0).tx_packets + a.stats(1).tx_packets, 2 * kPerThread);
  uint64_t unique = 0;
  for (const auto &per_sender : seen)
    for (uint8_t count : per_sender) {
      EXPECT_LE(count, 1);
      unique += count;
    }
  EXPECT_EQ(unique, received.load());
  EXPECT_GT(b.stats(0).rx_packets, 0u);
  EXPECT_GT(b.stats(1).rx_packets, 0u);
}

}  // namespace
}  // namespace ix::drivers
