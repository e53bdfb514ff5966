#include "api/dataplane_runner.hh"

#include <algorithm>
#include <fstream>
#include <iostream>
#include <memory>
#include <vector>

#include "control/control_commands.hh"
#include "control/control_server.hh"
#include "control/elastic_controller.hh"
#include "core/stats_report.hh"
#include "drivers/device_factory.hh"

namespace ix::api {

int run_dataplane(const char *program, const config::DataplaneConfig &cfg,
                  const core::ThreadBody &body) {
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
    // The control plane reads the threads' counters every window.
    if (cfg.elastic)
      rc.stats_period_ns =
          std::min<uint64_t>(rc.stats_period_ns, uint64_t{cfg.elastic_window_us} * 1000 / 2);
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
  std::unique_ptr<control::ElasticController> elastic;
  if (cfg.elastic) {
    control::ElasticPolicyConfig pc;
    pc.window_ns = uint64_t{cfg.elastic_window_us} * 1000;
    pc.grow_busy = cfg.elastic_grow_busy_pct / 100.0;
    pc.shrink_target = cfg.elastic_shrink_pct / 100.0;
    pc.max_threads = runtime->threads();
    elastic = std::make_unique<control::ElasticController>(
        *runtime, pc, cfg.batch,
        [program](const std::string &line) { std::cout << program << ": " << line << std::endl; });
    if (commands) commands->set_elastic(elastic.get());
    elastic->start();
  }
  core::Runtime::install_signal_handlers();
  runtime->on_report([&](const std::vector<core::ThreadSnapshot> &snaps) {
    std::cout << program << ": counters (SIGUSR1)\n";
    core::print_summary(std::cout, snaps, dev.get());
    std::cout.flush();
  });
  int rc = 0;
  try {
    runtime->run(body);
  } catch (const std::exception &e) {
    std::cerr << program << ": " << e.what() << "\n";
    rc = 1;
  }
  control.reset();
  elastic.reset();
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

}  // namespace ix::api
