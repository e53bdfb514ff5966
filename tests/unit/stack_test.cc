// The whole receive path at once: one malformed frame per drop reason, each
// counted exactly once under its own reason, and the stack still answers.
#include "net/stack.hh"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <string_view>

#include "ix/syscall.h"
#include "stack_fixture.hh"
#include "tcp_drop_reasons.hh"

namespace ix::net::test {
namespace {

using NetStackTest = StackTest;

struct BadFrame {
  DropReason reason;
  Bytes frame;
  uint32_t ol_flags = 0;
};

std::vector<BadFrame> one_bad_frame_per_reason() {
  std::vector<BadFrame> v;
  const Bytes ping = ping_frame(1, 1, pattern(8));
  auto patch = [](Bytes f, size_t off, uint8_t val) {
    f.at(off) = val;
    return f;
  };
  auto fix_ip_csum = [](Bytes f) {
    f[24] = f[25] = 0;
    put16(&f[24], ref_checksum(&f[14], 20));
    return f;
  };
  const Bytes arp_req = eth_frame(MacAddr::broadcast(), kPeerMac, 0x0806,
                                  arp_packet(1, kPeerMac, kPeerIp, MacAddr{}, kOurIp));

  v.push_back({DropReason::kEthRunt, Bytes(ping.begin(), ping.begin() + 13)});
  v.push_back({DropReason::kEthNotForUs, ping_frame(1, 1, {}, {}, kOtherMac)});
  v.push_back({DropReason::kEthSrcMulticast, patch(ping, 6, 0x01)});
  v.push_back({DropReason::kEthVlan, eth_frame(kOurMac, kPeerMac, 0x8100, Bytes(50))});
  v.push_back({DropReason::kEthUnknownType, eth_frame(kOurMac, kPeerMac, 0x88cc, Bytes(50))});
  v.push_back({DropReason::kArpTruncated, Bytes(arp_req.begin(), arp_req.begin() + 41)});
  v.push_back({DropReason::kArpBadHwType, patch(arp_req, 15, 6)});
  v.push_back({DropReason::kArpBadProtoType, patch(arp_req, 17, 0x01)});
  v.push_back({DropReason::kArpBadAddrLen, patch(arp_req, 18, 0)});
  v.push_back({DropReason::kArpBadOp, patch(arp_req, 21, 9)});
  v.push_back({DropReason::kArpBadSender, patch(arp_req, 22, 0xff)});
  v.push_back({DropReason::kArpAddrConflict,
               eth_frame(MacAddr::broadcast(), kPeerMac, 0x0806,
                         arp_packet(2, kPeerMac, kOurIp, MacAddr{}, kOurIp))});
  v.push_back({DropReason::kArpNotForUs,
               eth_frame(MacAddr::broadcast(), kPeerMac, 0x0806,
                         arp_packet(1, kPeerMac, kPeerIp, MacAddr{}, ipv4(10, 0, 0, 50)))});
  v.push_back({DropReason::kIpv4Truncated, Bytes(ping.begin(), ping.begin() + 30)});
  v.push_back({DropReason::kIpv4BadVersion, fix_ip_csum(patch(ping, 14, 0x55))});
  v.push_back({DropReason::kIpv4BadIhl, patch(ping, 14, 0x42)});
  v.push_back({DropReason::kIpv4BadTotalLength, fix_ip_csum(patch(patch(ping, 16, 0), 17, 12))});
  v.push_back({DropReason::kIpv4BadChecksum, patch(ping, 25, static_cast<uint8_t>(ping[25] ^ 1))});
  {
    IpSpec ip;
    ip.proto = 1;
    ip.options = {0x94, 0x04, 0, 0};  // router alert
    v.push_back(
        {DropReason::kIpv4Options,
         eth_frame(kOurMac, kPeerMac, 0x0800, ipv4_packet(ip, icmp_message(8, 0, 1, 1, {})))});
  }
  v.push_back({DropReason::kIpv4Fragment, ping_frame(1, 1, {}, {.frag = 0x2000})});
  v.push_back({DropReason::kIpv4BadSource, ping_frame(1, 1, {}, {.src = ipv4(224, 1, 1, 1)})});
  v.push_back({DropReason::kIpv4NotForUs, ping_frame(1, 1, {}, {.dst = ipv4(10, 0, 0, 9)})});
  v.push_back({DropReason::kIpv4TtlZero, ping_frame(1, 1, {}, {.ttl = 0})});
  v.push_back({DropReason::kIpv4UnknownProtocol,
               eth_frame(kOurMac, kPeerMac, 0x0800, ipv4_packet({.proto = 200}, Bytes(20)))});
  v.push_back({DropReason::kIcmpTruncated,
               eth_frame(kOurMac, kPeerMac, 0x0800, ipv4_packet({.proto = 1}, Bytes(7)))});
  v.push_back({DropReason::kIcmpBadChecksum, patch(ping, 40, static_cast<uint8_t>(ping[40] ^ 4))});
  v.push_back({DropReason::kIcmpUnsupportedType,
               eth_frame(kOurMac, kPeerMac, 0x0800,
                         ipv4_packet({.proto = 1}, icmp_message(13, 0, 1, 1, Bytes(12))))});
  v.push_back({DropReason::kIcmpEchoBroadcast,
               ping_frame(1, 1, {}, {.dst = kSubnetBroadcast}, MacAddr::broadcast())});
  {
    // "Fragmentation needed" quoting a datagram: ours, TCP, header + 8 bytes.
    auto frag_needed = [](const Bytes &quote) {
      return eth_frame(kOurMac, kPeerMac, 0x0800,
                       ipv4_packet({.proto = 1}, icmp_message(3, 4, 0, 1280, quote)));
    };
    const Bytes ours = ipv4_packet({.src = kOurIp, .dst = kPeerIp, .proto = 6}, Bytes(8));
    v.push_back(
        {DropReason::kIcmpQuoteTruncated, frag_needed(Bytes(ours.begin(), ours.begin() + 27))});
    v.push_back({DropReason::kIcmpQuoteBadHeader, frag_needed(patch(ours, 0, 0x65))});
    v.push_back({DropReason::kIcmpQuoteNotOurs,
                 frag_needed(ipv4_packet({.src = kPeerIp, .dst = kOurIp, .proto = 6}, Bytes(8)))});
    v.push_back({DropReason::kIcmpQuoteNotTcp,
                 frag_needed(ipv4_packet({.src = kOurIp, .dst = kPeerIp, .proto = 17}, Bytes(8)))});
  }
  v.push_back({DropReason::kUdpTruncated,
               eth_frame(kOurMac, kPeerMac, 0x0800, ipv4_packet({.proto = 17}, Bytes(5)))});
  {
    Bytes u = udp_segment(kPeerIp, kOurIp, 1, 7, Bytes(4), false);
    put16(&u[4], 20);
    v.push_back({DropReason::kUdpBadLength,
                 eth_frame(kOurMac, kPeerMac, 0x0800, ipv4_packet({.proto = 17}, u))});
  }
  {
    Bytes f = udp_frame(1, 7, pattern(9));
    f[45] ^= 0x80;
    v.push_back({DropReason::kUdpBadChecksum, f});
  }
  v.push_back({DropReason::kUdpNoPort,
               udp_frame(1, 9999, {}, {.dst = kSubnetBroadcast}, MacAddr::broadcast())});
  return v;
}

TEST_F(NetStackTest, UdpDatagramIsNotHeldWhenThePoolIsAtItsHoldingLimit) {
  mem::MbufPoolConfig pc = pool_config();
  pc.count = 64;
  pc.rx_reserve = 8;
  mem::MbufPool small(pc);
  NetStack st(cfg, small, clock, timers, sink, caps.link_caps());
  RecordingReceiver rx;
  ASSERT_TRUE(st.udp_bind(7, &rx));
  auto receive = [&](const Bytes &frame) {  // as a driver fills its RX ring
    mem::Mbuf *m = small.alloc_rx();
    ASSERT_NE(m, nullptr);
    std::memcpy(m->append(static_cast<uint16_t>(frame.size())), frame.data(), frame.size());
    st.input(m);
  };
  std::vector<mem::Mbuf *> held;  // what applications hold
  while (!small.holding_limit()) held.push_back(small.alloc());
  held.push_back(small.alloc());
  EXPECT_NE(held.back(), nullptr) << "sending may still use the last share";
  receive(udp_frame(1, 7, pattern(10)));
  EXPECT_EQ(st.counters().dropped(DropReason::kUdpPoolLow), 1u);
  EXPECT_TRUE(rx.got.empty());
  for (mem::Mbuf *m : held) mem::MbufPool::free_chain(m);
  receive(udp_frame(1, 7, pattern(10)));
  EXPECT_EQ(rx.got.size(), 1u) << "held again once buffers came back";
}

TEST_F(NetStackTest, EveryInputDropReasonCountedOnceUnderItsName) {
  RecordingReceiver rx;
  ASSERT_TRUE(s().udp_bind(7, &rx));
  const auto bad = one_bad_frame_per_reason();
  std::set<DropReason> covered;
  for (const auto &b : bad) {
    SCOPED_TRACE(drop_reason_name(b.reason));
    expect_drop(b.frame, b.reason, b.ol_flags);
    covered.insert(b.reason);
  }
  // Every reason except the ones that only the transmit path or timers can
  // cause has a frame above.
  const std::set<DropReason> output_only = {DropReason::kEthSegmented,  // needs a chain
                                            DropReason::kArpHoldFull, DropReason::kArpUnresolved,
                                            DropReason::kArpTableFull, DropReason::kIpv4NoRoute,
                                            DropReason::kNoMbuf,
                                            // needs a pool at its holding limit: below
                                            DropReason::kUdpPoolLow};
  for (size_t i = 0; i < static_cast<size_t>(DropReason::kCount); ++i) {
    const auto r = static_cast<DropReason>(i);
    // TCP's reasons mostly need connection state: each has a test of its
    // own in tcp_drop_reason_test.cc (checked below).
    const bool tcp = std::string_view(drop_reason_name(r)).starts_with("tcp_");
    if (output_only.count(r) == 0 && !tcp) {
      EXPECT_TRUE(covered.count(r)) << drop_reason_name(r) << " has no test frame";
    }
    EXPECT_EQ(drops(r), covered.count(r)) << drop_reason_name(r);
  }
  EXPECT_TRUE(rx.got.empty());
  EXPECT_EQ(stack->counters().rx_frames, bad.size());
  EXPECT_EQ(pool.available(), pool.capacity());  // every dropped frame was freed
  expect_ping_works();
  inject(udp_frame(1, 7, {4, 2}));
  EXPECT_EQ(rx.got.size(), 1u);
}

// Every registered test's full name, filtered out or not.
std::set<std::string> registered_tests() {
  std::set<std::string> names;
  const ::testing::UnitTest &u = *::testing::UnitTest::GetInstance();
  for (int s = 0; s < u.total_test_suite_count(); ++s) {
    const ::testing::TestSuite &suite = *u.GetTestSuite(s);
    for (int t = 0; t < suite.total_test_count(); ++t)
      names.insert(std::string(suite.name()) + "." + suite.GetTestInfo(t)->name());
  }
  return names;
}

TEST(NetStackDropReasons, EveryTcpReasonHasATestThatProducesIt) {
  const std::set<std::string> tests = registered_tests();
  std::map<DropReason, std::string> listed;
  for (const TcpDropReasonCase &c : kTcpDropReasonTests) {
    EXPECT_TRUE(listed.emplace(c.reason, c.test).second)
        << drop_reason_name(c.reason) << " is listed twice";
    EXPECT_TRUE(std::string_view(drop_reason_name(c.reason)).starts_with("tcp_"))
        << drop_reason_name(c.reason) << " is no TCP reason";
    EXPECT_TRUE(tests.count(c.test))
        << c.test << " (for " << drop_reason_name(c.reason) << ") is not a registered test";
  }
  for (size_t i = 0; i < static_cast<size_t>(DropReason::kCount); ++i) {
    const auto r = static_cast<DropReason>(i);
    if (std::string_view(drop_reason_name(r)).starts_with("tcp_")) {
      EXPECT_TRUE(listed.count(r))
          << drop_reason_name(r) << " has no test in tests/unit/tcp_drop_reasons.hh";
    }
  }
}

TEST_F(NetStackTest, CountersNameEveryValue) {
  learn_peer();
  inject(ping_frame(1, 1, {}));
  std::set<std::string> names;
  uint64_t echo = 0;
  stack->counters().for_each([&](const char *n, uint64_t v) {
    names.insert(n);
    if (std::string(n) == "icmp_echo_tx") echo = v;
  });
  EXPECT_EQ(echo, 1u);
  EXPECT_TRUE(names.count("rx_frames"));
  EXPECT_TRUE(names.count("drop.ipv4_bad_checksum"));
}

TEST_F(NetStackTest, RxTxFrameCounters) {
  s();
  inject(ping_frame(1, 1, {}));
  inject(ping_frame(1, 2, {}));
  inject(Bytes(5));
  EXPECT_EQ(stack->counters().rx_frames, 3u);
  EXPECT_EQ(stack->counters().tx_frames, 2u);
  EXPECT_EQ(stack->counters().ipv4_rx, 2u);
  EXPECT_EQ(stack->counters().ipv4_tx, 2u);
}

TEST_F(NetStackTest, MtuFromDeviceCapsWhenSmaller) {
  caps.mtu = 1000;
  make_stack();
  learn_peer();
  mem::Mbuf *m = pool.alloc();
  m->append(973);
  EXPECT_EQ(stack->udp_send(kPeerIp, 1, 1, m), IX_EMSGSIZE);
  m->trim_to(972);
  EXPECT_EQ(stack->udp_send(kPeerIp, 1, 1, m), IX_OK);
}

TEST_F(NetStackTest, TwoStacksTalk) {
  // Frames from one stack fed to another: ARP, UDP both ways, checksums
  // built by one and verified by the other.
  CapturingSink sink_b;
  StackConfig cb = cfg;
  cb.mac = kPeerMac;
  cb.addr = kPeerIp;
  NetStack b(cb, pool, clock, timers, sink_b, caps.link_caps());
  RecordingReceiver rx_b;
  ASSERT_TRUE(b.udp_bind(9000, &rx_b));
  s();
  auto pump = [&] {
    for (int round = 0; round < 4; ++round) {
      auto a_out = sink.frames;
      sink.frames.clear();
      for (auto *m : a_out) b.input(m);
      auto b_out = sink_b.frames;
      sink_b.frames.clear();
      for (auto *m : b_out) stack->input(m);
    }
  };
  mem::Mbuf *p = pool.alloc();
  const Bytes msg = pattern(333);
  std::memcpy(p->append(333), msg.data(), 333);
  ASSERT_EQ(stack->udp_send(kPeerIp, 9000, 1234, p), IX_OK);
  pump();
  ASSERT_EQ(rx_b.got.size(), 1u);
  EXPECT_EQ(rx_b.got[0].payload, msg);
  EXPECT_EQ(rx_b.got[0].d.src_port, 1234);
  EXPECT_TRUE(stack->arp_lookup(kPeerIp, nullptr));
  EXPECT_TRUE(b.arp_lookup(kOurIp, nullptr));  // learned from our request
  EXPECT_EQ(stack->counters().total_drops(), 0u);
  EXPECT_EQ(b.counters().total_drops(), 0u);
}

}  // namespace
}  // namespace ix::net::test
