#include "control/control_commands.hh"

#include <sstream>
#include <vector>

#include "control/conn_report.hh"
#include "control/control_tasks.hh"
#include "control/elastic_controller.hh"
#include "control/thread_requests.hh"
#include "core/stats_report.hh"

namespace ix::control {

namespace {
// The busy share of a thread's loop since its first poll, in percent.
unsigned busy_pct(const core::CoreStats &c) {
  return c.loop_ns == 0 ? 0 : static_cast<unsigned>(c.busy_ns * 100 / c.loop_ns);
}
constexpr const char *kUsage =
    "commands: stats, conns, conns json, groups, move G T, park T, resume T, cores N, elastic, "
    "status, help";

// A decimal number below `limit`, or -1.
long number_below(std::string_view w, long limit) {
  if (w.empty() || w.size() > 6) return -1;
  long v = 0;
  for (const char c : w) {
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return v < limit ? v : -1;
}

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
  if (w[0] == "elastic") {
    if (w.size() != 1) return "error: elastic takes no arguments\n";
    if (elastic_ == nullptr) return "error: the control plane is off (start with --elastic on)\n";
    return elastic_->status();
  }
  if (w[0] == "groups") {
    if (w.size() != 1) return "error: groups takes no arguments\n";
    return groups();
  }
  if (w[0] == "status") {
    // The control plane at a glance (`ixcp SOCKET status`): threads in
    // service, groups per thread and their signals, then the policy's.
    if (w.size() != 1) return "error: status takes no arguments\n";
    return groups() + (elastic_ != nullptr
                           ? elastic_->status()
                           : std::string("policy: off (start with --elastic on)\n"));
  }
  const long nthreads = static_cast<long>(rt_.threads());
  auto done = [](const std::string &err) { return err.empty() ? "ok\n" : "error: " + err + "\n"; };
  auto bad_thread = [&](std::string_view t) {
    return "error: '" + printable(t) + "' is not an elastic thread (0.." +
           std::to_string(nthreads - 1) + ")\n";
  };
  if (w[0] == "move") {
    if (w.size() != 3) return "error: usage: move GROUP THREAD\n";
    const long groups = rt_.flow_groups().size();
    const long g = number_below(w[1], groups);
    if (g < 0)
      return "error: '" + printable(w[1]) + "' is not a flow group (0.." +
             std::to_string(groups - 1) + ")\n";
    const long t = number_below(w[2], nthreads);
    if (t < 0) return bad_thread(w[2]);
    return done(rt_.move_group(static_cast<uint16_t>(g), static_cast<uint16_t>(t), timeout_));
  }
  if (w[0] == "park" || w[0] == "resume") {
    if (w.size() != 2) return "error: usage: " + std::string(w[0]) + " THREAD\n";
    const long t = number_below(w[1], nthreads);
    if (t < 0) return bad_thread(w[1]);
    return done(w[0] == "park" ? rt_.park(static_cast<unsigned>(t), timeout_)
                               : rt_.resume(static_cast<unsigned>(t), timeout_));
  }
  if (w[0] == "cores") {
    if (w.size() != 2) return "error: usage: cores N\n";
    const long n = number_below(w[1], nthreads + 1);
    if (n < 1)
      return "error: '" + printable(w[1]) + "' cores: between 1 and " + std::to_string(nthreads) +
             "\n";
    return done(rt_.run_on_threads(static_cast<unsigned>(n), timeout_));
  }
  return "error: unknown command '" + printable(w[0]) + "'; " + kUsage + "\n";
}

std::string ControlCommands::groups() {
  const auto table = rt_.flow_groups();
  const auto snaps = rt_.snapshots();
  std::ostringstream os;
  for (unsigned t = 0; t < rt_.threads(); ++t) {
    unsigned owned = 0;
    for (uint16_t g = 0; g < table.size(); ++g) owned += table.queue_of_group(g) == t;
    os << "thread " << t << " "
       << (!rt_.thread_running(t) ? "stopped"
           : rt_.parked(t)        ? "parked"
                                  : "running")
       << " groups " << owned << " busy_pct " << busy_pct(snaps[t].core) << " rx_frames "
       << snaps[t].core.rx_frames << " groups_in " << snaps[t].core.groups_in << " groups_out "
       << snaps[t].core.groups_out << " conns_in " << snaps[t].tcp.moved_in << " conns_out "
       << snaps[t].tcp.moved_out << "\n";
  }
  return os.str();
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
