// echo-rr-client: the IX paper's echo load from a Linux socket client. Many
// connections at once; each sends a message of S bytes, waits for the whole
// echo, checks every byte, and after N round trips closes and reconnects
// (N = 1 makes the load one connection per message). One thread, one epoll
// set, so `taskset` pins the whole client to one core. Also a single
// connection ping-pong with the strongest Linux settings for latency
// (a spinning receive and SO_BUSY_POLL).
//
//   echo-rr-client --dst IP:PORT rr --conns C --rounds N [--size S] [--seconds T]
//                  [--warmup W] [--spin] [--busy-poll US]
//   echo-rr-client --dst IP:PORT pingpong --count K [--size S] [--spin] [--busy-poll US]
//
// Prints one human line and one JSON line ("json: {...}"). Exits 1 if an echo
// differed from what was sent or nothing was echoed, 2 on bad arguments.
// Connection failures and stalled connections (no progress for --timeout-ms)
// are counted and reported; the stalled connection is replaced.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "ipv4_endpoint.hh"

namespace {

using Clock = std::chrono::steady_clock;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

struct Args {
  std::string mode;
  sockaddr_in dst{};
  long conns = 16;
  long rounds = 1;
  long size = 64;
  long count = 10000;
  double seconds = 3;
  double warmup = 0.5;
  bool spin = false;
  int busy_poll_us = 0;
  int timeout_ms = 2000;
};

[[noreturn]] void usage(const std::string &msg) {
  std::fprintf(
      stderr,
      "echo-rr-client: %s\n"
      "usage: echo-rr-client --dst IP:PORT [--timeout-ms N] MODE\n"
      "  rr --conns C --rounds N [--size S] [--seconds T] [--warmup W] [--spin] [--busy-poll US]\n"
      "      C connections, each N round trips of S bytes then a new connection\n"
      "  pingpong --count K [--size S] [--spin] [--busy-poll US]\n"
      "      one connection, one message in flight, RTT percentiles\n",
      msg.c_str());
  std::exit(2);
}

double to_num(const char *s, const char *what, double lo, double hi) {
  char *end = nullptr;
  errno = 0;
  const double v = std::strtod(s, &end);
  if (end == s || *end != '\0' || errno != 0 || !(v >= lo && v <= hi)) {
    char range[96];
    std::snprintf(range, sizeof range, ": expected a number in %g..%g, got ", lo, hi);
    usage(std::string(what) + range + s);
  }
  return v;
}

Args parse(int argc, char **argv) {
  Args a;
  bool have_dst = false;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    auto val = [&](const char *what) {
      if (i + 1 >= argc) usage(std::string(what) + " needs a value");
      return argv[++i];
    };
    if (k == "--dst") {
      if (const char *err = parse_ipv4_endpoint(val("--dst"), &a.dst))
        usage(std::string("--dst: ") + err);
      have_dst = true;
    } else if (k == "--conns") {
      a.conns = static_cast<long>(to_num(val("--conns"), "--conns", 1, 1000000));
    } else if (k == "--rounds") {
      a.rounds = static_cast<long>(to_num(val("--rounds"), "--rounds", 1, 1e12));
    } else if (k == "--size") {
      a.size = static_cast<long>(to_num(val("--size"), "--size", 1, 65536));
    } else if (k == "--count") {
      a.count = static_cast<long>(to_num(val("--count"), "--count", 1, 1e9));
    } else if (k == "--seconds") {
      a.seconds = to_num(val("--seconds"), "--seconds", 0.01, 3600);
    } else if (k == "--warmup") {
      a.warmup = to_num(val("--warmup"), "--warmup", 0, 600);
    } else if (k == "--busy-poll") {
      a.busy_poll_us = static_cast<int>(to_num(val("--busy-poll"), "--busy-poll", 0, 1000000));
    } else if (k == "--timeout-ms") {
      a.timeout_ms = static_cast<int>(to_num(val("--timeout-ms"), "--timeout-ms", 1, 600000));
    } else if (k == "--spin") {
      a.spin = true;
    } else if (k == "rr" || k == "pingpong") {
      a.mode = k;
    } else {
      usage("unknown argument " + k);
    }
  }
  if (!have_dst) usage("--dst is required");
  if (a.mode.empty()) usage("a mode (rr or pingpong) is required");
  return a;
}

// The byte at offset k of message `seq`: a lost, duplicated or misplaced byte
// changes what comes back.
inline uint8_t pattern_at(uint64_t seq, uint64_t k) {
  const uint64_t x = (seq * 0x9e3779b97f4a7c15ull) ^ (k * 0xbf58476d1ce4e5b9ull);
  return static_cast<uint8_t>((x ^ (x >> 31)) >> 24);
}

void fill(std::vector<uint8_t> &msg, uint64_t seq) {
  for (size_t k = 0; k < msg.size(); ++k) msg[k] = pattern_at(seq, k);
}

// Log-linear latency histogram (as HdrHistogram): 128 linear sub-buckets per
// power of two of nanoseconds, so a quantile is within 1% of the true value,
// in constant memory however many samples arrive.
class Histogram {
 public:
  static constexpr int kSubBits = 7;
  Histogram() : counts_(64 << kSubBits) {}
  void add(int64_t ns) {
    const uint64_t v = static_cast<uint64_t>(std::max<int64_t>(ns, 0));
    ++counts_[index(v)];
    ++n_;
    sum_ += static_cast<double>(v);
    max_ = std::max(max_, v);
  }
  uint64_t count() const { return n_; }
  double mean_us() const { return n_ ? sum_ / static_cast<double>(n_) / 1e3 : 0; }
  double max_us() const { return static_cast<double>(max_) / 1e3; }
  // The upper edge of the bucket holding the q-quantile, in microseconds.
  double quantile_us(double q) const {
    if (n_ == 0) return 0;
    const uint64_t rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(n_)));
    uint64_t seen = 0;
    for (size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= std::max<uint64_t>(rank, 1))
        return static_cast<double>(std::min(upper(i), max_)) / 1e3;
    }
    return max_us();
  }

 private:
  // Below 2^kSubBits a bucket per nanosecond; above, the top kSubBits+1 bits
  // (mantissa m in [2^kSubBits, 2^(kSubBits+1))) under exponent e >= 1.
  static size_t index(uint64_t v) {
    if (v < (1u << kSubBits)) return static_cast<size_t>(v);
    const int shift = 63 - __builtin_clzll(v) - kSubBits;
    const uint64_t m = v >> shift;
    return (static_cast<size_t>(shift + 1) << kSubBits) + static_cast<size_t>(m) - (1u << kSubBits);
  }
  static uint64_t upper(size_t i) {
    if (i < (1u << kSubBits)) return i;
    const size_t shift = (i >> kSubBits) - 1;
    const uint64_t m = (i & ((1u << kSubBits) - 1)) + (1u << kSubBits);
    return ((m + 1) << shift) - 1;
  }
  std::vector<uint64_t> counts_;
  uint64_t n_ = 0, max_ = 0;
  double sum_ = 0;
};

void raise_fd_limit() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
  }
}

void tune(int fd, int busy_poll_us) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (busy_poll_us > 0)
    setsockopt(fd, SOL_SOCKET, SO_BUSY_POLL, &busy_poll_us, sizeof busy_poll_us);
}

// ---- rr: many connections, N round trips each ------------------------------

struct Conn {
  int fd = -1;
  bool connecting = false;
  long rounds_done = 0;
  size_t sent = 0, got = 0;
  uint64_t seq = 0;
  int64_t sent_ns = 0, last_progress_ns = 0;
};

struct RrStats {
  uint64_t msgs = 0, conns_opened = 0, conns_closed = 0, connect_failures = 0, stalls = 0,
           mismatches = 0, resets = 0;
};

class RrClient {
 public:
  explicit RrClient(const Args &a)
      : a_(a), conns_(static_cast<size_t>(a.conns)), msg_(a.size), back_(a.size) {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) {
      std::perror("echo-rr-client: epoll_create1");
      std::exit(1);
    }
  }

  int run() {
    const int64_t t0 = now_ns();
    const int64_t measure_from = t0 + static_cast<int64_t>(a_.warmup * 1e9);
    const int64_t end = measure_from + static_cast<int64_t>(a_.seconds * 1e9);
    for (size_t i = 0; i < conns_.size(); ++i) open(i, t0);
    std::vector<epoll_event> evs(1024);
    int64_t next_scan = t0 + 100'000'000;
    measuring_ = false;
    RrStats at_start{};
    for (;;) {
      const int64_t t = now_ns();
      if (!measuring_ && t >= measure_from) {
        measuring_ = true;
        at_start = st_;
      }
      if (t >= end) break;
      const int n = epoll_wait(ep_, evs.data(), static_cast<int>(evs.size()), a_.spin ? 0 : 10);
      const int64_t tn = now_ns();
      for (int i = 0; i < n; ++i) on_event(evs[i].data.u64, evs[i].events, tn);
      if (tn >= next_scan) {
        scan_stalls(tn);
        next_scan = tn + 100'000'000;
      }
    }
    const double secs = a_.seconds;
    RrStats d = st_;
    d.msgs -= at_start.msgs;
    d.conns_opened -= at_start.conns_opened;
    d.conns_closed -= at_start.conns_closed;
    for (auto &c : conns_)
      if (c.fd >= 0) ::close(c.fd);
    ::close(ep_);
    report(d, secs);
    return st_.mismatches == 0 && d.msgs > 0 ? 0 : 1;
  }

 private:
  void open(size_t i, int64_t t) {
    Conn &c = conns_[i];
    c = Conn{};
    c.last_progress_ns = t;
    c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) {
      ++st_.connect_failures;
      return;  // retried by the stall scan
    }
    tune(c.fd, a_.busy_poll_us);
    const int r = connect(c.fd, reinterpret_cast<const sockaddr *>(&a_.dst), sizeof a_.dst);
    if (r != 0 && errno != EINPROGRESS) {
      ++st_.connect_failures;
      ::close(c.fd);
      c.fd = -1;
      return;
    }
    c.connecting = true;
    epoll_event ev{};
    ev.events = EPOLLOUT;
    ev.data.u64 = i;
    epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev);
  }

  void restart(size_t i, int64_t t) {
    Conn &c = conns_[i];
    if (c.fd >= 0) {
      epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
      ::close(c.fd);
      ++st_.conns_closed;
    }
    open(i, t);
  }

  // Sends the rest of the current message; false if the connection failed.
  bool push(Conn &c, size_t i) {
    while (c.sent < msg_.size()) {
      const ssize_t w = ::send(c.fd, msg_.data() + c.sent, msg_.size() - c.sent, MSG_NOSIGNAL);
      if (w > 0) {
        c.sent += static_cast<size_t>(w);
        continue;
      }
      if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        set_interest(c, i, EPOLLIN | EPOLLOUT);
        return true;
      }
      return false;
    }
    return true;
  }

  void set_interest(Conn &c, size_t i, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = i;
    epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
  }

  void start_message(Conn &c, size_t i, int64_t t) {
    c.seq = next_seq_++;
    fill(msg_, c.seq);
    c.sent = c.got = 0;
    c.sent_ns = t;
    if (!push(c, i)) {
      ++st_.resets;
      restart(i, t);
    }
  }

  void on_event(uint64_t i, uint32_t events, int64_t t) {
    Conn &c = conns_[i];
    if (c.fd < 0) return;
    if (c.connecting) {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0 || (events & (EPOLLERR | EPOLLHUP))) {
        ++st_.connect_failures;
        epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
        ::close(c.fd);
        c.fd = -1;
        return;  // reopened by the stall scan, so a refusing server is not hammered
      }
      c.connecting = false;
      ++st_.conns_opened;
      set_interest(c, i, EPOLLIN);
      start_message(c, i, t);
      return;
    }
    if ((events & EPOLLOUT) && c.sent < msg_.size()) {
      fill(msg_, c.seq);
      if (!push(c, i)) {
        ++st_.resets;
        restart(i, t);
        return;
      }
      if (c.sent == msg_.size()) set_interest(c, i, EPOLLIN);
    }
    if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR))) return;
    const ssize_t r = ::recv(c.fd, back_.data(), back_.size() - c.got, 0);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (r <= 0 || c.got + static_cast<size_t>(r) > c.sent) {
      // The server closed or reset, or echoed more than was sent.
      if (r > 0) ++st_.mismatches;
      ++st_.resets;
      restart(i, t);
      return;
    }
    for (ssize_t k = 0; k < r; ++k)
      if (back_[static_cast<size_t>(k)] != pattern_at(c.seq, c.got + static_cast<size_t>(k)))
        ++st_.mismatches;
    c.got += static_cast<size_t>(r);
    c.last_progress_ns = t;
    if (c.got < msg_.size()) return;
    ++st_.msgs;
    if (measuring_) hist_.add(t - c.sent_ns);
    if (++c.rounds_done >= a_.rounds) {
      restart(i, t);
    } else {
      start_message(c, i, t);
    }
  }

  void scan_stalls(int64_t t) {
    const int64_t limit = static_cast<int64_t>(a_.timeout_ms) * 1'000'000;
    for (size_t i = 0; i < conns_.size(); ++i) {
      Conn &c = conns_[i];
      if (c.fd < 0) {
        open(i, t);
      } else if (t - c.last_progress_ns > limit) {
        ++st_.stalls;
        restart(i, t);
      }
    }
  }

  void report(const RrStats &d, double secs) {
    const double rate = static_cast<double>(d.msgs) / secs;
    const double conn_rate = static_cast<double>(d.conns_opened) / secs;
    std::printf(
        "rr: %ld conns x %ld round trips of %ld B: %.0f msgs/s, %.0f conns/s; RTT us p50 %.1f "
        "p99 %.1f; %llu mismatched bytes, %llu connect failures, %llu stalls, %llu resets\n",
        a_.conns, a_.rounds, a_.size, rate, conn_rate, hist_.quantile_us(0.5),
        hist_.quantile_us(0.99), (unsigned long long)st_.mismatches,
        (unsigned long long)st_.connect_failures, (unsigned long long)st_.stalls,
        (unsigned long long)st_.resets);
    std::printf(
        "json: {\"mode\":\"rr\",\"conns\":%ld,\"rounds\":%ld,\"size\":%ld,\"seconds\":%.3f,"
        "\"warmup\":%.3f,\"spin\":%s,\"busy_poll_us\":%d,\"msgs\":%llu,\"msgs_per_sec\":%.1f,"
        "\"conns_opened\":%llu,\"conns_per_sec\":%.1f,\"mismatches\":%llu,"
        "\"connect_failures\":%llu,\"stalls\":%llu,\"resets\":%llu,\"mean_us\":%.2f,"
        "\"p50_us\":%.2f,\"p90_us\":%.2f,\"p99_us\":%.2f,\"p999_us\":%.2f,\"max_us\":%.2f}\n",
        a_.conns, a_.rounds, a_.size, secs, a_.warmup, a_.spin ? "true" : "false", a_.busy_poll_us,
        (unsigned long long)d.msgs, rate, (unsigned long long)d.conns_opened, conn_rate,
        (unsigned long long)st_.mismatches, (unsigned long long)st_.connect_failures,
        (unsigned long long)st_.stalls, (unsigned long long)st_.resets, hist_.mean_us(),
        hist_.quantile_us(0.5), hist_.quantile_us(0.9), hist_.quantile_us(0.99),
        hist_.quantile_us(0.999), hist_.max_us());
  }

  const Args &a_;
  int ep_ = -1;
  std::vector<Conn> conns_;
  std::vector<uint8_t> msg_, back_;
  uint64_t next_seq_ = 1;
  bool measuring_ = false;
  RrStats st_;
  Histogram hist_;
};

// ---- pingpong: one connection ----------------------------------------------

int run_pingpong(const Args &a) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    std::perror("echo-rr-client: socket");
    return 1;
  }
  tune(fd, a.busy_poll_us);
  timeval tv{a.timeout_ms / 1000, (a.timeout_ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(fd, reinterpret_cast<const sockaddr *>(&a.dst), sizeof a.dst) != 0) {
    std::printf("pingpong: connect failed: %s\n", std::strerror(errno));
    ::close(fd);
    return 1;
  }
  // A spinning client never sleeps in recv, so its own wake-up is not part
  // of the round trip.
  const int rflags = a.spin ? MSG_DONTWAIT : 0;
  std::vector<uint8_t> msg(static_cast<size_t>(a.size)), back(msg.size());
  Histogram hist;
  long bad = 0, done = 0;
  const int64_t deadline_ns = static_cast<int64_t>(a.timeout_ms) * 1'000'000;
  for (long i = 0; i < a.count; ++i) {
    fill(msg, static_cast<uint64_t>(i));
    const int64_t t = now_ns();
    size_t sent = 0, got = 0;
    bool ok = true;
    while (ok && sent < msg.size()) {
      const ssize_t w = ::send(fd, msg.data() + sent, msg.size() - sent, MSG_NOSIGNAL);
      if (w <= 0)
        ok = false;
      else
        sent += static_cast<size_t>(w);
    }
    while (ok && got < back.size()) {
      const ssize_t r = ::recv(fd, back.data() + got, back.size() - got, rflags);
      if (r > 0) {
        got += static_cast<size_t>(r);
      } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && a.spin &&
                 now_ns() - t < deadline_ns) {
        continue;
      } else {
        ok = false;
      }
    }
    if (!ok) {
      bad += a.count - i;
      break;
    }
    hist.add(now_ns() - t);
    ++done;
    if (back != msg) ++bad;
  }
  ::close(fd);
  std::printf(
      "pingpong: %ld of %ld round trips of %ld B%s, %ld bad; RTT us p50 %.2f p99 %.2f "
      "(one way p50 %.2f p99 %.2f)\n",
      done, a.count, a.size, a.spin ? " (spinning receive)" : "", bad, hist.quantile_us(0.5),
      hist.quantile_us(0.99), hist.quantile_us(0.5) / 2, hist.quantile_us(0.99) / 2);
  std::printf(
      "json: {\"mode\":\"pingpong\",\"count\":%ld,\"size\":%ld,\"spin\":%s,\"busy_poll_us\":%d,"
      "\"bad\":%ld,\"mean_us\":%.3f,\"p50_us\":%.3f,\"p90_us\":%.3f,\"p99_us\":%.3f,"
      "\"p999_us\":%.3f,\"max_us\":%.3f,\"one_way_p50_us\":%.3f,\"one_way_p99_us\":%.3f}\n",
      done, a.size, a.spin ? "true" : "false", a.busy_poll_us, bad, hist.mean_us(),
      hist.quantile_us(0.5), hist.quantile_us(0.9), hist.quantile_us(0.99), hist.quantile_us(0.999),
      hist.max_us(), hist.quantile_us(0.5) / 2, hist.quantile_us(0.99) / 2);
  return bad == 0 && done == a.count ? 0 : 1;
}

}  // namespace

int main(int argc, char **argv) {
  const Args a = parse(argc, argv);
  raise_fd_limit();
  if (a.mode == "pingpong") return run_pingpong(a);
  RrClient client(a);
  return client.run();
}
