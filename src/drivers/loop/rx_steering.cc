#include "drivers/loop/rx_steering.hh"

#include "net/rss.hh"

namespace ix::drivers {

RxHash rx_hash_of_frame(const net::ToeplitzTable &rss, std::span<const uint8_t> frame) {
  const net::FrameHash h = net::rss_hash_of_flow(rss, net::parse_frame_flow(frame));
  return {h.hash, h.valid};
}

}  // namespace ix::drivers
