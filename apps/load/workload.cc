#include "load/workload.hh"

#include <algorithm>
#include <cmath>

namespace ix::load {

std::optional<Workload> workload_preset(std::string_view name) {
  if (name == "etc")
    return Workload{"etc", Distribution::fb_key(), Distribution::fb_value(), 0.033,
                    ArrivalKind::kFbIa};
  if (name == "usr")
    return Workload{"usr", Distribution::fixed(19), Distribution::fixed(2), 0.002,
                    ArrivalKind::kExponential};
  if (name == "fixed")
    return Workload{"fixed", Distribution::fixed(30), Distribution::fixed(200), 0.1,
                    ArrivalKind::kExponential};
  return std::nullopt;
}

namespace {
size_t digits(uint64_t v) {
  size_t n = 1;
  while (v >= 10) {
    v /= 10;
    ++n;
  }
  return n;
}
}  // namespace

KeySpace::KeySpace(const Distribution &key_size, uint64_t records)
    : key_size_(key_size), records_(records), min_length_(digits(records ? records - 1 : 0)) {}

size_t KeySpace::length_of(uint64_t index) const {
  uint64_t h = index;
  const uint64_t mixed = Rng::splitmix64(h);
  const double u = (static_cast<double>(mixed >> 11) + 0.5) * 0x1.0p-53;
  const double drawn = key_size_.quantile(u);
  const double clamped =
      std::clamp(std::round(drawn), static_cast<double>(min_length_), double{kMaxKeyLength});
  return static_cast<size_t>(clamped);
}

size_t KeySpace::format(uint64_t index, char *out) const {
  const size_t len = length_of(index);
  for (size_t i = len; i-- > 0;) {
    out[i] = static_cast<char>('0' + index % 10);
    index /= 10;
  }
  return len;
}

size_t sample_value_size(const Distribution &value_size, Rng &rng) {
  const double v = std::round(value_size.sample(rng));
  if (!(v > 0)) return 0;  // also NaN
  return v >= static_cast<double>(kMaxValueSize) ? kMaxValueSize : static_cast<size_t>(v);
}

}  // namespace ix::load
