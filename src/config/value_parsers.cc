#include "config/value_parsers.hh"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace ix::config {
namespace {

constexpr size_t kMaxQuotedLen = 64;

// Splits "a, b ,c" on commas; elements are trimmed.
std::vector<std::string_view> split_list(std::string_view s) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t comma = s.find(',', start);
    parts.push_back(
        trim(s.substr(start, comma == std::string_view::npos ? s.npos : comma - start)));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return parts;
}

// Strips [ ] around a list. Returns false if only one bracket is present.
bool strip_brackets(std::string_view &s) {
  bool open = !s.empty() && s.front() == '[';
  bool close = !s.empty() && s.back() == ']';
  if (open != close || (open && s.size() < 2)) return false;
  if (open) s = trim(s.substr(1, s.size() - 2));
  return true;
}

// Removes one pair of matching quotes, if any.
std::string_view strip_quotes(std::string_view s) {
  if (s.size() >= 2 && (s.front() == '"' || s.front() == '\'') && s.back() == s.front())
    return s.substr(1, s.size() - 2);
  return s;
}

std::string range_text(int64_t min, int64_t max) {
  return std::to_string(min) + ".." + std::to_string(max);
}

}  // namespace

std::string_view trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n\v\f";
  size_t b = s.find_first_not_of(kSpace);
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(kSpace);
  return s.substr(b, e - b + 1);
}

std::string quote_for_message(std::string_view s) {
  std::string out = "'";
  size_t shown = 0;
  for (unsigned char c : s) {
    if (shown == kMaxQuotedLen) {
      out += "...";
      break;
    }
    if (c >= 0x20 && c < 0x7f && c != '\'') {
      out += static_cast<char>(c);
    } else {
      char esc[5];
      std::snprintf(esc, sizeof esc, "\\x%02x", c);
      out += esc;
    }
    ++shown;
  }
  return out + "'";
}

std::string parse_integer(std::string_view text, int64_t min, int64_t max, int64_t &out) {
  text = trim(text);
  if (text.empty())
    return "no value given (expected a whole number in " + range_text(min, max) + ")";
  std::string_view digits = text.front() == '+' ? text.substr(1) : text;
  int64_t v = 0;
  auto r = std::from_chars(digits.data(), digits.data() + digits.size(), v, 10);
  if (r.ec == std::errc::result_out_of_range)
    return quote_for_message(text) + " is out of range " + range_text(min, max);
  if (r.ec != std::errc{} || r.ptr != digits.data() + digits.size())
    return quote_for_message(text) + " is not a whole number (expected one in " +
           range_text(min, max) + ")";
  if (v < min || v > max) return std::to_string(v) + " is out of range " + range_text(min, max);
  out = v;
  return {};
}

std::string parse_seconds(std::string_view text, double max, double &out) {
  text = trim(text);
  const std::string expected =
      " (expected a number of seconds like 10 or 2.5; 0 runs until "
      "SIGINT/SIGTERM)";
  if (text.empty()) return "no value given" + expected;
  double v = 0;
  auto r = std::from_chars(text.data(), text.data() + text.size(), v, std::chars_format::fixed);
  if (r.ec != std::errc{} || r.ptr != text.data() + text.size() || !std::isfinite(v))
    return quote_for_message(text) + " is not a number of seconds" + expected;
  if (v < 0 || v > max) {
    char bound[32];
    std::snprintf(bound, sizeof bound, "%g", max);
    return quote_for_message(text) + " is out of range 0.." + bound + expected;
  }
  out = v;
  return {};
}

std::string parse_cpu_list(std::string_view text, int max_cpu, std::vector<int> &out) {
  const std::string expected = " (expected CPU numbers like 0,1 or [0, 1]; -1 for unpinned)";
  std::string_view list = trim(text);
  if (!strip_brackets(list)) return quote_for_message(text) + " has unbalanced brackets" + expected;
  if (list.empty()) return "the list is empty" + expected;
  std::vector<int> cpus;
  for (std::string_view item : split_list(list)) {
    if (item.empty()) return quote_for_message(text) + " has an empty entry" + expected;
    int64_t cpu = 0;
    if (std::string err = parse_integer(item, -1, max_cpu, cpu); !err.empty())
      return "in " + quote_for_message(text) + ": " + err;
    cpus.push_back(static_cast<int>(cpu));
  }
  out = std::move(cpus);
  return {};
}

std::string parse_addr_with_prefix(std::string_view text, net::Ipv4Addr &addr,
                                   uint8_t &prefix_len) {
  const std::string expected = " (expected like 10.0.0.2/24)";
  std::string_view s = trim(text);
  size_t slash = s.find('/');
  auto a = net::Ipv4Addr::parse(s.substr(0, slash));
  if (!a) return quote_for_message(text) + " is not an IPv4 address with prefix" + expected;
  if (slash == std::string_view::npos)
    return quote_for_message(text) + " has no prefix length" + expected;
  std::string_view prefix_text = s.substr(slash + 1);
  int64_t prefix = 0;
  bool digits_only =
      !prefix_text.empty() && prefix_text.find_first_not_of("0123456789") == std::string_view::npos;
  if (!digits_only || !parse_integer(prefix_text, 1, 32, prefix).empty())
    return quote_for_message(text) + ": prefix length " + quote_for_message(prefix_text) +
           " is not a whole number in 1..32" + expected;
  addr = *a;
  prefix_len = static_cast<uint8_t>(prefix);
  return {};
}

std::string parse_optional_addr(std::string_view text, net::Ipv4Addr &addr) {
  std::string_view s = trim(text);
  if (s.empty()) {
    addr = net::Ipv4Addr{};
    return {};
  }
  auto a = net::Ipv4Addr::parse(s);
  if (!a) return quote_for_message(text) + " is not an IPv4 address (expected like 10.0.0.1)";
  addr = *a;
  return {};
}

std::string parse_single_name(std::string_view text, std::string &out) {
  std::string_view s = trim(text);
  if (!strip_brackets(s)) return quote_for_message(text) + " has unbalanced brackets";
  std::vector<std::string_view> items = split_list(s);
  if (items.size() != 1)
    return quote_for_message(text) + " lists " + std::to_string(items.size()) +
           " names; exactly one is supported";
  std::string_view name = trim(strip_quotes(items.front()));
  if (name.empty()) return "no name given";
  out = std::string(name);
  return {};
}

std::string parse_choice(std::string_view text, std::initializer_list<std::string_view> choices,
                         std::string_view what, std::string &out) {
  std::string_view s = trim(text);
  std::string options;
  for (std::string_view c : choices) {
    if (s == c) {
      out = std::string(c);
      return {};
    }
    if (!options.empty()) options += ", ";
    options += c;
  }
  return quote_for_message(text) + " is not a known " + std::string(what) + " (expected one of " +
         options + ")";
}

std::string parse_on_off(std::string_view text, std::string_view what, bool &out) {
  std::string s;
  std::string err = parse_choice(text, {"off", "on"}, what, s);
  if (err.empty()) out = s == "on";
  return err;
}

}  // namespace ix::config
