// ix-load's echo codec: messages carry a per-message pattern, and the reply
// parser completes one reply per --size bytes however the stream is cut,
// flagging a changed byte and a message that came back out of turn.
#include <gtest/gtest.h>

#include <vector>

#include "load/echo_codec.hh"

namespace ix::load {
namespace {

const EchoPattern p16(16), p32(32), p64(64);

struct Collect final : ReplySink {
  void on_reply(const Reply &r) override {
    EXPECT_EQ(r.kind, ReplyKind::kEcho);
    corrupt.push_back(r.value_corrupt);
  }
  std::vector<bool> corrupt;
};

std::vector<uint8_t> messages(size_t size, uint64_t first, uint64_t count) {
  const EchoPattern pattern(size);
  std::vector<uint8_t> out;
  for (uint64_t k = first; k < first + count; ++k) append_echo(out, pattern, k);
  return out;
}

TEST(LoadEchoCodec, MessagesDifferFromOneAnother) {
  EXPECT_NE(messages(64, 0, 1), messages(64, 1, 1));
  EXPECT_EQ(messages(64, 3, 1).size(), 64u);
}

TEST(LoadEchoCodec, ThePrecomputedPatternIsEchoByte) {
  for (size_t size : {1u, 64u, 1000u}) {
    const EchoPattern pattern(size);
    for (uint64_t seq : {0ull, 1ull, 57ull, 58ull, 12345ull})
      for (size_t i = 0; i < size; ++i)
        ASSERT_EQ(pattern.message(seq)[i], echo_byte(seq, i)) << size << " " << seq << " " << i;
  }
}

TEST(LoadEchoCodec, OneReplyPerSizeBytesHoweverTheStreamIsCut) {
  const std::vector<uint8_t> stream = messages(64, 0, 10);
  for (size_t piece : {1u, 7u, 63u, 64u, 65u, 640u}) {
    EchoReplyParser parser(&p64);
    Collect sink;
    for (size_t at = 0; at < stream.size(); at += piece)
      parser.feed(stream.data() + at, std::min(piece, stream.size() - at), sink);
    EXPECT_EQ(sink.corrupt, std::vector<bool>(10, false)) << "pieces of " << piece;
    EXPECT_TRUE(parser.idle());
    EXPECT_EQ(parser.completed(), 10u);
  }
}

TEST(LoadEchoCodec, AChangedByteMarksOnlyItsMessage) {
  std::vector<uint8_t> stream = messages(32, 0, 3);
  stream[32 + 5] ^= 1;
  EchoReplyParser parser(&p32);
  Collect sink;
  parser.feed(stream.data(), stream.size(), sink);
  EXPECT_EQ(sink.corrupt, (std::vector<bool>{false, true, false}));
}

TEST(LoadEchoCodec, AMissingOrRepeatedMessageIsCorrupt) {
  // Messages 0, 0, 1 (the first repeated, so every later one is a turn
  // late): the second and third replies are not what was sent then.
  std::vector<uint8_t> stream = messages(16, 0, 1);
  append_echo(stream, p16, 0);
  append_echo(stream, p16, 1);
  EchoReplyParser parser(&p16);
  Collect sink;
  parser.feed(stream.data(), stream.size(), sink);
  ASSERT_EQ(sink.corrupt.size(), 3u);
  EXPECT_FALSE(sink.corrupt[0]);
  EXPECT_TRUE(sink.corrupt[1]);
  EXPECT_TRUE(sink.corrupt[2]);
}

TEST(LoadEchoCodec, APartialMessageWaitsForTheRest) {
  const std::vector<uint8_t> stream = messages(64, 0, 1);
  EchoReplyParser parser(&p64);
  Collect sink;
  parser.feed(stream.data(), 40, sink);
  EXPECT_TRUE(sink.corrupt.empty());
  EXPECT_FALSE(parser.idle());
  parser.feed(stream.data() + 40, 24, sink);
  EXPECT_EQ(sink.corrupt.size(), 1u);
}

}  // namespace
}  // namespace ix::load
