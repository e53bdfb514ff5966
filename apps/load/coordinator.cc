#include "load/coordinator.hh"

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace ix::load {

namespace {

// The once-a-second progress line on stderr (thread 0), from the running
// totals every thread publishes.
class ProgressPrinter {
 public:
  ProgressPrinter(SharedRun &shared, uint64_t start_ns) : shared_(shared), last_ns_(start_ns) {
    totals(last_);
  }

  void print(uint64_t now_ns, int run_index, const PlannedRun &run, size_t alive_here) {
    Totals t;
    totals(t);
    const double secs = static_cast<double>(now_ns - last_ns_) / 1e9;
    if (secs <= 0) return;
    ++seconds_;
    std::fprintf(stderr,
                 "ix-load: [run %d %s %s] %d s: sent %.0f/s replies %.0f/s skipped %llu errors "
                 "%llu (thread 0: %zu connections up)\n",
                 run_index, run.phase.c_str(),
                 run.rate > 0 ? (std::to_string(static_cast<long long>(run.rate)) + "/s").c_str()
                              : "closed-loop",
                 seconds_, static_cast<double>(t.sent - last_.sent) / secs,
                 static_cast<double>(t.replies - last_.replies) / secs,
                 (unsigned long long)(t.skipped - last_.skipped),
                 (unsigned long long)(t.errors - last_.errors), alive_here);
    last_ = t;
    last_ns_ = now_ns;
  }

 private:
  struct Totals {
    uint64_t sent = 0, replies = 0, skipped = 0, errors = 0;
  };
  void totals(Totals &t) const {
    for (unsigned i = 0; i < shared_.threads; ++i) {
      const ProgressCounters &p = shared_.progress[i];
      t.sent += p.sent.load(std::memory_order_relaxed);
      t.replies += p.replies.load(std::memory_order_relaxed);
      t.skipped += p.skipped.load(std::memory_order_relaxed);
      t.errors += p.errors.load(std::memory_order_relaxed);
    }
  }
  SharedRun &shared_;
  Totals last_;
  uint64_t last_ns_;
  int seconds_ = 0;
};

void print_verdict(const SlaVerdict &v, double bound_us, const std::vector<RunSummary> &runs) {
  if (!v.best) {
    std::printf("ix-load: search: no rate tried kept p99 <= %g us\n", bound_us);
    return;
  }
  const RunSummary &b = runs[*v.best];
  std::printf(
      "ix-load: search: highest rate with p99 <= %g us: %.0f/s achieved (run %d, offered %.0f/s, "
      "p99 %.1f us); bounded by %s",
      bound_us, b.achieved_rate, b.index, b.target_rate, b.p99_due, sla_limit_name(v.limit));
  if (v.limit == SlaLimit::kKnee)
    std::printf(" (%.0f/s offered failed twice)", v.first_failing_rate);
  if (v.coarse) std::printf("; too coarse to quote: %s", v.coarse_why.c_str());
  std::printf("\n");
}

void finish_reports(SharedRun &s) {
  const LoadConfig &c = s.config;
  s.report.config = &c;
  s.report.threads = s.threads;
  s.report.search = s.planner.verdict();
  if (c.search_p99_us) print_verdict(*s.report.search, *c.search_p99_us, s.summaries);
  if (s.report.outcome.empty()) s.report.outcome = "ok";
  if (!c.json_path.empty()) {
    if (std::string err = write_file(c.json_path, json_document(s.report, s.summaries));
        !err.empty()) {
      std::fprintf(stderr, "ix-load: json: %s\n", err.c_str());
      s.exit_code = 1;
    }
  }
  if (!c.csv_path.empty()) {
    std::string text = csv_header();
    for (const RunSummary &r : s.summaries) text += csv_row(r);
    if (std::string err = write_file(c.csv_path, text); !err.empty()) {
      std::fprintf(stderr, "ix-load: csv: %s\n", err.c_str());
      s.exit_code = 1;
    }
  }
  std::fflush(stdout);
}

void fail(SharedRun &s, const std::string &why) {
  if (s.report.outcome.empty()) s.report.outcome = why;
  s.exit_code = 1;
}

}  // namespace

SharedRun::SharedRun(const LoadConfig &cfg, unsigned n)
    : config(cfg),
      threads(n),
      barrier(n),
      progress(new ProgressCounters[n]),
      connect_errors(n),
      preloads(n),
      results(n),
      planner(cfg) {}

size_t connections_of(const LoadConfig &config, unsigned threads, unsigned index) {
  return config.conns / threads + (index < config.conns % threads ? 1 : 0);
}

void run_load_thread(SharedRun &s, Transport &transport, unsigned index) {
  const LoadConfig &c = s.config;
  const size_t conns = connections_of(c, s.threads, index);
  LoadEngine engine(c, transport, index, s.threads, conns, s.progress[index]);
  auto idle = [&] { engine.idle(1'000'000); };
  const bool leader = index == 0;

  s.connect_errors[index] = conns == 0 ? "" : engine.connect();
  s.barrier.wait(idle);
  if (leader) {
    for (unsigned i = 0; i < s.threads; ++i)
      if (!s.connect_errors[i].empty()) {
        std::fprintf(stderr, "ix-load: thread %u: %s\n", i, s.connect_errors[i].c_str());
        fail(s, "connect: " + s.connect_errors[i]);
        s.abort = true;
      }
    if (!s.abort && c.servers.size() > 1)
      std::printf(
          "ix-load: %u connections to each of %zu servers (%s, %s) over %s from %u thread%s\n",
          c.conns, c.servers.size(), c.server_text.c_str(), ketama_layout_name(c.distribution),
          c.transport.c_str(), s.threads, s.threads == 1 ? "" : "s");
    else if (!s.abort)
      std::printf("ix-load: %u connections to %s over %s from %u thread%s\n", c.conns,
                  c.server_text.c_str(), c.transport.c_str(), s.threads, s.threads == 1 ? "" : "s");
    std::fflush(stdout);
  }
  s.barrier.wait(idle);

  if (!s.abort && c.preload) {
    const uint64_t t0 = transport.now_ns();
    s.preloads[index] = engine.preload();
    const uint64_t t1 = transport.now_ns();
    s.barrier.wait(idle);
    if (leader) {
      PreloadResult sum;
      sum.stored_per_server.assign(c.servers.size(), 0);
      for (const PreloadResult &p : s.preloads) {
        sum.keys += p.keys;
        sum.stored += p.stored;
        sum.errors += p.errors;
        for (size_t k = 0; k < p.stored_per_server.size() && k < c.servers.size(); ++k)
          sum.stored_per_server[k] += p.stored_per_server[k];
      }
      s.report.preload_stored_per_server = sum.stored_per_server;
      s.report.preload_keys = sum.keys;
      s.report.preload_stored = sum.stored;
      s.report.preload_errors = sum.errors;
      s.report.preload_seconds = static_cast<double>(t1 - t0) / 1e9;
      std::printf("ix-load: preload: %llu keys, %llu stored, %llu errors in %.2f s\n",
                  (unsigned long long)sum.keys, (unsigned long long)sum.stored,
                  (unsigned long long)sum.errors, s.report.preload_seconds);
      if (c.servers.size() > 1)
        for (size_t k = 0; k < c.servers.size(); ++k)
          std::printf("ix-load: preload server %zu %s:%u: %llu stored\n", k,
                      c.servers[k].host.c_str(), c.servers[k].port,
                      (unsigned long long)sum.stored_per_server[k]);
      std::fflush(stdout);
      if (sum.errors > 0 || sum.stored != sum.keys) fail(s, "preload had errors");
      if (transport.should_stop()) s.abort = true;
    }
    s.barrier.wait(idle);
  }

  for (uint32_t run_id = 1;; ++run_id) {
    // Only thread 0 reads `abort` here; the others learn of it through
    // `current` after the barrier.
    if (leader) s.current = s.abort ? std::nullopt : s.planner.next();
    s.barrier.wait(idle);
    if (!s.current) break;
    const PlannedRun run = *s.current;
    std::optional<ProgressPrinter> printer;
    if (leader) {
      printer.emplace(s, transport.now_ns());
      engine.set_progress_hook([&](uint64_t now) {
        printer->print(now, static_cast<int>(run_id), run, engine.alive_connections());
      });
    }
    const double started =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    s.results[index] = engine.run(run.rate, run_id);
    engine.set_progress_hook(nullptr);
    s.barrier.wait(idle);
    if (leader) {
      ThreadResult merged;
      merged.per_server.assign(c.servers.size(), ServerCounters{});
      for (const ThreadResult &r : s.results) {
        for (size_t k = 0; k < r.per_server.size() && k < c.servers.size(); ++k)
          merged.per_server[k].merge(r.per_server[k]);
        merged.counters.merge(r.counters);
        merged.latency.merge(r.latency);
        merged.seconds = std::max(merged.seconds, r.seconds);
      }
      RunSummary summary = summarize(static_cast<int>(run_id), run.phase, run.rate, merged);
      summary.start_unix_s = started;
      std::printf("%s\n", human_line(summary).c_str());
      if (c.servers.size() > 1) std::printf("%s", per_server_lines(summary, c).c_str());
      std::fflush(stdout);
      if (summary.counters.errors() > 0) fail(s, "run " + std::to_string(run_id) + " had errors");
      s.planner.record(summary);
      s.summaries.push_back(std::move(summary));
      if (transport.should_stop()) {
        fail(s, "stopped before the last run");
        s.abort = true;
      }
    }
  }
  engine.close();
  s.barrier.wait(idle);
  if (leader) finish_reports(s);
}

}  // namespace ix::load
