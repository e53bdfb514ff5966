// RFC 6528 initial sequence numbers: stable for the same inputs, different
// per 4-tuple and per key, advancing with a 4 microsecond clock.
#include <gtest/gtest.h>

#include <array>
#include <set>

#include "net/tcp/isn_generator.hh"

namespace ix::net::tcp {
namespace {

constexpr std::array<uint8_t, 16> kKey = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6};
const Ipv4Addr kLocal = ipv4(10, 0, 0, 1);
const Ipv4Addr kRemote = ipv4(10, 0, 0, 2);
constexpr uint64_t kNow = 123'456'789'000ull;

TEST(TcpIsnGeneratorTest, SameInputsSameIsn) {
  const IsnGenerator a(kKey), b(kKey);
  EXPECT_EQ(a.isn(kLocal, 80, kRemote, 40000, kNow), b.isn(kLocal, 80, kRemote, 40000, kNow));
}

TEST(TcpIsnGeneratorTest, AdvancesOnePerFourMicroseconds) {
  const IsnGenerator g(kKey);
  const uint64_t t0 = kNow - kNow % IsnGenerator::kTickNs;
  const Seq base = g.isn(kLocal, 80, kRemote, 40000, t0);
  EXPECT_EQ(g.isn(kLocal, 80, kRemote, 40000, t0 + 3'999), base);
  EXPECT_EQ(g.isn(kLocal, 80, kRemote, 40000, t0 + 4'000), base + 1);
  EXPECT_EQ(g.isn(kLocal, 80, kRemote, 40000, t0 + 4'000'000), base + 1000);
  // After 2^32 ticks (about 4.77 hours) the clock part wraps around.
  EXPECT_EQ(g.isn(kLocal, 80, kRemote, 40000, t0 + (1ull << 32) * IsnGenerator::kTickNs), base);
}

TEST(TcpIsnGeneratorTest, EachTupleElementMatters) {
  const IsnGenerator g(kKey);
  std::set<Seq> seen;
  seen.insert(g.isn(kLocal, 80, kRemote, 40000, kNow));
  seen.insert(g.isn(kLocal, 81, kRemote, 40000, kNow));
  seen.insert(g.isn(kLocal, 80, kRemote, 40001, kNow));
  seen.insert(g.isn(ipv4(10, 0, 0, 3), 80, kRemote, 40000, kNow));
  seen.insert(g.isn(kLocal, 80, ipv4(10, 0, 0, 4), 40000, kNow));
  seen.insert(g.isn(kRemote, 80, kLocal, 40000, kNow));  // swapped addresses
  seen.insert(g.isn(kLocal, 40000, kRemote, 80, kNow));  // swapped ports
  EXPECT_EQ(seen.size(), 7u);
}

TEST(TcpIsnGeneratorTest, KeyIsSecretPart) {
  auto other = kKey;
  other[0] ^= 0x80;
  const IsnGenerator a(kKey), b(other);
  EXPECT_NE(a.isn(kLocal, 80, kRemote, 40000, kNow), b.isn(kLocal, 80, kRemote, 40000, kNow));
}

TEST(TcpIsnGeneratorTest, RandomKeysDiffer) {
  const IsnGenerator a = IsnGenerator::with_random_key();
  const IsnGenerator b = IsnGenerator::with_random_key();
  // Equal by chance with probability 2^-32 per port; three ports make it 2^-96.
  bool differ = false;
  for (uint16_t port : {1000, 2000, 3000})
    differ |=
        a.isn(kLocal, port, kRemote, 40000, kNow) != b.isn(kLocal, port, kRemote, 40000, kNow);
  EXPECT_TRUE(differ);
}

}  // namespace
}  // namespace ix::net::tcp
