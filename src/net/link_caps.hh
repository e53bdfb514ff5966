// What the stack needs to know of the link it transmits on: its MTU and the
// checksums the device fills on transmit. The driver's DeviceCaps says more
// (queues, RSS, receive offloads); drivers::DeviceCaps::link_caps() hands
// the stack this part, so the stack never depends on the driver layer.
#pragma once

#include <cstdint>

namespace ix::net {

struct LinkCaps {
  uint16_t mtu = 0;         // 0: no limit beyond the stack's configured MTU
  bool tx_ip_csum = false;  // the device fills IPv4 header checksums (mem::kTxIpCsum)
  bool tx_l4_csum = false;  // the device fills TCP/UDP checksums (mem::kTxL4Csum)
};

}  // namespace ix::net
