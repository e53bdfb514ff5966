// PrefixStats: memcached's per-prefix counts (see prefix_stats.hh).
#include "memcached/prefix_stats.hh"

#include <algorithm>
#include <vector>

namespace ix::mc {

PrefixStats::Counts *PrefixStats::find(std::string_view key) {
  const size_t end = key.find(delimiter_);
  if (end == std::string_view::npos) return nullptr;
  const std::string_view prefix = key.substr(0, end);
  auto it = table_.find(prefix);
  if (it != table_.end()) return &it->second;
  if (table_.size() >= kMaxPrefixes) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  return &table_.emplace(std::string(prefix), Counts{}).first->second;
}

void PrefixStats::record_get(std::string_view key, bool hit) {
  std::lock_guard<std::mutex> lock(mu_);
  if (Counts *c = find(key)) {
    ++c->gets;
    if (hit) ++c->hits;
  }
}

void PrefixStats::record_set(std::string_view key) {
  std::lock_guard<std::mutex> lock(mu_);
  if (Counts *c = find(key)) ++c->sets;
}

void PrefixStats::record_delete(std::string_view key) {
  std::lock_guard<std::mutex> lock(mu_);
  if (Counts *c = find(key)) ++c->deletes;
}

std::string PrefixStats::dump() const {
  std::vector<std::pair<std::string, Counts>> rows;
  {
    std::lock_guard<std::mutex> lock(mu_);
    rows.assign(table_.begin(), table_.end());
  }
  std::sort(rows.begin(), rows.end(),
            [](const auto &a, const auto &b) { return a.first < b.first; });
  std::string out;
  for (const auto &[prefix, c] : rows)
    out += "PREFIX " + prefix + " get " + std::to_string(c.gets) + " hit " +
           std::to_string(c.hits) + " set " + std::to_string(c.sets) + " del " +
           std::to_string(c.deletes) + "\r\n";
  out += "END\r\n";
  return out;
}

void PrefixStats::clear() {
  std::lock_guard<std::mutex> lock(mu_);
  table_.clear();
}

}  // namespace ix::mc
