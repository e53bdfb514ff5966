// Parsers for the text forms of config values. Each returns an empty string
// on success, or the reason the value was refused, phrased to follow
// "<field>: " (e.g. "0 is out of range 1..1024"). They never throw and
// accept any bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "net/addr.hh"

namespace ix::config {

std::string_view trim(std::string_view s);

// The text quoted for an error message: printable ASCII as is, anything
// else escaped, long values shortened, so hostile input stays readable.
std::string quote_for_message(std::string_view s);

// A whole number in [min, max].
std::string parse_integer(std::string_view text, int64_t min, int64_t max, int64_t &out);

// A non-negative, finite number of seconds up to max.
std::string parse_seconds(std::string_view text, double max, double &out);

// CPU numbers as "0,1", "[0, 1]" or "3"; each -1 (unpinned) or 0..max_cpu.
std::string parse_cpu_list(std::string_view text, int max_cpu, std::vector<int> &out);

// "A.B.C.D/N" with N in 1..32.
std::string parse_addr_with_prefix(std::string_view text, net::Ipv4Addr &addr, uint8_t &prefix_len);

// "A.B.C.D", or empty for none (zero).
std::string parse_optional_addr(std::string_view text, net::Ipv4Addr &addr);

// One name, given bare or as a one-element list (IX wrote devices = ["..."]).
std::string parse_single_name(std::string_view text, std::string &out);

// text must be one of `choices`; `what` names them in the message.
std::string parse_choice(std::string_view text, std::initializer_list<std::string_view> choices,
                         std::string_view what, std::string &out);

// text must be "on" or "off"; `what` names the setting in the message.
std::string parse_on_off(std::string_view text, std::string_view what, bool &out);
inline std::string on_off(bool on) { return on ? "on" : "off"; }

}  // namespace ix::config
