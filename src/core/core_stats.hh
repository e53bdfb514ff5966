// Per-core loop statistics. Written only by the owning elastic thread with
// plain stores (no atomics on the fast path); other threads read published
// snapshots through StatsMailbox.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace ix::core {

struct CoreStats {
  uint64_t iterations = 0;   // run_io calls / loop turns
  uint64_t idle_polls = 0;   // polls that found no frame
  uint64_t idle_yields = 0;  // CPU yields after a streak of empty polls
  // Time from the first poll, and the part of it that followed a poll that
  // found frames (until the next poll: the stack's and the application's
  // work on them). busy_ns / loop_ns is the core's load: a polling core is
  // always 100% on in top, and counting polls says nothing, since an idle
  // poll takes a fraction of a busy one.
  uint64_t loop_ns = 0;
  uint64_t busy_ns = 0;
  uint64_t rx_frames = 0;
  uint64_t tx_frames = 0;
  uint64_t tx_full = 0;     // frames kept back for a later flush: the TX ring was full
  uint64_t tx_dropped = 0;  // frames dropped because the TX backlog overflowed
  uint64_t commands = 0;
  uint64_t events = 0;
  uint64_t timers_fired = 0;
  uint64_t rx_paused = 0;          // polls skipped because the application lags on events
  uint64_t arp_notes_dropped = 0;  // ARP bindings a sibling's full inbox could not take
  // Flow groups (see ElasticThread::set_flow_ownership). With a device that
  // steers by our flow groups all four stay 0.
  uint64_t fwd_out = 0;          // frames received here but owned by a sibling, handed over
  uint64_t fwd_in = 0;           // frames a sibling handed to this thread (their owner)
  uint64_t fwd_dropped = 0;      // another thread's frames that could not be handed over
  uint64_t foreign_handles = 0;  // commands with a TCP handle of another thread (IX_EBADH)
  // Flow-group moves (core/group_move.hh).
  uint64_t groups_in = 0;          // groups taken over from a sibling
  uint64_t groups_out = 0;         // groups handed to a sibling
  uint64_t move_held = 0;          // frames held until the old owner's last frame of their group
  uint64_t move_held_dropped = 0;  // ... beyond the hold queue's bound (kMaxHeldPerGroup)
  // Queues of parked siblings polled here (a device that does not steer).
  uint64_t adopted_rx = 0;      // frames taken from them (copied into this thread's pool)
  uint64_t adopted_nombuf = 0;  // ... lost: this thread's pool had no buffer for the copy
  // Batch size histogram: bucket i counts batches of size in [2^(i-1), 2^i)
  // (bucket 0: empty polls). Shows adaptive batching at work.
  std::array<uint64_t, 12> batch_hist{};

  void record_batch(unsigned n) {
    unsigned b = 0;
    while (n != 0 && b < batch_hist.size() - 1) {
      n >>= 1;
      ++b;
    }
    ++batch_hist[b];
  }
};

// Single-writer seqlock: the owner publishes a copy now and then (not per
// packet); readers on other threads retry until they see a stable copy.
// The payload is kept as atomic words, not copied with memcpy: a reader may
// overlap a publication, and a plain copy racing with a write is undefined
// behaviour in C++ (and what ThreadSanitizer reports), even when the
// sequence check throws the torn copy away. Release stores and acquire loads
// order each word against the sequence number without fences (which
// ThreadSanitizer cannot follow); on x86 they are plain moves.
// Cache-line aligned: the runtime keeps one per thread in an array, and a
// thread's publication must not invalidate the line holding a sibling's
// sequence number.
template <typename T>
class alignas(64) StatsMailbox {
  static_assert(std::is_trivially_copyable_v<T>, "a seqlock copies its payload word by word");
  static constexpr size_t kWords = (sizeof(T) + sizeof(uint64_t) - 1) / sizeof(uint64_t);

 public:
  void publish(const T &v) {
    uint64_t buf[kWords] = {};
    std::memcpy(buf, &v, sizeof(T));
    const uint32_t s = seq_.load(std::memory_order_relaxed);
    seq_.store(s + 1, std::memory_order_relaxed);
    // A reader that sees any of these words also sees the odd sequence number.
    for (size_t i = 0; i < kWords; ++i) words_[i].store(buf[i], std::memory_order_release);
    seq_.store(s + 2, std::memory_order_release);
  }
  T read() const {
    uint64_t buf[kWords];
    for (;;) {
      const uint32_t s1 = seq_.load(std::memory_order_acquire);
      if (s1 & 1) continue;
      // Acquire: the second look at the sequence cannot move before these.
      for (size_t i = 0; i < kWords; ++i) buf[i] = words_[i].load(std::memory_order_acquire);
      if (seq_.load(std::memory_order_relaxed) == s1) break;
    }
    T out;
    std::memcpy(&out, buf, sizeof(T));
    return out;
  }

 private:
  std::atomic<uint32_t> seq_{0};
  std::array<std::atomic<uint64_t>, kWords> words_{};
};

}  // namespace ix::core
