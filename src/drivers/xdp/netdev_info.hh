// What the AF_XDP driver needs to know about a Linux interface before it
// binds sockets to it: index, MTU, MAC, driver name and queue counts. Read
// with ioctls on an ordinary socket, so it works without privileges and in
// whichever network namespace the process is in.
#pragma once

#include <cstdint>
#include <string>

#include "net/addr.hh"

namespace ix::drivers {

struct NetdevInfo {
  std::string ifname;
  unsigned ifindex = 0;
  uint16_t mtu = 1500;
  net::MacAddr mac;
  std::string driver;      // e.g. "veth", "ixgbe"; empty if unknown
  uint32_t rx_queues = 1;  // queues an AF_XDP socket may bind to for RX
  uint32_t tx_queues = 1;
  uint32_t max_rx_queues = 0;  // what the driver could be set to (0: unknown)
};

// Throws std::runtime_error if the interface does not exist, naming it and
// how to list interfaces.
NetdevInfo query_netdev(const std::string &ifname);

// How to give `info` at least `wanted` queues, for error messages.
std::string how_to_add_queues(const NetdevInfo &info, uint32_t wanted);

}  // namespace ix::drivers
