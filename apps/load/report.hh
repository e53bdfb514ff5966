// How runs are reported: one human line per run on stdout, and for scripts
// a JSON document (--json) and a CSV file with one row per run (--csv).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "load/load_options.hh"
#include "load/run_stats.hh"
#include "load/sla_search.hh"

namespace ix::load {

std::string human_line(const RunSummary &s);
std::string csv_header();
std::string csv_row(const RunSummary &s);
std::string json_run(const RunSummary &s);
// A pool: one line per server with its share of the run's replies.
std::string per_server_lines(const RunSummary &s, const LoadConfig &config);

struct ReportContext {
  const LoadConfig *config = nullptr;
  unsigned threads = 0;
  // Preload: keys set, how many were STORED, and errors.
  uint64_t preload_keys = 0, preload_stored = 0, preload_errors = 0;
  std::vector<uint64_t> preload_stored_per_server;
  double preload_seconds = 0;
  // --search: the verdict over the runs (its best is an index into runs).
  std::optional<SlaVerdict> search;
  std::string outcome;  // "ok", or why the program failed
};

// The "search" object of the JSON document: the bound, the answer (the
// highest achieved rate that met it) and its run, what bounds it, and
// whether it is too coarse to quote.
std::string json_search(const SlaVerdict &v, double p99_bound_us,
                        const std::vector<RunSummary> &runs);

std::string json_document(const ReportContext &ctx, const std::vector<RunSummary> &runs);

// Writes text to path; "" or an error.
std::string write_file(const std::string &path, const std::string &text);

}  // namespace ix::load
