// The control socket's commands, each answered from the running dataplane:
//   stats        every thread's counters as JSON (what --stats-file writes at
//                exit), published by each thread at the request
//   conns        one line per TCP connection (see conn_report.hh)
//   conns json   the same as JSON
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

class ControlCommands {
 public:
  // `dev` (may be null) adds each queue's counters to `stats`. `timeout`
  // bounds the wait for one elastic thread's answer.
  ControlCommands(core::Runtime &rt, const drivers::Device *dev,
                  std::chrono::milliseconds timeout = std::chrono::milliseconds(5000))
      : rt_(rt), dev_(dev), timeout_(timeout) {}

  // Runs on the control thread only (one command at a time).
  std::string execute(std::string_view line);

 private:
  std::string stats();
  std::string conns(bool json);

  core::Runtime &rt_;
  const drivers::Device *dev_;
  std::chrono::milliseconds timeout_;
};

}  // namespace ix::control
