#include "drivers/device_factory.hh"

#include <stdexcept>

#include "drivers/dpdk/dpdk_device.hh"
#include "drivers/xdp/xdp_device.hh"

namespace ix::drivers {

std::unique_ptr<Device> open_device(const config::DataplaneConfig &cfg) {
  const uint16_t queues = cfg.queues != 0 ? cfg.queues : static_cast<uint16_t>(cfg.cores.size());
  if (cfg.driver == "xdp") {
    XdpConfig x;
    x.ifname = cfg.device;
    x.queues = queues;
    auto copy = parse_xdp_copy_mode(cfg.xdp_mode);
    auto attach = parse_xdp_attach_mode(cfg.xdp_attach);
    if (!copy)
      throw std::invalid_argument("xdp_mode: '" + cfg.xdp_mode + "' is not auto, copy or zerocopy");
    if (!attach)
      throw std::invalid_argument("xdp_attach: '" + cfg.xdp_attach +
                                  "' is not auto, native or skb");
    x.copy_mode = *copy;
    x.attach = *attach;
    validate(x);
    return std::make_unique<XdpDevice>(x);
  }
  if (cfg.driver == "dpdk") {
    DpdkConfig d;
    d.eal_args = cfg.dpdk_args;
    d.port = cfg.dpdk_port;
    d.queues = queues;
    d.trusted_link = cfg.trusted_link;
    d.tx_zero_copy = cfg.dpdk_tx_zero_copy;
    validate(d);
    return std::make_unique<DpdkDevice>(d);
  }
  throw std::invalid_argument("driver: '" + cfg.driver +
                              "' cannot be opened by a program (use xdp or dpdk; the loop wire "
                              "exists only inside one process, for tests and benchmarks)");
}

}  // namespace ix::drivers
