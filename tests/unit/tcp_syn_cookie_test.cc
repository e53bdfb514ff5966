// SYN cookies: round trip for every MSS class, rounding of other MSS values,
// age limits (at most two 64 s periods), rejection of tampered or foreign
// cookies, and the timestamp option encoding.
#include <gtest/gtest.h>

#include <array>

#include "net/tcp/syn_cookie.hh"

namespace ix::net::tcp {
namespace {

constexpr std::array<uint8_t, 16> kKey = {1, 3, 5, 7, 9, 11, 13, 15, 2, 4, 6, 8, 10, 12, 14, 16};
const Ipv4Addr kLocal = ipv4(192, 168, 1, 1);
const Ipv4Addr kRemote = ipv4(192, 168, 1, 77);
constexpr uint16_t kLport = 11211;
constexpr uint16_t kRport = 51000;
constexpr Seq kPeerIsn = 0xdeadbeef;
constexpr uint64_t kPeriod = SynCookies::kPeriodNs;
constexpr uint64_t kNow = 1000 * kPeriod + 12'345;

TEST(TcpSynCookieTest, RoundTripsEveryMssClass) {
  const SynCookies c(kKey);
  for (uint16_t mss : SynCookies::kMssTable) {
    const Seq cookie = c.make(kLocal, kLport, kRemote, kRport, kPeerIsn, mss, kNow);
    EXPECT_EQ(c.check(kLocal, kLport, kRemote, kRport, kPeerIsn, cookie, kNow),
              std::optional<uint16_t>(mss));
  }
}

TEST(TcpSynCookieTest, MssRoundsDownToTable) {
  EXPECT_EQ(SynCookies::kMssTable[SynCookies::mss_index(1460)], 1460);
  EXPECT_EQ(SynCookies::kMssTable[SynCookies::mss_index(1459)], 1440);
  EXPECT_EQ(SynCookies::kMssTable[SynCookies::mss_index(1000)], 536);
  EXPECT_EQ(SynCookies::kMssTable[SynCookies::mss_index(100)], 536);
  EXPECT_EQ(SynCookies::kMssTable[SynCookies::mss_index(65535)], 8960);
  EXPECT_EQ(SynCookies::kMssTable[SynCookies::mss_index(1399)], 1360);
  const SynCookies c(kKey);
  const Seq cookie = c.make(kLocal, kLport, kRemote, kRport, kPeerIsn, 1459, kNow);
  EXPECT_EQ(c.check(kLocal, kLport, kRemote, kRport, kPeerIsn, cookie, kNow),
            std::optional<uint16_t>(1440));
}

TEST(TcpSynCookieTest, AcceptedForTwoPeriodsOnly) {
  const SynCookies c(kKey);
  const Seq cookie = c.make(kLocal, kLport, kRemote, kRport, kPeerIsn, 1460, kNow);
  for (uint64_t age = 0; age <= 2; ++age)
    EXPECT_TRUE(c.check(kLocal, kLport, kRemote, kRport, kPeerIsn, cookie, kNow + age * kPeriod))
        << age;
  EXPECT_FALSE(c.check(kLocal, kLport, kRemote, kRport, kPeerIsn, cookie, kNow + 3 * kPeriod));
  EXPECT_FALSE(c.check(kLocal, kLport, kRemote, kRport, kPeerIsn, cookie, kNow + 4 * kPeriod));
  // Nor from a period that has not come yet.
  EXPECT_FALSE(c.check(kLocal, kLport, kRemote, kRport, kPeerIsn, cookie, kNow - kPeriod));
}

TEST(TcpSynCookieTest, WorksAtTheStartOfTime) {
  const SynCookies c(kKey);
  const Seq cookie = c.make(kLocal, kLport, kRemote, kRport, kPeerIsn, 536, 0);
  EXPECT_EQ(c.check(kLocal, kLport, kRemote, kRport, kPeerIsn, cookie, 5),
            std::optional<uint16_t>(536));
}

TEST(TcpSynCookieTest, RejectsTamperedCookies) {
  const SynCookies c(kKey);
  const Seq cookie = c.make(kLocal, kLport, kRemote, kRport, kPeerIsn, 1460, kNow);
  EXPECT_FALSE(c.check(kLocal, kLport, kRemote, kRport, kPeerIsn + 1, cookie, kNow));
  EXPECT_FALSE(c.check(kLocal, kLport, kRemote, kRport + 1, kPeerIsn, cookie, kNow));
  EXPECT_FALSE(c.check(kLocal, kLport + 1, kRemote, kRport, kPeerIsn, cookie, kNow));
  EXPECT_FALSE(c.check(kLocal, kLport, ipv4(192, 168, 1, 78), kRport, kPeerIsn, cookie, kNow));
  EXPECT_FALSE(c.check(ipv4(192, 168, 1, 2), kLport, kRemote, kRport, kPeerIsn, cookie, kNow));
  // Every single flipped bit (hash, MSS index or counter) is caught.
  for (int bit = 0; bit < 32; ++bit)
    EXPECT_FALSE(c.check(kLocal, kLport, kRemote, kRport, kPeerIsn, cookie ^ (1u << bit), kNow))
        << bit;
  auto other = kKey;
  other[3] ^= 1;
  EXPECT_FALSE(SynCookies(other).check(kLocal, kLport, kRemote, kRport, kPeerIsn, cookie, kNow));
}

TEST(TcpSynCookieTest, TimestampCarriesOptions) {
  const SynCookieInfo in{0, true, 7, true};
  const uint32_t ts_now = 0x12345678;
  const uint32_t ts = SynCookies::encode_ts_options(ts_now, in);
  EXPECT_LE(ts, ts_now);
  EXPECT_GT(ts, ts_now - 128);
  const auto out = SynCookies::decode_ts_options(ts);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->wscale, 7);
  EXPECT_TRUE(out->sack_ok);
  EXPECT_TRUE(out->ts_ok);

  const SynCookieInfo none{0, false, 0xff, true};
  const uint32_t ts2 = SynCookies::encode_ts_options(0x40, none);  // low bits would be above now
  EXPECT_LE(ts2, 0x40u);
  const auto out2 = SynCookies::decode_ts_options(ts2);
  ASSERT_TRUE(out2);
  EXPECT_EQ(out2->wscale, 0xff);
  EXPECT_FALSE(out2->sack_ok);
  // A window scale above 14 (RFC 7323 2.3) is not representable: sent as none.
  const auto out3 = SynCookies::decode_ts_options(
      SynCookies::encode_ts_options(ts_now, SynCookieInfo{0, false, 15, true}));
  ASSERT_TRUE(out3);
  EXPECT_EQ(out3->wscale, 0xff);
  EXPECT_FALSE(SynCookies::decode_ts_options(0x12345600));  // no marker: not ours
}

}  // namespace
}  // namespace ix::net::tcp
