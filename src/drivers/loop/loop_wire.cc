#include "drivers/loop/loop_wire.hh"

#include <cstring>
#include <stdexcept>

namespace ix::drivers {

LoopWire::LoopWire(const timing::Clock &clock, const LoopWireConfig &cfg)
    : clock_(clock), cfg_(cfg) {}

LoopWire::~LoopWire() = default;

LoopPort &LoopWire::add_port(const LoopPortConfig &cfg) {
  const std::string who = "loop port " + cfg.name + ": ";
  if (cfg.mac.is_zero() || cfg.mac.is_multicast())
    throw std::invalid_argument(who + "MAC must be a non-zero unicast address");
  // The port checks the rest of its configuration.
  for (const auto &p : ports_)
    if (p->mac() == cfg.mac) throw std::invalid_argument(who + "MAC already on the wire");

  ports_.push_back(std::make_unique<LoopPort>(*this, static_cast<uint32_t>(ports_.size()), cfg,
                                              cfg.faults.value_or(cfg_.faults)));
  return *ports_.back();
}

uint32_t LoopWire::deliver(const LoopPort &from, std::span<const uint8_t> frame, uint64_t due_ns) {
  net::MacAddr dst;
  std::memcpy(dst.b.data(), frame.data(), dst.b.size());
  const bool flood = dst.is_multicast();  // includes broadcast
  uint32_t receivers = 0;
  for (const auto &p : ports_) {
    if (p.get() == &from) continue;
    if (flood || p->mac() == dst) {
      p->receive(frame, due_ns);
      ++receivers;
    }
  }
  return receivers;
}

}  // namespace ix::drivers
