#include "net/checksum.hh"

#include <gtest/gtest.h>

#include <random>

#include "stack_fixture.hh"

namespace ix::net::test {
namespace {

TEST(Checksum, Rfc1071Example) {
  // RFC 1071 section 3: the sum of these bytes is 0xddf2.
  const uint8_t d[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(ones_sum(d, sizeof d), 0xddf2);
  EXPECT_EQ(internet_checksum(d, sizeof d), 0x220d);
}

TEST(Checksum, KnownIpv4Header) {
  // A real header (192.168.0.1 -> 192.168.0.199) whose checksum is 0xb861.
  uint8_t h[] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  EXPECT_EQ(internet_checksum(h, sizeof h), 0xb861);
  h[10] = 0xb8;
  h[11] = 0x61;
  EXPECT_EQ(ones_sum(h, sizeof h), 0xffff);  // a valid header sums to all ones
}

TEST(Checksum, OddLengthPadsWithZero) {
  const uint8_t d[] = {0x12, 0x34, 0x56};
  EXPECT_EQ(ones_sum(d, 3), 0x1234 + 0x5600);
  EXPECT_EQ(ones_sum(d, 0), 0);
}

TEST(Checksum, MatchesReferenceForAllLengthsAndAlignments) {
  std::mt19937 rng(42);
  Bytes buf(300);
  for (int round = 0; round < 20; ++round) {
    for (auto &b : buf) b = static_cast<uint8_t>(rng());
    for (size_t off = 0; off < 8; ++off) {
      for (size_t len = 0; len + off <= buf.size(); len += 1 + (len > 70 ? 13 : 0)) {
        ASSERT_EQ(ones_sum(buf.data() + off, len), ref_fold(ref_sum(buf.data() + off, len)))
            << "off " << off << " len " << len;
      }
    }
  }
}

TEST(Checksum, Ipv4HeaderSumMatchesTheGeneralOne) {
  // The inline 20-byte sum: the known header, all ones (every fold
  // carries), all zeros, and random headers at every alignment.
  uint8_t h[] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                 0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  EXPECT_EQ(ones_sum_ipv4_header(h), 0xffff);
  Bytes ones(20, 0xff), zeros(20, 0);
  EXPECT_EQ(ones_sum_ipv4_header(ones.data()), ones_sum(ones.data(), 20));
  EXPECT_EQ(ones_sum_ipv4_header(zeros.data()), 0);
  std::mt19937 rng(7);
  Bytes buf(28);
  for (int round = 0; round < 10000; ++round) {
    for (auto &b : buf) b = static_cast<uint8_t>(rng() | (round % 3 == 0 ? 0xf0 : 0));
    const size_t off = static_cast<size_t>(round % 8);
    ASSERT_EQ(ones_sum_ipv4_header(buf.data() + off), ref_fold(ref_sum(buf.data() + off, 20)))
        << "round " << round;
  }
}

TEST(Checksum, AllOnesDoesNotOverflow) {
  Bytes b(4096, 0xff);
  EXPECT_EQ(ones_sum(b.data(), b.size()), 0xffff);
  EXPECT_EQ(ones_sum(b.data(), 4095), ref_fold(ref_sum(b.data(), 4095)));
}

TEST(Checksum, OnesAddWrapsCarry) {
  EXPECT_EQ(ones_add(0xffff, 0x0001), 0x0001);
  EXPECT_EQ(ones_add(0x8000, 0x8000), 0x0001);
  EXPECT_EQ(ones_add(0x1234, 0x0000), 0x1234);
}

TEST(Checksum, PseudoHeader) {
  const Ipv4Addr a = ipv4(192, 168, 0, 1), b = ipv4(10, 1, 2, 3);
  EXPECT_EQ(pseudo_header_sum(a, b, 17, 1000), ref_fold(ref_pseudo(a, b, 17, 1000)));
  const Ipv4Addr all = ipv4(255, 255, 255, 255);
  EXPECT_EQ(pseudo_header_sum(all, all, 255, 0xffff), ref_fold(ref_pseudo(all, all, 255, 0xffff)));
}

class ChecksumChain : public ::testing::Test {
 protected:
  ChecksumChain() : pool(StackTest::pool_config()) {}
  // Splits data into segments of the given sizes.
  mem::Mbuf *chain(const Bytes &data, const std::vector<size_t> &sizes) {
    mem::Mbuf *head = nullptr;
    size_t pos = 0;
    for (size_t n : sizes) {
      mem::Mbuf *m = pool.alloc();
      std::memcpy(m->append(static_cast<uint16_t>(n)), data.data() + pos, n);
      pos += n;
      if (head == nullptr) {
        head = m;
      } else {
        head->chain(m);
      }
    }
    return head;
  }
  mem::MbufPool pool;
};

TEST_F(ChecksumChain, OddSegmentBoundaries) {
  const Bytes data = pattern(101, 3);
  const uint16_t want = ref_fold(ref_sum(data.data(), data.size()));
  const std::vector<std::vector<size_t>> splits = {
      {101}, {1, 100}, {3, 5, 7, 86}, {50, 51}, {1, 1, 1, 1, 97}, {0, 101}, {33, 0, 68}};
  for (const auto &s : splits) {
    mem::Mbuf *m = chain(data, s);
    EXPECT_EQ(ones_sum_chain(m, 0, data.size()), want) << "split starting " << s[0];
    mem::MbufPool::free_chain(m);
  }
}

TEST_F(ChecksumChain, OffsetAndLengthWithinChain) {
  const Bytes data = pattern(200, 9);
  mem::Mbuf *m = chain(data, {13, 40, 7, 140});
  for (size_t off : {0u, 1u, 12u, 13u, 14u, 59u, 60u, 61u}) {
    for (size_t len : {0u, 1u, 2u, 47u, 100u, 139u}) {
      if (off + len > data.size()) continue;
      EXPECT_EQ(ones_sum_chain(m, off, len), ref_fold(ref_sum(data.data() + off, len)))
          << off << "+" << len;
    }
  }
  // Asking past the end sums only what is there.
  EXPECT_EQ(ones_sum_chain(m, 150, 1000), ref_fold(ref_sum(data.data() + 150, 50)));
  mem::MbufPool::free_chain(m);
}

}  // namespace
}  // namespace ix::net::test
