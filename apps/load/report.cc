#include "load/report.hh"

#include <cmath>
#include <cstdio>
#include <fstream>

namespace ix::load {

namespace {

std::string fmt(const char *f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string json_string(const std::string &s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// The columns of CSV and JSON, in order: name and value text.
std::vector<std::pair<std::string, std::string>> fields(const RunSummary &s) {
  const RunCounters &c = s.counters;
  auto n = [](uint64_t v) { return std::to_string(v); };
  return {
      {"run", std::to_string(s.index)},
      {"phase", s.phase},
      {"target_rate", fmt("%.1f", s.target_rate)},
      {"offered_rate", fmt("%.1f", s.offered_rate)},
      {"sent_rate", fmt("%.1f", s.sent_rate)},
      {"achieved_rate", fmt("%.1f", s.achieved_rate)},
      {"seconds", fmt("%.3f", s.seconds)},
      {"start_unix_s", fmt("%.6f", s.start_unix_s)},
      {"p50_us", fmt("%.1f", s.p50)},
      {"p90_us", fmt("%.1f", s.p90)},
      {"p95_us", fmt("%.1f", s.p95)},
      {"p99_us", fmt("%.1f", s.p99)},
      {"p99_due_us", std::isinf(s.p99_due) ? "inf" : fmt("%.1f", s.p99_due)},
      {"p999_us", fmt("%.1f", s.p999)},
      {"mean_us", fmt("%.1f", s.mean)},
      {"min_us", fmt("%.1f", s.min)},
      {"max_us", fmt("%.1f", s.max)},
      {"issued", n(c.issued)},
      {"completed", n(c.completed)},
      {"gets", n(c.gets)},
      {"hits", n(c.hits)},
      {"misses", n(c.misses)},
      {"sets", n(c.sets)},
      {"stored", n(c.stored)},
      {"errors", n(c.errors())},
      {"error_replies", n(c.error_replies)},
      {"corrupt_values", n(c.corrupt_values)},
      {"protocol_errors", n(c.protocol_errors)},
      {"conn_failures", n(c.conn_failures)},
      {"skipped", n(c.skipped)},
      {"unanswered", n(c.unanswered)},
      {"max_lag_us", fmt("%.1f", static_cast<double>(c.max_lag_ns) / 1000.0)},
      {"latency_overflow", n(s.latency_overflow)},
  };
}

}  // namespace

std::string human_line(const RunSummary &s) {
  const RunCounters &c = s.counters;
  char buf[768];
  std::snprintf(
      buf, sizeof buf,
      "ix-load: run %d (%s) target %s: offered %.0f/s achieved %.0f/s over %.2f s | latency us "
      "p50 %.1f p90 %.1f p95 %.1f p99 %.1f p99.9 %.1f mean %.1f max %.1f | gets %llu (hits %llu "
      "misses %llu) sets %llu | errors %llu skipped %llu unanswered %llu max-lag %.0f us",
      s.index, s.phase.c_str(),
      s.target_rate > 0 ? fmt("%.0f/s", s.target_rate).c_str() : "closed-loop", s.offered_rate,
      s.achieved_rate, s.seconds, s.p50, s.p90, s.p95, s.p99, s.p999, s.mean, s.max,
      (unsigned long long)c.gets, (unsigned long long)c.hits, (unsigned long long)c.misses,
      (unsigned long long)c.sets, (unsigned long long)c.errors(), (unsigned long long)c.skipped,
      (unsigned long long)c.unanswered, static_cast<double>(c.max_lag_ns) / 1000.0);
  return buf;
}

std::string csv_header() {
  std::string out;
  for (const auto &[name, value] : fields(RunSummary{})) out += (out.empty() ? "" : ",") + name;
  return out + "\n";
}

std::string csv_row(const RunSummary &s) {
  std::string out;
  bool first = true;
  for (const auto &[name, value] : fields(s)) {
    out += (first ? "" : ",") + value;
    first = false;
  }
  return out + "\n";
}

std::string json_run(const RunSummary &s) {
  std::string out = "{";
  bool first = true;
  for (const auto &[name, value] : fields(s)) {
    out += (first ? "" : ",") + json_string(name) + ":";
    // JSON has no infinity: a p99 beyond every answered request is null.
    out += name == "phase" ? json_string(value) : value == "inf" ? "null" : value;
    first = false;
  }
  if (s.per_server.size() > 1) {
    out += ",\"per_server\":[";
    for (size_t k = 0; k < s.per_server.size(); ++k) {
      const ServerCounters &p = s.per_server[k];
      out += std::string(k ? "," : "") + "{\"completed\":" + std::to_string(p.completed) +
             ",\"gets\":" + std::to_string(p.gets) + ",\"hits\":" + std::to_string(p.hits) +
             ",\"sets\":" + std::to_string(p.sets) + "}";
    }
    out += "]";
  }
  return out + "}";
}

std::string json_search(const SlaVerdict &v, double p99_bound_us,
                        const std::vector<RunSummary> &runs) {
  const RunSummary *best = v.best ? &runs[*v.best] : nullptr;
  auto or_null = [&](const char *f, double x) { return best ? fmt(f, x) : std::string("null"); };
  return "{\"p99_bound_us\":" + fmt("%g", p99_bound_us) +
         ",\"best_rate\":" + or_null("%.1f", best ? best->achieved_rate : 0) +
         ",\"best_offered_rate\":" + or_null("%.1f", best ? best->target_rate : 0) +
         ",\"best_run\":" + (best ? std::to_string(best->index) : "null") +
         ",\"best_p99_us\":" + or_null("%.1f", best ? best->p99_due : 0) +
         ",\"limit\":" + json_string(sla_limit_name(v.limit)) + ",\"first_failing_rate\":" +
         (v.first_failing_rate > 0 ? fmt("%.1f", v.first_failing_rate) : "null") +
         ",\"knee_ratio\":" + (v.knee_ratio > 0 ? fmt("%.3f", v.knee_ratio) : "null") +
         ",\"meeting_rates\":" + std::to_string(v.meeting_rates) +
         ",\"coarse\":" + (v.coarse ? "true" : "false") +
         ",\"coarse_why\":" + json_string(v.coarse_why) + "}";
}

std::string per_server_lines(const RunSummary &s, const LoadConfig &config) {
  std::string out;
  uint64_t total = 0;
  for (const ServerCounters &p : s.per_server) total += p.completed;
  for (size_t k = 0; k < s.per_server.size() && k < config.servers.size(); ++k) {
    const ServerCounters &p = s.per_server[k];
    char line[512];
    std::snprintf(
        line, sizeof line,
        "ix-load: run %d server %zu %s:%u: %llu replies (%.1f%%), gets %llu (hits %llu) "
        "sets %llu\n",
        s.index, k, config.servers[k].host.c_str(), config.servers[k].port,
        (unsigned long long)p.completed,
        total ? 100.0 * static_cast<double>(p.completed) / static_cast<double>(total) : 0.0,
        (unsigned long long)p.gets, (unsigned long long)p.hits, (unsigned long long)p.sets);
    out += line;
  }
  return out;
}

std::string json_document(const ReportContext &ctx, const std::vector<RunSummary> &runs) {
  const LoadConfig &c = *ctx.config;
  std::string out =
      "{\"tool\":\"ix-load\",\"transport\":" + json_string(c.transport) +
      ",\"server\":" + json_string(c.server_text) +
      ",\"servers\":" + std::to_string(c.servers.size()) +
      ",\"distribution\":" + json_string(ketama_layout_name(c.distribution)) +
      ",\"protocol\":" + json_string(c.protocol == Protocol::kEcho ? "echo" : "memcache") +
      ",\"size\":" + std::to_string(c.echo_size) + ",\"spin\":" + (c.spin ? "true" : "false") +
      ",\"workload\":" + json_string(c.workload.name) +
      ",\"keysize\":" + json_string(c.workload.key_size.describe()) +
      ",\"valuesize\":" + json_string(c.workload.value_size.describe()) +
      ",\"update\":" + fmt("%g", c.workload.update_ratio) +
      ",\"arrival\":" + json_string(arrival_name(c.arrival)) +
      ",\"key_popularity\":\"uniform\",\"records\":" + std::to_string(c.records) +
      ",\"conns\":" + std::to_string(c.conns) + ",\"depth\":" + std::to_string(c.depth) +
      ",\"threads\":" + std::to_string(ctx.threads) + ",\"warmup_s\":" + fmt("%g", c.warmup_s) +
      ",\"time_s\":" + fmt("%g", c.time_s);
  out += ",\"preload\":{\"keys\":" + std::to_string(ctx.preload_keys) +
         ",\"stored\":" + std::to_string(ctx.preload_stored) +
         ",\"errors\":" + std::to_string(ctx.preload_errors) +
         ",\"seconds\":" + fmt("%.3f", ctx.preload_seconds);
  if (ctx.preload_stored_per_server.size() > 1) {
    out += ",\"stored_per_server\":[";
    for (size_t k = 0; k < ctx.preload_stored_per_server.size(); ++k)
      out += (k ? "," : "") + std::to_string(ctx.preload_stored_per_server[k]);
    out += "]";
  }
  out += "}";
  out += ",\"runs\":[";
  for (size_t i = 0; i < runs.size(); ++i) out += (i ? "," : "") + json_run(runs[i]);
  out += "]";
  if (c.search_p99_us && ctx.search)
    out += ",\"search\":" + json_search(*ctx.search, *c.search_p99_us, runs);
  out += ",\"outcome\":" + json_string(ctx.outcome) + "}\n";
  return out;
}

std::string write_file(const std::string &path, const std::string &text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) return "cannot write '" + path + "'";
  f << text;
  f.close();
  if (!f) return "error writing '" + path + "'";
  return "";
}

}  // namespace ix::load
