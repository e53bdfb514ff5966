#include "drivers/xdp/xdp_device.hh"

#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <sys/resource.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "drivers/xdp/libxdp_log.hh"

namespace ix::drivers {

namespace {

// Bytes the kernel keeps in front of every received frame in a UMEM frame.
constexpr uint32_t kXdpPacketHeadroom = 256;
constexpr uint32_t kEthVlanHeader = 18;
constexpr int kBusyRetries = 50;
constexpr auto kBusyRetryPause = std::chrono::milliseconds(20);

uint32_t pick_frame_size(const XdpConfig &cfg, const NetdevInfo &info) {
  const uint32_t need = info.mtu + kEthVlanHeader + kXdpPacketHeadroom;
  if (cfg.frame_size != 0) {
    if (need > cfg.frame_size)
      throw std::runtime_error("xdp: MTU " + std::to_string(info.mtu) + " of '" + info.ifname +
                               "' does not fit a " + std::to_string(cfg.frame_size) +
                               "-byte UMEM frame; use frame_size=4096 or lower the MTU");
    return cfg.frame_size;
  }
  if (need <= 2048) return 2048;
  if (need <= 4096) return 4096;
  throw std::runtime_error("xdp: MTU " + std::to_string(info.mtu) + " of '" + info.ifname +
                           "' is too large for AF_XDP without multi-buffer; lower it to " +
                           std::to_string(4096 - kEthVlanHeader - kXdpPacketHeadroom) +
                           " or less with `ip link set " + info.ifname + " mtu N`");
}

// UMEM pages are locked and charged to RLIMIT_MEMLOCK unless the process has
// CAP_IPC_LOCK; a default limit of a few MiB is too small for one queue.
void raise_memlock_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_MEMLOCK, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY) return;
  const rlimit unlimited{RLIM_INFINITY, RLIM_INFINITY};
  if (setrlimit(RLIMIT_MEMLOCK, &unlimited) == 0) return;
  lim.rlim_cur = lim.rlim_max;  // unprivileged: the hard limit is as far as we may go
  setrlimit(RLIMIT_MEMLOCK, &lim);
}

uint32_t xdp_flags_for(XdpAttachMode m) {
  switch (m) {
    case XdpAttachMode::kNative:
      return XDP_FLAGS_DRV_MODE;
    case XdpAttachMode::kSkb:
      return XDP_FLAGS_SKB_MODE;
    case XdpAttachMode::kAuto:
      break;
  }
  return 0;
}

uint16_t bind_flags_for(XdpCopyMode m, XdpAttachMode attach) {
  // Generic (skb) XDP always copies; binding zero-copy under it is pointless.
  if (attach == XdpAttachMode::kSkb) return XDP_COPY;
  switch (m) {
    case XdpCopyMode::kCopy:
      return XDP_COPY;
    case XdpCopyMode::kZeroCopy:
      return XDP_ZEROCOPY;
    case XdpCopyMode::kAuto:
      break;
  }
  return 0;  // neither flag: the kernel tries zero-copy and falls back to copy
}

std::string busy_hint(uint32_t nic_queue) {
  return " (another AF_XDP socket is bound to NIC queue " + std::to_string(nic_queue) +
         ", or an XDP program of another kind is attached; see `ip link show` and "
         "`ss --xdp -a`)";
}

std::string privilege_message(const std::string &ifname) {
  return "xdp: permission denied opening AF_XDP on '" + ifname +
         "': AF_XDP needs root or CAP_NET_ADMIN+CAP_BPF (and CAP_NET_RAW for the socket); "
         "run as root or `setcap cap_net_admin,cap_net_raw,cap_bpf,cap_ipc_lock+ep PROGRAM`";
}

}  // namespace

XdpDevice::XdpDevice(const XdpConfig &cfg) : cfg_(cfg) {
  validate(cfg_);
  info_ = query_netdev(cfg_.ifname);

  const uint32_t wanted = cfg_.start_queue + cfg_.queues;
  if (wanted > info_.rx_queues || wanted > info_.tx_queues)
    throw std::runtime_error("xdp: interface '" + info_.ifname + "' has " +
                             std::to_string(info_.rx_queues) + " RX and " +
                             std::to_string(info_.tx_queues) + " TX queue(s), but " +
                             std::to_string(cfg_.queues) + " queue(s) starting at queue " +
                             std::to_string(cfg_.start_queue) + " need " + std::to_string(wanted) +
                             "; " + how_to_add_queues(info_, wanted));

  frame_size_ = pick_frame_size(cfg_, info_);
  raise_memlock_limit();
  pools_.assign(cfg_.queues, nullptr);

  caps_.rx_queues = cfg_.queues;
  caps_.tx_queues = cfg_.queues;
  caps_.tx_multi_seg = true;
  caps_.tx_external = true;
  caps_.mtu = info_.mtu;
  caps_.zero_copy = false;  // known once the sockets are bound (start)
  caps_.kernel_path = true;
  caps_.pool_buffer_stride = frame_size_;
  // A full fill ring, and as many sent buffers as the completion ring can
  // report (the kernel completes a copy-mode send only when the skb is
  // freed: over veth, once the peer's application has read the data).
  caps_.pool_device_share = 2 * cfg_.ring_size;
}

XdpDevice::~XdpDevice() { close_queues(); }

void XdpDevice::close_queues() {
  // Closing the sockets makes libxdp report, at info level, that it found no
  // bpffs (normal inside `ip netns exec`, where it then attaches without its
  // multi-program dispatcher); keep that out of the program's output.
  LibxdpLogCapture quiet;
  queues_.clear();
}

std::unique_ptr<XskQueue> XdpDevice::open_queue(uint16_t q, XdpAttachMode attach) {
  XskQueueParams p;
  p.ifname = info_.ifname;
  p.nic_queue = cfg_.start_queue + q;
  p.queue_index = q;
  p.ring_size = cfg_.ring_size;
  p.frame_size = frame_size_;
  p.xdp_flags = xdp_flags_for(attach);
  p.bind_flags = bind_flags_for(cfg_.copy_mode, attach);
  p.use_need_wakeup = cfg_.use_need_wakeup;
  // The kernel releases a closed AF_XDP socket's hold on its queue from a
  // deferred work item, so binding right after a previous user exited (a
  // restart, a test reopening the device) can see EBUSY for a moment. Retry
  // briefly before calling the queue taken.
  for (int attempt = 0;; ++attempt) {
    try {
      return std::make_unique<XskQueue>(p, *pools_[q]);
    } catch (const XskSetupError &e) {
      if (e.err != EBUSY || attempt >= kBusyRetries) throw;
    }
    std::this_thread::sleep_for(kBusyRetryPause);
  }
}

void XdpDevice::open_queues() {
  LibxdpLogCapture log;
  const std::string where =
      "'" + info_.ifname + "'" + (info_.driver.empty() ? "" : " (driver " + info_.driver + ")");

  // The first socket decides the attach mode; the XDP program is shared by
  // all queues of the interface, so the rest must use the same one.
  // Zero-copy exists only in native mode, so an explicit zero-copy request
  // never falls back to skb.
  std::vector<XdpAttachMode> tries;
  if (cfg_.attach == XdpAttachMode::kAuto && cfg_.copy_mode != XdpCopyMode::kZeroCopy)
    tries = {XdpAttachMode::kNative, XdpAttachMode::kSkb};
  else if (cfg_.attach == XdpAttachMode::kAuto)
    tries = {XdpAttachMode::kNative};
  else
    tries = {cfg_.attach};

  std::string failures;
  for (XdpAttachMode attach : tries) {
    log.clear();
    try {
      queues_.push_back(open_queue(0, attach));
      attach_ = attach;
      break;
    } catch (const XskSetupError &e) {
      if (e.err == EPERM || e.err == EACCES)
        throw std::runtime_error(privilege_message(info_.ifname));
      if (e.err == EBUSY)  // the queue, not the attach mode, is the problem
        throw std::runtime_error("xdp: " + std::string(e.what()) + busy_hint(cfg_.start_queue));
      if (cfg_.copy_mode == XdpCopyMode::kZeroCopy && attach != XdpAttachMode::kSkb &&
          (e.err == EOPNOTSUPP || e.err == EPROTONOSUPPORT || e.err == EINVAL)) {
        failures += std::string(failures.empty() ? "" : "; ") + std::string(to_string(attach)) +
                    " zero-copy: " + e.what() +
                    " (the driver does not offer zero-copy AF_XDP; use mode=copy or auto)";
      } else if (e.err == ENOBUFS || e.err == ENOMEM) {
        throw std::runtime_error("xdp: " + std::string(e.what()) +
                                 ": the UMEM (the queue's buffer pool) is locked memory; raise "
                                 "`ulimit -l` or grant CAP_IPC_LOCK, or lower the pool size "
                                 "(mbufs_per_core)");
      } else {
        failures += std::string(failures.empty() ? "" : "; ") + std::string(to_string(attach)) +
                    ": " + e.what();
      }
      if (!log.text().empty()) failures += " [libxdp: " + log.text() + "]";
    }
  }
  if (queues_.empty())
    throw std::runtime_error("xdp: cannot attach XDP / bind AF_XDP on " + where + ": " + failures);

  for (uint16_t q = 1; q < cfg_.queues; ++q) {
    log.clear();
    try {
      queues_.push_back(open_queue(q, attach_));
    } catch (const XskSetupError &e) {
      std::string msg = "xdp: " + std::string(e.what());
      if (e.err == EPERM || e.err == EACCES) msg = privilege_message(info_.ifname);
      if (e.err == EBUSY) msg += busy_hint(nic_queue(q));
      if (!log.text().empty()) msg += " [libxdp: " + log.text() + "]";
      queues_.clear();  // tear down what was opened so the program is detached
      throw std::runtime_error(msg);
    }
  }
}

void XdpDevice::set_rx_pool(uint16_t q, mem::MbufPool *pool) {
  if (q >= pools_.size())
    throw std::out_of_range("xdp: set_rx_pool for queue " + std::to_string(q) + " but '" +
                            info_.ifname + "' was opened with " + std::to_string(pools_.size()) +
                            " queue(s)");
  if (pool == nullptr) throw std::invalid_argument("xdp: set_rx_pool with no pool");
  if (pool->buffer_stride() != frame_size_)
    throw std::invalid_argument(
        "xdp: pool '" + pool->name() + "' for queue " + std::to_string(q) + " of '" + info_.ifname +
        "' has " + std::to_string(pool->buffer_stride()) +
        "-byte buffers, but they are the queue's " + std::to_string(frame_size_) +
        "-byte UMEM frames; build it with MbufPoolConfig::buffer_stride = "
        "caps().pool_buffer_stride");
  if (pool->device_share() < caps_.pool_device_share)
    throw std::invalid_argument("xdp: pool '" + pool->name() + "' for queue " + std::to_string(q) +
                                " keeps " + std::to_string(pool->device_share()) +
                                " buffers for the device, but the queue may hold " +
                                std::to_string(caps_.pool_device_share) +
                                "; build it with MbufPoolConfig::device_share = "
                                "caps().pool_device_share");
  pools_[q] = pool;
}

void XdpDevice::start() {
  for (size_t q = 0; q < pools_.size(); ++q)
    if (pools_[q] == nullptr)
      throw std::logic_error("xdp: set_rx_pool was not called for queue " + std::to_string(q) +
                             " of '" + info_.ifname + "'");
  bool same = queues_.size() == pools_.size();
  for (size_t q = 0; same && q < queues_.size(); ++q) same = &queues_[q]->pool() == pools_[q];
  if (same) return;
  // A queue's UMEM is its pool: new pools need new sockets, and the attach
  // mode is chosen again for all of them.
  close_queues();
  open_queues();
  caps_.zero_copy = true;
  for (const auto &q : queues_) caps_.zero_copy = caps_.zero_copy && q->zero_copy();
}

QueueStats XdpDevice::stats(uint16_t q) const {
  return q < queues_.size() && queues_[q] ? queues_[q]->stats() : QueueStats{};
}

XdpQueueStats XdpDevice::xdp_stats(uint16_t q) const {
  return q < queues_.size() && queues_[q] ? queues_[q]->xdp_stats() : XdpQueueStats{};
}

}  // namespace ix::drivers
