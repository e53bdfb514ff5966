#include "net/ipv4.hh"

#include <gtest/gtest.h>

#include "stack_fixture.hh"

namespace ix::net::test {
namespace {

using Ipv4Test = StackTest;

// A ping frame whose IPv4 header bytes are patched by fix (checksum redone
// afterwards unless keep_checksum).
template <class F>
Bytes patched_ping(F fix, bool redo_checksum = true) {
  Bytes f = ping_frame(1, 2, pattern(16));
  fix(f);
  if (redo_checksum) {
    const size_t hlen = (f[14] & 0xf) * 4u;
    f[24] = f[25] = 0;
    if (14 + hlen <= f.size()) put16(&f[24], ref_checksum(&f[14], hlen));
  }
  return f;
}

TEST_F(Ipv4Test, TruncatedHeaderAtEveryLength) {
  const Bytes good = ping_frame(1, 1, {});
  for (size_t n = 14; n < 34; ++n)
    expect_drop(Bytes(good.begin(), good.begin() + static_cast<long>(n)),
                DropReason::kIpv4Truncated);
  expect_ping_works();
}

TEST_F(Ipv4Test, BadVersionAndIhl) {
  expect_drop(patched_ping([](Bytes &f) { f[14] = 0x65; }), DropReason::kIpv4BadVersion);
  expect_drop(patched_ping([](Bytes &f) { f[14] = 0x44; }, false), DropReason::kIpv4BadIhl);
  expect_drop(patched_ping([](Bytes &f) { f[14] = 0x40; }, false), DropReason::kIpv4BadIhl);
  // IHL 15 claims 60 header bytes; the frame has fewer.
  Bytes small = ping_frame(1, 2, {});
  small[14] = 0x4f;
  expect_drop(small, DropReason::kIpv4Truncated);
  expect_ping_works();
}

TEST_F(Ipv4Test, TotalLengthChecks) {
  expect_drop(patched_ping([](Bytes &f) { put16(&f[16], 19); }), DropReason::kIpv4BadTotalLength);
  expect_drop(
      patched_ping([](Bytes &f) { put16(&f[16], static_cast<uint16_t>(f.size() - 14 + 1)); }),
      DropReason::kIpv4Truncated);
  expect_drop(patched_ping([](Bytes &f) { put16(&f[16], 0xffff); }), DropReason::kIpv4Truncated);
  expect_ping_works();
}

TEST_F(Ipv4Test, BadHeaderChecksumUnlessNicVerified) {
  const Bytes bad = patched_ping([](Bytes &f) { f[24] ^= 0x01; }, false);
  expect_drop(bad, DropReason::kIpv4BadChecksum);
  // The NIC said the header checksum is good: trust it (and answer).
  sink.clear();
  inject(bad, mem::kRxIpCsumGood);
  EXPECT_EQ(sink.size(), 1u);
  EXPECT_EQ(total_drops(), 1u);
}

TEST_F(Ipv4Test, OptionsAreDropped) {
  IpSpec ip;
  ip.proto = 1;
  ip.options = {1, 1, 1, 0};  // NOP NOP NOP EOL
  expect_drop(eth_frame(kOurMac, kPeerMac, 0x0800, ipv4_packet(ip, icmp_message(8, 0, 1, 1, {}))),
              DropReason::kIpv4Options);
  expect_ping_works();
}

TEST_F(Ipv4Test, FragmentsAreDropped) {
  expect_drop(ping_frame(1, 1, pattern(8), {.frag = 0x2000}), DropReason::kIpv4Fragment);
  expect_drop(ping_frame(1, 1, pattern(8), {.frag = 0x0001}), DropReason::kIpv4Fragment);
  expect_drop(ping_frame(1, 1, pattern(8), {.frag = 0x1fff}), DropReason::kIpv4Fragment);
  expect_ping_works();
}

TEST_F(Ipv4Test, MartianSources) {
  for (Ipv4Addr src : {ipv4(0, 0, 0, 0), ipv4(224, 0, 0, 1), ipv4(255, 255, 255, 255),
                       kSubnetBroadcast, ipv4(127, 0, 0, 1), kOurIp, ipv4(240, 0, 0, 1)}) {
    expect_drop(ping_frame(1, 1, {}, {.src = src}), DropReason::kIpv4BadSource);
  }
  expect_ping_works();
}

TEST_F(Ipv4Test, NotForUsIsNotForwarded) {
  expect_drop(ping_frame(1, 1, {}, {.dst = ipv4(10, 0, 0, 3)}), DropReason::kIpv4NotForUs);
  expect_drop(ping_frame(1, 1, {}, {.dst = ipv4(224, 0, 0, 1)}), DropReason::kIpv4NotForUs);
  expect_drop(ping_frame(1, 1, {}, {.dst = kRemoteIp}), DropReason::kIpv4NotForUs);
}

TEST_F(Ipv4Test, TtlZeroAndUnknownProtocol) {
  expect_drop(ping_frame(1, 1, {}, {.ttl = 0}), DropReason::kIpv4TtlZero);
  expect_drop(eth_frame(kOurMac, kPeerMac, 0x0800, ipv4_packet({.proto = 2}, Bytes(8))),
              DropReason::kIpv4UnknownProtocol);
  // TTL 1 is fine for a host.
  sink.clear();
  inject(ping_frame(1, 1, {}, {.ttl = 1}));
  EXPECT_EQ(sink.size(), 1u);
}

TEST_F(Ipv4Test, EthernetPaddingIsTrimmed) {
  Bytes f = ping_frame(7, 8, {0xaa, 0xbb});
  const size_t real = f.size();
  f.resize(60, 0xee);  // padded to the Ethernet minimum with non-zero junk
  inject(f);
  ASSERT_EQ(sink.size(), 1u);
  Bytes r = sink.bytes(0);
  EXPECT_EQ(r.size(), real);
  EXPECT_EQ(get16(r, 16), real - 14);
  EXPECT_EQ(ref_fold(ref_sum(&r[34], r.size() - 34)), 0xffff);  // ICMP checksum excludes padding
}

TEST_F(Ipv4Test, OutputHeaderFields) {
  inject(ping_frame(1, 1, {}));
  inject(ping_frame(1, 2, {}));
  ASSERT_EQ(sink.size(), 2u);
  Bytes a = sink.bytes(0), b = sink.bytes(1);
  EXPECT_EQ(a[14], 0x45);
  EXPECT_EQ(get16(a, 20), 0x4000);  // DF, no fragment offset
  EXPECT_EQ(a[22], 64);             // TTL
  EXPECT_EQ(a[23], 1);
  EXPECT_EQ(get32(a, 26), kOurIp.v);
  EXPECT_EQ(get32(a, 30), kPeerIp.v);
  EXPECT_EQ(ref_fold(ref_sum(&a[14], 20)), 0xffff);
  EXPECT_EQ(static_cast<uint16_t>(get16(a, 18) + 1), get16(b, 18));  // identification advances
  EXPECT_EQ(sink.frames[0]->ol_flags & mem::kTxIpCsum, 0u);
}

TEST_F(Ipv4Test, HeaderChecksumOffload) {
  caps.tx_ip_csum = true;
  make_stack();
  inject(ping_frame(1, 1, {}));
  ASSERT_EQ(sink.size(), 1u);
  EXPECT_NE(sink.frames[0]->ol_flags & mem::kTxIpCsum, 0u);
  EXPECT_EQ(get16(sink.bytes(0), 24), 0);  // left for the NIC
  EXPECT_EQ(sink.frames[0]->l2_len, 14);
  EXPECT_EQ(sink.frames[0]->l3_len, 20);
}

TEST(Ipv4SubnetTest, RoutingAndBroadcasts) {
  Ipv4Subnet s(kOurIp, 24, kGatewayIp);
  EXPECT_TRUE(s.on_link(kPeerIp));
  EXPECT_EQ(s.next_hop(kPeerIp), kPeerIp);
  EXPECT_EQ(s.next_hop(kRemoteIp), kGatewayIp);
  EXPECT_TRUE(s.is_broadcast(kSubnetBroadcast));
  EXPECT_TRUE(s.is_broadcast(ipv4(255, 255, 255, 255)));
  EXPECT_FALSE(s.is_broadcast(kPeerIp));

  Ipv4Subnet no_gw(kOurIp, 24, Ipv4Addr{});
  EXPECT_TRUE(no_gw.next_hop(kRemoteIp).is_zero());

  Ipv4Subnet host(kOurIp, 32, Ipv4Addr{});
  EXPECT_FALSE(host.is_directed_broadcast(kOurIp));
  EXPECT_FALSE(host.on_link(kPeerIp));

  Ipv4Subnet everything(kOurIp, 0, Ipv4Addr{});
  EXPECT_TRUE(everything.on_link(kRemoteIp));
  EXPECT_EQ(everything.next_hop(kRemoteIp), kRemoteIp);
}

}  // namespace
}  // namespace ix::net::test
