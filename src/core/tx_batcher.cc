#include "core/tx_batcher.hh"

#include <algorithm>

namespace ix::core {

TxBatcher::TxBatcher(drivers::Device &dev, uint16_t queue, uint32_t backlog, CoreStats &stats)
    : dev_(dev), queue_(queue), frames_(std::max<uint32_t>(backlog, 1)), stats_(stats) {}

TxBatcher::~TxBatcher() {
  for (uint32_t i = 0; i < count_; ++i) mem::MbufPool::free_chain(frames_[i]);
}

void TxBatcher::send_frame(mem::Mbuf *m) {
  if (count_ == frames_.size()) {
    flush();
    if (count_ == frames_.size()) {
      ++stats_.tx_dropped;
      mem::MbufPool::free_chain(m);
      return;
    }
  }
  frames_[count_++] = m;
}

unsigned TxBatcher::flush() {
  // A device may take fewer frames per call than offered with room to spare
  // (DPDK drivers take at most their burst size, 32 or 64): only a call that
  // takes nothing says the ring is full.
  unsigned sent = 0;
  while (sent < count_) {
    const uint16_t burst = static_cast<uint16_t>(std::min<uint32_t>(count_ - sent, 0xffff));
    const uint16_t took = dev_.tx_burst(queue_, frames_.data() + sent, burst);
    if (took == 0) {
      stats_.tx_full += count_ - sent;  // kept back for the next flush
      break;
    }
    sent += took;
  }
  if (sent != 0 && sent < count_)
    std::copy(frames_.begin() + sent, frames_.begin() + count_, frames_.begin());
  count_ -= sent;
  stats_.tx_frames += sent;
  return sent;
}

}  // namespace ix::core
