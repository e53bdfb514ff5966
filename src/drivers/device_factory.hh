// Opens the NIC the configuration names, with one queue per elastic thread.
#pragma once

#include <memory>

#include "config/config.hh"
#include "drivers/device.hh"

namespace ix::drivers {

// Throws std::runtime_error / std::invalid_argument with a message that names
// the problem and the fix (missing interface, too few queues, no privileges).
std::unique_ptr<Device> open_device(const config::DataplaneConfig &cfg);

}  // namespace ix::drivers
