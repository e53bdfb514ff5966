// memcached's binary protocol handler against a real Store: every opcode,
// the quiet variants, malformed headers, oversized values, requests split at
// every byte boundary and pipelines. Expected answers follow memcached 1.6
// (checked against Debian's memcached 1.6.18 where the protocol text is
// silent, e.g. the flags TOUCH returns and the key a GETK miss echoes).
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "memcached/binary_protocol.hh"

namespace ix::mc {
namespace {

using namespace binary;
using Bytes = std::vector<uint8_t>;

// A realistic unix time: exptimes above 30 days are absolute times.
constexpr uint32_t kNow = 1'700'000'000;

void put32(std::string &s, uint32_t v) {
  for (int i = 3; i >= 0; --i) s.push_back(static_cast<char>(v >> (8 * i)));
}
void put64(std::string &s, uint64_t v) {
  put32(s, static_cast<uint32_t>(v >> 32));
  put32(s, static_cast<uint32_t>(v));
}
std::string be32(uint32_t v) {
  std::string s;
  put32(s, v);
  return s;
}
uint64_t get64(std::string_view s) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8 && i < s.size(); ++i) v = (v << 8) | static_cast<uint8_t>(s[i]);
  return v;
}

struct Req {
  uint8_t opcode = kNoop;
  std::string key;
  std::string extras;
  std::string value;
  uint64_t cas = 0;
  uint32_t opaque = 0;
  uint8_t magic = kRequestMagic;
  int64_t body_len = -1;  // override (>= 0) to build inconsistent headers
};

std::string encode(const Req &r) {
  Header h;
  h.magic = r.magic;
  h.opcode = r.opcode;
  h.key_len = static_cast<uint16_t>(r.key.size());
  h.extras_len = static_cast<uint8_t>(r.extras.size());
  h.body_len = r.body_len >= 0
                   ? static_cast<uint32_t>(r.body_len)
                   : static_cast<uint32_t>(r.key.size() + r.extras.size() + r.value.size());
  h.opaque = r.opaque;
  h.cas = r.cas;
  std::string out(kHeaderSize, '\0');
  encode_header(h, reinterpret_cast<uint8_t *>(out.data()));
  return out + r.extras + r.key + r.value;
}

std::string set_extras(uint32_t flags, uint32_t exptime) { return be32(flags) + be32(exptime); }
std::string delta_extras(uint64_t by, uint64_t initial, uint32_t exptime) {
  std::string s;
  put64(s, by);
  put64(s, initial);
  put32(s, exptime);
  return s;
}

struct Resp {
  Header h;
  std::string extras, key, value;
};

// Splits a byte stream into responses; fails the test on a torn or bad one.
std::vector<Resp> parse(const std::string &bytes) {
  std::vector<Resp> out;
  size_t at = 0;
  while (at < bytes.size()) {
    auto span = std::span(reinterpret_cast<const uint8_t *>(bytes.data()) + at, bytes.size() - at);
    auto h = decode_header(span);
    EXPECT_TRUE(h.has_value()) << "torn response header at " << at;
    if (!h) break;
    EXPECT_EQ(h->magic, kResponseMagic);
    EXPECT_EQ(h->data_type, 0);
    EXPECT_LE(size_t{h->extras_len} + h->key_len, h->body_len);
    EXPECT_LE(kHeaderSize + h->body_len, span.size()) << "torn response body";
    if (kHeaderSize + h->body_len > span.size()) break;
    Resp r;
    r.h = *h;
    const std::string body = bytes.substr(at + kHeaderSize, h->body_len);
    r.extras = body.substr(0, h->extras_len);
    r.key = body.substr(h->extras_len, h->key_len);
    r.value = body.substr(h->extras_len + h->key_len);
    out.push_back(r);
    at += kHeaderSize + h->body_len;
  }
  return out;
}

// One client connection as a server keeps it: unconsumed input is kept and
// handed back with the next bytes, the session persists, output is drained.
class Conn {
 public:
  explicit Conn(Context &ctx, bool with_session = true) : ctx_(ctx), with_session_(with_session) {}

  void feed(std::string_view bytes) {
    if (closed) {
      ignored += bytes.size();
      return;
    }
    buf_.insert(buf_.end(), bytes.begin(), bytes.end());
    while (!closed && !buf_.empty()) {
      const size_t n = with_session_ ? handle_binary(buf_, ctx_, reply_, &closed, session)
                                     : handle_binary(buf_, ctx_, reply_, &closed);
      EXPECT_LE(n, buf_.size());
      if (reply_.has_items()) saw_zero_copy = true;
      drain();
      buf_.erase(buf_.begin(), buf_.begin() + static_cast<ptrdiff_t>(n));
      if (n == 0) break;
    }
  }
  size_t pending() const { return buf_.size(); }

  std::string out;
  bool closed = false;
  bool saw_zero_copy = false;
  size_t ignored = 0;
  BinarySession session;

 private:
  void drain() {
    for (const Reply::Piece &p : reply_.pieces()) {
      if (p.item) {
        out.append(p.item.value().data(), p.len);
      } else {
        out.append(reply_.text_bytes().data() + p.offset, p.len);
      }
    }
    reply_.clear();
  }

  Context &ctx_;
  bool with_session_;
  Bytes buf_;
  Reply reply_;
};

ServerSettings small_settings() {
  ServerSettings s;
  s.store.memory_limit = 16ull << 20;
  s.store.item_size_max = 64 * 1024;
  s.store.stripes = 4;
  return s;
}

class BinaryProtocolTest : public ::testing::Test {
 protected:
  BinaryProtocolTest() : ctx_(std::make_unique<Context>(small_settings())) {
    ctx_->set_manual_now(kNow);
  }

  // Sends the requests on a fresh connection and returns every answer.
  std::vector<Resp> roundtrip(const std::vector<Req> &reqs, bool *closed = nullptr) {
    Conn c(*ctx_);
    std::string all;
    for (const Req &r : reqs) all += encode(r);
    c.feed(all);
    if (closed != nullptr) *closed = c.closed;
    return parse(c.out);
  }
  Resp one(const Req &r) {
    auto rs = roundtrip({r});
    EXPECT_EQ(rs.size(), 1u);
    return rs.empty() ? Resp{} : rs[0];
  }
  uint64_t set(const std::string &key, const std::string &value, uint32_t flags = 0,
               uint32_t exptime = 0) {
    Resp r = one({kSet, key, set_extras(flags, exptime), value});
    EXPECT_EQ(r.h.status, kSuccess);
    return r.h.cas;
  }
  std::string stat(const std::string &group, const std::string &name) {
    for (const Resp &r : roundtrip({{kStat, group}}))
      if (r.key == name) return r.value;
    return "<missing>";
  }

  std::unique_ptr<Context> ctx_;
};

TEST_F(BinaryProtocolTest, NoopAndVersionEchoOpaqueAndOpcode) {
  auto rs = roundtrip({{.opcode = kNoop, .opaque = 0xdeadbeef}, {.opcode = kVersion, .opaque = 7}});
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs[0].h.opcode, kNoop);
  EXPECT_EQ(rs[0].h.status, kSuccess);
  EXPECT_EQ(rs[0].h.opaque, 0xdeadbeef);
  EXPECT_EQ(rs[0].h.body_len, 0u);
  EXPECT_EQ(rs[1].h.opcode, kVersion);
  EXPECT_EQ(rs[1].h.opaque, 7u);
  EXPECT_EQ(rs[1].value, ctx_->version());
}

TEST_F(BinaryProtocolTest, SetThenGetReturnsFlagsCasAndValue) {
  const uint64_t cas = set("alpha", "hello", 0xcafe0001);
  EXPECT_NE(cas, 0u);
  Resp r = one({.opcode = kGet, .key = "alpha", .opaque = 42});
  EXPECT_EQ(r.h.status, kSuccess);
  EXPECT_EQ(r.h.opaque, 42u);
  EXPECT_EQ(r.h.cas, cas);
  EXPECT_EQ(r.extras, be32(0xcafe0001));
  EXPECT_EQ(r.key, "");
  EXPECT_EQ(r.value, "hello");
}

TEST_F(BinaryProtocolTest, LargeValuesAreSentZeroCopy) {
  std::string big(40000, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 131 + 7);
  set("big", big);
  Conn c(*ctx_);
  c.feed(encode({kGetK, "big"}));
  EXPECT_TRUE(c.saw_zero_copy);
  auto rs = parse(c.out);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].key, "big");
  EXPECT_EQ(rs[0].value, big);
}

TEST_F(BinaryProtocolTest, ZeroCopyValueOutlivesItsReplacementAndDeletion) {
  const std::string old_value(5000, 'o');
  set("hot", old_value);
  const std::string req = encode({kGet, "hot"});
  Reply reply;
  bool closed = false;
  BinarySession session;
  ASSERT_EQ(handle_binary(std::span(reinterpret_cast<const uint8_t *>(req.data()), req.size()),
                          *ctx_, reply, &closed, session),
            req.size());
  ASSERT_TRUE(reply.has_items());
  // Before the answer is sent, the key is replaced, deleted and flushed.
  set("hot", std::string(5000, 'n'));
  one({kDelete, "hot"});
  one({kFlush});
  std::string sent;
  for (const Reply::Piece &p : reply.pieces())
    sent += p.item ? std::string(p.item.value().data(), p.len)
                   : reply.text_bytes().substr(p.offset, p.len);
  auto rs = parse(sent);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].value, old_value);
}

TEST_F(BinaryProtocolTest, GetFamilyHitsAndMisses) {
  set("k", "v", 9);
  auto rs = roundtrip({{.opcode = kGet, .key = "nokey", .opaque = 1},
                       {.opcode = kGetK, .key = "nokey", .opaque = 2},
                       {.opcode = kGetQ, .key = "nokey", .opaque = 3},
                       {.opcode = kGetKQ, .key = "nokey", .opaque = 4},
                       {.opcode = kGetK, .key = "k", .opaque = 5},
                       {.opcode = kGetQ, .key = "k", .opaque = 6},
                       {.opcode = kGetKQ, .key = "k", .opaque = 7},
                       {.opcode = kNoop, .opaque = 8}});
  ASSERT_EQ(rs.size(), 6u);
  EXPECT_EQ(rs[0].h.status, kKeyNotFound);
  EXPECT_EQ(rs[0].h.opaque, 1u);
  EXPECT_EQ(rs[0].value, "Not found");
  EXPECT_EQ(rs[1].h.status, kKeyNotFound);  // GETK names the key it missed
  EXPECT_EQ(rs[1].key, "nokey");
  EXPECT_EQ(rs[1].value, "");
  for (size_t i = 2; i < 5; ++i) {
    EXPECT_EQ(rs[i].h.status, kSuccess);
    EXPECT_EQ(rs[i].extras, be32(9));
    EXPECT_EQ(rs[i].value, "v");
  }
  EXPECT_EQ(rs[2].h.opaque, 5u);
  EXPECT_EQ(rs[2].key, "k");
  EXPECT_EQ(rs[3].h.opaque, 6u);
  EXPECT_EQ(rs[3].key, "");
  EXPECT_EQ(rs[4].h.opaque, 7u);
  EXPECT_EQ(rs[4].key, "k");
  EXPECT_EQ(rs[5].h.opcode, kNoop);
  EXPECT_EQ(ctx_->counter_sum(ThreadCounters::get_hits), 3u);
  EXPECT_EQ(ctx_->counter_sum(ThreadCounters::get_misses), 4u);
}

TEST_F(BinaryProtocolTest, AddReplaceAndTheirFailures) {
  EXPECT_EQ(one({kAdd, "a", set_extras(0, 0), "1"}).h.status, kSuccess);
  Resp dup = one({kAdd, "a", set_extras(0, 0), "2"});
  EXPECT_EQ(dup.h.status, kKeyExists);
  EXPECT_EQ(dup.value, "Data exists for key.");
  EXPECT_EQ(one({kReplace, "missing", set_extras(0, 0), "x"}).h.status, kKeyNotFound);
  EXPECT_EQ(one({kReplace, "a", set_extras(3, 0), "3"}).h.status, kSuccess);
  Resp g = one({kGet, "a"});
  EXPECT_EQ(g.value, "3");
  EXPECT_EQ(g.extras, be32(3));
}

TEST_F(BinaryProtocolTest, CasOnSetAddReplace) {
  const uint64_t cas = set("c", "one");
  Resp bad = one(
      {.opcode = kSet, .key = "c", .extras = set_extras(0, 0), .value = "x", .cas = cas + 1000});
  EXPECT_EQ(bad.h.status, kKeyExists);
  Resp good =
      one({.opcode = kSet, .key = "c", .extras = set_extras(0, 0), .value = "two", .cas = cas});
  EXPECT_EQ(good.h.status, kSuccess);
  EXPECT_NE(good.h.cas, cas);
  EXPECT_EQ(one({kGet, "c"}).value, "two");
  // The old cas no longer matches.
  EXPECT_EQ(
      one({.opcode = kReplace, .key = "c", .extras = set_extras(0, 0), .value = "y", .cas = cas})
          .h.status,
      kKeyExists);
  // A cas on a missing key: not found, even for ADD.
  EXPECT_EQ(one({.opcode = kSet, .key = "nope", .extras = set_extras(0, 0), .value = "y", .cas = 5})
                .h.status,
            kKeyNotFound);
  EXPECT_EQ(one({.opcode = kAdd, .key = "nope", .extras = set_extras(0, 0), .value = "y", .cas = 5})
                .h.status,
            kKeyNotFound);
  EXPECT_EQ(stat("", "cas_hits"), "1");
  EXPECT_EQ(stat("", "cas_badval"), "2");
  EXPECT_EQ(stat("", "cas_misses"), "2");
}

TEST_F(BinaryProtocolTest, QuietStoresAnswerOnlyFailures) {
  auto rs = roundtrip(
      {{.opcode = kSetQ, .key = "q", .extras = set_extras(0, 0), .value = "1", .opaque = 1},
       {.opcode = kAddQ, .key = "q", .extras = set_extras(0, 0), .value = "2", .opaque = 2},
       {.opcode = kReplaceQ, .key = "q", .extras = set_extras(0, 0), .value = "3", .opaque = 3},
       {.opcode = kReplaceQ, .key = "zz", .extras = set_extras(0, 0), .value = "3", .opaque = 4},
       {.opcode = kAppendQ, .key = "q", .value = "4", .opaque = 5},
       {.opcode = kPrependQ, .key = "zz", .value = "4", .opaque = 6},
       {.opcode = kNoop, .opaque = 7}});
  ASSERT_EQ(rs.size(), 4u);
  EXPECT_EQ(rs[0].h.opaque, 2u);
  EXPECT_EQ(rs[0].h.opcode, kAddQ);
  EXPECT_EQ(rs[0].h.status, kKeyExists);
  EXPECT_EQ(rs[1].h.opaque, 4u);
  EXPECT_EQ(rs[1].h.status, kKeyNotFound);
  EXPECT_EQ(rs[2].h.opaque, 6u);
  EXPECT_EQ(rs[2].h.status, kNotStored);
  EXPECT_EQ(rs[3].h.opaque, 7u);
  EXPECT_EQ(one({kGet, "q"}).value, "34");
}

TEST_F(BinaryProtocolTest, AppendAndPrepend) {
  set("s", "mid", 77);
  EXPECT_EQ(one({.opcode = kAppend, .key = "s", .value = "_end"}).h.status, kSuccess);
  EXPECT_EQ(one({.opcode = kPrepend, .key = "s", .value = "start_"}).h.status, kSuccess);
  Resp g = one({kGet, "s"});
  EXPECT_EQ(g.value, "start_mid_end");
  EXPECT_EQ(g.extras, be32(77));  // flags kept
  Resp miss = one({.opcode = kAppend, .key = "none", .value = "x"});
  EXPECT_EQ(miss.h.status, kNotStored);
  EXPECT_EQ(miss.value, "Not stored.");
  // With a cas, only the matching version is extended.
  EXPECT_EQ(one({.opcode = kAppend, .key = "s", .value = "!", .cas = g.h.cas + 99}).h.status,
            kKeyExists);
  EXPECT_EQ(one({.opcode = kAppend, .key = "s", .value = "!", .cas = g.h.cas}).h.status, kSuccess);
  EXPECT_EQ(one({kGet, "s"}).value, "start_mid_end!");
}

TEST_F(BinaryProtocolTest, DeleteWithAndWithoutCas) {
  const uint64_t cas = set("d", "x");
  auto rs = roundtrip({{.opcode = kDelete, .key = "d", .cas = cas + 1, .opaque = 1},
                       {.opcode = kDelete, .key = "d", .cas = cas, .opaque = 2},
                       {.opcode = kDelete, .key = "d", .opaque = 3},
                       {.opcode = kDeleteQ, .key = "d", .opaque = 4}});
  ASSERT_EQ(rs.size(), 4u);
  EXPECT_EQ(rs[0].h.status, kKeyExists);
  EXPECT_EQ(rs[1].h.status, kSuccess);
  EXPECT_EQ(rs[2].h.status, kKeyNotFound);
  EXPECT_EQ(rs[3].h.status, kKeyNotFound);  // DELETEQ still reports the failure
  EXPECT_EQ(rs[3].h.opaque, 4u);
  set("d", "y");
  EXPECT_TRUE(roundtrip({{kDeleteQ, "d"}}).empty());
  EXPECT_EQ(one({kGet, "d"}).h.status, kKeyNotFound);
  EXPECT_EQ(ctx_->counter_sum(ThreadCounters::delete_hits), 2u);
}

TEST_F(BinaryProtocolTest, IncrementAndDecrement) {
  Resp created = one({kIncrement, "n", delta_extras(5, 100, 0)});
  EXPECT_EQ(created.h.status, kSuccess);
  EXPECT_EQ(created.value.size(), 8u);
  EXPECT_EQ(get64(created.value), 100u);  // created with the initial value
  EXPECT_NE(created.h.cas, 0u);
  EXPECT_EQ(get64(one({kIncrement, "n", delta_extras(5, 100, 0)}).value), 105u);
  EXPECT_EQ(one({kGet, "n"}).value, "105");  // stored as decimal text
  EXPECT_EQ(get64(one({kDecrement, "n", delta_extras(6, 0, 0)}).value), 99u);
  EXPECT_EQ(get64(one({kDecrement, "n", delta_extras(1000, 0, 0)}).value), 0u);  // floors at 0
  set("n", "18446744073709551615");
  EXPECT_EQ(get64(one({kIncrement, "n", delta_extras(2, 0, 0)}).value), 1u);  // wraps at 2^64
  Resp missing = one({kIncrement, "absent", delta_extras(1, 7, kNoAutoCreate)});
  EXPECT_EQ(missing.h.status, kKeyNotFound);
  EXPECT_EQ(one({kGet, "absent"}).h.status, kKeyNotFound);
  set("text", "abc");
  Resp bad = one({kDecrement, "text", delta_extras(1, 0, 0)});
  EXPECT_EQ(bad.h.status, kDeltaBadValue);
  EXPECT_EQ(
      one({.opcode = kIncrement, .key = "n", .extras = delta_extras(1, 0, 0), .cas = 1}).h.status,
      kKeyExists);
  // Quiet: nothing on success, the error on failure.
  auto rs = roundtrip(
      {{.opcode = kIncrementQ, .key = "n", .extras = delta_extras(1, 0, 0)},
       {.opcode = kDecrementQ, .key = "text", .extras = delta_extras(1, 0, 0), .opaque = 9},
       {kNoop}});
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs[0].h.status, kDeltaBadValue);
  EXPECT_EQ(rs[0].h.opaque, 9u);
  // Rewritten in place over the 20 digits it wrapped from, padded as memcached pads.
  EXPECT_EQ(one({kGet, "n"}).value, "2" + std::string(19, ' '));
  EXPECT_EQ(stat("", "incr_misses"), "2");
  EXPECT_EQ(stat("", "decr_hits"), "4");  // includes the non-numeric ones, as memcached counts
}

TEST_F(BinaryProtocolTest, IncrementCreatesWithExpiration) {
  one({kIncrement, "ttl", delta_extras(1, 5, 10)});
  EXPECT_EQ(one({kGet, "ttl"}).value, "5");
  ctx_->set_manual_now(kNow + 11);
  EXPECT_EQ(one({kGet, "ttl"}).h.status, kKeyNotFound);
}

TEST_F(BinaryProtocolTest, QuitAnswersThenCloses) {
  bool closed = false;
  auto rs = roundtrip({{.opcode = kQuit, .opaque = 3}, {kNoop}}, &closed);
  EXPECT_TRUE(closed);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].h.opcode, kQuit);
  EXPECT_EQ(rs[0].h.opaque, 3u);
  rs = roundtrip({{kQuitQ}, {kNoop}}, &closed);
  EXPECT_TRUE(closed);
  EXPECT_TRUE(rs.empty());
}

TEST_F(BinaryProtocolTest, FlushNowAndLater) {
  set("f1", "x");
  set("f2", "y");
  EXPECT_EQ(one({kFlush}).h.status, kSuccess);
  EXPECT_EQ(one({kGet, "f1"}).h.status, kKeyNotFound);
  set("f1", "x");
  EXPECT_TRUE(roundtrip({{kFlushQ}}).empty());
  EXPECT_EQ(one({kGet, "f1"}).h.status, kKeyNotFound);
  // A delayed flush: items stay until the time comes.
  set("f3", "z");
  EXPECT_EQ(one({.opcode = kFlush, .extras = be32(30)}).h.status, kSuccess);
  EXPECT_EQ(one({kGet, "f3"}).value, "z");
  ctx_->set_manual_now(kNow + 31);
  EXPECT_EQ(one({kGet, "f3"}).h.status, kKeyNotFound);
  EXPECT_EQ(ctx_->counter_sum(ThreadCounters::cmd_flush), 3u);
}

TEST_F(BinaryProtocolTest, ExpirationRelativeAndAbsoluteUnsigned) {
  set("rel", "1", 0, 10);
  set("abs", "2", 0, kNow + 20);
  set("max", "3", 0, 0xffffffff);  // unsigned on the wire: the year 2106, as memcached reads it
  EXPECT_EQ(one({kGet, "max"}).value, "3");
  set("past", "4", 0, kNow - 1);  // an absolute time already past
  EXPECT_EQ(one({kGet, "past"}).h.status, kKeyNotFound);
  ctx_->set_manual_now(kNow + 11);
  EXPECT_EQ(one({kGet, "rel"}).h.status, kKeyNotFound);
  EXPECT_EQ(one({kGet, "abs"}).value, "2");
  ctx_->set_manual_now(kNow + 21);
  EXPECT_EQ(one({kGet, "abs"}).h.status, kKeyNotFound);
}

TEST_F(BinaryProtocolTest, TouchAndGetAndTouch) {
  const uint64_t cas = set("t", "val", 5, 10);
  Resp touch = one({kTouch, "t", be32(100)});
  EXPECT_EQ(touch.h.status, kSuccess);
  EXPECT_EQ(touch.extras, be32(5));  // flags, as memcached answers; no value
  EXPECT_EQ(touch.value, "");
  EXPECT_EQ(touch.h.cas, cas);
  ctx_->set_manual_now(kNow + 50);  // past the old expiry, before the new one
  Resp gat = one({kGat, "t", be32(1000)});
  EXPECT_EQ(gat.h.status, kSuccess);
  EXPECT_EQ(gat.value, "val");
  EXPECT_EQ(gat.key, "");
  Resp gatk = one({kGatK, "t", be32(1000)});
  EXPECT_EQ(gatk.key, "t");
  EXPECT_EQ(gatk.value, "val");
  ctx_->set_manual_now(kNow + 1000);
  EXPECT_EQ(one({kGet, "t"}).value, "val");
  auto rs = roundtrip({{.opcode = kTouch, .key = "none", .extras = be32(1), .opaque = 1},
                       {.opcode = kGat, .key = "none", .extras = be32(1), .opaque = 2},
                       {.opcode = kGatK, .key = "none", .extras = be32(1), .opaque = 3},
                       {.opcode = kGatQ, .key = "none", .extras = be32(1), .opaque = 4},
                       {.opcode = kGatKQ, .key = "none", .extras = be32(1), .opaque = 5},
                       {.opcode = kGatKQ, .key = "t", .extras = be32(1), .opaque = 6},
                       {.opcode = kNoop, .opaque = 7}});
  ASSERT_EQ(rs.size(), 5u);
  EXPECT_EQ(rs[0].h.status, kKeyNotFound);
  EXPECT_EQ(rs[1].h.status, kKeyNotFound);
  EXPECT_EQ(rs[2].h.status, kKeyNotFound);
  EXPECT_EQ(rs[2].key, "none");
  EXPECT_EQ(rs[3].h.opaque, 6u);
  EXPECT_EQ(rs[3].key, "t");
  EXPECT_EQ(rs[4].h.opaque, 7u);
  ctx_->set_manual_now(kNow + 1002);  // the GATKQ set a 1 s expiry
  EXPECT_EQ(one({kGet, "t"}).h.status, kKeyNotFound);
  EXPECT_EQ(stat("", "touch_hits"), "4");
  EXPECT_EQ(stat("", "touch_misses"), "5");
}

TEST_F(BinaryProtocolTest, VerbosityIsAnUnknownCommandAsInMemcached16) {
  Conn c(*ctx_);
  c.feed(encode({.opcode = kVerbosity, .opaque = 3}) + encode({.opcode = kNoop, .opaque = 4}));
  auto rs = parse(c.out);
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs[0].h.status, kUnknownCommand);
  EXPECT_EQ(rs[0].value, "Unknown command");
  EXPECT_EQ(rs[1].h.opaque, 4u);
  EXPECT_EQ(ctx_->verbosity(), 0);
}

TEST(BinaryProtocolSettings, FlushRefusedWithF) {
  ServerSettings s = small_settings();
  s.flush_enabled = false;
  Context ctx(s);
  ctx.set_manual_now(kNow);
  Conn c(ctx);
  c.feed(encode({.opcode = kSet, .key = "a", .extras = set_extras(0, 0), .value = "v"}) +
         encode({.opcode = kFlush, .opaque = 1}) + encode({.opcode = kFlushQ, .opaque = 2}) +
         encode({.opcode = kGet, .key = "a", .opaque = 3}));
  auto rs = parse(c.out);
  ASSERT_EQ(rs.size(), 4u);
  for (int i : {1, 2}) {
    EXPECT_EQ(rs[i].h.status, kAuthError) << "memcached -F answers a flush as an auth failure";
    EXPECT_EQ(rs[i].value, "Auth failure.");
  }
  EXPECT_EQ(rs[3].h.status, kSuccess);
  EXPECT_EQ(rs[3].value, "v");
}

TEST(BinaryProtocolSettings, NoCasWithC) {
  ServerSettings s = small_settings();
  s.cas_enabled = false;
  Context ctx(s);
  ctx.set_manual_now(kNow);
  Conn c(ctx);
  c.feed(encode({.opcode = kSet, .key = "a", .extras = set_extras(0, 0), .value = "v"}) +
         encode({.opcode = kGet, .key = "a"}) +
         encode({.opcode = kSet, .key = "a", .extras = set_extras(0, 0), .value = "w", .cas = 5}) +
         encode({.opcode = kGet, .key = "a"}));
  auto rs = parse(c.out);
  ASSERT_EQ(rs.size(), 4u);
  for (const Resp &r : rs) {
    EXPECT_EQ(r.h.status, kSuccess);
    EXPECT_EQ(r.h.cas, 0u) << "no cas shown";
  }
  EXPECT_EQ(rs[3].value, "w") << "a cas sent is not compared";
}

TEST_F(BinaryProtocolTest, StatGroups) {
  set("x", "y");
  one({kGet, "x"});
  auto general = roundtrip({{.opcode = kStat, .opaque = 11}});
  ASSERT_GT(general.size(), 10u);
  for (const Resp &r : general) {
    EXPECT_EQ(r.h.opcode, kStat);
    EXPECT_EQ(r.h.opaque, 11u);
    EXPECT_EQ(r.h.status, kSuccess);
  }
  EXPECT_EQ(general.back().key, "");  // the terminator
  EXPECT_EQ(general.back().h.body_len, 0u);
  EXPECT_EQ(stat("", "version"), ctx_->version());
  EXPECT_EQ(stat("", "cmd_get"), "1");
  EXPECT_EQ(stat("", "curr_items"), "1");
  EXPECT_EQ(stat("settings", "item_size_max"), "65536");
  EXPECT_NE(stat("items", "items:1:number"), "<missing>");
  EXPECT_NE(stat("slabs", "total_malloced"), "<missing>");
  Resp unknown = one({kStat, "bogus"});
  EXPECT_EQ(unknown.h.status, kKeyNotFound);
  auto reset = roundtrip({{kStat, "reset"}});
  ASSERT_EQ(reset.size(), 1u);
  EXPECT_EQ(reset[0].h.status, kSuccess);
  EXPECT_EQ(stat("", "cmd_get"), "0");
}

TEST_F(BinaryProtocolTest, StatDetailAsMemcachedAnswersIt) {
  // memcached's t/binary.t starts with this: an empty answer (the
  // terminator alone), and the switch shows in the settings.
  auto on = roundtrip({{kStat, "detail on"}});
  ASSERT_EQ(on.size(), 1u);
  EXPECT_EQ(on[0].h.status, kSuccess);
  EXPECT_EQ(on[0].key, "");
  EXPECT_EQ(stat("settings", "detail_enabled"), "yes");
  EXPECT_EQ(roundtrip({{kStat, "detail off"}}).size(), 1u);
  EXPECT_EQ(stat("settings", "detail_enabled"), "no");
  auto dump = roundtrip({{kStat, "detail dump"}});
  ASSERT_EQ(dump.size(), 2u);
  EXPECT_EQ(dump[0].key, "detailed");
  EXPECT_EQ(dump[0].value, "END\r\n");
  // With detail on, sets, gets and deletes count per key prefix, and the
  // dump is memcached's text listing.
  roundtrip({{kStat, "detail on"}});
  EXPECT_EQ(one({kSet, "user:1", set_extras(0, 0), "v"}).h.status, kSuccess);
  one({kGet, "user:1"});
  one({kGet, "user:2"});
  one({kDelete, "user:3"});
  roundtrip({{kStat, "detail off"}});
  one({kGet, "user:1"});
  dump = roundtrip({{kStat, "detail dump"}});
  ASSERT_EQ(dump.size(), 2u);
  EXPECT_EQ(dump[0].value, "PREFIX user get 2 hit 1 set 1 del 1\r\nEND\r\n");
  EXPECT_EQ(one({kStat, "detail"}).h.status, kKeyNotFound);
  EXPECT_EQ(one({kStat, "detail x"}).h.status, kKeyNotFound);
  // memcached matches "reset" and "settings" by their first letters.
  EXPECT_NE(stat("settingsfoo", "item_size_max"), "<missing>");
  EXPECT_EQ(roundtrip({{kStat, "resetnow"}}).size(), 1u);
}

TEST_F(BinaryProtocolTest, ATurnStopsAtItsReplyBudgetAndTheRestWaits) {
  set("big", std::string(60000, 'b'));
  std::string in;
  for (int i = 0; i < 20; ++i) in += encode({kGet, "big"});
  in += encode({kNoop});
  BinarySession session;
  Reply r;
  bool close = false;
  const auto bytes = [&](size_t from) {
    return std::span<const uint8_t>(reinterpret_cast<const uint8_t *>(in.data()) + from,
                                    in.size() - from);
  };
  const size_t n = handle_binary(bytes(0), *ctx_, r, &close, session);
  EXPECT_LT(n, in.size());
  EXPECT_TRUE(session.paused);
  EXPECT_GE(r.bytes(), kTurnReplyBudget);
  EXPECT_LT(r.bytes(), kTurnReplyBudget + 61000) << "one answer past the budget at most";
  Reply r2;
  EXPECT_EQ(n + handle_binary(bytes(n), *ctx_, r2, &close, session), in.size());
  EXPECT_FALSE(session.paused);
}

// --- malformed input ---

struct Malformed {
  const char *what;
  Req req;
};

TEST_F(BinaryProtocolTest, MalformedHeadersGetEinvalAndClose) {
  const std::vector<Malformed> cases = {
      {"get with extras", {kGet, "k", "abcd"}},
      {"get without key", {kGet}},
      {"get with a value", {kGet, "k", "", "v"}},
      {"key of 251 bytes", {kGet, std::string(251, 'k')}},
      {"key longer than the body", {.opcode = kGet, .key = "key", .body_len = 2}},
      {"extras+key longer than the body",
       {.opcode = kSet, .key = "key", .extras = set_extras(0, 0), .body_len = 10}},
      {"set with 4 bytes of extras", {kSet, "k", "abcd", "v"}},
      {"set without key", {kSet, "", set_extras(0, 0), "v"}},
      {"add without extras", {kAdd, "k", "", "v"}},
      {"append with extras", {kAppend, "k", "abcd", "v"}},
      {"append without key", {kAppend, "", "", "v"}},
      {"delete with extras", {kDelete, "k", "abcd"}},
      {"incr with 8 bytes of extras", {kIncrement, "k", std::string(8, '\0')}},
      {"incr with a value", {kIncrement, "k", delta_extras(1, 0, 0), "v"}},
      {"decr without key", {kDecrement, "", delta_extras(1, 0, 0)}},
      {"noop with a key", {kNoop, "k"}},
      {"version with extras", {kVersion, "", "abcd"}},
      {"quit with a value", {kQuit, "", "", "v"}},
      {"flush with 3 bytes of extras", {kFlush, "", "abc"}},
      {"flush with a key", {kFlush, "k"}},
      {"stat with a value", {kStat, "", "", "v"}},
      {"stat with extras", {kStat, "", "abcd"}},
      {"touch without extras", {kTouch, "k"}},
      {"gat without key", {kGat, "", be32(1)}},
      {"gatkq with a value", {kGatKQ, "k", be32(1), "v"}},
  };
  for (const Malformed &m : cases) {
    SCOPED_TRACE(m.what);
    Req r = m.req;
    r.opaque = 0x1234;
    Conn c(*ctx_);
    c.feed(encode(r) + encode({kNoop}));
    EXPECT_TRUE(c.closed);
    auto rs = parse(c.out);
    ASSERT_EQ(rs.size(), 1u);  // the NOOP after it is not answered
    EXPECT_EQ(rs[0].h.status, kInvalidArguments);
    EXPECT_EQ(rs[0].h.opcode, r.opcode);
    EXPECT_EQ(rs[0].h.opaque, 0x1234u);
    EXPECT_EQ(rs[0].value, "Invalid arguments");
  }
  EXPECT_EQ(ctx_->counter_sum(ThreadCounters::protocol_errors), cases.size());
}

TEST_F(BinaryProtocolTest, MalformedHeaderIsJudgedBeforeItsBodyArrives) {
  // A header claiming 4 GB must not make the server wait for (or buffer) it.
  Conn c(*ctx_);
  c.feed(encode({.opcode = kGet, .key = "k", .body_len = 0xffffffff}).substr(0, kHeaderSize));
  EXPECT_TRUE(c.closed);
  auto rs = parse(c.out);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].h.status, kInvalidArguments);
}

TEST_F(BinaryProtocolTest, BadMagicClosesWithoutAnAnswer) {
  for (uint8_t magic : {uint8_t{0x81}, uint8_t{0x00}, uint8_t{'g'}, uint8_t{0xff}}) {
    Conn c(*ctx_);
    c.feed(encode({kNoop}) + encode({.opcode = kNoop, .magic = magic}) + encode({kNoop}));
    EXPECT_TRUE(c.closed);
    EXPECT_EQ(parse(c.out).size(), 1u);  // only the first NOOP
  }
}

TEST_F(BinaryProtocolTest, UnknownOpcodeIsAnsweredAndItsBodySkipped) {
  for (uint8_t op : {uint8_t{0x1f}, uint8_t{0x25}, uint8_t{0x30}, uint8_t{0x40}, uint8_t{0xff}}) {
    SCOPED_TRACE(int(op));
    Conn c(*ctx_);
    // memcached reads the extras and key, then skips the whole body length
    // after them: the 6 bytes following the request go too.
    c.feed(encode({.opcode = op,
                   .key = "key",
                   .extras = "ext",
                   .value = std::string(1000, 'v'),
                   .opaque = 5}) +
           "sixbyt" + encode({.opcode = kNoop, .opaque = 6}));
    EXPECT_FALSE(c.closed);
    auto rs = parse(c.out);
    ASSERT_EQ(rs.size(), 2u);
    EXPECT_EQ(rs[0].h.status, kUnknownCommand);
    EXPECT_EQ(rs[0].h.opcode, op);
    EXPECT_EQ(rs[0].h.opaque, 5u);
    EXPECT_EQ(rs[1].h.opcode, kNoop);
    EXPECT_EQ(rs[1].h.opaque, 6u);
  }
}

TEST_F(BinaryProtocolTest, SaslIsUnknownWhenWellFramedAndMalformedOtherwise) {
  Conn ok(*ctx_);
  ok.feed(encode({.opcode = kSaslListMechs, .opaque = 1}) +
          encode({.opcode = kSaslAuth, .key = "PLAIN", .value = std::string("\0u\0p", 4)}) +
          encode({.opcode = kSaslStep, .key = "PLAIN", .value = "x"}) +
          encode({.opcode = kNoop, .opaque = 9}));
  auto rs = parse(ok.out);
  ASSERT_EQ(rs.size(), 4u) << "each body skipped exactly";
  for (int i = 0; i < 3; ++i) EXPECT_EQ(rs[i].h.status, kUnknownCommand);
  EXPECT_EQ(rs[3].h.opaque, 9u);
  for (const Req &bad : {Req{.opcode = kSaslListMechs, .key = "k"}, Req{.opcode = kSaslAuth},
                         Req{.opcode = kSaslStep, .key = "PLAIN", .extras = "abcd"}}) {
    Conn c(*ctx_);
    c.feed(encode(bad));
    auto r = parse(c.out);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].h.status, kInvalidArguments);
    EXPECT_TRUE(c.closed);
  }
}

TEST_F(BinaryProtocolTest, TooLargeValueIsRejectedSwallowedAndTheConnectionGoesOn) {
  set("big", "old value");
  const std::string body(200 * 1024, 'b');  // over the 64 KB item limit
  const std::string stream =
      encode(
          {.opcode = kSet, .key = "big", .extras = set_extras(0, 0), .value = body, .opaque = 77}) +
      encode({.opcode = kGet, .key = "big", .opaque = 78});
  Conn c(*ctx_);
  // Arrives in 1000-byte pieces: the server answers at once and never holds
  // more than one piece of it.
  size_t most_pending = 0;
  for (size_t at = 0; at < stream.size(); at += 1000) {
    c.feed(std::string_view(stream).substr(at, 1000));
    most_pending = std::max(most_pending, c.pending());
    if (at == 0) {
      auto first = parse(c.out);
      ASSERT_EQ(first.size(), 1u);
      EXPECT_EQ(first[0].h.status, kValueTooLarge);
      EXPECT_EQ(first[0].h.opaque, 77u);
    }
  }
  EXPECT_LT(most_pending, 1000u);
  EXPECT_FALSE(c.closed);
  auto rs = parse(c.out);
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs[1].h.opaque, 78u);
  EXPECT_EQ(rs[1].h.status, kKeyNotFound);  // a failed set removes the old value
  EXPECT_EQ(c.session.swallow, 0u);
}

TEST_F(BinaryProtocolTest, TooLargeAppendAndQuietSetStillAnswer) {
  set("a", "x");
  auto rs =
      roundtrip({{.opcode = kAppend, .key = "a", .value = std::string(70000, 'y'), .opaque = 1},
                 {.opcode = kSetQ,
                  .key = "q",
                  .extras = set_extras(0, 0),
                  .value = std::string(70000, 'y'),
                  .opaque = 2},
                 {.opcode = kNoop, .opaque = 3}});
  ASSERT_EQ(rs.size(), 3u);
  EXPECT_EQ(rs[0].h.status, kValueTooLarge);
  EXPECT_EQ(rs[0].value, "Too large.");
  EXPECT_EQ(rs[1].h.status, kValueTooLarge);
  EXPECT_EQ(rs[1].h.opaque, 2u);
  EXPECT_EQ(rs[2].h.opcode, kNoop);
  EXPECT_EQ(one({kGet, "a"}).value, "x");  // append failures leave the value
  // The largest value that fits is stored; the next size up is not.
  const size_t limit = ctx_->store().config().item_size_max;
  size_t fits = 0;
  while (Store::item_size(3, fits + 1) <= limit) ++fits;
  EXPECT_EQ(one({kSet, "max", set_extras(0, 0), std::string(fits, 'm')}).h.status, kSuccess);
  EXPECT_EQ(one({kSet, "max", set_extras(0, 0), std::string(fits + 1, 'm')}).h.status,
            kValueTooLarge);
}

TEST_F(BinaryProtocolTest, WithoutASessionAnUnfinishedSwallowCloses) {
  Conn c(*ctx_, /*with_session=*/false);
  const std::string req = encode({kSet, "k", set_extras(0, 0), std::string(100000, 'x')});
  c.feed(std::string_view(req).substr(0, 5000));
  EXPECT_TRUE(c.closed);
  auto rs = parse(c.out);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].h.status, kValueTooLarge);
  // When the whole body is there, it is skipped and the connection goes on.
  Conn d(*ctx_, /*with_session=*/false);
  d.feed(req + encode({kNoop}));
  EXPECT_FALSE(d.closed);
  EXPECT_EQ(parse(d.out).size(), 2u);
}

// --- framing: splits and pipelines ---

// A pipeline touching every opcode, with deterministic answers on a fresh store.
std::string every_opcode_pipeline() {
  std::vector<Req> reqs = {
      {.opcode = kSet, .key = "a", .extras = set_extras(1, 0), .value = "alpha", .opaque = 1},
      {.opcode = kSetQ,
       .key = "b",
       .extras = set_extras(2, 0),
       .value = std::string(600, 'B'),
       .opaque = 2},
      {.opcode = kAdd, .key = "c", .extras = set_extras(3, 0), .value = "gamma", .opaque = 3},
      {.opcode = kAddQ, .key = "c", .extras = set_extras(3, 0), .value = "dup", .opaque = 4},
      {.opcode = kReplace, .key = "a", .extras = set_extras(4, 0), .value = "ALPHA", .opaque = 5},
      {.opcode = kReplaceQ, .key = "zz", .extras = set_extras(4, 0), .value = "x", .opaque = 6},
      {.opcode = kGet, .key = "a", .opaque = 7},
      {.opcode = kGetQ, .key = "b", .opaque = 8},
      {.opcode = kGetK, .key = "nope", .opaque = 9},
      {.opcode = kGetKQ, .key = "c", .opaque = 10},
      {.opcode = kAppend, .key = "a", .value = "+", .opaque = 11},
      {.opcode = kPrependQ, .key = "a", .value = "-", .opaque = 12},
      {.opcode = kIncrement, .key = "n", .extras = delta_extras(1, 10, 0), .opaque = 13},
      {.opcode = kIncrementQ, .key = "n", .extras = delta_extras(1, 10, 0), .opaque = 14},
      {.opcode = kDecrement, .key = "n", .extras = delta_extras(3, 0, 0), .opaque = 15},
      {.opcode = kDecrementQ, .key = "a", .extras = delta_extras(3, 0, 0), .opaque = 16},
      {.opcode = kTouch, .key = "a", .extras = be32(100), .opaque = 17},
      {.opcode = kGat, .key = "b", .extras = be32(100), .opaque = 18},
      {.opcode = kGatQ, .key = "nope", .extras = be32(100), .opaque = 19},
      {.opcode = kGatK, .key = "c", .extras = be32(100), .opaque = 20},
      {.opcode = kGatKQ, .key = "a", .extras = be32(100), .opaque = 21},
      {.opcode = kDelete, .key = "c", .opaque = 22},
      {.opcode = kDeleteQ, .key = "c", .opaque = 23},
      {.opcode = kVersion, .opaque = 24},
      {.opcode = kVerbosity, .opaque = 25},
      {.opcode = kStat, .key = "settings", .opaque = 26},
      {.opcode = 0x42, .value = "junk", .opaque = 27},
      {.opcode = kSet,
       .key = "huge",
       .extras = set_extras(0, 0),
       .value = std::string(5000, 'h'),
       .opaque = 28},
      {.opcode = kFlushQ, .opaque = 29},
      {.opcode = kGet, .key = "a", .opaque = 30},
      {.opcode = kFlush, .opaque = 31},
      {.opcode = kNoop, .opaque = 32},
      {.opcode = kQuit, .opaque = 33},
  };
  std::string s;
  for (const Req &r : reqs) s += encode(r);
  return s;
}

std::string run_in_pieces(const std::string &stream, const std::vector<size_t> &cuts,
                          bool *closed) {
  // A 4 KB item limit keeps the pipeline (and its rejected value) short, so
  // every cut position can be tried.
  ServerSettings settings = small_settings();
  settings.store.item_size_max = 4096;
  Context ctx(settings);
  ctx.set_manual_now(kNow);
  Conn c(ctx);
  size_t prev = 0;
  for (size_t cut : cuts) {
    c.feed(std::string_view(stream).substr(prev, cut - prev));
    prev = cut;
  }
  c.feed(std::string_view(stream).substr(prev));
  *closed = c.closed;
  EXPECT_EQ(c.pending(), 0u);
  return c.out;
}

TEST(BinaryProtocolFraming, EveryOpcodePipelineAnswersInOrder) {
  bool closed = false;
  const std::string out = run_in_pieces(every_opcode_pipeline(), {}, &closed);
  EXPECT_TRUE(closed);
  auto rs = parse(out);
  std::vector<uint32_t> opaques;
  for (const Resp &r : rs)
    if (opaques.empty() || opaques.back() != r.h.opaque) opaques.push_back(r.h.opaque);
  // Quiet successes (2, 12, 14, 29) and quiet misses (19) stay silent; quiet
  // hits (8, 10, 21) and quiet failures (4, 6, 16, 23) are answered.
  const std::vector<uint32_t> expected = {1,  3,  4,  5,  6,  7,  8,  9,  10, 11, 13, 15, 16, 17,
                                          18, 20, 21, 22, 23, 24, 25, 26, 27, 28, 30, 31, 32, 33};
  EXPECT_EQ(opaques, expected);
}

TEST(BinaryProtocolFraming, SplitAtEveryByteBoundaryGivesTheSameAnswers) {
  const std::string stream = every_opcode_pipeline();
  bool closed = false;
  const std::string whole = run_in_pieces(stream, {}, &closed);
  ASSERT_TRUE(closed);
  // One cut at every position.
  for (size_t cut = 1; cut < stream.size(); ++cut) {
    bool c = false;
    ASSERT_EQ(run_in_pieces(stream, {cut}, &c), whole) << "cut at " << cut;
    ASSERT_TRUE(c);
  }
  // Byte at a time.
  std::vector<size_t> cuts;
  for (size_t i = 1; i < stream.size(); ++i) cuts.push_back(i);
  EXPECT_EQ(run_in_pieces(stream, cuts, &closed), whole);
}

TEST(BinaryProtocolFraming, DeepPipelineOfQuietGets) {
  Context ctx(small_settings());
  ctx.set_manual_now(kNow);
  std::string stream;
  for (int i = 0; i < 500; ++i) {
    if (i % 3 == 0)
      stream += encode({.opcode = kSetQ,
                        .key = "key" + std::to_string(i),
                        .extras = set_extras(uint32_t(i), 0),
                        .value = std::string(i, 'a' + i % 26)});
  }
  for (int i = 0; i < 500; ++i)
    stream += encode({.opcode = kGetKQ, .key = "key" + std::to_string(i), .opaque = uint32_t(i)});
  stream += encode({.opcode = kNoop, .opaque = 9999});
  Conn c(ctx);
  c.feed(stream);
  auto rs = parse(c.out);
  ASSERT_EQ(rs.size(), 168u);  // 167 hits + the NOOP
  for (size_t j = 0; j + 1 < rs.size(); ++j) {
    const int i = static_cast<int>(3 * j);
    EXPECT_EQ(rs[j].h.opaque, uint32_t(i));
    EXPECT_EQ(rs[j].key, "key" + std::to_string(i));
    EXPECT_EQ(rs[j].extras, be32(uint32_t(i)));
    EXPECT_EQ(rs[j].value, std::string(i, 'a' + i % 26));
  }
  EXPECT_EQ(rs.back().h.opaque, 9999u);
}

TEST(BinaryProtocolFraming, IncompleteRequestConsumesNothing) {
  Context ctx(small_settings());
  const std::string req = encode({kSet, "key", set_extras(0, 0), "value"});
  for (size_t len = 0; len < req.size(); ++len) {
    Reply out;
    bool closed = false;
    BinarySession session;
    auto span = std::span(reinterpret_cast<const uint8_t *>(req.data()), len);
    EXPECT_EQ(handle_binary(span, ctx, out, &closed, session), 0u);
    EXPECT_FALSE(closed);
    EXPECT_TRUE(out.empty());
  }
}

TEST(BinaryProtocolHeader, EncodeDecodeRoundTrip) {
  Header h{0x80, 0x1d, 0x1234, 0x56, 0x78, 0x9abc, 0xdef01234, 0x11223344, 0x0102030405060708};
  uint8_t bytes[kHeaderSize];
  encode_header(h, bytes);
  EXPECT_EQ(bytes[2], 0x12);
  EXPECT_EQ(bytes[3], 0x34);
  EXPECT_EQ(bytes[8], 0xde);
  EXPECT_EQ(bytes[23], 0x08);
  auto d = decode_header(bytes);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->opcode, 0x1d);
  EXPECT_EQ(d->key_len, 0x1234);
  EXPECT_EQ(d->extras_len, 0x56);
  EXPECT_EQ(d->data_type, 0x78);
  EXPECT_EQ(d->status, 0x9abc);
  EXPECT_EQ(d->body_len, 0xdef01234u);
  EXPECT_EQ(d->opaque, 0x11223344u);
  EXPECT_EQ(d->cas, 0x0102030405060708u);
  EXPECT_FALSE(decode_header(std::span<const uint8_t>(bytes, kHeaderSize - 1)));
}

}  // namespace
}  // namespace ix::mc
