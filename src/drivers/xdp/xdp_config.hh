// Options for the AF_XDP driver (XdpDevice) and their textual forms, so that
// programs and config files name modes the same way.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ix::drivers {

// How frames move between the NIC and the UMEM.
enum class XdpCopyMode {
  kAuto,      // zero-copy where the driver offers it, otherwise copy
  kCopy,      // the kernel copies each frame (works on every interface)
  kZeroCopy,  // the NIC DMAs straight into the UMEM; fails if unsupported
};

// Where the XDP program that steers frames into the sockets runs.
enum class XdpAttachMode {
  kAuto,    // native if the driver supports it, otherwise skb
  kNative,  // in the driver (XDP_FLAGS_DRV_MODE): fast, needs driver support
  kSkb,     // generic XDP after skb allocation (XDP_FLAGS_SKB_MODE): always works, slow
};

struct XdpConfig {
  std::string ifname;
  uint16_t queues = 1;       // sockets on NIC queues start_queue .. start_queue+queues-1
  uint32_t start_queue = 0;  // first NIC queue (e.g. to share a NIC with the kernel)
  XdpCopyMode copy_mode = XdpCopyMode::kAuto;
  XdpAttachMode attach = XdpAttachMode::kAuto;
  // Entries in each of the RX, TX, fill and completion rings (power of two).
  // Each queue's UMEM is its buffer pool, which holds 2 * ring_size buffers
  // for the device on top of the stack's (DeviceCaps::pool_device_share):
  // a full fill ring and a completion ring's worth of sent frames.
  uint32_t ring_size = 2048;
  // UMEM frame size, 2048 or 4096: the pools' buffer stride
  // (DeviceCaps::pool_buffer_stride). 0 picks the smallest that holds an MTU
  // frame plus the kernel's XDP headroom.
  uint32_t frame_size = 0;
  // Ask the kernel to flag when it needs a system call to make progress
  // (XDP_USE_NEED_WAKEUP) instead of kicking it on every burst.
  bool use_need_wakeup = true;
};

std::optional<XdpCopyMode> parse_xdp_copy_mode(std::string_view s);
std::optional<XdpAttachMode> parse_xdp_attach_mode(std::string_view s);
std::string_view to_string(XdpCopyMode m);
std::string_view to_string(XdpAttachMode m);

// Throws std::invalid_argument naming the bad field and its allowed values.
// Checks only what needs no system access (the interface is checked on open).
void validate(const XdpConfig &cfg);

}  // namespace ix::drivers
