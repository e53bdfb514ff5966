// Runs the whole measurement on every load thread in lockstep: connect,
// preload, then run after run as the RunPlanner decides. Thread 0 merges
// the threads' results between runs, prints them and picks the next run;
// the others keep their transport serviced while they wait (a polling
// barrier, so an IX elastic thread never stops polling its queue).
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "load/load_engine.hh"
#include "load/load_options.hh"
#include "load/report.hh"
#include "load/run_planner.hh"
#include "load/transport.hh"

namespace ix::load {

class PollingBarrier {
 public:
  explicit PollingBarrier(unsigned threads) : threads_(threads) {}

  // Returns once all threads arrived; calls idle() while waiting. What a
  // thread wrote before arriving is visible to every thread after it.
  template <class Idle>
  void wait(Idle &&idle) {
    const uint64_t generation = generation_.load(std::memory_order_acquire);
    if (arrived_.fetch_add(1, std::memory_order_acq_rel) + 1 == threads_) {
      arrived_.store(0, std::memory_order_relaxed);
      generation_.store(generation + 1, std::memory_order_release);
      return;
    }
    while (generation_.load(std::memory_order_acquire) == generation) idle();
  }

 private:
  const unsigned threads_;
  std::atomic<unsigned> arrived_{0};
  std::atomic<uint64_t> generation_{0};
};

// What the load threads share. Slots are written by their own thread only;
// the rest by thread 0 between barriers.
struct SharedRun {
  SharedRun(const LoadConfig &config, unsigned threads);

  const LoadConfig &config;
  const unsigned threads;
  PollingBarrier barrier;
  std::unique_ptr<ProgressCounters[]> progress;
  std::vector<std::string> connect_errors;
  std::vector<PreloadResult> preloads;
  std::vector<ThreadResult> results;
  RunPlanner planner;
  std::optional<PlannedRun> current;
  bool abort = false;
  std::vector<RunSummary> summaries;
  ReportContext report;
  int exit_code = 0;
};

// The connections of load thread `index` (its share of --conns).
size_t connections_of(const LoadConfig &config, unsigned threads, unsigned index);

// The whole sequence for one load thread; thread 0 also prints and writes
// the reports. Call from every thread with its own transport.
void run_load_thread(SharedRun &shared, Transport &transport, unsigned index);

}  // namespace ix::load
