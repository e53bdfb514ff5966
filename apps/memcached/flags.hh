// memcached's command line, taken as memcached 1.6 takes it: short flags
// (-p 11211, -p11211, -vv, -AFC), their long forms (--port=11211,
// --enable-shutdown) and the -o extended options, rewritten into the
// --name value options that ix::run_app parses. Flags that change nothing
// here are accepted with one warning each, naming the flag and why; flags
// whose silent absence would surprise a user (a UNIX socket, SASL, TLS)
// are errors that say so.
#pragma once

#include <string>
#include <vector>

namespace ix::mc {

struct TranslatedArgs {
  std::vector<std::string> args;      // for run_app
  std::vector<std::string> warnings;  // one per flag that does not apply
  std::string error;                  // non-empty: refuse to start
  // Done by main before the dataplane starts (they are process settings).
  bool print_version = false;
  bool print_license = false;
  bool lock_memory = false;       // -k
  bool enable_coredumps = false;  // -r
  std::string pid_file;           // -P
};

TranslatedArgs translate_memcached_args(const std::vector<std::string> &argv);

}  // namespace ix::mc
