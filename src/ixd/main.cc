// ixd: the protected dataplane process. It owns the NIC queues, the packet
// buffers, every connection's TCP state and the timers, and serves any
// number of applications at once, each in its own process, attached through
// a Unix socket and talking to it only through run_io batches over shared
// memory (ipc/channel.hh). Applications start with --dataplane PATH.
//
//   ixd [dataplane settings: --driver, --dev, --cpu, --host-addr, ...]
//       [--socket PATH] [--send-region-mb N] [--recv-region-mb N]
#include <charconv>
#include <iostream>
#include <string>
#include <vector>

#include "api/dataplane_runner.hh"
#include "config/config.hh"
#include "ixd/attach_server.hh"
#include "ixd/serve_loop.hh"

namespace {

bool parse_mb(const std::string &name, const std::string &v, uint64_t *bytes) {
  uint64_t n = 0;
  auto r = std::from_chars(v.data(), v.data() + v.size(), n);
  if (r.ec != std::errc{} || r.ptr != v.data() + v.size() || n < 1 || n > 4096) {
    std::cerr << "ixd: " << name << ": '" << v << "' is not a number of MiB in 1..4096\n";
    return false;
  }
  *bytes = n << 20;
  return true;
}

bool parse_count(const std::string &name, const std::string &v, uint32_t max, uint32_t *out) {
  uint32_t n = 0;
  auto r = std::from_chars(v.data(), v.data() + v.size(), n);
  if (r.ec != std::errc{} || r.ptr != v.data() + v.size() || n > max) {
    std::cerr << "ixd: " << name << ": '" << v << "' is not a whole number in 0.." << max << "\n";
    return false;
  }
  *out = n;
  return true;
}

}  // namespace

int main(int argc, char **argv) {
  using namespace ix;
  const std::vector<config::AppOption> options = {
      {"socket", "/run/ixd.sock",
       "Unix socket where applications attach (they start with --dataplane PATH)"},
      {"send_region_mb", "64",
       "MiB of send region per application, split between the threads: data it sends from "
       "its own memory is copied there until acknowledged"},
      {"recv_region_mb", "16",
       "MiB of receive region per application and thread: received data waits there, "
       "read-only to the application, until it is done with it; when full, its windows close"},
      {"app_max_conns", "0",
       "connections one application may have on a thread, opening and not yet accepted ones "
       "included (beyond, its connects fail with ENOMEM and SYNs to its ports are dropped); 0: "
       "half of tcp_max_conns"},
      {"app_max_ports", "0",
       "TCP ports one application may listen on plus UDP ports it may bind, on a thread "
       "(beyond, LISTEN and UDP_BIND fail with ENOMEM); 0: half of the thread's TCP "
       "listener table (128)"},
      {"app_cmds_per_turn", "256",
       "commands of one application's batch a thread runs before it polls and serves the "
       "other applications (a SENDV counts one more per 16 iovecs); the rest runs at its next "
       "turn, so one application's big batches cannot hold the thread; 0: whole batches"},
      {"app_rx_buffers", "0",
       "received buffers one application's connections may hold on a thread before their "
       "windows close (an application that never takes its data stops there); 0: a quarter of "
       "the thread's pool"},
  };
  config::DataplaneConfig cfg;
  const auto parsed = config::parse_args(argc, argv, options, cfg);
  if (parsed.status == config::ParseResult::kHelp) {
    std::cout << parsed.message;
    return 0;
  }
  if (parsed.status == config::ParseResult::kError) {
    std::cerr << "ixd: " << parsed.message << "\n";
    return 2;
  }
  if (!cfg.dataplane.empty()) {
    std::cerr << "ixd: dataplane: ixd is the dataplane process; --dataplane is for "
                 "applications that attach to it (give ixd --socket PATH instead)\n";
    return 2;
  }
  if (std::string err = config::validate(cfg); !err.empty()) {
    std::cerr << "ixd: " << err << "\n";
    return 2;
  }
  ixd::SessionConfig sc;
  if (!parse_mb("send_region_mb", cfg.app["send_region_mb"], &sc.send_region_bytes) ||
      !parse_mb("recv_region_mb", cfg.app["recv_region_mb"], &sc.recv_region_bytes))
    return 2;
  if (!parse_count("app_rx_buffers", cfg.app["app_rx_buffers"], config::kMaxMbufs,
                   &sc.rx_buffers) ||
      !parse_count("app_max_conns", cfg.app["app_max_conns"], 1u << 24, &sc.max_conns) ||
      !parse_count("app_max_ports", cfg.app["app_max_ports"], 65536, &sc.max_ports) ||
      !parse_count("app_cmds_per_turn", cfg.app["app_cmds_per_turn"], 1u << 20, &sc.cmds_per_turn))
    return 2;
  const unsigned threads = static_cast<unsigned>(cfg.cores.size());
  std::vector<ixd::PortMailbox> mailboxes(threads);
  std::unique_ptr<ixd::AttachServer> server;
  try {
    server =
        std::make_unique<ixd::AttachServer>(cfg.app["socket"], threads, sc, mailboxes, std::cout);
  } catch (const std::exception &e) {
    std::cerr << "ixd: " << e.what() << "\n";
    return 1;
  }
  std::cout << "ixd: applications attach at " << cfg.app["socket"] << std::endl;
  return api::run_dataplane("ixd", cfg,
                            [&](core::ElasticThread &thread, const std::atomic<bool> &stop) {
                              ixd::serve_applications(thread, stop, mailboxes[thread.config().id]);
                            });
}
