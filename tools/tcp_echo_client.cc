// tcp-echo-client: a Linux-socket client that drives a TCP echo server and
// checks every byte that comes back. Used against ix-tcp-echo (and works
// against any echo server).
//
//   tcp-echo-client --dst 10.77.0.2:7 bulk --bytes N
//   tcp-echo-client --dst 10.77.0.2:7 conns --count N [--concurrency C]
//   tcp-echo-client --dst 10.77.0.2:7 pingpong --count N --size S
//   tcp-echo-client --dst 10.77.0.2:7 rr --conns C --messages N --size S --seconds D
//                   [--threads T]
//
// bulk streams N bytes of a deterministic pattern while reading the echo
// back; each received byte is compared with the pattern at its offset, and
// SHA-256 digests (OpenSSL libcrypto) of what was sent and of what came back
// are printed. conns opens, exchanges one message on
// and closes N short connections (C at a time). pingpong keeps one message in
// flight and reports round-trip percentiles. rr is the IX paper's echo
// benchmark: C connections at once, each sending N messages of S bytes and
// waiting for each echo before the next, then closing and reconnecting, for
// D seconds (T threads, each driving its share of the connections through
// epoll); it reports messages per second and per-message latency
// percentiles, and verifies every echoed byte.
//
// Prints one human line and one JSON line ("json: {...}"). Exits 1 on any
// mismatch or failure, 2 on bad arguments.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  std::string mode;
  sockaddr_in dst{};
  long long bytes = 1 << 20;
  long count = 1000;
  long size = 64;
  long concurrency = 1;
  int timeout_ms = 5000;
  long conns = 16;     // rr: connections at once
  long messages = 10;  // rr: messages per connection before it reconnects
  double seconds = 5;  // rr: duration
  long threads = 1;    // rr: client threads
};

[[noreturn]] void usage(const std::string &msg) {
  std::fprintf(stderr,
               "tcp-echo-client: %s\nusage: tcp-echo-client --dst IP:PORT [--timeout-ms N] MODE\n"
               "  bulk --bytes N                   stream N bytes, verify the echo\n"
               "  conns --count N [--concurrency C] N short connections, one message each\n"
               "  pingpong --count N --size S      one message in flight, RTT percentiles\n"
               "  rr --conns C --messages N --size S --seconds D [--threads T]\n"
               "                                   C connections, N round trips each, then\n"
               "                                   reconnect; msgs/s and latency percentiles\n",
               msg.c_str());
  std::exit(2);
}

long long to_ll(const char *s, const char *what) {
  char *end = nullptr;
  errno = 0;
  const long long v = std::strtoll(s, &end, 10);
  if (end == s || *end != '\0' || errno != 0 || v < 0)
    usage(std::string(what) + ": not a non-negative integer: " + s);
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
      const std::string v = val("--dst");
      const auto colon = v.rfind(':');
      if (colon == std::string::npos) usage("--dst: expected IP:PORT");
      const long long port = to_ll(v.substr(colon + 1).c_str(), "port");
      if (port < 1 || port > 65535) usage("--dst: port must be 1..65535");
      a.dst.sin_family = AF_INET;
      a.dst.sin_port = htons(static_cast<uint16_t>(port));
      if (inet_pton(AF_INET, v.substr(0, colon).c_str(), &a.dst.sin_addr) != 1)
        usage("--dst: bad IPv4 address");
      have_dst = true;
    } else if (k == "--bytes") {
      a.bytes = to_ll(val("--bytes"), "--bytes");
    } else if (k == "--count") {
      a.count = static_cast<long>(to_ll(val("--count"), "--count"));
    } else if (k == "--size") {
      a.size = static_cast<long>(to_ll(val("--size"), "--size"));
    } else if (k == "--concurrency") {
      a.concurrency = static_cast<long>(to_ll(val("--concurrency"), "--concurrency"));
    } else if (k == "--conns") {
      a.conns = static_cast<long>(to_ll(val("--conns"), "--conns"));
    } else if (k == "--messages") {
      a.messages = static_cast<long>(to_ll(val("--messages"), "--messages"));
    } else if (k == "--seconds") {
      a.seconds = static_cast<double>(to_ll(val("--seconds"), "--seconds"));
    } else if (k == "--threads") {
      a.threads = static_cast<long>(to_ll(val("--threads"), "--threads"));
    } else if (k == "--timeout-ms") {
      a.timeout_ms = static_cast<int>(to_ll(val("--timeout-ms"), "--timeout-ms"));
    } else if (k == "bulk" || k == "conns" || k == "pingpong" || k == "rr") {
      a.mode = k;
    } else {
      usage("unknown argument " + k);
    }
  }
  if (!have_dst) usage("--dst is required");
  if (a.mode.empty()) usage("a mode is required");
  if (a.count < 1 || a.size < 1 || a.size > (1 << 24) || a.bytes < 1)
    usage("--count, --size (<= 16 MiB) and --bytes must be positive");
  if (a.concurrency < 1 || a.concurrency > 256) usage("--concurrency must be 1..256");
  if (a.timeout_ms < 1) usage("--timeout-ms must be positive");
  if (a.conns < 1 || a.conns > 65536) usage("--conns must be 1..65536");
  if (a.messages < 1) usage("--messages must be positive");
  if (a.seconds < 1 || a.seconds > 3600) usage("--seconds must be 1..3600");
  if (a.threads < 1 || a.threads > 64 || a.threads > a.conns)
    usage("--threads must be 1..64 and at most --conns");
  return a;
}

// The byte at stream offset i: position-dependent, so a lost, duplicated or
// misplaced byte shows up at once.
inline uint8_t pattern_at(uint64_t i) {
  const uint64_t x = (i ^ (i >> 13) ^ (i >> 29)) * 0x9e3779b97f4a7c15ull;
  return static_cast<uint8_t>(x >> 56);
}

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) {
    if (ctx_ == nullptr || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1)
      throw std::runtime_error("SHA-256 unavailable in libcrypto");
  }
  void add(const uint8_t *p, size_t n) { EVP_DigestUpdate(ctx_.get(), p, n); }
  // Finishes the digest: call once.
  std::string hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    EVP_DigestFinal_ex(ctx_.get(), md, &len);
    std::string out;
    char two[3];
    for (unsigned i = 0; i < len; ++i) {
      std::snprintf(two, sizeof two, "%02x", md[i]);
      out += two;
    }
    return out;
  }

 private:
  struct Free {
    void operator()(EVP_MD_CTX *c) const { EVP_MD_CTX_free(c); }
  };
  std::unique_ptr<EVP_MD_CTX, Free> ctx_;
};

double since_s(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

int connect_to(const sockaddr_in &dst, int timeout_ms, bool nodelay) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  if (nodelay) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(fd, reinterpret_cast<const sockaddr *>(&dst), sizeof dst) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool write_all(int fd, const uint8_t *p, size_t n) {
  while (n > 0) {
    const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool read_all(int fd, uint8_t *p, size_t n) {
  while (n > 0) {
    const ssize_t r = ::recv(fd, p, n, 0);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

int run_bulk(const Args &a) {
  const int fd = connect_to(a.dst, a.timeout_ms, false);
  if (fd < 0) {
    std::printf("bulk: connect failed: %s\n", std::strerror(errno));
    return 1;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  const uint64_t total = static_cast<uint64_t>(a.bytes);
  std::vector<uint8_t> out(256 * 1024), in(256 * 1024);
  uint64_t sent = 0, got = 0, first_bad = UINT64_MAX;
  Sha256 sent_digest, got_digest;
  const auto start = Clock::now();
  auto last_progress = start;
  bool shut = false;
  while (got < total) {
    pollfd p{fd, static_cast<short>(POLLIN | (sent < total ? POLLOUT : 0)), 0};
    const int pr = ::poll(&p, 1, 100);
    if (pr < 0 && errno != EINTR) break;
    if (std::chrono::duration<double, std::milli>(Clock::now() - last_progress).count() >
        a.timeout_ms)
      break;
    if (sent < total && (p.revents & POLLOUT)) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(out.size(), total - sent));
      for (size_t i = 0; i < n; ++i) out[i] = pattern_at(sent + i);
      const ssize_t w = ::send(fd, out.data(), n, MSG_NOSIGNAL);
      if (w > 0) {
        sent_digest.add(out.data(), static_cast<size_t>(w));
        sent += static_cast<uint64_t>(w);
        last_progress = Clock::now();
      } else if (w < 0 && errno != EAGAIN) {
        break;
      }
    }
    if (sent == total && !shut) {
      shutdown(fd, SHUT_WR);  // our FIN: the server closes after echoing all
      shut = true;
    }
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      const ssize_t r = ::recv(fd, in.data(), in.size(), 0);
      if (r == 0) break;
      if (r < 0 && errno != EAGAIN) break;
      if (r > 0) {
        for (ssize_t i = 0; i < r; ++i)
          if (in[i] != pattern_at(got + i) && first_bad == UINT64_MAX) first_bad = got + i;
        got_digest.add(in.data(), static_cast<size_t>(r));
        got += static_cast<uint64_t>(r);
        last_progress = Clock::now();
      }
    }
  }
  // After the echo the server closes: the stream must end here.
  bool clean_end = false;
  if (got == total) {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    uint8_t extra;
    clean_end = ::recv(fd, &extra, 1, 0) == 0;
  }
  const double secs = since_s(start);
  ::close(fd);
  const std::string sent_hex = sent_digest.hex(), got_hex = got_digest.hex();
  const bool ok =
      got == total && sent == total && first_bad == UINT64_MAX && sent_hex == got_hex && clean_end;
  const double gbps = secs > 0 ? static_cast<double>(got) * 8 / secs / 1e9 : 0;
  std::printf(
      "bulk: sent %llu received %llu bytes in %.2f s (%.3f Gbit/s echoed), sha256 "
      "sent %s received %s%s%s\n",
      (unsigned long long)sent, (unsigned long long)got, secs, gbps, sent_hex.c_str(),
      got_hex.c_str(), first_bad != UINT64_MAX ? ", FIRST MISMATCH at " : "",
      first_bad != UINT64_MAX ? std::to_string(first_bad).c_str() : "");
  std::printf(
      "json: {\"mode\":\"bulk\",\"bytes\":%llu,\"received\":%llu,\"seconds\":%.4f,"
      "\"gbps\":%.4f,\"sha256_sent\":\"%s\",\"sha256_received\":\"%s\","
      "\"match\":%s,\"clean_end\":%s}\n",
      (unsigned long long)sent, (unsigned long long)got, secs, gbps, sent_hex.c_str(),
      got_hex.c_str(), ok ? "true" : "false", clean_end ? "true" : "false");
  return ok ? 0 : 1;
}

// One short connection: connect, one message, its echo, close; true if all
// went right.
bool one_connection(const Args &a, uint64_t seq) {
  const int fd = connect_to(a.dst, a.timeout_ms, true);
  if (fd < 0) return false;
  uint8_t msg[64], back[64];
  for (size_t i = 0; i < sizeof msg; ++i) msg[i] = pattern_at(seq * 64 + i);
  bool ok = write_all(fd, msg, sizeof msg) && read_all(fd, back, sizeof back) &&
            std::memcmp(msg, back, sizeof msg) == 0;
  if (ok) {
    // Half close, then the server's FIN ends the stream.
    shutdown(fd, SHUT_WR);
    uint8_t extra;
    ok = ::recv(fd, &extra, 1, 0) == 0;
  }
  ::close(fd);
  return ok;
}

int run_conns(const Args &a) {
  std::atomic<long> next{0}, failures{0};
  const auto start = Clock::now();
  std::vector<std::thread> workers;
  for (long w = 0; w < a.concurrency; ++w) {
    workers.emplace_back([&] {
      for (long i; (i = next.fetch_add(1)) < a.count;)
        if (!one_connection(a, static_cast<uint64_t>(i))) failures.fetch_add(1);
    });
  }
  for (auto &t : workers) t.join();
  const double secs = since_s(start);
  const long f = failures.load();
  std::printf("conns: %ld connections (%ld at a time), %ld failed, %.2f s (%.0f conn/s)\n", a.count,
              a.concurrency, f, secs, secs > 0 ? a.count / secs : 0);
  std::printf(
      "json: {\"mode\":\"conns\",\"count\":%ld,\"concurrency\":%ld,\"failures\":%ld,"
      "\"seconds\":%.4f,\"per_second\":%.1f}\n",
      a.count, a.concurrency, f, secs, secs > 0 ? a.count / secs : 0);
  return f == 0 ? 0 : 1;
}

int run_pingpong(const Args &a) {
  const int fd = connect_to(a.dst, a.timeout_ms, true);
  if (fd < 0) {
    std::printf("pingpong: connect failed: %s\n", std::strerror(errno));
    return 1;
  }
  std::vector<uint8_t> msg(static_cast<size_t>(a.size)), back(msg.size());
  std::vector<double> rtt_us;
  rtt_us.reserve(static_cast<size_t>(a.count));
  long bad = 0;
  for (long i = 0; i < a.count; ++i) {
    for (size_t k = 0; k < msg.size(); ++k) msg[k] = pattern_at(static_cast<uint64_t>(i) * 7 + k);
    const auto t = Clock::now();
    if (!write_all(fd, msg.data(), msg.size()) || !read_all(fd, back.data(), back.size())) {
      bad = a.count - i;
      break;
    }
    rtt_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t).count());
    if (back != msg) ++bad;
  }
  ::close(fd);
  std::sort(rtt_us.begin(), rtt_us.end());
  auto pct = [&](double p) {
    if (rtt_us.empty()) return 0.0;
    return rtt_us[std::min(rtt_us.size() - 1, static_cast<size_t>(p * rtt_us.size()))];
  };
  std::printf(
      "pingpong: %zu of %ld round trips of %ld bytes, %ld bad; RTT us p50 %.1f p90 %.1f "
      "p99 %.1f p99.9 %.1f max %.1f\n",
      rtt_us.size(), a.count, a.size, bad, pct(0.5), pct(0.9), pct(0.99), pct(0.999),
      rtt_us.empty() ? 0.0 : rtt_us.back());
  std::printf(
      "json: {\"mode\":\"pingpong\",\"count\":%zu,\"size\":%ld,\"bad\":%ld,"
      "\"p50_us\":%.2f,\"p90_us\":%.2f,\"p99_us\":%.2f,\"p999_us\":%.2f,\"max_us\":%.2f}\n",
      rtt_us.size(), a.size, bad, pct(0.5), pct(0.9), pct(0.99), pct(0.999),
      rtt_us.empty() ? 0.0 : rtt_us.back());
  return bad == 0 && static_cast<long>(rtt_us.size()) == a.count ? 0 : 1;
}

// rr: one thread's connections, driven through epoll. Each connection
// walks connect -> (send message, read its echo) x N -> close, then starts
// over on a fresh connection until the deadline.
struct RrConn {
  int fd = -1;
  enum class State { kConnecting, kSending, kReceiving } state = State::kConnecting;
  long done = 0;     // messages completed on this connection
  size_t moved = 0;  // bytes of the current message sent or received
  uint64_t seq = 0;  // message number, picks the pattern
  Clock::time_point started{}, last_progress{};
};

struct RrResult {
  uint64_t messages = 0, connections = 0, failures = 0, bad = 0;
  std::vector<float> latency_us;
};

void rr_thread(const Args &a, long first, long count, Clock::time_point deadline, RrResult &res) {
  const int ep = epoll_create1(0);
  if (ep < 0) {
    res.failures += static_cast<uint64_t>(count);
    return;
  }
  const size_t size = static_cast<size_t>(a.size);
  std::vector<RrConn> conns(static_cast<size_t>(count));
  // Epoll events carry (generation << 32 | index): an event still queued for
  // a connection's closed predecessor is recognised and dropped.
  std::vector<uint32_t> gens(conns.size(), 0);
  auto tag = [&](size_t i) { return (uint64_t{gens[i]} << 32) | i; };
  std::vector<uint8_t> msg(size), back(size);
  uint64_t next_seq = static_cast<uint64_t>(first) << 40;

  auto fill = [&](uint64_t seq) {
    for (size_t k = 0; k < size; ++k) msg[k] = pattern_at(seq * 131 + k);
  };
  auto open_conn = [&](size_t i) {
    RrConn &c = conns[i];
    c = RrConn{};
    c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c.fd < 0) return false;
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c.last_progress = Clock::now();
    ++gens[i];
    if (::connect(c.fd, reinterpret_cast<const sockaddr *>(&a.dst), sizeof a.dst) != 0 &&
        errno != EINPROGRESS) {
      ::close(c.fd);
      c.fd = -1;
      return false;
    }
    epoll_event ev{};
    ev.events = EPOLLOUT;
    ev.data.u64 = tag(i);
    epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
    ++res.connections;
    return true;
  };
  auto close_conn = [&](size_t i) {
    if (conns[i].fd >= 0) ::close(conns[i].fd);  // also leaves the epoll set
    conns[i].fd = -1;
  };
  auto want = [&](size_t i, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = tag(i);
    epoll_ctl(ep, EPOLL_CTL_MOD, conns[i].fd, &ev);
  };
  auto start_message = [&](size_t i) {
    RrConn &c = conns[i];
    c.seq = next_seq++;
    c.moved = 0;
    c.state = RrConn::State::kSending;
    c.started = Clock::now();
  };
  // Advances connection i as far as it goes without blocking; false when it
  // failed (the caller counts it and reconnects).
  auto step = [&](size_t i) {
    RrConn &c = conns[i];
    for (;;) {
      if (c.state == RrConn::State::kConnecting) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) return false;
        start_message(i);
      }
      if (c.state == RrConn::State::kSending) {
        fill(c.seq);
        const ssize_t w = ::send(c.fd, msg.data() + c.moved, size - c.moved, MSG_NOSIGNAL);
        if (w < 0) {
          if (errno != EAGAIN) return false;
          want(i, EPOLLOUT);
          return true;
        }
        c.moved += static_cast<size_t>(w);
        c.last_progress = Clock::now();
        if (c.moved < size) continue;
        c.moved = 0;
        c.state = RrConn::State::kReceiving;
        want(i, EPOLLIN);
      }
      const ssize_t r = ::recv(c.fd, back.data() + c.moved, size - c.moved, 0);
      if (r == 0) return false;  // the server must not close first
      if (r < 0) return errno == EAGAIN;
      // Check the bytes against the pattern at their offset in the message.
      for (ssize_t k = 0; k < r; ++k)
        if (back[c.moved + static_cast<size_t>(k)] !=
            pattern_at(c.seq * 131 + c.moved + static_cast<uint64_t>(k))) {
          ++res.bad;
          return false;
        }
      c.moved += static_cast<size_t>(r);
      c.last_progress = Clock::now();
      if (c.moved < size) continue;
      const auto now = Clock::now();
      res.latency_us.push_back(std::chrono::duration<float, std::micro>(now - c.started).count());
      ++res.messages;
      if (++c.done == a.messages) {
        close_conn(i);
        return now >= deadline || open_conn(i);
      }
      if (now >= deadline) return true;
      start_message(i);
    }
  };

  for (size_t i = 0; i < conns.size(); ++i)
    if (!open_conn(i)) ++res.failures;
  std::vector<epoll_event> evs(256);
  auto last_sweep = Clock::now();
  while (Clock::now() < deadline) {
    const int n = epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 10);
    for (int k = 0; k < n; ++k) {
      const size_t i = evs[k].data.u64 & 0xffffffffu;
      if (conns[i].fd < 0 || (evs[k].data.u64 >> 32) != gens[i]) continue;
      if (!step(i)) {
        // Counted; the sweep below reconnects it (paced, so a refusing
        // server is not hammered).
        ++res.failures;
        close_conn(i);
      }
    }
    // Connections without progress for --timeout-ms count as failures.
    const auto now = Clock::now();
    if (now - last_sweep > std::chrono::milliseconds(100)) {
      last_sweep = now;
      for (size_t i = 0; i < conns.size(); ++i) {
        if (conns[i].fd < 0) {
          if (now < deadline && !open_conn(i)) ++res.failures;
          continue;
        }
        if (std::chrono::duration<double, std::milli>(now - conns[i].last_progress).count() >
            a.timeout_ms) {
          ++res.failures;
          close_conn(i);
        }
      }
    }
  }
  for (size_t i = 0; i < conns.size(); ++i) close_conn(i);
  ::close(ep);
}

int run_rr(const Args &a) {
  const auto start = Clock::now();
  const auto deadline =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(a.seconds));
  std::vector<RrResult> results(static_cast<size_t>(a.threads));
  std::vector<std::thread> threads;
  long first = 0;
  for (long t = 0; t < a.threads; ++t) {
    const long share = a.conns / a.threads + (t < a.conns % a.threads ? 1 : 0);
    threads.emplace_back(rr_thread, std::cref(a), first, share, deadline,
                         std::ref(results[static_cast<size_t>(t)]));
    first += share;
  }
  for (auto &t : threads) t.join();
  const double secs = since_s(start);
  RrResult all;
  for (auto &r : results) {
    all.messages += r.messages;
    all.connections += r.connections;
    all.failures += r.failures;
    all.bad += r.bad;
    all.latency_us.insert(all.latency_us.end(), r.latency_us.begin(), r.latency_us.end());
  }
  std::sort(all.latency_us.begin(), all.latency_us.end());
  auto pct = [&](double p) -> double {
    if (all.latency_us.empty()) return 0.0;
    return all.latency_us[std::min(all.latency_us.size() - 1,
                                   static_cast<size_t>(p * all.latency_us.size()))];
  };
  const double rate = secs > 0 ? static_cast<double>(all.messages) / secs : 0;
  std::printf(
      "rr: %llu messages of %ld bytes on %llu connections (%ld at a time, %ld messages each) in "
      "%.2f s: %.0f msg/s, %llu failures, %llu bad; latency us p50 %.1f p99 %.1f max %.1f\n",
      (unsigned long long)all.messages, a.size, (unsigned long long)all.connections, a.conns,
      a.messages, secs, rate, (unsigned long long)all.failures, (unsigned long long)all.bad,
      pct(0.5), pct(0.99), all.latency_us.empty() ? 0.0 : all.latency_us.back());
  std::printf(
      "json: {\"mode\":\"rr\",\"conns\":%ld,\"messages_per_conn\":%ld,\"size\":%ld,"
      "\"threads\":%ld,\"seconds\":%.4f,\"messages\":%llu,\"msgs_per_s\":%.1f,"
      "\"connections\":%llu,\"failures\":%llu,\"bad\":%llu,\"p50_us\":%.2f,"
      "\"p90_us\":%.2f,\"p99_us\":%.2f,\"p999_us\":%.2f,\"max_us\":%.2f}\n",
      a.conns, a.messages, a.size, a.threads, secs, (unsigned long long)all.messages, rate,
      (unsigned long long)all.connections, (unsigned long long)all.failures,
      (unsigned long long)all.bad, pct(0.5), pct(0.9), pct(0.99), pct(0.999),
      all.latency_us.empty() ? 0.0 : all.latency_us.back());
  return all.failures == 0 && all.bad == 0 && all.messages > 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char **argv) {
  const Args a = parse(argc, argv);
  if (a.mode == "bulk") return run_bulk(a);
  if (a.mode == "conns") return run_conns(a);
  if (a.mode == "rr") return run_rr(a);
  return run_pingpong(a);
}
