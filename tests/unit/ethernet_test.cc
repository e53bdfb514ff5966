#include "net/ethernet.hh"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "stack_fixture.hh"

namespace ix::net::test {
namespace {

using EthernetTest = StackTest;

TEST_F(EthernetTest, RuntFramesAtEveryLength) {
  const Bytes good = ping_frame(1, 1, {});
  for (size_t n = 0; n < 14; ++n)
    expect_drop(Bytes(good.begin(), good.begin() + static_cast<long>(n)), DropReason::kEthRunt);
  expect_ping_works();
}

TEST_F(EthernetTest, OtherUnicastAndMulticastAreNotForUs) {
  expect_drop(ping_frame(1, 1, {}, {}, kOtherMac), DropReason::kEthNotForUs);
  expect_drop(ping_frame(1, 1, {}, {}, MacAddr{{0x01, 0x00, 0x5e, 0, 0, 1}}),
              DropReason::kEthNotForUs);
}

TEST_F(EthernetTest, MulticastSourceIsRefused) {
  Bytes f = ping_frame(1, 1, {});
  f[6] |= 1;
  expect_drop(f, DropReason::kEthSrcMulticast);
}

TEST_F(EthernetTest, VlanAndUnknownEtherTypes) {
  expect_drop(eth_frame(kOurMac, kPeerMac, 0x8100, Bytes(46)), DropReason::kEthVlan);
  expect_drop(eth_frame(kOurMac, kPeerMac, 0x88a8, Bytes(46)), DropReason::kEthVlan);
  expect_drop(eth_frame(kOurMac, kPeerMac, 0x86dd, Bytes(46)), DropReason::kEthUnknownType);
  expect_drop(eth_frame(kOurMac, kPeerMac, 0x002e, Bytes(46)), DropReason::kEthUnknownType);
  expect_ping_works();
}

TEST_F(EthernetTest, ChainedReceiveIsRefused) {
  s();
  mem::Mbuf *m = to_mbuf(ping_frame(1, 1, {}));
  m->chain(to_mbuf(Bytes(10)));
  const uint64_t before = total_drops();
  stack->input(m);
  EXPECT_EQ(drops(DropReason::kEthSegmented), 1u);
  EXPECT_EQ(total_drops(), before + 1);
  EXPECT_EQ(pool.available(), pool.capacity());
}

TEST_F(EthernetTest, BroadcastIsAccepted) {
  learn_peer();
  inject(udp_frame(1000, 2000, {1, 2, 3}, {.dst = kSubnetBroadcast}, MacAddr::broadcast()));
  // Accepted up to UDP, where nobody listens: no ICMP error about a broadcast.
  EXPECT_EQ(drops(DropReason::kUdpNoPort), 1u);
  EXPECT_EQ(sink.size(), 0u);
}

TEST(EthernetHeader, WriteAndAccept) {
  mem::MbufPool pool(StackTest::pool_config());
  mem::Mbuf *m = pool.alloc();
  write_ethernet(m->append(60), kOurMac, kPeerMac, kEtherTypeArp);
  EthInput in = ethernet_accept(m, kOurMac);
  EXPECT_TRUE(in.ok);
  EXPECT_EQ(in.ether_type, kEtherTypeArp);
  EXPECT_FALSE(ethernet_accept(m, kOtherMac).ok);
  mem::MbufPool::free_chain(m);
}

TEST(DropReasonNames, AllNamedAndDistinct) {
  std::set<std::string> names;
  for (size_t i = 0; i < static_cast<size_t>(DropReason::kCount); ++i) {
    std::string n = drop_reason_name(static_cast<DropReason>(i));
    EXPECT_NE(n, "unknown");
    EXPECT_TRUE(names.insert(n).second) << n;
  }
  EXPECT_STREQ(drop_reason_name(DropReason::kIpv4BadChecksum), "ipv4_bad_checksum");
  EXPECT_STREQ(drop_reason_name(DropReason::kCount), "unknown");
}

TEST(StackCountersTest, ForEachVisitsEveryCounterAndDrop) {
  StackCounters c;
  c.rx_frames = 5;
  c.drop(DropReason::kUdpNoPort);
  c.drop(DropReason::kUdpNoPort);
  c.drop(DropReason::kEthRunt);
  size_t drops_seen = 0;
  uint64_t rx = 0, no_port = 0;
  c.for_each([&](const char *name, uint64_t v) {
    std::string n = name;
    if (n.rfind("drop.", 0) == 0) ++drops_seen;
    if (n == "rx_frames") rx = v;
    if (n == "drop.udp_no_port") no_port = v;
  });
  EXPECT_EQ(drops_seen, static_cast<size_t>(DropReason::kCount));
  EXPECT_EQ(rx, 5u);
  EXPECT_EQ(no_port, 2u);
  EXPECT_EQ(c.total_drops(), 3u);
  EXPECT_EQ(c.dropped(DropReason::kEthRunt), 1u);
}

}  // namespace
}  // namespace ix::net::test
