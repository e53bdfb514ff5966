// The stats seqlock read while its owner publishes: every copy a reader gets
// is one whole publication (never a mix of two), and publications are seen
// in order. Run under ThreadSanitizer too (IX_THREADED_TESTS), which reports
// any payload access that races with a write.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <thread>

#include "core/core_stats.hh"

namespace ix::core {
namespace {

// Odd-sized on purpose: the mailbox rounds the payload up to whole words.
struct Payload {
  std::array<uint64_t, 37> words;
  uint32_t tail;
};

Payload payload_of(uint64_t gen) {
  Payload p{};
  for (auto &w : p.words) w = gen;
  p.tail = static_cast<uint32_t>(gen);
  return p;
}

TEST(StatsMailbox, ReadersNeverSeeATornOrStaleCopyWhileTheOwnerPublishes) {
  StatsMailbox<Payload> box;
  box.publish(payload_of(0));
  constexpr uint64_t kPublications = 200000;
  std::atomic<bool> done{false};
  uint64_t torn = 0, backwards = 0, reads = 0, last = 0;
  std::thread reader([&] {
    while (!done.load(std::memory_order_acquire)) {
      const Payload p = box.read();
      ++reads;
      const uint64_t gen = p.words[0];
      for (uint64_t w : p.words) torn += w != gen;
      torn += p.tail != static_cast<uint32_t>(gen);
      backwards += gen < last;
      last = gen;
    }
  });
  for (uint64_t gen = 1; gen <= kPublications; ++gen) box.publish(payload_of(gen));
  done.store(true, std::memory_order_release);
  reader.join();
  EXPECT_EQ(torn, 0u);
  EXPECT_EQ(backwards, 0u);
  EXPECT_GT(reads, 0u);
  const Payload final_copy = box.read();
  EXPECT_EQ(final_copy.words[36], kPublications);
  EXPECT_EQ(final_copy.tail, static_cast<uint32_t>(kPublications));
}

}  // namespace
}  // namespace ix::core
