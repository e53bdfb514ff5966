// ix-load's memcached text protocol: request encoding and the reply parser
// on whole, split and bundled replies, server errors and protocol errors.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "load/memcache_text.hh"
#include "load/workload.hh"

namespace ix::load {
namespace {

struct Collect : ReplySink {
  std::vector<Reply> replies;
  void on_reply(const Reply &r) override { replies.push_back(r); }
};

std::string stored_value(size_t n) {
  std::string v;
  for (size_t i = 0; i < n; ++i) v += static_cast<char>(value_byte(i));
  return v;
}

bool feed(ReplyParser &p, const std::string &s, Collect &c) {
  return p.feed(reinterpret_cast<const uint8_t *>(s.data()), s.size(), c);
}

TEST(LoadProtocol, EncodesGetAndSet) {
  std::vector<uint8_t> out;
  append_get(out, "k1");
  append_set(out, "key", 5);
  EXPECT_EQ(std::string(out.begin(), out.end()), "get k1\r\nset key 0 0 5\r\nabcde\r\n");
  out.clear();
  append_set(out, "z", 0);
  EXPECT_EQ(std::string(out.begin(), out.end()), "set z 0 0 0\r\n\r\n");
}

const std::string kStream = "VALUE 0042 0 30\r\n" + stored_value(30) +
                            "\r\nEND\r\nEND\r\nSTORED\r\nSERVER_ERROR out of memory storing "
                            "object\r\nNOT_STORED\r\nVALUE k 7 0 99\r\n\r\nEND\r\nERROR\r\n"
                            "CLIENT_ERROR bad data chunk\r\n";

void expect_stream(const std::vector<Reply> &r) {
  ASSERT_EQ(r.size(), 8u);
  EXPECT_EQ(r[0].kind, ReplyKind::kEnd);
  EXPECT_EQ(r[0].values, 1u);
  EXPECT_FALSE(r[0].value_corrupt);
  EXPECT_EQ(r[1].kind, ReplyKind::kEnd);
  EXPECT_EQ(r[1].values, 0u);  // a miss
  EXPECT_EQ(r[2].kind, ReplyKind::kStored);
  EXPECT_EQ(r[3].kind, ReplyKind::kServerError);
  EXPECT_EQ(r[4].kind, ReplyKind::kNotStored);
  EXPECT_EQ(r[5].kind, ReplyKind::kEnd);
  EXPECT_EQ(r[5].values, 1u);  // an empty value with flags and cas
  EXPECT_EQ(r[6].kind, ReplyKind::kError);
  EXPECT_EQ(r[7].kind, ReplyKind::kClientError);
}

TEST(LoadProtocol, ParsesBundledReplies) {
  ReplyParser p;
  Collect c;
  ASSERT_TRUE(feed(p, kStream, c)) << p.error();
  expect_stream(c.replies);
  EXPECT_TRUE(p.idle());
}

TEST(LoadProtocol, ParsesRepliesSplitAnywhere) {
  for (size_t cut = 1; cut < kStream.size(); ++cut) {
    ReplyParser p;
    Collect c;
    ASSERT_TRUE(feed(p, kStream.substr(0, cut), c)) << cut << ": " << p.error();
    ASSERT_TRUE(feed(p, kStream.substr(cut), c)) << cut << ": " << p.error();
    expect_stream(c.replies);
  }
  ReplyParser p;
  Collect c;
  for (char ch : kStream) ASSERT_TRUE(feed(p, std::string(1, ch), c)) << p.error();
  expect_stream(c.replies);
}

TEST(LoadProtocol, ValueDataIsLengthDelimitedAndChecked) {
  // Data that looks like protocol lines is still data.
  ReplyParser p;
  p.set_verify_values(false);
  Collect c;
  ASSERT_TRUE(feed(p, "VALUE a 0 5\r\nEND\r\n\r\nEND\r\n", c)) << p.error();
  ASSERT_EQ(c.replies.size(), 1u);
  EXPECT_EQ(c.replies[0].values, 1u);
  // With checking on, data other than what ix-load stores is flagged.
  ReplyParser checked;
  Collect d;
  ASSERT_TRUE(feed(checked, "VALUE a 0 3\r\nabX\r\nEND\r\nVALUE a 0 3\r\nabc\r\nEND\r\n", d));
  ASSERT_EQ(d.replies.size(), 2u);
  EXPECT_TRUE(d.replies[0].value_corrupt);
  EXPECT_FALSE(d.replies[1].value_corrupt);  // the flag does not leak into the next reply
}

TEST(LoadProtocol, RejectsWhatIsNotTheProtocol) {
  const std::string bad[] = {
      "GARBAGE\r\n",
      "END\n",                           // no \r
      "STORED extra\r\n",                // trailing words
      "VALUE k 0\r\n",                   // no length
      "VALUE k 0 x\r\n",                 // bad length
      "VALUE k 0 3 1 2\r\n",             // too many fields
      "VALUE k 99999999999 3\r\n",       // flags beyond 32 bits
      "VALUE k 0 999999999999\r\n",      // absurd length
      "VALUE k 0 3\r\nabcXY",            // data not followed by \r\n
      "VALUE k 0 1\r\na\r\nSTORED\r\n",  // STORED inside a get reply
      std::string(3000, 'A') + "\r\n",   // line too long
      std::string(3000, 'A'),            // ... even before its end arrives
  };
  for (const std::string &s : bad) {
    ReplyParser p;
    p.set_verify_values(false);
    Collect c;
    EXPECT_FALSE(feed(p, s, c)) << s.substr(0, 40);
    EXPECT_TRUE(p.failed());
    EXPECT_FALSE(p.error().empty());
    // Once failed, the stream is not trusted: nothing more is parsed.
    const size_t before = c.replies.size();
    EXPECT_FALSE(feed(p, "END\r\n", c));
    EXPECT_EQ(c.replies.size(), before);
  }
}

}  // namespace
}  // namespace ix::load
