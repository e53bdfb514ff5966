// ix::run_app: from command line to running elastic threads and back.
#include <charconv>
#include <fstream>
#include <iostream>
#include <memory>
#include <vector>

#include "api/dataplane_runner.hh"
#include "api/io_context.hh"
#include "api/remote_app.hh"
#include "config/config.hh"
#include "ix/app.hh"

namespace ix {

namespace {

// Checks the application's integer options; returns an error or "".
std::string check_app_options(std::span<const AppOption> options, const AppOptions &values) {
  for (const AppOption &o : options) {
    if (!o.integer) continue;
    const std::string &v = values.at(o.name);
    long long n = 0;
    auto r = std::from_chars(v.data(), v.data() + v.size(), n);
    if (r.ec != std::errc{} || r.ptr != v.data() + v.size() || n < o.min || n > o.max)
      return std::string(o.name) + ": '" + v + "' is not an integer in " + std::to_string(o.min) +
             ".." + std::to_string(o.max);
  }
  return "";
}

}  // namespace

int run_app(const char *program, int argc, char **argv, std::span<const AppOption> options,
            const ThreadMain &thread_main) {
  std::vector<config::AppOption> app_opts;
  for (const AppOption &o : options) app_opts.push_back({o.name, o.default_value, o.help});

  config::DataplaneConfig cfg;
  const auto parsed = config::parse_args(argc, argv, app_opts, cfg);
  if (parsed.status == config::ParseResult::kHelp) {
    std::cout << parsed.message;
    return 0;
  }
  if (parsed.status == config::ParseResult::kError) {
    std::cerr << program << ": " << parsed.message << "\n";
    return 2;
  }
  if (std::string err = config::validate(cfg); !err.empty()) {
    std::cerr << program << ": " << err << "\n";
    return 2;
  }
  AppOptions app_values(cfg.app.begin(), cfg.app.end());
  if (std::string err = check_app_options(options, app_values); !err.empty()) {
    std::cerr << program << ": " << err << "\n";
    return 2;
  }

  if (!cfg.dataplane.empty()) return api::run_attached(program, cfg, app_values, thread_main);
  return api::run_dataplane(program, cfg,
                            [&](core::ElasticThread &thread, const std::atomic<bool> &stop) {
                              api::LocalContext ctx(thread, &stop);
                              thread_main(&ctx, app_values);
                            });
}

}  // namespace ix
