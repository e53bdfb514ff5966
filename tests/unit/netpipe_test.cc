// NetPIPE receiver: the size schedule against the sizes the stock NPtcp
// 3.7.2 transmitter (Debian netpipe-tcp) wrote to its output file for the
// same options, and the receiver's state machine fed a whole conversation as
// NPtcp speaks it, byte by byte and all at once, plus bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "netpipe/receiver.hh"
#include "netpipe/schedule.hh"

namespace netpipe {
namespace {

using Sizes = std::vector<uint32_t>;

ScheduleOptions opts(uint32_t lower, uint32_t upper, uint32_t pert) {
  ScheduleOptions o;
  o.lower = lower;
  o.upper = upper;
  o.perturbation = pert;
  return o;
}

// `NPtcp -h HOST -n 3 [options] -o FILE`: the first column of FILE.
TEST(NetpipeSchedule, DefaultsMatchNptcp) {
  const Sizes want = {
      1,       2,       3,       4,       6,       8,       12,      13,      16,      19,
      21,      24,      27,      29,      32,      35,      45,      48,      51,      61,
      64,      67,      93,      96,      99,      125,     128,     131,     189,     192,
      195,     253,     256,     259,     381,     384,     387,     509,     512,     515,
      765,     768,     771,     1021,    1024,    1027,    1533,    1536,    1539,    2045,
      2048,    2051,    3069,    3072,    3075,    4093,    4096,    4099,    6141,    6144,
      6147,    8189,    8192,    8195,    12285,   12288,   12291,   16381,   16384,   16387,
      24573,   24576,   24579,   32765,   32768,   32771,   49149,   49152,   49155,   65533,
      65536,   65539,   98301,   98304,   98307,   131069,  131072,  131075,  196605,  196608,
      196611,  262141,  262144,  262147,  393213,  393216,  393219,  524285,  524288,  524291,
      786429,  786432,  786435,  1048573, 1048576, 1048579, 1572861, 1572864, 1572867, 2097149,
      2097152, 2097155, 3145725, 3145728, 3145731, 4194301, 4194304, 4194307, 6291453, 6291456,
      6291459, 8388605, 8388608, 8388611};
  EXPECT_EQ(SizeSchedule::all_sizes(ScheduleOptions{}), want);
}

TEST(NetpipeSchedule, UpperBoundStopsGroupsNotPerturbations) {
  // -u 1048576: NPtcp's output is the default run's first 106 sizes, ending
  // with the 1048576 group, whose upper point lies above -u.
  const Sizes all = SizeSchedule::all_sizes(opts(1, 1048576, 3));
  const Sizes defaults = SizeSchedule::all_sizes(ScheduleOptions{});
  ASSERT_EQ(all.size(), 106u);
  EXPECT_TRUE(std::equal(all.begin(), all.end(), defaults.begin()));
  EXPECT_EQ(all[103], 1048573u);
  EXPECT_EQ(all.back(), 1048579u);
  // -u 40: ends with the 32 group.
  EXPECT_EQ(SizeSchedule::all_sizes(opts(1, 40, 3)),
            (Sizes{1, 2, 3, 4, 6, 8, 12, 13, 16, 19, 21, 24, 27, 29, 32, 35}));
}

TEST(NetpipeSchedule, LowerBoundMatchesNptcp) {  // -l 100 -u 5000
  EXPECT_EQ(SizeSchedule::all_sizes(opts(100, 5000, 3)),
            (Sizes{97,   100,  103,  147,  150,  153,  197,  200,  203,  297,  300,  303,
                   397,  400,  403,  597,  600,  603,  797,  800,  803,  1197, 1200, 1203,
                   1597, 1600, 1603, 2397, 2400, 2403, 3197, 3200, 3203, 4797, 4800, 4803}));
}

TEST(NetpipeSchedule, NoPerturbationMatchesNptcp) {  // -p 0 -u 1000
  EXPECT_EQ(SizeSchedule::all_sizes(opts(1, 1000, 0)),
            (Sizes{1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768}));
}

TEST(NetpipeSchedule, SmallPerturbationMatchesNptcp) {  // -p 1 -u 300
  EXPECT_EQ(
      SizeSchedule::all_sizes(opts(1, 300, 1)),
      (Sizes{1,  2,  3,  4,  6,  7,  8,  9,  11, 12, 13,  15,  16,  17,  23,  24,  25,  31,  32,
             33, 47, 48, 49, 63, 64, 65, 95, 96, 97, 127, 128, 129, 191, 192, 193, 255, 256, 257}));
}

TEST(NetpipeSchedule, OddLowerAndPerturbationMatchNptcp) {  // -l 7 -p 5 -u 3000
  EXPECT_EQ(
      SizeSchedule::all_sizes(opts(7, 3000, 5)),
      (Sizes{7,   10,  13,  19,  20,  25,   30,   32,   37,   42,   44,   49,   54,   68,  73,  78,
             92,  97,  102, 140, 145, 150,  188,  193,  198,  284,  289,  294,  380,  385, 390, 572,
             577, 582, 764, 769, 774, 1148, 1153, 1158, 1532, 1537, 1542, 2300, 2305, 2310}));
}

TEST(NetpipeSchedule, GroupStartsAndMaxSize) {
  SizeSchedule s(opts(1, 40, 3));
  std::vector<bool> starts;
  while (auto p = s.next()) starts.push_back(p->group_start);
  // 1 2 3 4 6 8 12 | 13 16 19 | 21 24 27 | 29 32 35
  const std::vector<bool> want = {true,  true,  true, true,  true,  true, true,  true,
                                  false, false, true, false, false, true, false, false};
  EXPECT_EQ(starts, want);
  EXPECT_EQ(s.max_size(), 43u);
  EXPECT_FALSE(s.next().has_value());  // stays over
}

TEST(NetpipeSchedule, LowerEqualUpperIsOneGroup) {
  // NPtcp -l 64 -u 64: the increment (32) already exceeds p + 1.
  EXPECT_EQ(SizeSchedule::all_sizes(opts(64, 64, 3)), (Sizes{61, 64, 67}));
  EXPECT_EQ(SizeSchedule::all_sizes(opts(64, 64, 0)), (Sizes{64}));
}

TEST(NetpipeSchedule, Checks) {
  EXPECT_EQ(check(ScheduleOptions{}), "");
  EXPECT_NE(check(opts(0, 10, 3)), "");
  EXPECT_NE(check(opts(11, 10, 3)), "");
  EXPECT_NE(check(opts(1, 2147483647u, 3)), "");
  EXPECT_EQ(check(opts(1, 2147483644u, 3)), "");
}

// --- the receiver's state machine -------------------------------------------

// What the transmitter sends for a whole run, and what a correct receiver
// answers, built from the protocol description (not from the receiver).
struct Conversation {
  std::vector<uint8_t> from_tx;
  std::string expected_replies;  // replies, tokens and echoed bytes in order
};

void put(std::vector<uint8_t> &v, const void *p, size_t n) {
  const auto *b = static_cast<const uint8_t *>(p);
  v.insert(v.end(), b, b + n);
}

Conversation conversation(uint32_t lower, const Sizes &sizes, uint32_t repeats, bool quit) {
  Conversation c;
  auto sync = [&] {
    put(c.from_tx, kSync, kSyncLen);
    c.expected_replies += "SyncMe";
  };
  auto message = [&](uint32_t size, char fill) {
    std::vector<uint8_t> m(size, static_cast<uint8_t>(fill));
    m.back() = 'b';
    put(c.from_tx, m.data(), m.size());
    c.expected_replies.append(m.begin(), m.end());
  };
  sync();
  for (uint32_t i = 0; i < kLatencyRoundTrips; ++i) message(lower, 'a');
  sync();
  char fill = 'c';
  for (uint32_t size : sizes) {
    sync();
    const uint8_t count[4] = {uint8_t(repeats >> 24), uint8_t(repeats >> 16), uint8_t(repeats >> 8),
                              uint8_t(repeats)};
    put(c.from_tx, count, 4);
    for (uint32_t t = 0; t < kTrials; ++t) {
      sync();
      for (uint32_t r = 0; r < repeats; ++r) message(size, fill);
    }
    fill = fill == 'z' ? 'c' : static_cast<char>(fill + 1);
  }
  if (quit) {
    put(c.from_tx, kQuit, kQuitLen);
    c.expected_replies.append(kQuit, kQuitLen);
  }
  return c;
}

Conversation conversation(const ScheduleOptions &o, uint32_t repeats, bool quit = true) {
  return conversation(o.lower, SizeSchedule::all_sizes(o), repeats, quit);
}

// Feeds `in` in pieces of at most `chunk` bytes (the clock advancing 1 us per
// piece) and records the replies; returns the final step.
Receiver::Step run(Receiver &rx, const std::vector<uint8_t> &in, size_t chunk,
                   std::string &replies) {
  size_t pos = 0;
  uint64_t now = 1'000'000;
  Receiver::Step last = Receiver::Step::kNeedMore;
  while (pos < in.size()) {
    const size_t n = std::min(chunk, in.size() - pos);
    size_t off = 0;
    while (off < n) {
      const auto r = rx.feed({in.data() + pos + off, n - off}, now);
      off += r.consumed;
      last = r.step;
      switch (r.step) {
        case Receiver::Step::kReplySync:
          replies.append(kSync, kSyncLen);
          break;
        case Receiver::Step::kEcho: {
          const auto m = rx.message();
          replies.append(m.begin(), m.end());
          break;
        }
        case Receiver::Step::kReplyQuit:
          replies.append(kQuit, kQuitLen);
          break;
        case Receiver::Step::kError:
          return last;
        case Receiver::Step::kNeedMore:
          break;
      }
      if (r.consumed == 0 && r.step == Receiver::Step::kNeedMore) break;
    }
    pos += n;
    now += 1000;
  }
  return last;
}

TEST(NetpipeReceiver, WholeRunAtOnceAndByteByByte) {
  const ScheduleOptions o = opts(1, 40, 3);
  const Conversation c = conversation(o, 5);
  for (size_t chunk : {c.from_tx.size(), size_t{1}, size_t{7}, size_t{4096}}) {
    Receiver rx(o);
    std::string replies;
    EXPECT_EQ(run(rx, c.from_tx, chunk, replies), Receiver::Step::kReplyQuit) << chunk;
    EXPECT_EQ(replies, c.expected_replies) << "chunk " << chunk;
    EXPECT_TRUE(rx.finished());
    ASSERT_EQ(rx.results().size(), 16u);
    EXPECT_EQ(rx.results().back().size, 35u);
    EXPECT_EQ(rx.results().back().repeats, 5u);
    if (chunk < 8) {
      EXPECT_GT(rx.latency_seconds(), 0.0);  // the clock moved between pieces
    }
  }
}

TEST(NetpipeReceiver, WantedNeverCrossesAnAnswer) {
  // Feeding exactly wanted() bytes at a time must consume them all (the app
  // relies on it to read zero copy without leftovers).
  const ScheduleOptions o = opts(3, 100, 2);
  const Conversation c = conversation(o, 3);
  Receiver rx(o);
  size_t pos = 0;
  std::string replies;
  while (pos < c.from_tx.size()) {
    const size_t want = rx.wanted();
    ASSERT_GT(want, 0u);
    const size_t n = std::min(want, c.from_tx.size() - pos);
    const auto r = rx.feed({c.from_tx.data() + pos, n}, pos);
    ASSERT_EQ(r.consumed, n);
    ASSERT_NE(r.step, Receiver::Step::kError) << rx.error();
    if (r.step == Receiver::Step::kEcho) replies.append(rx.message().begin(), rx.message().end());
    if (r.step == Receiver::Step::kReplySync) replies += "SyncMe";
    if (r.step == Receiver::Step::kReplyQuit) replies.append(kQuit, kQuitLen);
    pos += n;
  }
  EXPECT_EQ(replies, c.expected_replies);
  EXPECT_TRUE(rx.finished());
  EXPECT_EQ(rx.wanted(), 0u);
}

TEST(NetpipeReceiver, TransmitterMayQuitAtAGroupStart) {
  // A transmitter that stopped early (its last point took >= 1 s): QUIT in
  // place of the sync before 21 (a group start) ends the run cleanly.
  const ScheduleOptions full = opts(1, 40, 3);
  const Conversation c = conversation(opts(1, 19, 3), 2);  // ends after 13 16 19
  Receiver rx(full);
  std::string replies;
  EXPECT_EQ(run(rx, c.from_tx, 3, replies), Receiver::Step::kReplyQuit);
  EXPECT_EQ(replies, c.expected_replies);
  EXPECT_EQ(rx.results().size(), 10u);
}

TEST(NetpipeReceiver, QuitInsideAGroupIsAnError) {
  // The run up to and including 13, then QUIT: the transmitter cannot stop
  // between 13 and 16 (one group), so this is not NetPIPE.
  const std::vector<uint8_t> in = conversation(1, Sizes{1, 2, 3, 4, 6, 8, 12, 13}, 2, true).from_tx;
  Receiver rx(opts(1, 40, 3));
  std::string replies;
  EXPECT_EQ(run(rx, in, 64, replies), Receiver::Step::kError);
  EXPECT_NE(rx.error().find("SyncMe"), std::string::npos) << rx.error();
}

TEST(NetpipeReceiver, TransmitterPastTheScheduleIsAnError) {
  const Conversation c = conversation(opts(1, 40, 3), 2, false);
  std::vector<uint8_t> in = c.from_tx;
  put(in, kSync, kSyncLen);  // a 17th point the receiver's -u does not have
  Receiver rx(opts(1, 40, 3));
  std::string replies;
  EXPECT_EQ(run(rx, in, 100, replies), Receiver::Step::kError);
  EXPECT_NE(rx.error().find("past this receiver's schedule"), std::string::npos) << rx.error();
}

TEST(NetpipeReceiver, BadSyncRepeatAndTrailingBytes) {
  {
    Receiver rx(ScheduleOptions{});
    const uint8_t bad[] = {'S', 'y', 'n', 'c', 'M', 'X'};
    EXPECT_EQ(rx.feed(bad, 0).step, Receiver::Step::kError);
    EXPECT_EQ(rx.feed(bad, 0).step, Receiver::Step::kError);  // stays failed
  }
  {
    // A repeat count with the top bit set (a negative int in NPtcp).
    const ScheduleOptions o = opts(1, 4, 0);
    Conversation c = conversation(o, 1, false);
    // The first repeat count follows hello, 100 pings, two syncs.
    const size_t at = 2 * kSyncLen + kLatencyRoundTrips + kSyncLen;
    c.from_tx[at] = 0x80;
    Receiver rx(o);
    std::string replies;
    EXPECT_EQ(run(rx, c.from_tx, 1, replies), Receiver::Step::kError);
    EXPECT_NE(rx.error().find("repeat count"), std::string::npos);
  }
  {
    const ScheduleOptions o = opts(1, 4, 0);
    Conversation c = conversation(o, 2);
    c.from_tx.push_back('x');
    Receiver rx(o);
    std::string replies;
    EXPECT_EQ(run(rx, c.from_tx, 1000, replies), Receiver::Step::kError);
    EXPECT_EQ(rx.error(), "data after QUIT");
  }
}

TEST(NetpipeReceiver, ZeroRepeatsIsTimedAsZero) {
  const ScheduleOptions o = opts(8, 8, 0);
  const Conversation c = conversation(o, 0);
  Receiver rx(o);
  std::string replies;
  EXPECT_EQ(run(rx, c.from_tx, 5, replies), Receiver::Step::kReplyQuit);
  EXPECT_EQ(replies, c.expected_replies);
  ASSERT_EQ(rx.results().size(), 1u);
  EXPECT_EQ(rx.results()[0].seconds, 0.0);
}

TEST(NetpipeReceiver, TimesTheBestTrial) {
  // One point of 4 bytes, 2 round trips per trial; the clock advances 10 us
  // per fed piece, so trial times are exact multiples of it.
  const ScheduleOptions o = opts(4, 4, 0);
  const Conversation c = conversation(o, 2);
  Receiver rx(o);
  size_t pos = 0;
  uint64_t now = 0;
  while (pos < c.from_tx.size()) {
    const size_t n = std::min(rx.wanted(), c.from_tx.size() - pos);
    ASSERT_GT(n, 0u);
    const auto r = rx.feed({c.from_tx.data() + pos, n}, now);
    ASSERT_NE(r.step, Receiver::Step::kError);
    pos += r.consumed;
    now += 10'000;
  }
  ASSERT_EQ(rx.results().size(), 1u);
  // Each trial: sync at t0, message 1 at +10 us, message 2 at +20 us:
  // 20 us / 2 round trips / 2 = 5 us one way.
  EXPECT_DOUBLE_EQ(rx.results()[0].seconds, 5e-6);
  // Latency: 100 messages, the last 1000 us after the hello: 1000 / 200.
  EXPECT_DOUBLE_EQ(rx.latency_seconds(), 5e-6);
}

}  // namespace
}  // namespace netpipe
