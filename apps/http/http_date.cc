#include "http/http_date.hh"

#include <time.h>

namespace http {

namespace {
constexpr char kDays[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr char kMonths[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

void two_digits(char *p, int v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
}
}  // namespace

void format_http_date(std::time_t t, char out[kHttpDateLen]) {
  struct tm tm {};
  gmtime_r(&t, &tm);
  // "Www, DD Mon YYYY HH:MM:SS GMT"
  const char *day = kDays[tm.tm_wday % 7];
  const char *mon = kMonths[tm.tm_mon % 12];
  const int year = tm.tm_year + 1900;
  out[0] = day[0], out[1] = day[1], out[2] = day[2], out[3] = ',', out[4] = ' ';
  two_digits(out + 5, tm.tm_mday);
  out[7] = ' ';
  out[8] = mon[0], out[9] = mon[1], out[10] = mon[2], out[11] = ' ';
  two_digits(out + 12, (year / 100) % 100);
  two_digits(out + 14, year % 100);
  out[16] = ' ';
  two_digits(out + 17, tm.tm_hour);
  out[19] = ':';
  two_digits(out + 20, tm.tm_min);
  out[22] = ':';
  two_digits(out + 23, tm.tm_sec);
  out[25] = ' ', out[26] = 'G', out[27] = 'M', out[28] = 'T';
}

std::string_view DateCache::get(uint64_t monotonic_ns) {
  if (!valid_ || monotonic_ns >= next_refresh_ns_) {
    struct timespec ts {};
    clock_gettime(CLOCK_REALTIME, &ts);
    format_http_date(ts.tv_sec, text_);
    // Refresh when the wall clock's second ends, as seen on the monotonic one.
    next_refresh_ns_ = monotonic_ns + (1'000'000'000ull - static_cast<uint64_t>(ts.tv_nsec));
    valid_ = true;
  }
  return {text_, kHttpDateLen};
}

}  // namespace http
