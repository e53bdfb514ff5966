// ix::run_app: from command line to running elastic threads and back.
#include <charconv>
#include <fstream>
#include <iostream>
#include <memory>
#include <vector>

#include "api/context_runner.hh"
#include "config/config.hh"
#include "control/control_commands.hh"
#include "control/control_server.hh"
#include "core/runtime.hh"
#include "core/stats_report.hh"
#include "drivers/device_factory.hh"
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

  std::unique_ptr<drivers::Device> dev;
  std::unique_ptr<core::Runtime> runtime;
  try {
    dev = drivers::open_device(cfg);
    core::RuntimeConfig rc;
    rc.cores = cfg.cores;
    rc.batch = cfg.batch;
    rc.idle_yield = cfg.idle_yield;
    rc.mbufs_per_core = static_cast<uint32_t>(config::pool_size(cfg));  // validated
    rc.flow_groups = cfg.flow_groups;
    rc.run_seconds = cfg.run_seconds;
    rc.stack.mac = dev->mac();
    rc.stack.addr = cfg.host_addr;
    rc.stack.prefix_len = cfg.prefix_len;
    rc.stack.gateway = cfg.gateway;
    rc.stack.mtu = cfg.mtu != 0 ? cfg.mtu : dev->caps().mtu;
    rc.stack.tcp.cc =
        cfg.tcp_cc == "newreno" ? net::tcp::CcAlgorithm::kNewReno : net::tcp::CcAlgorithm::kCubic;
    rc.stack.tcp.max_connections = cfg.tcp_max_conns;
    rc.stack.tcp.rcv_buf = cfg.tcp_rcv_buf;
    rc.stack.tcp.snd_buf = cfg.tcp_snd_buf;
    runtime = std::make_unique<core::Runtime>(*dev, rc);
  } catch (const std::exception &e) {
    std::cerr << program << ": " << e.what() << "\n";
    return 1;
  }

  std::cout << program << ": " << config::describe(cfg) << " mac " << dev->mac().to_string()
            << std::endl;
  std::cout << program << ": " << runtime->steering_summary() << std::endl;
  // Served from its own thread while the elastic threads run; gone (and its
  // socket file removed) before the runtime is.
  std::unique_ptr<control::ControlCommands> commands;
  std::unique_ptr<control::ControlServer> control;
  if (!cfg.control_socket.empty()) {
    commands = std::make_unique<control::ControlCommands>(*runtime, dev.get());
    try {
      control = std::make_unique<control::ControlServer>(
          cfg.control_socket, [&](std::string_view line) { return commands->execute(line); });
    } catch (const std::exception &e) {
      std::cerr << program << ": " << e.what() << "\n";
      return 1;
    }
  }
  core::Runtime::install_signal_handlers();
  runtime->on_report([&](const std::vector<core::ThreadSnapshot> &snaps) {
    std::cout << program << ": counters (SIGUSR1)\n";
    core::print_summary(std::cout, snaps, dev.get());
    std::cout.flush();
  });
  int rc = 0;
  try {
    api::run_contexts(*runtime, [&](ix_ctx *ctx) { thread_main(ctx, app_values); });
  } catch (const std::exception &e) {
    std::cerr << program << ": " << e.what() << "\n";
    rc = 1;
  }
  control.reset();
  const auto snaps = runtime->snapshots();
  core::print_summary(std::cout, snaps, dev.get());
  if (!cfg.stats_file.empty()) {
    std::ofstream out(cfg.stats_file);
    if (!out) {
      std::cerr << program << ": stats_file: cannot write '" << cfg.stats_file << "'\n";
      return rc != 0 ? rc : 1;
    }
    core::write_json(out, snaps, dev.get());
  }
  return rc;
}

}  // namespace ix
