// Counters that one thread updates and any thread may read (Device::stats is
// "safe to call from another thread, values may be slightly stale").
#pragma once

#include <atomic>
#include <cstdint>

namespace ix::drivers {

// Written only by the thread that owns the queue: a relaxed load and store,
// no read-modify-write on the fast path.
class OwnerCounter {
 public:
  void add(uint64_t n = 1) {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  uint64_t get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

// Written by any sender thread (drops at a receiver's ring).
class SharedCounter {
 public:
  void add(uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

}  // namespace ix::drivers
