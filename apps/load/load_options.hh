// ix-load's options: one table shared by both transports. Over Linux the
// program parses them itself; over IX they are handed to ix::run_app as the
// application's options, next to the dataplane's own (--dev, --cpu, ...),
// so the same command line works either way.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "load/arrival.hh"
#include "load/ketama.hh"
#include "load/transport.hh"
#include "load/workload.hh"

namespace ix::load {

struct OptionDef {
  const char *name;
  const char *default_value;
  const char *help;
};

std::span<const OptionDef> option_table();

enum class Protocol { kMemcacheText, kEcho };

struct LoadConfig {
  std::string transport = "linux";  // linux | ix
  Protocol protocol = Protocol::kMemcacheText;
  uint32_t echo_size = 64;  // --protocol echo: bytes per message
  // Linux transport: wait for replies by spinning on epoll (timeout 0)
  // instead of sleeping in it, the strongest latency setting a Linux client
  // has; costs the client its whole core.
  bool spin = false;
  std::string server_text;  // --server, or --servers as given
  // One server, or a pool: connection i of a thread goes to servers[i % n]
  // (--conns to each) and a key's requests to its ketama server.
  std::vector<ServerEndpoint> servers;
  KetamaLayout distribution = KetamaLayout::kConsistent;
  uint32_t conns = 0;
  uint32_t depth = 0;
  double rate = 0;  // requests per second over all connections; 0 = closed loop
  ArrivalKind arrival = ArrivalKind::kExponential;
  Workload workload = *workload_preset("fixed");
  uint64_t records = 0;
  bool preload = false;
  double warmup_s = 0, time_s = 0;
  std::optional<double> search_p99_us;
  uint32_t search_steps = 0;  // refinement runs after the sweep
  uint32_t search_sweep = 0;  // the sweep starts this many halvings below the upper end
  std::vector<double> scan_rates;
  std::vector<double> step_rates;  // --steps: runs_per_step runs at each
  uint32_t runs_per_step = 1;
  uint32_t drain_ms = 0;
  uint32_t connect_timeout_ms = 0;
  uint32_t threads = 1;  // Linux transport
  std::vector<int> pin;  // Linux transport: CPU per thread (cycled); empty = unpinned
  std::string json_path, csv_path;
  uint64_t seed = 0;
};

using OptionValues = std::map<std::string, std::string>;

// Options that may be given bare (--preload): rewritten to --preload=1 so
// both parsers (ours and the dataplane's) see a value.
std::vector<std::string> normalize_flags(int argc, char **argv);

// The transport named on the command line (before any other parsing).
std::string transport_of(const std::vector<std::string> &args);

// Linux transport: parses --name value / --name=value against the table.
// Returns "" or an error; sets help when -h/--help was given.
std::string parse_args(const std::vector<std::string> &args, OptionValues &values, bool &help);
std::string usage_text(const char *program);

// Checks and converts the option values; "" or an error naming the option.
std::string config_from(const OptionValues &values, LoadConfig &out);

}  // namespace ix::load
