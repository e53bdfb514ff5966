// The Date header's value (RFC 9110 5.6.7 IMF-fixdate), e.g.
// "Sun, 06 Nov 1994 08:49:37 GMT", formatted at most once per second.
#pragma once

#include <cstdint>
#include <ctime>
#include <string_view>

namespace http {

inline constexpr size_t kHttpDateLen = 29;

// Formats `t` (seconds since the epoch, UTC) into out[0..29).
void format_http_date(std::time_t t, char out[kHttpDateLen]);

// Caches the formatted date. refresh() is cheap when the second has not
// changed: the caller passes its monotonic clock, and the wall clock is read
// (clock_gettime, a vDSO call) only when a second has passed on it.
class DateCache {
 public:
  std::string_view get(uint64_t monotonic_ns);

 private:
  uint64_t next_refresh_ns_ = 0;
  bool valid_ = false;
  char text_[kHttpDateLen] = {};
};

}  // namespace http
