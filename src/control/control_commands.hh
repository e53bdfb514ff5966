// The control socket's commands, each answered from the running dataplane:
//   stats        every thread's counters as JSON (what --stats-file writes at
//                exit), published by each thread at the request
//   conns        one line per TCP connection (see conn_report.hh)
//   conns json   the same as JSON
//   groups       per elastic thread: running or parked, flow groups owned,
//                load (busy share of its loop since start), frames, moves
//   move G T     move flow group G to elastic thread T (Runtime::move_group)
//   park T       take elastic thread T (which owns no group) out of service
//   resume T     bring it back (it owns nothing until groups move to it)
//   cores N      run on elastic threads 0..N-1: groups gathered or spread,
//                the others parked (Runtime::run_on_threads)
//   elastic      the control plane's state: threads in service, each one's
//                last load signals, recent decisions (with --elastic on)
//   help         this list
// A command is one line of words; the answer is text ending in a newline.
// A bad command is answered with one line starting "error: ", never more.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "core/runtime.hh"
#include "drivers/device.hh"

namespace ix::control {

class ElasticController;

class ControlCommands {
 public:
  // `dev` (may be null) adds each queue's counters to `stats`. `timeout`
  // bounds the wait for one elastic thread's answer.
  ControlCommands(core::Runtime &rt, const drivers::Device *dev,
                  std::chrono::milliseconds timeout = std::chrono::milliseconds(5000))
      : rt_(rt), dev_(dev), timeout_(timeout) {}

  // The control plane, when it runs (the `elastic` command shows it).
  void set_elastic(const ElasticController *ec) { elastic_ = ec; }

  // Runs on the control thread only (one command at a time).
  std::string execute(std::string_view line);

 private:
  std::string stats();
  std::string conns(bool json);
  std::string groups();

  core::Runtime &rt_;
  const drivers::Device *dev_;
  std::chrono::milliseconds timeout_;
  const ElasticController *elastic_ = nullptr;
};

}  // namespace ix::control
