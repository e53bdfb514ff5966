// ix-load: a memcached (and echo) load generator in the manner of mutilate.
//
//   ix-load --server 10.0.0.1:11211 --workload etc --rate 50000 --conns 32 --preload
//   ix-load --transport ix --dev ix0 --host-addr 10.77.0.2/24 --cpu 0 --server ...
//
// Over Linux (the default) it runs --threads threads, each with its own epoll
// loop and share of the connections and the rate, pinned to --pin CPUs if
// given. Over IX the same options run on the dataplane's elastic threads
// (one load thread per --cpu entry), with the dataplane's flags passed
// through. Output is the same either way: a progress line each second on
// stderr, one result line per run on stdout, --json / --csv for scripts.
// Exit code: 0 when every run went without errors, 1 on errors (connect,
// preload, error replies, broken connections), 2 on bad options.
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>
#include <thread>
#include <vector>

#include "ix/app.hh"
#include "ix/ixev.hh"
#include "load/coordinator.hh"
#include "load/ix_transport.hh"
#include "load/linux_transport.hh"
#include "load/load_options.hh"

namespace {

using namespace ix::load;

void on_signal(int) { LinuxTransport::stop_requested = 1; }

int run_linux(const LoadConfig &config) {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGPIPE, SIG_IGN);
  const unsigned threads = std::min<unsigned>(config.threads, config.conns);
  SharedRun shared(config, threads);
  std::vector<std::thread> workers;
  std::atomic<bool> setup_failed{false};
  for (unsigned i = 0; i < threads; ++i) {
    workers.emplace_back([&, i] {
      if (!config.pin.empty()) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(config.pin[i % config.pin.size()], &set);
        if (pthread_setaffinity_np(pthread_self(), sizeof set, &set) != 0) {
          std::fprintf(stderr, "ix-load: thread %u: cannot pin to CPU %d\n", i,
                       config.pin[i % config.pin.size()]);
          setup_failed = true;
        }
      }
      LinuxTransport transport(config.servers, config.spin);
      run_load_thread(shared, transport, i);
    });
  }
  for (std::thread &t : workers) t.join();
  if (setup_failed) return 1;
  return shared.exit_code;
}

// IX: every elastic thread calls thread_main; thread 0 parses the options
// and sets up the shared run once all ix_thread_count() threads have
// joined (bounded: a thread that never arrives only keeps its queue
// serviced), then every thread runs its share.
struct IxState {
  LoadConfig config;
  std::string config_error;
  std::atomic<unsigned> joined{0};
  std::atomic<bool> closed{false};
  std::atomic<bool> finished{false};
  unsigned threads = 0;
  std::unique_ptr<SharedRun> shared;
};
IxState g_ix;

void ix_thread_main(ix_ctx *ctx, const ix::AppOptions &opts) {
  ix::ev::Ixev ev(ctx);
  const unsigned slot = g_ix.joined.fetch_add(1);
  if (slot == 0) {
    OptionValues values(opts.begin(), opts.end());
    g_ix.config_error = config_from(values, g_ix.config);
    const unsigned expected = ix_thread_count(ctx);
    const uint64_t until = ev.now_ns() + 2'000'000'000;
    while (g_ix.joined.load() < expected && ev.now_ns() < until && !ev.should_stop()) ev.poll();
    g_ix.threads =
        std::min<unsigned>(g_ix.joined.load(), g_ix.config_error.empty() ? g_ix.config.conns : 1);
    if (g_ix.config_error.empty())
      g_ix.shared = std::make_unique<SharedRun>(g_ix.config, g_ix.threads);
    g_ix.closed.store(true, std::memory_order_release);
  } else {
    while (!g_ix.closed.load(std::memory_order_acquire) && !ev.should_stop()) ev.poll();
  }
  if (g_ix.config_error.empty() && slot < g_ix.threads && g_ix.shared) {
    IxTransport transport(ev, g_ix.config.servers);
    run_load_thread(*g_ix.shared, transport, slot);
    if (slot == 0) g_ix.finished.store(true, std::memory_order_release);
  } else {
    if (slot == 0) g_ix.finished.store(true, std::memory_order_release);
  }
  while (!g_ix.finished.load(std::memory_order_acquire) && !ev.should_stop()) ev.poll();
}

// Checks ix-load's own options before the dataplane starts, skipping the
// dataplane's flags (every one of which takes a value).
std::string precheck_ix_options(const std::vector<std::string> &args) {
  std::vector<std::string> mine = {args[0]};
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string &a = args[i];
    // Help, or a config file that may hold ix-load's options too: the
    // dataplane's parser sees everything; thread 0 checks the result.
    if (a == "-h" || a == "--help" || a.starts_with("--help=") || a == "--config" ||
        a.starts_with("--config="))
      return "";
    if (!a.starts_with("--")) continue;
    const std::string name =
        a.substr(2, a.find('=') == std::string::npos ? std::string::npos : a.find('=') - 2);
    bool ours = false;
    for (const OptionDef &o : option_table()) ours = ours || name == o.name;
    const bool inline_value = a.find('=') != std::string::npos;
    const bool next_is_value =
        !inline_value && i + 1 < args.size() && !args[i + 1].starts_with("--");
    if (ours) {
      mine.push_back(a);
      if (next_is_value) mine.push_back(args[i + 1]);
    }
    if (next_is_value) ++i;
  }
  OptionValues values;
  bool help = false;
  if (std::string err = parse_args(mine, values, help); !err.empty()) return err;
  LoadConfig config;
  return config_from(values, config);
}

int run_ix(const std::vector<std::string> &args) {
  if (std::string err = precheck_ix_options(args); !err.empty()) {
    std::cerr << "ix-load: " << err << "\n";
    return 2;
  }
  std::vector<ix::AppOption> options;
  for (const OptionDef &o : option_table()) options.push_back({o.name, o.default_value, o.help});
  std::vector<char *> argv;
  for (const std::string &a : args) argv.push_back(const_cast<char *>(a.c_str()));
  argv.push_back(nullptr);
  const int rc =
      ix::run_app("ix-load", static_cast<int>(args.size()), argv.data(), options, ix_thread_main);
  if (rc != 0) return rc;
  if (!g_ix.config_error.empty()) {
    std::cerr << "ix-load: " << g_ix.config_error << "\n";
    return 2;
  }
  if (!g_ix.shared) {
    for (const std::string &a : args)
      if (a == "-h" || a == "--help") return 0;
    std::cerr << "ix-load: the load never started (the dataplane stopped first)\n";
    return 1;
  }
  return g_ix.shared->exit_code;
}

}  // namespace

int main(int argc, char **argv) {
  const std::vector<std::string> args = normalize_flags(argc, argv);
  const std::string transport = transport_of(args);
  if (transport == "ix") return run_ix(args);
  if (transport != "linux") {
    std::cerr << "ix-load: transport: '" << transport << "' is not linux or ix\n";
    return 2;
  }
  OptionValues values;
  bool help = false;
  if (std::string err = parse_args(args, values, help); !err.empty()) {
    std::cerr << "ix-load: " << err << "\n";
    return 2;
  }
  if (help) {
    std::cout << usage_text("ix-load");
    return 0;
  }
  LoadConfig config;
  if (std::string err = config_from(values, config); !err.empty()) {
    std::cerr << "ix-load: " << err << "\n";
    return 2;
  }
  try {
    return run_linux(config);
  } catch (const std::exception &e) {
    std::cerr << "ix-load: " << e.what() << "\n";
    return 1;
  }
}
