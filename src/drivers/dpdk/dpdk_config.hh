// Options for the DPDK driver (DpdkDevice): the EAL's arguments, which port
// to drive and how deep its rings are. Nothing here includes DPDK headers, so
// the configuration code and the device factory compile without them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ix::drivers {

struct DpdkConfig {
  // EAL arguments as one string, e.g. "--no-huge -m 512 --no-pci
  // --vdev=net_memif0,role=server" or "-a 0000:01:00.0". Split on white
  // space; single or double quotes keep spaces inside one argument.
  std::string eal_args;
  // The port: its id ("0") or its device name ("net_memif0", "0000:01:00.0").
  // Empty: the only port the EAL found (an error if there are several).
  std::string port;
  uint16_t queues = 1;       // RX/TX queue pairs, one per elastic thread
  uint16_t rx_descs = 1024;  // descriptors per RX ring (the PMD may adjust)
  uint16_t tx_descs = 1024;  // descriptors per TX ring (the PMD may adjust)
  uint32_t pool_mbufs = 0;   // rte_mbufs per queue's mempool; 0 sizes it from the rings
  // A net_memif link to another IX process with the same setting: no
  // checksum is computed or verified at either end (README, "Trusted
  // links"). Refused on any other kind of port.
  bool trusted_link = false;
  // Frames in one buffer of IX's pool are handed to the PMD in that buffer
  // (attached to an rte_mbuf) instead of copied (dpdk_queue.hh). Off: every
  // sent frame is copied into an rte_mbuf, for comparison.
  bool tx_zero_copy = true;
};

// Splits `text` into arguments like a shell would for plain words and quotes
// (no escapes or expansions). Throws std::invalid_argument on an unclosed quote.
std::vector<std::string> split_eal_args(std::string_view text);

// Throws std::invalid_argument naming the bad field (checks needing no EAL).
void validate(const DpdkConfig &cfg);

}  // namespace ix::drivers
