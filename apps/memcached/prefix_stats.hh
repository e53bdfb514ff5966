// memcached's per-prefix statistics (`stats detail on|off|dump`, -D): gets,
// hits, sets and deletes counted per key prefix, the part of a key before
// the first delimiter (':' unless -D names another). Keys without the
// delimiter are not counted.
//
// Off by default. When an operator turns it on, every get, set and delete
// takes one process-wide mutex, as memcached's STATS_LOCK does: a lock on
// the request path, bent on purpose because the operator asked for a shared
// tally; with detail off the request path reads one atomic flag. The table
// is bounded (kMaxPrefixes): prefixes past it are not counted, so a client
// that invents keys cannot grow it without end.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace ix::mc {

class PrefixStats {
 public:
  static constexpr size_t kMaxPrefixes = 1u << 16;

  explicit PrefixStats(char delimiter = ':') : delimiter_(delimiter) {}
  char delimiter() const { return delimiter_; }

  void record_get(std::string_view key, bool hit);
  void record_set(std::string_view key);
  void record_delete(std::string_view key);
  // memcached's dump: "PREFIX p get G hit H set S del D\r\n" per prefix
  // (sorted by prefix), then "END\r\n".
  std::string dump() const;
  void clear();  // stats reset
  // Prefixes not counted because the table was full.
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  struct Counts {
    uint64_t gets = 0, hits = 0, sets = 0, deletes = 0;
  };
  // The key's counts (under mu_), or nullptr: no delimiter, or table full.
  Counts *find(std::string_view key);

  const char delimiter_;
  mutable std::mutex mu_;
  // Looked up by string_view (transparent hashing): no string is built per
  // counted request, only per new prefix.
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, Counts, Hash, std::equal_to<>> table_;
  std::atomic<uint64_t> dropped_{0};
};

}  // namespace ix::mc
