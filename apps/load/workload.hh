// What ix-load asks for: the workload presets (ETC and USR from the
// Facebook memcached study, plus a plain fixed-size one), the key space and
// the request mix. Key popularity is uniform over the --records keys (no
// Zipf skew), as in mutilate's default.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "load/arrival.hh"
#include "load/distribution.hh"
#include "load/rng.hh"

namespace ix::load {

constexpr size_t kMaxKeyLength = 250;      // memcached's limit
constexpr size_t kMaxValueSize = 1000000;  // under memcached's default 1 MiB item size

struct Workload {
  std::string name;
  Distribution key_size;
  Distribution value_size;
  double update_ratio;  // fraction of requests that are sets
  ArrivalKind arrival;
};

// etc: key fb_key, value fb_value, 3.3% sets, fb_ia arrivals.
// usr: 19-byte keys, 2-byte values, 0.2% sets, exponential arrivals.
// fixed: 30-byte keys, 200-byte values, 10% sets, exponential arrivals.
std::optional<Workload> workload_preset(std::string_view name);

// The byte at offset i of every value ix-load stores, so a hit's data can be
// checked without remembering what was stored.
inline uint8_t value_byte(size_t i) { return static_cast<uint8_t>('a' + i % 26); }

// The keys: key i is the decimal number i, left-padded with zeros to a
// length drawn from the key-size distribution by a hash of i, so a key has
// the same length every time it is used (a set and later gets agree) and
// the lengths across the key space follow the distribution. A length is
// never below the digits needed to keep keys distinct, nor above 250.
class KeySpace {
 public:
  KeySpace(const Distribution &key_size, uint64_t records);

  uint64_t records() const { return records_; }
  size_t length_of(uint64_t index) const;
  // Writes key `index` to out (room for kMaxKeyLength bytes); returns its length.
  size_t format(uint64_t index, char *out) const;

 private:
  Distribution key_size_;
  uint64_t records_;
  size_t min_length_;
};

// Value sizes: sampled per set, rounded, clamped to 0..kMaxValueSize.
size_t sample_value_size(const Distribution &value_size, Rng &rng);

}  // namespace ix::load
