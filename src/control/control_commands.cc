#include "control/control_commands.hh"

#include <sstream>
#include <vector>

#include "control/conn_report.hh"
#include "control/control_tasks.hh"
#include "control/thread_requests.hh"
#include "core/stats_report.hh"

namespace ix::control {

namespace {
constexpr const char *kUsage = "commands: stats, conns, conns json, help";

std::vector<std::string_view> words(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
    const size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

// A word from the client, shown back safely in an error line.
std::string printable(std::string_view w) {
  std::string out;
  for (const char c : w.substr(0, 64)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return w.size() > 64 ? out + "..." : out;
}
}  // namespace

std::string ControlCommands::execute(std::string_view line) {
  const std::vector<std::string_view> w = words(line);
  if (w.empty()) return std::string("error: empty command; ") + kUsage + "\n";
  if (w[0] == "help") {
    if (w.size() != 1) return "error: help takes no arguments\n";
    return std::string(kUsage) + "\n";
  }
  if (w[0] == "stats") {
    if (w.size() != 1) return "error: stats takes no arguments\n";
    return stats();
  }
  if (w[0] == "conns") {
    if (w.size() == 1) return conns(false);
    if (w.size() == 2 && w[1] == "json") return conns(true);
    return "error: conns takes 'json' or nothing, not '" + printable(w[1]) + "'\n";
  }
  return "error: unknown command '" + printable(w[0]) + "'; " + kUsage + "\n";
}

std::string ControlCommands::stats() {
  // Each running thread publishes at the request; one that does not answer
  // is shown as last published (at most one stats period old), so the
  // answer is always the whole JSON document.
  ask_every_thread(
      rt_, [](unsigned) { return std::make_unique<PublishCountersTask>(); }, timeout_);
  std::ostringstream os;
  core::write_json(os, rt_.snapshots(), dev_);
  return os.str();
}

std::string ControlCommands::conns(bool json) {
  const auto answers = ask_every_thread(
      rt_, [](unsigned) { return std::make_unique<ConnSnapshotTask>(); }, timeout_);
  std::vector<ThreadConns> threads;
  std::vector<std::string> errors;
  for (const ThreadAnswer &a : answers) {
    if (a.task == nullptr) {
      errors.push_back("thread " + std::to_string(a.thread) + ": " + a.error);
      continue;
    }
    // The finished task is the control thread's until its next request.
    threads.push_back({a.thread, static_cast<ConnSnapshotTask *>(a.task)->take_conns()});
  }
  std::ostringstream os;
  if (json) {
    write_conns_json(os, threads, errors);
  } else {
    write_conns_text(os, threads);
    for (const std::string &e : errors) os << "error: " << e << "\n";
  }
  return os.str();
}

}  // namespace ix::control
