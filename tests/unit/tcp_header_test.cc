// TCP options: parsing of every kind we know, skipping of unknown ones,
// rejection of malformed lists, and the writer's layout and limits.
#include "net/tcp/tcp_header.hh"

#include <gtest/gtest.h>

#include <vector>

namespace ix::net::tcp {
namespace {

using Bytes = std::vector<uint8_t>;

bool parse(const Bytes &b, TcpOptions *o) { return parse_tcp_options(b.data(), b.size(), o); }

TEST(TcpOptions, ParsesASynsOptions) {
  // Linux's usual SYN: MSS, SACK-permitted, timestamps, NOP, window scale.
  const Bytes b = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7};
  TcpOptions o;
  ASSERT_TRUE(parse(b, &o));
  EXPECT_TRUE(o.has_mss);
  EXPECT_EQ(o.mss, 1460);
  EXPECT_TRUE(o.sack_permitted);
  EXPECT_TRUE(o.has_ts);
  EXPECT_EQ(o.ts_val, 1u);
  EXPECT_EQ(o.ts_ecr, 0u);
  EXPECT_TRUE(o.has_wscale);
  EXPECT_EQ(o.wscale, 7);
}

TEST(TcpOptions, ParsesSackBlocksAndStopsAtEol) {
  const Bytes b = {1, 1, 5, 18, 0, 0, 0, 10, 0, 0, 0, 20, 0, 0, 1, 0, 0, 0, 2, 0, 0, 2, 4, 0};
  TcpOptions o;
  ASSERT_TRUE(parse(b, &o));
  ASSERT_EQ(o.sack_count, 2);
  EXPECT_EQ(o.sack[0].left, 10u);
  EXPECT_EQ(o.sack[0].right, 20u);
  EXPECT_EQ(o.sack[1].left, 256u);
  EXPECT_EQ(o.sack[1].right, 512u);
  EXPECT_FALSE(o.has_mss);  // after EOL: not read
}

TEST(TcpOptions, SkipsUnknownKindsAndClampsWindowScale) {
  const Bytes b = {30, 4, 9, 9, 3, 3, 99, 1};
  TcpOptions o;
  ASSERT_TRUE(parse(b, &o));
  EXPECT_EQ(o.wscale, kMaxWscale);
}

TEST(TcpOptions, RejectsMalformedLists) {
  TcpOptions o;
  for (const Bytes &b : std::vector<Bytes>{
           {2},                          // length byte missing
           {2, 4, 5},                    // runs past the end
           {2, 1},                       // length below 2
           {30, 0},                      // unknown kind with length 0
           {2, 3, 5},                    // MSS of the wrong length
           {3, 4, 1, 1},                 // window scale of the wrong length
           {4, 3, 0},                    // SACK-permitted of the wrong length
           {8, 9, 0, 0, 0, 0, 0, 0, 0},  // timestamps of the wrong length
           {5, 9, 0, 0, 0, 0, 0, 0, 0},  // SACK not a multiple of 8
           {5, 2},                       // SACK without blocks
           {30, 40},                     // unknown kind past the end
       }) {
    EXPECT_FALSE(parse(b, &o)) << int(b[0]) << "/" << b.size();
  }
}

TEST(TcpOptions, KeepsAtMostFourSackBlocks) {
  Bytes b = {5, 2 + 8 * 4};
  for (int i = 0; i < 32; ++i) b.push_back(static_cast<uint8_t>(i));
  b.insert(b.begin(), {1, 1});
  TcpOptions o;
  ASSERT_TRUE(parse(b, &o));
  EXPECT_EQ(o.sack_count, 4);
}

TEST(TcpOptions, WriteThenParseRoundTrips) {
  TcpOptions w;
  w.has_mss = true;
  w.mss = 8960;
  w.has_wscale = true;
  w.wscale = 9;
  w.sack_permitted = true;
  w.has_ts = true;
  w.ts_val = 0xdeadbeef;
  w.ts_ecr = 0x01020304;
  uint8_t buf[40];
  const size_t n = write_tcp_options(buf, w);
  EXPECT_EQ(n, tcp_options_len(w));
  EXPECT_EQ(n % 4, 0u);
  EXPECT_EQ(n, 20u);
  TcpOptions r;
  ASSERT_TRUE(parse_tcp_options(buf, n, &r));
  EXPECT_EQ(r.mss, 8960);
  EXPECT_EQ(r.wscale, 9);
  EXPECT_TRUE(r.sack_permitted);
  EXPECT_EQ(r.ts_val, 0xdeadbeefu);
  EXPECT_EQ(r.ts_ecr, 0x01020304u);
}

TEST(TcpOptions, SackBlocksAreLimitedByTheOptionSpace) {
  TcpOptions w;
  w.has_ts = true;
  w.sack_count = 4;
  for (uint32_t i = 0; i < 4; ++i) w.sack[i] = {i * 100, i * 100 + 50};
  uint8_t buf[40];
  const size_t n = write_tcp_options(buf, w);
  EXPECT_EQ(n, 40u);  // 12 for timestamps + 4 + 3 blocks of 8
  TcpOptions r;
  ASSERT_TRUE(parse_tcp_options(buf, n, &r));
  EXPECT_EQ(r.sack_count, 3);
  EXPECT_EQ(r.sack[2].left, 200u);
  w.has_ts = false;
  EXPECT_EQ(tcp_options_len(w), 36u);  // 4 blocks fit without timestamps
}

TEST(TcpOptions, EmptyListIsValid) {
  TcpOptions o;
  EXPECT_TRUE(parse_tcp_options(nullptr, 0, &o));
  EXPECT_FALSE(o.has_mss || o.has_ts || o.has_wscale || o.sack_permitted);
}

}  // namespace
}  // namespace ix::net::tcp
