#include "drivers/xdp/xdp_config.hh"

#include <net/if.h>

#include <stdexcept>

namespace ix::drivers {

std::optional<XdpCopyMode> parse_xdp_copy_mode(std::string_view s) {
  if (s == "auto") return XdpCopyMode::kAuto;
  if (s == "copy") return XdpCopyMode::kCopy;
  if (s == "zerocopy" || s == "zero-copy") return XdpCopyMode::kZeroCopy;
  return std::nullopt;
}

std::optional<XdpAttachMode> parse_xdp_attach_mode(std::string_view s) {
  if (s == "auto") return XdpAttachMode::kAuto;
  if (s == "native" || s == "drv") return XdpAttachMode::kNative;
  if (s == "skb" || s == "generic") return XdpAttachMode::kSkb;
  return std::nullopt;
}

std::string_view to_string(XdpCopyMode m) {
  switch (m) {
    case XdpCopyMode::kAuto:
      return "auto";
    case XdpCopyMode::kCopy:
      return "copy";
    case XdpCopyMode::kZeroCopy:
      return "zerocopy";
  }
  return "?";
}

std::string_view to_string(XdpAttachMode m) {
  switch (m) {
    case XdpAttachMode::kAuto:
      return "auto";
    case XdpAttachMode::kNative:
      return "native";
    case XdpAttachMode::kSkb:
      return "skb";
  }
  return "?";
}

void validate(const XdpConfig &cfg) {
  if (cfg.ifname.empty()) throw std::invalid_argument("xdp: no interface name given");
  if (cfg.ifname.size() >= IFNAMSIZ)
    throw std::invalid_argument("xdp: interface name '" + cfg.ifname + "' is longer than " +
                                std::to_string(IFNAMSIZ - 1) + " characters");
  if (cfg.queues == 0) throw std::invalid_argument("xdp: queues must be at least 1");
  const uint32_t r = cfg.ring_size;
  if (r < 64 || r > 16384 || (r & (r - 1)) != 0)
    throw std::invalid_argument("xdp: ring_size must be a power of two in 64..16384, got " +
                                std::to_string(r));
  if (cfg.frame_size != 0 && cfg.frame_size != 2048 && cfg.frame_size != 4096)
    throw std::invalid_argument("xdp: frame_size must be 0 (auto), 2048 or 4096, got " +
                                std::to_string(cfg.frame_size));
  if (cfg.attach == XdpAttachMode::kSkb && cfg.copy_mode == XdpCopyMode::kZeroCopy)
    throw std::invalid_argument(
        "xdp: zero-copy needs the XDP program in the driver; use attach=native (or auto) "
        "with mode=zerocopy, or mode=copy with attach=skb");
}

}  // namespace ix::drivers
