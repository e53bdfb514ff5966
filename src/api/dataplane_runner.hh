// A dataplane in this process: opens the NIC the configuration names,
// starts one elastic thread per configured core running `body`, serves the
// control socket, answers SIGUSR1 with counters, and prints them (and writes
// the stats file) when the threads return. What library-mode applications
// (ix::run_app) and the dataplane process (ixd) share.
#pragma once

#include <atomic>
#include <string>

#include "config/config.hh"
#include "core/runtime.hh"

namespace ix::api {

// Returns the process exit code: 0, or 1 when the dataplane cannot start or
// a thread failed (the message names the cause). `cfg` must be validated.
int run_dataplane(const char *program, const config::DataplaneConfig &cfg,
                  const core::ThreadBody &body);

}  // namespace ix::api
