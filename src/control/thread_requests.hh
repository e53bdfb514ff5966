// The control thread's side of the control slots: hand a task to every
// elastic thread of a runtime and wait until each has done it, has stopped,
// or a deadline has passed. Runs on the control thread only.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/control_slot.hh"
#include "core/runtime.hh"

namespace ix::control {

struct ThreadAnswer {
  unsigned thread = 0;
  // The finished task (owned by the thread's slot, valid until the next
  // request to that thread), or nullptr: then `error` says why.
  core::ControlTask *task = nullptr;
  std::string error;
};

using TaskFactory = std::function<std::unique_ptr<core::ControlTask>(unsigned thread)>;

// Posts make(i) to every thread i and waits for them all. A thread that does
// not finish within `timeout` (its application stopped calling run_io) is
// reported, and its task stays with it: the thread may still finish it
// later, and until then that thread refuses new requests ("busy").
std::vector<ThreadAnswer> ask_every_thread(core::Runtime &rt, const TaskFactory &make,
                                           std::chrono::milliseconds timeout);

}  // namespace ix::control
