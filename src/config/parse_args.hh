// Reading a DataplaneConfig from an IX-style config file and command-line
// flags, plus the application's own options.
//
// File: one `key = value` per line (IX names: host_addr, gateway_addr, cpu,
// devices, batch, ...); `#` starts a comment; values may be quoted; lists are
// `[0, 1]` or `0,1`; a trailing `;` is ignored. Flags: the same settings as
// `--name value` or `--name=value`, dashes or underscores alike. Flags
// override the file whatever their order (--config is read first).
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "config/dataplane_config.hh"

namespace ix::config {

// An option the application adds: `--name value` on the command line,
// `name = value` in the file; its value (or default) lands in
// DataplaneConfig::app[name].
struct AppOption {
  std::string name;
  std::string default_value;
  std::string help;
};

struct ParseResult {
  enum Status { kOk, kHelp, kError } status = kOk;
  // kHelp: the full usage text. kError: what was wrong, where, and how to fix it.
  std::string message;
};

// Parses argv into `out`, starting from the values `out` already holds (so a
// program can set its own defaults first). App options missing from out.app
// get their defaults. kOk means `out` also passed validate().
ParseResult parse_args(int argc, const char *const *argv, std::span<const AppOption> app_options,
                       DataplaneConfig &out);

// Applies the settings in config-file text (origin names it in messages).
// Does not fill app defaults or validate: parse_args does both.
ParseResult parse_config_text(std::string_view text, std::string_view origin,
                              std::span<const AppOption> app_options, DataplaneConfig &out);

// Reads and applies a config file (at most 1 MiB).
ParseResult parse_config_file(const std::string &path, std::span<const AppOption> app_options,
                              DataplaneConfig &out);

// The text --help prints: every flag with its default and help, the
// application's options, and the config-file keys. Defaults shown are
// those in `defaults`.
std::string usage(std::string_view program, std::span<const AppOption> app_options,
                  const DataplaneConfig &defaults = {});

}  // namespace ix::config
