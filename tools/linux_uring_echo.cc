// linux-uring-echo: a TCP echo server on io_uring (liburing), one thread, the
// fastest Linux server design the benchmarks compare IX's echo with: a
// multishot accept, one receive in flight per connection, the echo written
// back from the same buffer before the next receive is posted, every
// completion of a loop iteration reaped in one batch and every new request
// submitted with one io_uring_enter.
//
//   linux-uring-echo --port N [--seconds S] [--spin] [--entries E]
//
// --spin never sleeps in the kernel: it reaps completions without waiting
// (the busy-polling setting, for a server with a core of its own). Runs until
// SIGINT/SIGTERM or S seconds, then prints what it did.
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
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

// A small buffer per connection: an echo of request/response traffic never
// holds more than one message, and 100k idle connections stay affordable.
constexpr size_t kBufferBytes = 2048;

enum Op : uint64_t { kAccept = 0, kRecv = 1, kSend = 2 };

uint64_t tag(int fd, Op op) { return (static_cast<uint64_t>(fd) << 2) | op; }

struct Conn {
  uint8_t buf[kBufferBytes];
  size_t len = 0, off = 0;  // echo bytes [off, len) still to send
};

struct Counters {
  uint64_t accepted = 0, closed = 0, errors = 0, bytes = 0, sq_full = 0;
};

[[noreturn]] void usage(const char *msg) {
  std::fprintf(stderr,
               "linux-uring-echo: %s\nusage: linux-uring-echo --port N [--seconds S] [--spin] "
               "[--entries E]\n",
               msg);
  std::exit(2);
}

class UringEcho {
 public:
  UringEcho(io_uring &ring, int lfd) : ring_(ring), lfd_(lfd) {}

  void start() { post_accept(); }

  void on_completion(const io_uring_cqe &cqe) {
    const int fd = static_cast<int>(cqe.user_data >> 2);
    switch (static_cast<Op>(cqe.user_data & 3)) {
      case kAccept:
        on_accept(cqe);
        break;
      case kRecv:
        on_recv(fd, cqe.res);
        break;
      case kSend:
        on_send(fd, cqe.res);
        break;
    }
  }
  const Counters &counters() const { return c_; }
  void close_all() {
    for (size_t fd = 0; fd < conns_.size(); ++fd)
      if (conns_[fd]) ::close(static_cast<int>(fd));
  }

 private:
  // A submission slot; when the ring is full, what is queued goes to the
  // kernel first (completions cannot overflow: the kernel keeps them).
  io_uring_sqe *sqe() {
    io_uring_sqe *s = io_uring_get_sqe(&ring_);
    if (s == nullptr) {
      ++c_.sq_full;
      io_uring_submit(&ring_);
      s = io_uring_get_sqe(&ring_);
    }
    if (s == nullptr) {
      std::fprintf(stderr, "linux-uring-echo: submission queue stays full\n");
      std::exit(1);
    }
    return s;
  }

  void post_accept() {
    io_uring_sqe *s = sqe();
    io_uring_prep_multishot_accept(s, lfd_, nullptr, nullptr, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(s, tag(lfd_, kAccept));
  }
  void post_recv(int fd) {
    Conn &c = *conns_[static_cast<size_t>(fd)];
    io_uring_sqe *s = sqe();
    io_uring_prep_recv(s, fd, c.buf, sizeof c.buf, 0);
    io_uring_sqe_set_data64(s, tag(fd, kRecv));
  }
  void post_send(int fd) {
    Conn &c = *conns_[static_cast<size_t>(fd)];
    io_uring_sqe *s = sqe();
    io_uring_prep_send(s, fd, c.buf + c.off, c.len - c.off, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(s, tag(fd, kSend));
  }

  void on_accept(const io_uring_cqe &cqe) {
    // The multishot accept ends on an error (or when the kernel drops it):
    // post a new one so the server keeps accepting.
    if (!(cqe.flags & IORING_CQE_F_MORE)) post_accept();
    if (cqe.res < 0) {
      ++c_.errors;
      return;
    }
    const int fd = cqe.res;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (static_cast<size_t>(fd) >= conns_.size()) conns_.resize(static_cast<size_t>(fd) + 1);
    conns_[static_cast<size_t>(fd)] = std::make_unique<Conn>();
    ++c_.accepted;
    post_recv(fd);
  }

  void on_recv(int fd, int res) {
    if (res <= 0) {
      if (res < 0 && res != -ECONNRESET) ++c_.errors;
      drop(fd);  // 0: the peer's FIN; everything was echoed already
      return;
    }
    Conn &c = *conns_[static_cast<size_t>(fd)];
    c.off = 0;
    c.len = static_cast<size_t>(res);
    c_.bytes += static_cast<uint64_t>(res);
    post_send(fd);
  }

  void on_send(int fd, int res) {
    if (res <= 0) {
      if (res != -ECONNRESET && res != -EPIPE) ++c_.errors;
      drop(fd);
      return;
    }
    Conn &c = *conns_[static_cast<size_t>(fd)];
    c.off += static_cast<size_t>(res);
    if (c.off < c.len)
      post_send(fd);
    else
      post_recv(fd);
  }

  void drop(int fd) {
    ::close(fd);
    conns_[static_cast<size_t>(fd)].reset();
    ++c_.closed;
  }

  io_uring &ring_;
  int lfd_;
  std::vector<std::unique_ptr<Conn>> conns_;  // indexed by file descriptor
  Counters c_;
};

}  // namespace

int main(int argc, char **argv) {
  long entries = 4096;
  bool spin = false;
  const echo_server::Args args = echo_server::parse_args(
      argc, argv, {{"--spin", &spin}}, usage, [&](const std::string &k, const char *v) {
        if (k != "--entries") return false;
        char *end = nullptr;
        entries = std::strtol(v, &end, 10);
        if (*end != '\0' || entries < 8 || entries > 32768)
          usage("--entries must be 8..32768 (rounded up to a power of two by the kernel)");
        return true;
      });
  const long port = args.port;
  echo_server::stop_on_signals();

  const int lfd = echo_server::listen_tcp(port, 0);
  if (lfd < 0) {
    std::perror("linux-uring-echo: listen");
    return 1;
  }
  io_uring ring;
  io_uring_params params{};
  // Completions may outnumber submissions (multishot accept): a CQ four times
  // the SQ keeps the kernel from having to buffer them.
  params.flags = IORING_SETUP_CQSIZE;
  params.cq_entries = static_cast<unsigned>(entries) * 4;
  if (const int r = io_uring_queue_init_params(static_cast<unsigned>(entries), &ring, &params);
      r < 0) {
    std::fprintf(stderr, "linux-uring-echo: io_uring_queue_init: %s\n", std::strerror(-r));
    return 1;
  }
  std::printf("linux-uring-echo: listening on TCP port %ld%s\n", port, spin ? " (spinning)" : "");
  std::fflush(stdout);

  UringEcho server(ring, lfd);
  server.start();
  const echo_server::RunUntil until(args.seconds);
  __kernel_timespec wait{0, 100'000'000};  // wake up to check the stop conditions
  while (until.running()) {
    io_uring_cqe *cqe = nullptr;
    int r;
    if (spin) {
      r = io_uring_submit(&ring);
    } else {
      r = io_uring_submit_and_wait_timeout(&ring, &cqe, 1, &wait, nullptr);
      if (r == -ETIME || r == -EINTR) continue;
    }
    if (r < 0 && r != -EBUSY && r != -EAGAIN) {
      std::fprintf(stderr, "linux-uring-echo: io_uring_enter: %s\n", std::strerror(-r));
      break;
    }
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&ring, head, cqe) {
      server.on_completion(*cqe);
      ++seen;
    }
    io_uring_cq_advance(&ring, seen);
  }
  server.close_all();
  io_uring_queue_exit(&ring);
  ::close(lfd);
  const Counters &c = server.counters();
  std::printf(
      "linux-uring-echo: accepted %llu closed %llu errors %llu echoed %llu bytes, submission "
      "queue full %llu times\n",
      (unsigned long long)c.accepted, (unsigned long long)c.closed, (unsigned long long)c.errors,
      (unsigned long long)c.bytes, (unsigned long long)c.sq_full);
  return 0;
}
