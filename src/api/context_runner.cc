#include "api/context_runner.hh"

#include "api/io_context.hh"

namespace ix::api {

void run_contexts(core::Runtime &runtime, const AppMain &app_main) {
  runtime.run([&](core::ElasticThread &thread, const std::atomic<bool> &stop) {
    LocalContext ctx(thread, &stop);
    app_main(&ctx);
  });
}

}  // namespace ix::api
