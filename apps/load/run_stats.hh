// What one run measured: counters and the latency histogram of one thread,
// merged over the threads into a RunSummary for reports.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "load/latency_histogram.hh"

namespace ix::load {

struct RunCounters {
  uint64_t issued = 0;     // requests sent that were due inside the measured window
  uint64_t skipped = 0;    // due inside the window but every connection was at --depth
  uint64_t completed = 0;  // of the issued, answered
  uint64_t gets = 0, hits = 0, misses = 0;
  uint64_t sets = 0, stored = 0;
  uint64_t error_replies = 0;    // ERROR / CLIENT_ERROR / SERVER_ERROR / NOT_STORED ...
  uint64_t corrupt_values = 0;   // a hit whose data was not what was stored
  uint64_t protocol_errors = 0;  // unparseable or mismatched replies (connection dropped)
  uint64_t conn_failures = 0;    // connections lost during the run
  uint64_t unanswered = 0;       // issued but still without a reply after the drain
  uint64_t max_lag_ns = 0;       // largest delay between a request's due time and its send

  void merge(const RunCounters &o);
  uint64_t errors() const {
    return error_replies + corrupt_values + protocol_errors + conn_failures;
  }
};

// One server's share of a run's measured replies (a pool: which server
// answered how much of the load).
struct ServerCounters {
  uint64_t completed = 0, gets = 0, hits = 0, sets = 0;
  void merge(const ServerCounters &o) {
    completed += o.completed;
    gets += o.gets;
    hits += o.hits;
    sets += o.sets;
  }
};

struct ThreadResult {
  RunCounters counters;
  LatencyHistogram latency;                // ns, due time to reply, of the completed requests
  double seconds = 0;                      // the measured window
  std::vector<ServerCounters> per_server;  // indexed like LoadConfig::servers
};

struct RunSummary {
  int index = 0;           // 1-based
  std::string phase;       // "run", "scan", "search", "search-max"
  double target_rate = 0;  // requests/s asked for; 0 = closed loop
  double seconds = 0;
  double start_unix_s = 0;  // wall-clock time the run began (to line runs up with other logs)
  RunCounters counters;
  double offered_rate = 0;   // (issued + skipped) / seconds: what the schedule produced
  double sent_rate = 0;      // issued / seconds
  double achieved_rate = 0;  // completed / seconds
  // Latency in microseconds.
  double p50 = 0, p90 = 0, p95 = 0, p99 = 0, p999 = 0, mean = 0, min = 0, max = 0;
  // p99 over every request due in the window, a skipped or unanswered one
  // counting as beyond any bound: infinity when more than 1% of them were
  // never answered. What --search holds against its bound.
  double p99_due = 0;
  uint64_t latency_overflow = 0;
  std::vector<ServerCounters> per_server;
};

// The q-quantile (microseconds) over the due requests of a run, the
// unanswered ones counted as infinitely late; infinity when they reach it.
double due_quantile_us(const LatencyHistogram &h, const RunCounters &c, double q);

RunSummary summarize(int index, const std::string &phase, double target_rate,
                     const ThreadResult &merged);

}  // namespace ix::load
