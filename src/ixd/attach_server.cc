#include "ixd/attach_server.hh"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "ipc/attach.hh"

namespace ix::ixd {

AttachServer::AttachServer(std::string path, unsigned threads, const SessionConfig &cfg,
                           std::vector<PortMailbox> &mailboxes, std::ostream &log)
    : path_(std::move(path)), threads_(threads), cfg_(cfg), mailboxes_(mailboxes), log_(log) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path_.empty() || path_.size() >= sizeof addr.sun_path)
    throw std::system_error(ENAMETOOLONG, std::generic_category(),
                            "socket: '" + path_ + "' is empty or longer than " +
                                std::to_string(sizeof addr.sun_path - 1) + " bytes");
  std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
  listen_fd_ = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw std::system_error(errno, std::generic_category(), "socket");
  unlink(path_.c_str());  // a socket file left by a dataplane that died
  if (bind(listen_fd_, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 ||
      listen(listen_fd_, 64) != 0) {
    const int e = errno;
    close(listen_fd_);
    throw std::system_error(e, std::generic_category(), "socket: cannot listen on '" + path_ + "'");
  }
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  thread_ = std::thread([this] { run(); });
}

AttachServer::~AttachServer() {
  stop_.store(true);
  const uint64_t one = 1;
  if (write(wake_fd_, &one, sizeof one) < 0) {
    // The thread also wakes on its poll timeout.
  }
  thread_.join();
  for (auto &s : sessions_) {
    log_ << "ixd: application " << s->id() << " (" << s->name() << ", pid " << s->pid()
         << ") detached at shutdown: " << s->counters.to_string() << std::endl;
  }
  sessions_.clear();
  close(listen_fd_);
  close(wake_fd_);
  unlink(path_.c_str());
}

void AttachServer::run() {
  std::vector<pollfd> fds;
  while (!stop_.load()) {
    fds.clear();
    fds.push_back({listen_fd_, POLLIN, 0});
    fds.push_back({wake_fd_, POLLIN, 0});
    for (auto &s : sessions_)
      if (!s->gone.load()) fds.push_back({s->sock(), POLLIN, 0});
    if (poll(fds.data(), fds.size(), 50) < 0 && errno != EINTR) break;
    if (fds[0].revents & POLLIN) {
      const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) attach(fd);
    }
    for (size_t i = 2; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      // An attached application says nothing more: anything readable is its
      // end (or noise, which is read and dropped).
      char buf[64];
      const ssize_t n = recv(fds[i].fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR))) continue;
      for (auto &s : sessions_) {
        if (s->sock() == fds[i].fd && !s->gone.exchange(true)) {
          log_ << "ixd: application " << s->id() << " (" << s->name() << ", pid " << s->pid()
               << ") is gone: resetting its connections" << std::endl;
        }
      }
    }
    reap();
  }
}

void AttachServer::attach(int fd) {
  timeval tv{1, 0};  // an application that connects and says nothing holds no one up
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ipc::Hello hello;
  ipc::Welcome w;
  if (!ipc::recv_message(fd, &hello, sizeof hello, nullptr, 0) ||
      hello.magic != ipc::kChannelMagic || hello.version != ipc::kProtocolVersion) {
    w.status = -EPROTO;
    std::snprintf(w.message, sizeof w.message,
                  "not an IX attach request of protocol version %u (is the application built "
                  "from the same IX as ixd?)",
                  ipc::kProtocolVersion);
    ipc::send_message(fd, &w, sizeof w, {});
    close(fd);
    return;
  }
  hello.name[sizeof hello.name - 1] = '\0';
  std::unique_ptr<Session> s;
  try {
    s = std::make_unique<Session>(next_id_, fd, hello.pid, hello.name, threads_, cfg_);
  } catch (const std::exception &e) {
    w.status = -ENOMEM;
    std::snprintf(w.message, sizeof w.message, "ixd cannot make the shared regions: %s", e.what());
    ipc::send_message(fd, &w, sizeof w, {});
    close(fd);
    log_ << "ixd: refused " << hello.name << " (pid " << hello.pid << "): " << e.what()
         << std::endl;
    return;
  }
  w.app_id = next_id_++;
  w.threads = threads_;
  w.limits = cfg_.limits;
  w.channel_bytes = ipc::ChannelLayout::of(cfg_.limits).bytes;
  w.send_region_bytes = cfg_.send_region_bytes;
  w.recv_region_bytes = cfg_.recv_region_bytes;
  if (!ipc::send_message(fd, &w, sizeof w, s->fds_for_app())) {
    log_ << "ixd: " << hello.name << " (pid " << hello.pid << ") left while attaching" << std::endl;
    return;  // ~Session closes fd
  }
  s->ports_live.store(threads_);
  for (unsigned t = 0; t < threads_; ++t) mailboxes_[t].post(s.get());
  log_ << "ixd: application " << s->id() << " (" << s->name() << ", pid " << s->pid()
       << ") attached on " << threads_ << (threads_ == 1 ? " thread" : " threads") << std::endl;
  sessions_.push_back(std::move(s));
  attached_.fetch_add(1);
  total_.fetch_add(1);
}

void AttachServer::reap() {
  for (size_t i = 0; i < sessions_.size();) {
    Session &s = *sessions_[i];
    if (s.gone.load() && s.ports_live.load(std::memory_order_acquire) == 0) {
      {
        std::lock_guard<std::mutex> lock(s.counters_mu);
        log_ << "ixd: application " << s.id() << " (" << s.name() << ", pid " << s.pid()
             << ") detached: " << s.counters.to_string() << std::endl;
      }
      sessions_.erase(sessions_.begin() + static_cast<std::ptrdiff_t>(i));
      attached_.fetch_sub(1);
      continue;
    }
    ++i;
  }
}

}  // namespace ix::ixd
