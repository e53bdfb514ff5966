#include "net/icmp.hh"

#include <gtest/gtest.h>

#include "stack_fixture.hh"

namespace ix::net::test {
namespace {

using IcmpTest = StackTest;

TEST_F(IcmpTest, EchoReplyMirrorsRequestInPlace) {
  s();
  const Bytes data = pattern(57, 5);  // odd length
  const uint32_t free_before = pool.available();
  inject(ping_frame(0xbeef, 0x0102, data));
  ASSERT_EQ(sink.size(), 1u);
  EXPECT_EQ(pool.available(), free_before - 1);  // no buffer beyond the request itself
  Bytes r = sink.bytes(0);
  ASSERT_EQ(r.size(), 42u + data.size());
  EXPECT_EQ(get_mac(r, 0), kPeerMac);
  EXPECT_EQ(get_mac(r, 6), kOurMac);
  EXPECT_EQ(get16(r, 12), 0x0800);
  EXPECT_EQ(get32(r, 26), kOurIp.v);
  EXPECT_EQ(get32(r, 30), kPeerIp.v);
  EXPECT_EQ(r[34], 0);
  EXPECT_EQ(r[35], 0);
  EXPECT_EQ(get16(r, 38), 0xbeef);
  EXPECT_EQ(get16(r, 40), 0x0102);
  EXPECT_EQ(Bytes(r.begin() + 42, r.end()), data);
  EXPECT_EQ(ref_fold(ref_sum(&r[34], r.size() - 34)), 0xffff);
  EXPECT_EQ(ref_fold(ref_sum(&r[14], 20)), 0xffff);
  EXPECT_EQ(stack->counters().icmp_echo_rx, 1u);
  EXPECT_EQ(stack->counters().icmp_echo_tx, 1u);
}

TEST_F(IcmpTest, EchoChecksumCornerCases) {
  // Payloads chosen so the request checksum is 0x0000 or 0xffff-adjacent:
  // the incremental update must still give a valid reply.
  for (int i = 0; i < 512; ++i) {
    Bytes d = {static_cast<uint8_t>(i), static_cast<uint8_t>(i * 31), 0xff, 0xf7};
    inject(ping_frame(static_cast<uint16_t>(i * 257), static_cast<uint16_t>(i), d));
    ASSERT_EQ(sink.size(), 1u) << i;
    Bytes r = sink.bytes(0);
    ASSERT_EQ(ref_fold(ref_sum(&r[34], r.size() - 34)), 0xffff) << i;
    sink.clear();
  }
}

TEST_F(IcmpTest, BadChecksumTruncatedAndOtherTypes) {
  Bytes bad = ping_frame(1, 1, pattern(10));
  bad[36] ^= 0x40;
  expect_drop(bad, DropReason::kIcmpBadChecksum);
  // Also when the NIC claims good L4 checksums: that flag is not about ICMP.
  expect_drop(bad, DropReason::kIcmpBadChecksum, mem::kRxL4CsumGood);
  for (size_t n = 0; n < 8; ++n) {
    IpSpec ip;
    ip.proto = 1;
    expect_drop(eth_frame(kOurMac, kPeerMac, 0x0800, ipv4_packet(ip, Bytes(n))),
                DropReason::kIcmpTruncated);
  }
  for (uint8_t type : {0, 3, 5, 11, 13, 42}) {
    expect_drop(eth_frame(kOurMac, kPeerMac, 0x0800,
                          ipv4_packet({.proto = 1}, icmp_message(type, 0, 1, 1, {}))),
                DropReason::kIcmpUnsupportedType);
  }
  expect_ping_works();
}

TEST_F(IcmpTest, BroadcastEchoIsIgnored) {
  expect_drop(ping_frame(1, 1, {}, {.dst = kSubnetBroadcast}, MacAddr::broadcast()),
              DropReason::kIcmpEchoBroadcast);
  expect_drop(ping_frame(1, 1, {}, {.dst = ipv4(255, 255, 255, 255)}, MacAddr::broadcast()),
              DropReason::kIcmpEchoBroadcast);
}

TEST_F(IcmpTest, PortUnreachableQuotesHeaderAndEightBytes) {
  s();
  const Bytes data = pattern(100);
  const Bytes req = udp_frame(4321, 5555, data);
  const uint32_t free_before = pool.available();
  inject(req);
  EXPECT_EQ(drops(DropReason::kUdpNoPort), 1u);
  ASSERT_EQ(sink.size(), 1u);
  EXPECT_EQ(pool.available(), free_before - 1);  // built in the datagram's own buffer
  Bytes r = sink.bytes(0);
  ASSERT_EQ(r.size(), 14u + 20 + 8 + 20 + 8);
  EXPECT_EQ(get_mac(r, 0), kPeerMac);
  EXPECT_EQ(r[23], 1);  // ICMP
  EXPECT_EQ(get16(r, 16), 20 + 8 + 28);
  EXPECT_EQ(get32(r, 30), kPeerIp.v);
  EXPECT_EQ(r[34], 3);
  EXPECT_EQ(r[35], 3);
  EXPECT_EQ(get32(r, 38), 0u);
  EXPECT_EQ(Bytes(r.begin() + 42, r.end()), Bytes(req.begin() + 14, req.begin() + 14 + 28));
  EXPECT_EQ(ref_fold(ref_sum(&r[34], r.size() - 34)), 0xffff);
  EXPECT_EQ(ref_fold(ref_sum(&r[14], 20)), 0xffff);
  EXPECT_EQ(stack->counters().icmp_unreach_tx, 1u);
}

TEST_F(IcmpTest, PortUnreachableWithoutHeadroomCopies) {
  s();
  mem::Mbuf *m = to_mbuf(udp_frame(4321, 5555, pattern(3)), 0);  // no headroom
  stack->input(m);
  ASSERT_EQ(sink.size(), 1u);
  Bytes r = sink.bytes(0);
  ASSERT_EQ(r.size(), 14u + 20 + 8 + 20 + 8);
  EXPECT_EQ(r[34], 3);
  EXPECT_EQ(ref_fold(ref_sum(&r[34], r.size() - 34)), 0xffff);
  sink.clear();
  EXPECT_EQ(pool.available(), pool.capacity());  // the original was freed
}

TEST_F(IcmpTest, NoErrorsAboutBroadcasts) {
  inject(udp_frame(1, 2, {}, {.dst = kSubnetBroadcast}, MacAddr::broadcast()));
  inject(udp_frame(1, 2, {}, {.dst = ipv4(255, 255, 255, 255)}, MacAddr::broadcast()));
  EXPECT_EQ(drops(DropReason::kUdpNoPort), 2u);
  EXPECT_EQ(sink.size(), 0u);
}

TEST_F(IcmpTest, RateLimitedByTokenBucket) {
  cfg.icmp_rate_per_sec = 100;
  cfg.icmp_burst = 5;
  make_stack();
  for (int i = 0; i < 20; ++i) inject(udp_frame(1, 2, {}));
  EXPECT_EQ(sink.size(), 5u);  // the burst
  EXPECT_EQ(stack->counters().icmp_rate_limited, 15u);
  EXPECT_EQ(drops(DropReason::kUdpNoPort), 20u);
  sink.clear();
  advance(10'000'000);  // 10 ms at 100/s: one token
  for (int i = 0; i < 3; ++i) inject(udp_frame(1, 2, {}));
  EXPECT_EQ(sink.size(), 1u);
  sink.clear();
  advance(3'600'000'000'000ull);  // an hour: refilled, but only to the burst
  for (int i = 0; i < 10; ++i) inject(udp_frame(1, 2, {}));
  EXPECT_EQ(sink.size(), 5u);
  // Echo replies are not rate-limited.
  sink.clear();
  for (int i = 0; i < 10; ++i) inject(ping_frame(1, static_cast<uint16_t>(i), {}));
  EXPECT_EQ(sink.size(), 10u);
}

TEST(TokenBucketTest, RefillAndCap) {
  TokenBucket b(1000, 2, 0);
  EXPECT_TRUE(b.take(0));
  EXPECT_TRUE(b.take(0));
  EXPECT_FALSE(b.take(0));
  EXPECT_FALSE(b.take(999'999));  // just under 1 ms
  EXPECT_TRUE(b.take(1'000'000));
  EXPECT_FALSE(b.take(1'000'000));
  EXPECT_TRUE(b.take(UINT64_MAX / 2));
  EXPECT_TRUE(b.take(UINT64_MAX / 2));
  EXPECT_FALSE(b.take(UINT64_MAX / 2));
  TokenBucket never(0, 0, 0);
  EXPECT_FALSE(never.take(1'000'000'000'000ull));
}

TEST(IcmpTypes, ErrorsAreRecognised) {
  EXPECT_TRUE(icmp_is_error(3));
  EXPECT_TRUE(icmp_is_error(11));
  EXPECT_FALSE(icmp_is_error(0));
  EXPECT_FALSE(icmp_is_error(8));
}

}  // namespace
}  // namespace ix::net::test
