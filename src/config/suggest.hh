// "Did you mean ...?" for misspelt option names.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace ix::config {

// The candidate closest to `word` by edit distance, if it is close enough to
// be a plausible typo (at most 2 edits; 1 for names of one or two letters);
// otherwise empty.
std::string closest_name(std::string_view word, std::span<const std::string> candidates);

}  // namespace ix::config
