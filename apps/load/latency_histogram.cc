#include "load/latency_histogram.hh"

#include <algorithm>
#include <bit>
#include <cmath>

namespace ix::load {

size_t LatencyHistogram::index_of(uint64_t ns) {
  if (ns < (1u << kLinearBits)) return static_cast<size_t>(ns);
  const int msb = 63 - std::countl_zero(ns);  // >= kLinearBits
  const int shift = msb - (kLinearBits - 1);  // top kLinearBits-1 bits after the leading one
  const size_t index = (1u << kLinearBits) + static_cast<size_t>(shift - 1) * kHalf +
                       static_cast<size_t>((ns >> shift) - kHalf);
  return std::min(index, kBuckets - 1);
}

uint64_t LatencyHistogram::highest_in(size_t index) {
  if (index < (1u << kLinearBits)) return index;
  const size_t above = index - (1u << kLinearBits);
  const int shift = static_cast<int>(above / kHalf) + 1;
  const uint64_t top = kHalf + above % kHalf;
  return ((top + 1) << shift) - 1;
}

void LatencyHistogram::record(uint64_t ns) {
  if (ns >= (uint64_t{1} << kMaxBits)) ++overflow_;
  ++counts_[index_of(ns)];
  ++count_;
  sum_ += ns;
  min_ = std::min(min_, ns);
  max_ = std::max(max_, ns);
}

void LatencyHistogram::merge(const LatencyHistogram &other) {
  for (size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  overflow_ += other.overflow_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

void LatencyHistogram::clear() { *this = LatencyHistogram(); }

uint64_t LatencyHistogram::percentile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  const uint64_t rank =
      std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_))));
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    // The top bucket also holds values beyond the range: only max is sure.
    if (seen >= rank) return i == kBuckets - 1 ? max_ : std::min(highest_in(i), max_);
  }
  return max_;
}

}  // namespace ix::load
