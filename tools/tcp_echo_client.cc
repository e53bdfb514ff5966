// tcp-echo-client: a Linux-socket client that drives a TCP echo server and
// checks every byte that comes back. Used against ix-tcp-echo (and works
// against any echo server).
//
//   tcp-echo-client --dst 10.77.0.2:7 bulk --bytes N
//   tcp-echo-client --dst 10.77.0.2:7 bulk --until FILE
//   tcp-echo-client --dst 10.77.0.2:7 bulk --bytes N --max-seconds S
//   tcp-echo-client --dst 10.77.0.2:7 conns --count N [--concurrency C]
//   tcp-echo-client --dst 10.77.0.2:7 pingpong --count N --size S
//
// bulk streams N bytes of a deterministic pattern while reading the echo
// back; each received byte is compared with the pattern at its offset, and
// SHA-256 digests (OpenSSL libcrypto) of what was sent and of what came back
// are printed. With --until, the stream has no set length: it goes on until
// FILE exists (so it outlasts whatever another process does meanwhile, e.g.
// a flood, however long that takes), then ends and is checked the same way.
// --max-seconds cuts a bulk transfer that takes longer (a benchmark under
// heavy loss) and still reports what came back by then, checked byte by
// byte, with "timed_out":true (and exit 1).
// conns opens, exchanges one message on
// and closes N short connections (C at a time). pingpong keeps one message in
// flight and reports round-trip percentiles. (The IX paper's many-connection
// request/response load is echo-rr-client's rr mode.)
//
// Prints one human line and one JSON line ("json: {...}"). Exits 1 on any
// mismatch or failure, 2 on bad arguments.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
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
#include <string>
#include <thread>
#include <vector>

#include "ipv4_endpoint.hh"
#include "stream_check.hh"

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  std::string mode;
  sockaddr_in dst{};
  long long bytes = 1 << 20;
  std::string until;       // bulk: stream until this file exists (instead of --bytes)
  double max_seconds = 0;  // bulk: give up after this long (0: no limit)
  long count = 1000;
  long size = 64;
  long concurrency = 1;
  int timeout_ms = 5000;
};

[[noreturn]] void usage(const std::string &msg) {
  std::fprintf(stderr,
               "tcp-echo-client: %s\nusage: tcp-echo-client --dst IP:PORT [--timeout-ms N] MODE\n"
               "  bulk --bytes N | --until FILE    stream N bytes (or until FILE exists), verify "
               "the echo\n"
               "       [--max-seconds S]           ... giving up after S seconds\n"
               "  conns --count N [--concurrency C] N short connections, one message each\n"
               "  pingpong --count N --size S      one message in flight, RTT percentiles\n",
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
      if (const char *err = parse_ipv4_endpoint(val("--dst"), &a.dst))
        usage(std::string("--dst: ") + err);
      have_dst = true;
    } else if (k == "--bytes") {
      a.bytes = to_ll(val("--bytes"), "--bytes");
    } else if (k == "--until") {
      a.until = val("--until");
      if (a.until.empty()) usage("--until needs a file name");
    } else if (k == "--max-seconds") {
      a.max_seconds = static_cast<double>(to_ll(val("--max-seconds"), "--max-seconds"));
    } else if (k == "--count") {
      a.count = static_cast<long>(to_ll(val("--count"), "--count"));
    } else if (k == "--size") {
      a.size = static_cast<long>(to_ll(val("--size"), "--size"));
    } else if (k == "--concurrency") {
      a.concurrency = static_cast<long>(to_ll(val("--concurrency"), "--concurrency"));
    } else if (k == "--timeout-ms") {
      a.timeout_ms = static_cast<int>(to_ll(val("--timeout-ms"), "--timeout-ms"));
    } else if (k == "bulk" || k == "conns" || k == "pingpong") {
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
  return a;
}

using stream_check::pattern_at;
using stream_check::Sha256;

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
  // With --until the length is set when the file appears: the bytes sent by then.
  uint64_t total = a.until.empty() ? static_cast<uint64_t>(a.bytes) : UINT64_MAX;
  auto last_until_check = Clock::now();
  std::vector<uint8_t> out(256 * 1024), in(256 * 1024);
  uint64_t sent = 0, got = 0, first_bad = UINT64_MAX;
  Sha256 sent_digest, got_digest;
  const auto start = Clock::now();
  auto last_progress = start;
  bool shut = false, timed_out = false;
  while (got < total) {
    if (a.max_seconds > 0 && since_s(start) > a.max_seconds) {
      timed_out = true;
      break;
    }
    pollfd p{fd, static_cast<short>(POLLIN | (sent < total ? POLLOUT : 0)), 0};
    const int pr = ::poll(&p, 1, 100);
    if (pr < 0 && errno != EINTR) break;
    if (std::chrono::duration<double, std::milli>(Clock::now() - last_progress).count() >
        a.timeout_ms)
      break;
    if (total == UINT64_MAX &&
        std::chrono::duration<double, std::milli>(Clock::now() - last_until_check).count() >= 10) {
      last_until_check = Clock::now();
      if (::access(a.until.c_str(), F_OK) == 0) total = sent;
    }
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
      "\"match\":%s,\"clean_end\":%s,\"timed_out\":%s,\"intact\":%s}\n",
      (unsigned long long)sent, (unsigned long long)got, secs, gbps, sent_hex.c_str(),
      got_hex.c_str(), ok ? "true" : "false", clean_end ? "true" : "false",
      timed_out ? "true" : "false", first_bad == UINT64_MAX ? "true" : "false");
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

}  // namespace

int main(int argc, char **argv) {
  const Args a = parse(argc, argv);
  if (a.mode == "bulk") return run_bulk(a);
  if (a.mode == "conns") return run_conns(a);
  return run_pingpong(a);
}
