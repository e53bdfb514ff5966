#include "config/suggest.hh"

#include <algorithm>
#include <vector>

namespace ix::config {
namespace {

// Levenshtein distance, one row at a time.
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string closest_name(std::string_view word, std::span<const std::string> candidates) {
  // Hostile input can be long; a typo of a short option name cannot.
  constexpr size_t kLongestWorthComparing = 64;
  if (word.empty() || word.size() > kLongestWorthComparing) return {};
  const size_t limit = std::min<size_t>(2, (word.size() - 1) / 2 + 1);
  std::string best;
  size_t best_distance = limit + 1;
  for (const std::string &c : candidates) {
    size_t d = edit_distance(word, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  return best;
}

}  // namespace ix::config
