// Collects the frames one loop iteration produces and hands them to the
// driver in bursts. Frames the TX ring cannot take stay queued for the next
// flush (bounded: beyond the backlog they are dropped and counted).
#pragma once

#include <cstdint>
#include <vector>

#include "core/core_stats.hh"
#include "drivers/device.hh"
#include "net/stack.hh"

namespace ix::core {

class TxBatcher final : public net::FrameSink {
 public:
  TxBatcher(drivers::Device &dev, uint16_t queue, uint32_t backlog, CoreStats &stats);
  ~TxBatcher() override;

  void send_frame(mem::Mbuf *m) override;
  // Push queued frames to the device; returns how many it took.
  unsigned flush();
  uint32_t queued() const { return count_; }

 private:
  drivers::Device &dev_;
  uint16_t queue_;
  std::vector<mem::Mbuf *> frames_;  // sized once at construction
  uint32_t count_ = 0;
  CoreStats &stats_;
};

}  // namespace ix::core
