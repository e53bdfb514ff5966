// Human- and machine-readable reports of the per-thread counters.
#pragma once

#include <ostream>
#include <vector>

#include "core/elastic_thread.hh"
#include "drivers/device.hh"

namespace ix::core {

// A short table: per thread frames, batches, drops by reason (non-zero only).
void print_summary(std::ostream &os, const std::vector<ThreadSnapshot> &threads,
                   const drivers::Device *dev);
// Every counter of every thread, as JSON.
void write_json(std::ostream &os, const std::vector<ThreadSnapshot> &threads,
                const drivers::Device *dev);

}  // namespace ix::core
