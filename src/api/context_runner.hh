// Runs an application's per-thread loop on every elastic thread of a
// runtime, each with its own ix_ctx: the point where the core's threads meet
// the batched system-call interface. The core knows nothing of ix_ctx.
#pragma once

#include <functional>

#include "core/runtime.hh"
#include "ix/syscall.h"

namespace ix::api {

using AppMain = std::function<void(ix_ctx *ctx)>;

// Returns when app_main has returned on every thread (see core::Runtime::run).
void run_contexts(core::Runtime &runtime, const AppMain &app_main);

}  // namespace ix::api
