// Entry point for dataplane applications: parses the dataplane's settings
// (config file and flags, plus the application's own options), opens the NIC,
// starts one elastic thread per configured core and runs `thread_main` on
// each, then prints the per-thread counters. The application sees only this
// header and ix/syscall.h (or ix/ix.hh): never the stack or a driver.
#pragma once

#include <functional>
#include <map>
#include <span>
#include <string>

#include "ix/syscall.h"

namespace ix {

struct AppOption {
  const char *name;  // used as --name VALUE and `name = VALUE` in the config file
  const char *default_value;
  const char *help;
  // Integer options are checked before any thread starts: a value that is not
  // an integer in [min, max] is a configuration error naming the option.
  bool integer = false;
  long long min = 0;
  long long max = 0;
};

using AppOptions = std::map<std::string, std::string>;
using ThreadMain = std::function<void(ix_ctx *ctx, const AppOptions &options)>;

// Returns the process exit code: 0 on success, 2 for bad configuration
// (with a message naming the field), 1 when the dataplane cannot start.
int run_app(const char *program, int argc, char **argv, std::span<const AppOption> options,
            const ThreadMain &thread_main);

}  // namespace ix
