// The control plane's loop (IXCP's role): every window it reads each running
// elastic thread's load from its published counters, asks the ElasticPolicy
// how many threads to run on, and applies a change with
// Runtime::run_on_threads (flow groups gathered or spread, threads parked or
// resumed). Every decision is logged with the signals behind it and kept
// for `ixcp status` (the control socket's `elastic` command).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "control/elastic_policy.hh"
#include "core/runtime.hh"

namespace ix::control {

class ElasticController {
 public:
  using LogFn = std::function<void(const std::string &line)>;
  // The runtime's threads must publish their counters at least once per
  // window (RuntimeConfig::stats_period_ns). `batch` is the runtime's batch
  // bound (a poll that returns that many is a full batch).
  ElasticController(core::Runtime &rt, const ElasticPolicyConfig &cfg, uint16_t batch, LogFn log);
  ~ElasticController();  // stops the loop
  ElasticController(const ElasticController &) = delete;
  ElasticController &operator=(const ElasticController &) = delete;

  void start();  // once the runtime runs
  void stop();
  // One window, for tests and for the loop: reads the signals, decides,
  // applies. Returns the decision (threads unchanged: none).
  ElasticPolicy::Decision tick();
  // The threads in service, the last window's signals and recent decisions.
  std::string status() const;

 private:
  struct Seen {
    uint64_t busy_ns = 0, loop_ns = 0, iterations = 0, full = 0;
  };
  std::vector<ThreadLoad> sample();

  core::Runtime &rt_;
  ElasticPolicy policy_;
  unsigned full_bucket_;
  LogFn log_;
  std::vector<Seen> seen_;
  unsigned active_;
  mutable std::mutex mu_;  // status() against the loop
  std::vector<ThreadLoad> last_;
  std::deque<std::string> decisions_;
  std::atomic<bool> stop_{false};
  std::thread loop_;
};

}  // namespace ix::control
