// ix::run_app in protected mode: attach to the dataplane process at
// cfg.dataplane, map the shared regions it hands over, and run the
// application's loop on one thread per elastic thread of the dataplane, each
// with a RemoteContext. The NIC, the stack and their settings are the
// dataplane's.
#pragma once

#include "config/config.hh"
#include "ix/app.hh"

namespace ix::api {

// Returns the process exit code: 0, or 1 when the dataplane cannot be
// reached or refuses (the message names the socket and what to do).
int run_attached(const char *program, const config::DataplaneConfig &cfg,
                 const AppOptions &app_values, const ThreadMain &thread_main);

}  // namespace ix::api
