#include "ixd/session.hh"

#include <unistd.h>

#include <new>

namespace ix::ixd {

std::string AppCounters::to_string() const {
  std::string s;
#define IXD_PRINT(name) s += std::string(s.empty() ? "" : " ") + #name + " " + std::to_string(name);
  IXD_APP_COUNTERS(IXD_PRINT)
#undef IXD_PRINT
  return s;
}

Session::Session(uint32_t id, int sock, int pid, std::string name, unsigned threads,
                 const SessionConfig &cfg)
    : id_(id), sock_(sock), pid_(pid), name_(std::move(name)), cfg_(cfg) {
  try {
    const auto layout = ipc::ChannelLayout::of(cfg.limits);
    send_fd_ = ipc::create_region("ix-send", cfg.send_region_bytes);
    // The dataplane only reads what the application sends.
    send_ = ipc::Mapping(send_fd_, cfg.send_region_bytes, false);
    for (unsigned t = 0; t < threads; ++t) {
      channel_fds_.push_back(ipc::create_region("ix-channel", layout.bytes));
      channels_.emplace_back(channel_fds_.back(), layout.bytes, true);
      auto *h = new (channels_.back().data()) ipc::ChannelHeader{};
      h->magic = ipc::kChannelMagic;
      h->version = ipc::kProtocolVersion;
      h->thread_id = t;
      h->thread_count = threads;
      h->max_cmds = cfg.limits.max_cmds;
      h->max_iovs = cfg.limits.max_iovs;
      h->max_events = cfg.limits.max_events;
      h->recv_region_bytes = cfg.recv_region_bytes;
      recv_fds_.push_back(ipc::create_region("ix-recv", cfg.recv_region_bytes));
      recvs_.emplace_back(recv_fds_.back(), cfg.recv_region_bytes, true);
      // From here on only this mapping may write: the application's must be
      // read-only (a writable one fails to map).
      ipc::seal_future_writes(recv_fds_.back());
    }
  } catch (...) {
    if (send_fd_ >= 0) close(send_fd_);
    for (int fd : channel_fds_) close(fd);
    for (int fd : recv_fds_) close(fd);
    throw;
  }
}

Session::~Session() {
  close(sock_);
  close(send_fd_);
  for (int fd : channel_fds_) close(fd);
  for (int fd : recv_fds_) close(fd);
}

std::vector<int> Session::fds_for_app() const {
  std::vector<int> fds{send_fd_};
  fds.insert(fds.end(), channel_fds_.begin(), channel_fds_.end());
  fds.insert(fds.end(), recv_fds_.begin(), recv_fds_.end());
  return fds;
}

}  // namespace ix::ixd
