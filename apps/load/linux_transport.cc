#include "load/linux_transport.hh"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace ix::load {

volatile std::sig_atomic_t LinuxTransport::stop_requested = 0;

namespace {
constexpr size_t kReadChunk = 256 * 1024;
constexpr int kMaxEvents = 256;

uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}
}  // namespace

LinuxTransport::LinuxTransport(std::vector<ServerEndpoint> servers, bool spin)
    : servers_(std::move(servers)), spin_(spin), rbuf_(kReadChunk) {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) throw std::runtime_error(std::string("epoll_create1: ") + std::strerror(errno));
}

LinuxTransport::~LinuxTransport() {
  close_all();
  if (epfd_ >= 0) ::close(epfd_);
}

uint64_t LinuxTransport::now_ns() { return monotonic_ns(); }

bool LinuxTransport::should_stop() { return stop_requested != 0; }

std::string LinuxTransport::connect_all(size_t count, uint32_t timeout_ms) {
  socks_.assign(count, Socket{});
  size_t pending = 0;
  for (size_t i = 0; i < count; ++i) {
    const ServerEndpoint &server = servers_[i % servers_.size()];
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(server.addr);
    sa.sin_port = htons(server.port);
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd < 0) return std::string("socket: ") + std::strerror(errno);
    socks_[i].fd = fd;
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd, reinterpret_cast<sockaddr *>(&sa), sizeof sa) != 0 && errno != EINPROGRESS)
      return std::string("connect: ") + std::strerror(errno);
    epoll_event ev{};
    ev.events = EPOLLOUT;
    ev.data.u64 = i;
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0)
      return std::string("epoll_ctl: ") + std::strerror(errno);
    ++pending;
  }
  std::vector<bool> done(count, false);
  const uint64_t deadline = monotonic_ns() + uint64_t{timeout_ms} * 1'000'000;
  epoll_event events[kMaxEvents];
  while (pending > 0) {
    const uint64_t now = monotonic_ns();
    if (now >= deadline || should_stop())
      return std::to_string(pending) + " of " + std::to_string(count) +
             " connections not established within " + std::to_string(timeout_ms) + " ms";
    const int n =
        epoll_wait(epfd_, events, kMaxEvents, static_cast<int>((deadline - now) / 1'000'000 + 1));
    if (n < 0 && errno != EINTR) return std::string("epoll_wait: ") + std::strerror(errno);
    for (int k = 0; k < n; ++k) {
      const size_t i = events[k].data.u64;
      if (done[i]) continue;
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(socks_[i].fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) return std::string("connect: ") + std::strerror(err);
      done[i] = true;
      --pending;
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLRDHUP;
      ev.data.u64 = i;
      epoll_ctl(epfd_, EPOLL_CTL_MOD, socks_[i].fd, &ev);
    }
  }
  return "";
}

void LinuxTransport::send(size_t conn, const uint8_t *data, size_t len) {
  Socket &s = socks_[conn];
  if (s.fd < 0) return;
  s.out.insert(s.out.end(), data, data + len);
  if (!s.dirty) {
    s.dirty = true;
    dirty_.push_back(conn);
  }
}

void LinuxTransport::set_want_write(size_t conn, bool want) {
  Socket &s = socks_[conn];
  if (s.want_write == want || s.fd < 0) return;
  s.want_write = want;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP | (want ? static_cast<uint32_t>(EPOLLOUT) : 0u);
  ev.data.u64 = conn;
  epoll_ctl(epfd_, EPOLL_CTL_MOD, s.fd, &ev);
}

void LinuxTransport::flush(size_t conn) {
  Socket &s = socks_[conn];
  while (s.fd >= 0 && s.out_off < s.out.size()) {
    const ssize_t n =
        ::send(s.fd, s.out.data() + s.out_off, s.out.size() - s.out_off, MSG_NOSIGNAL);
    if (n > 0) {
      s.out_off += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      set_want_write(conn, true);
      return;
    } else {
      broken(conn, std::string("send: ") + std::strerror(errno));
      return;
    }
  }
  s.out.clear();
  s.out_off = 0;
  set_want_write(conn, false);
}

void LinuxTransport::broken(size_t conn, const std::string &why) {
  Socket &s = socks_[conn];
  if (s.fd < 0) return;
  drop(conn);
  if (sink_) sink_->on_broken(conn, why);
}

void LinuxTransport::drop(size_t conn) {
  Socket &s = socks_[conn];
  if (s.fd < 0) return;
  epoll_ctl(epfd_, EPOLL_CTL_DEL, s.fd, nullptr);
  ::close(s.fd);
  s.fd = -1;
  s.out.clear();
  s.out_off = 0;
}

void LinuxTransport::poll(uint64_t deadline_ns) {
  for (size_t conn : dirty_) {
    socks_[conn].dirty = false;
    flush(conn);
  }
  dirty_.clear();
  epoll_event events[kMaxEvents];
  int n = 0;
  if (spin_) {
    const timespec zero{};
    do n = epoll_pwait2(epfd_, events, kMaxEvents, &zero, nullptr);
    while (n == 0 && monotonic_ns() < deadline_ns && !stop_requested);
  } else {
    const uint64_t now = monotonic_ns();
    timespec timeout{};
    if (deadline_ns > now) {
      const uint64_t wait = deadline_ns - now;
      timeout.tv_sec = static_cast<time_t>(wait / 1'000'000'000ull);
      timeout.tv_nsec = static_cast<long>(wait % 1'000'000'000ull);
    }
    n = epoll_pwait2(epfd_, events, kMaxEvents, &timeout, nullptr);
  }
  if (n < 0) return;  // EINTR: the caller loops
  for (int k = 0; k < n; ++k) {
    const size_t conn = events[k].data.u64;
    if (conn >= socks_.size() || socks_[conn].fd < 0) continue;
    if (events[k].events & EPOLLOUT) flush(conn);
    if (events[k].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
      // Read what is there now; a bounded number of chunks per event keeps
      // one busy connection from starving the schedule.
      for (int chunk = 0; chunk < 4 && socks_[conn].fd >= 0; ++chunk) {
        const ssize_t r = ::recv(socks_[conn].fd, rbuf_.data(), rbuf_.size(), 0);
        if (r > 0) {
          if (sink_) sink_->on_data(conn, rbuf_.data(), static_cast<size_t>(r));
          if (static_cast<size_t>(r) < rbuf_.size()) break;
        } else if (r == 0) {
          broken(conn, "the server closed the connection");
        } else if (errno == EINTR) {
          continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
          break;
        } else {
          broken(conn, std::string("recv: ") + std::strerror(errno));
        }
      }
    }
  }
}

void LinuxTransport::close_all() {
  for (size_t i = 0; i < socks_.size(); ++i) drop(i);
}

}  // namespace ix::load
