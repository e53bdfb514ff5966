// Starts one elastic thread per configured core, each pinned to its CPU and
// owning one NIC queue, builds that thread's dataplane on the thread itself
// (so its memory is first touched there), and runs the application's
// per-thread main function on it. The calling thread becomes the monitor: it
// sleeps, watches for a stop request (signal or deadline), and can read every
// thread's published counters.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/elastic_thread.hh"
#include "drivers/device.hh"
#include "ix/syscall.h"

namespace ix::core {

struct RuntimeConfig {
  std::vector<int> cores = {0};  // CPU per elastic thread; -1 leaves it unpinned
  uint16_t batch = 64;
  uint32_t mbufs_per_core = 8192;
  net::StackConfig stack;
  double run_seconds = 0;  // 0: until request_stop() or SIGINT/SIGTERM
};

// The application's code for one elastic thread: loop on ix_run_io() until
// ix_should_stop() says to finish.
using AppMain = std::function<void(ix_ctx *ctx)>;

class Runtime {
 public:
  Runtime(drivers::Device &dev, const RuntimeConfig &cfg);
  ~Runtime();

  // Runs app_main on every elastic thread and returns when all have returned.
  // Throws std::runtime_error naming the thread and the cause if a thread
  // could not be set up (e.g. a CPU that does not exist).
  void run(const AppMain &app_main);
  void request_stop() { stop_.store(true, std::memory_order_relaxed); }

  // Counters of every thread, as last published (safe while running).
  std::vector<ThreadSnapshot> snapshots() const;
  unsigned threads() const { return static_cast<unsigned>(cfg_.cores.size()); }

  // Called on the monitor thread when SIGUSR1 asks for the counters.
  using ReportFn = std::function<void(const std::vector<ThreadSnapshot> &)>;
  void on_report(ReportFn fn) { on_report_ = std::move(fn); }

  // Route SIGINT/SIGTERM to request_stop() of the running runtime, and
  // SIGUSR1 to the report callback.
  static void install_signal_handlers();

 private:
  void thread_main(unsigned id, const AppMain &app_main);

  drivers::Device &dev_;
  RuntimeConfig cfg_;
  ReportFn on_report_;
  MonotonicClock clock_;
  std::atomic<bool> stop_{false};
  // One mailbox per thread, owned here so the monitor can read counters
  // before, during and after the thread's dataplane exists.
  std::unique_ptr<StatsMailbox<ThreadSnapshot>[]> mailboxes_;
  std::unique_ptr<std::atomic<bool>[]> running_;
  // arp_rings_[from * n + to]: ARP bindings from thread `from` to `to`.
  std::vector<std::unique_ptr<ArpRing>> arp_rings_;
  std::vector<std::string> errors_;
  std::atomic<unsigned> ready_{0};    // threads whose dataplane is built
  std::atomic<bool> started_{false};  // the device is started; threads may run
};

}  // namespace ix::core
