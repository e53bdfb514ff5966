// The one table of dataplane settings: each entry's config-file key, flag,
// help text, how to parse its value into a DataplaneConfig and how to show
// its default. The file parser, the flag parser and the help text all read
// it, so they cannot disagree about which settings exist.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "config/dataplane_config.hh"

namespace ix::config {

struct OptionSpec {
  std::string_view key;         // config-file key (IX's name), e.g. "host_addr"
  std::string_view flag;        // command-line flag without "--", e.g. "host-addr"
  std::string_view alias;       // another accepted name (either form), or empty
  std::string_view value_name;  // placeholder in the help text, e.g. "ADDR/PREFIX"
  std::string_view help;
  // Parses `value` into cfg; returns why it was refused, or empty.
  std::string (*set)(std::string_view value, DataplaneConfig &cfg);
  // The setting in `cfg` as the help text shows a default.
  std::string (*show)(const DataplaneConfig &cfg);
  // The flag's value is the next argument even if it starts with "--" (an
  // argument list for another parser, like the DPDK EAL's).
  bool verbatim_value = false;
};

std::span<const OptionSpec> dataplane_options();

// Names compare with '-' and '_' treated alike, so "host-addr" and
// "host_addr" are one name.
std::string canonical_name(std::string_view name);

// The option whose key, flag or alias is `name`, or nullptr.
const OptionSpec *find_option(std::string_view name);

}  // namespace ix::config
