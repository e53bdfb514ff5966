// A log-linear latency histogram in the manner of HdrHistogram: values below
// 256 ns have a bucket each; above that, every power of two is split into
// 128 equal buckets, so a bucket is never wider than 1/128 (0.78%) of its
// lower bound. Covers 0 .. 2^40 ns (about 18 minutes); larger values land in
// the top bucket and are counted as overflow. Fixed size, no allocation after
// construction, so recording is a few instructions on the hot path.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace ix::load {

class LatencyHistogram {
 public:
  static constexpr int kLinearBits = 8;  // 256 exact buckets at the bottom
  static constexpr uint64_t kHalf = 1u << (kLinearBits - 1);
  static constexpr int kMaxBits = 40;
  static constexpr size_t kBuckets = (1u << kLinearBits) + (kMaxBits - kLinearBits) * kHalf;

  void record(uint64_t ns);
  void merge(const LatencyHistogram &other);
  void clear();

  uint64_t count() const { return count_; }
  uint64_t overflow() const { return overflow_; }
  uint64_t min() const { return count_ ? min_ : 0; }
  uint64_t max() const { return max_; }
  double mean() const { return count_ ? static_cast<double>(sum_) / count_ : 0; }

  // The value at quantile q in [0, 1]: the highest value of the bucket that
  // holds the ceil(q * count)-th smallest sample (at least the first), capped
  // by the largest sample. It is never below the true sample and at most
  // 1/128 above it. 0 when empty.
  uint64_t percentile(double q) const;

  // Bucket arithmetic, public for tests.
  static size_t index_of(uint64_t ns);
  static uint64_t highest_in(size_t index);

 private:
  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0, overflow_ = 0;
  uint64_t min_ = UINT64_MAX, max_ = 0;
  unsigned __int128 sum_ = 0;
};

}  // namespace ix::load
