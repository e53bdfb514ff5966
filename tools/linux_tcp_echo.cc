// linux-tcp-echo: a TCP echo server on the Linux socket API (epoll, level
// triggered, non-blocking), the Linux peer that IX's TCP client is tested
// against.
//
//   linux-tcp-echo --port N [--seconds S] [--busy-poll]
//
// Every byte read is written back in order. A connection whose echo cannot be
// written at once stops being read until the rest is out (backpressure, so
// memory stays bounded per connection). After the peer's FIN the server
// finishes the echo and closes. Runs until SIGINT/SIGTERM or S seconds, then
// prints what it did. --busy-poll never sleeps in epoll_wait (and asks for
// SO_BUSY_POLL on each connection): Linux's strongest latency setting, for a
// server with a core of its own (the benchmarks compare IX with it).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "echo_server_common.hh"

namespace {

constexpr size_t kBufferBytes = 64 * 1024;

// Bytes read but not yet written back.
struct Conn {
  std::vector<uint8_t> buf = std::vector<uint8_t>(kBufferBytes);
  size_t head = 0, tail = 0;
  bool peer_closed = false;
};

struct Counters {
  uint64_t accepted = 0, closed = 0, errors = 0, bytes = 0;
};

[[noreturn]] void usage(const char *msg) {
  std::fprintf(stderr,
               "linux-tcp-echo: %s\nusage: linux-tcp-echo --port N [--seconds S] [--busy-poll]\n",
               msg);
  std::exit(2);
}

class EchoServer {
 public:
  EchoServer(int listen_fd, int epoll_fd, int busy_poll_us)
      : lfd_(listen_fd), ep_(epoll_fd), busy_poll_us_(busy_poll_us) {}

  void on_listen_ready() {
    for (;;) {
      const int fd = accept4(lfd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        // EAGAIN: drained. Anything else (EMFILE, a connection reset while
        // queued) is counted; the listener keeps going.
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) ++c_.errors;
        return;
      }
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (busy_poll_us_ > 0)
        setsockopt(fd, SOL_SOCKET, SO_BUSY_POLL, &busy_poll_us_, sizeof busy_poll_us_);
      if (static_cast<size_t>(fd) >= conns_.size()) conns_.resize(static_cast<size_t>(fd) + 1);
      conns_[static_cast<size_t>(fd)] = std::make_unique<Conn>();
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = fd;
      if (epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) != 0) {
        ++c_.errors;
        drop(fd);
        continue;
      }
      ++c_.accepted;
    }
  }

  void on_conn_ready(int fd, uint32_t events) {
    Conn *c =
        static_cast<size_t>(fd) < conns_.size() ? conns_[static_cast<size_t>(fd)].get() : nullptr;
    if (c == nullptr) return;
    if (c->tail > c->head && !flush(fd, *c)) return;
    if (c->tail == c->head && !c->peer_closed && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
      const ssize_t r = ::recv(fd, c->buf.data(), c->buf.size(), 0);
      if (r > 0) {
        c->head = 0;
        c->tail = static_cast<size_t>(r);
        c_.bytes += static_cast<uint64_t>(r);
        if (!flush(fd, *c)) return;
      } else if (r == 0) {
        c->peer_closed = true;
      } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        ++c_.errors;
        drop(fd);
        return;
      }
    }
    if (c->peer_closed && c->tail == c->head) {
      ++c_.closed;
      drop(fd);
      return;
    }
    // Wait for write space while an echo is pending, for data otherwise.
    epoll_event ev{};
    ev.events = c->tail > c->head ? EPOLLOUT : EPOLLIN;
    ev.data.fd = fd;
    epoll_ctl(ep_, EPOLL_CTL_MOD, fd, &ev);
  }

  void close_all() {
    for (size_t fd = 0; fd < conns_.size(); ++fd)
      if (conns_[fd]) drop(static_cast<int>(fd));
  }
  const Counters &counters() const { return c_; }

 private:
  // Writes what it can; false if the connection failed and was dropped.
  bool flush(int fd, Conn &c) {
    while (c.tail > c.head) {
      const ssize_t w = ::send(fd, c.buf.data() + c.head, c.tail - c.head, MSG_NOSIGNAL);
      if (w > 0) {
        c.head += static_cast<size_t>(w);
        continue;
      }
      if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return true;
      ++c_.errors;
      drop(fd);
      return false;
    }
    return true;
  }

  void drop(int fd) {
    epoll_ctl(ep_, EPOLL_CTL_DEL, fd, nullptr);
    ::close(fd);
    conns_[static_cast<size_t>(fd)].reset();
  }

  int lfd_, ep_;
  int busy_poll_us_;
  std::vector<std::unique_ptr<Conn>> conns_;  // indexed by file descriptor
  Counters c_;
};

}  // namespace

int main(int argc, char **argv) {
  bool busy_poll = false;
  const echo_server::Args args =
      echo_server::parse_args(argc, argv, {{"--busy-poll", &busy_poll}}, usage,
                              [](const std::string &, const char *) { return false; });
  const long port = args.port;
  echo_server::stop_on_signals();

  const int lfd = echo_server::listen_tcp(port, SOCK_NONBLOCK);
  if (lfd < 0) {
    std::perror("linux-tcp-echo: listen");
    return 1;
  }
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event lev{};
  lev.events = EPOLLIN;
  lev.data.fd = lfd;
  if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev) != 0) {
    std::perror("linux-tcp-echo: epoll");
    return 1;
  }
  std::printf("linux-tcp-echo: listening on TCP port %ld\n", port);
  std::fflush(stdout);

  EchoServer server(lfd, ep, busy_poll ? 50 : 0);
  std::vector<epoll_event> events(256);
  const echo_server::RunUntil until(args.seconds);
  while (until.running()) {
    const int n =
        epoll_wait(ep, events.data(), static_cast<int>(events.size()), busy_poll ? 0 : 100);
    for (int i = 0; i < n; ++i) {
      if (events[i].data.fd == lfd)
        server.on_listen_ready();
      else
        server.on_conn_ready(events[i].data.fd, events[i].events);
    }
  }
  server.close_all();
  ::close(ep);
  ::close(lfd);
  const Counters &c = server.counters();
  std::printf("linux-tcp-echo: accepted %llu closed %llu errors %llu echoed %llu bytes\n",
              (unsigned long long)c.accepted, (unsigned long long)c.closed,
              (unsigned long long)c.errors, (unsigned long long)c.bytes);
  return 0;
}
