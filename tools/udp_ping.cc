// udp-ping: a Linux-socket UDP client that measures an echo server and checks
// every reply byte for byte. Used against the IX dataplane and against the
// Linux stack with the same options, so both are measured by one client.
//
//   udp-ping --dst 10.77.0.2:7 latency --count 1000 --size 64
//   udp-ping --dst 10.77.0.2:7 sizes --from 1 --to 1472
//   udp-ping --dst 10.77.0.2:7 flood --seconds 5 --window 32 --size 64
//
// Prints one human line and one JSON line ("json: {...}"). Exits 1 when a
// reply is missing or differs (beyond --max-loss), 2 on bad arguments.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  std::string mode = "latency";
  sockaddr_in dst{};
  long count = 1000;
  long size = 64;
  long from = 1, to = 1472;
  double seconds = 5;
  long window = 32;
  int timeout_ms = 200;
  double max_loss = 0;  // fraction of datagrams allowed to go unanswered
  int sport = 0;
};

[[noreturn]] void usage(const char *msg) {
  std::fprintf(stderr,
               "udp-ping: %s\nusage: udp-ping --dst IP:PORT [--sport N] [--timeout-ms N] "
               "[--max-loss F] MODE [options]\n"
               "  latency --count N --size S    one datagram in flight; RTT percentiles\n"
               "  sizes --from A --to B         one datagram of every size A..B, verified\n"
               "  flood --seconds T --window W --size S   W in flight; replies per second\n",
               msg);
  std::exit(2);
}

long to_long(const char *s, const char *what) {
  char *end = nullptr;
  long v = std::strtol(s, &end, 10);
  if (end == s || *end != '\0') usage((std::string(what) + ": not an integer: " + s).c_str());
  return v;
}

Args parse(int argc, char **argv) {
  Args a;
  bool have_dst = false;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto val = [&](const char *what) {
      if (i + 1 >= argc) usage((std::string(what) + " needs a value").c_str());
      return argv[++i];
    };
    if (k == "--dst") {
      std::string v = val("--dst");
      auto colon = v.rfind(':');
      if (colon == std::string::npos) usage("--dst: expected IP:PORT");
      a.dst.sin_family = AF_INET;
      a.dst.sin_port = htons(static_cast<uint16_t>(to_long(v.substr(colon + 1).c_str(), "port")));
      if (inet_pton(AF_INET, v.substr(0, colon).c_str(), &a.dst.sin_addr) != 1)
        usage("--dst: bad IPv4 address");
      have_dst = true;
    } else if (k == "--count") a.count = to_long(val("--count"), "--count");
    else if (k == "--size") a.size = to_long(val("--size"), "--size");
    else if (k == "--from") a.from = to_long(val("--from"), "--from");
    else if (k == "--to") a.to = to_long(val("--to"), "--to");
    else if (k == "--window") a.window = to_long(val("--window"), "--window");
    else if (k == "--timeout-ms") a.timeout_ms = static_cast<int>(to_long(val("--timeout-ms"), "--timeout-ms"));
    else if (k == "--sport") a.sport = static_cast<int>(to_long(val("--sport"), "--sport"));
    else if (k == "--seconds") a.seconds = std::atof(val("--seconds"));
    else if (k == "--max-loss") a.max_loss = std::atof(val("--max-loss"));
    else if (k == "latency" || k == "sizes" || k == "flood") a.mode = k;
    else usage(("unknown argument " + k).c_str());
  }
  if (!have_dst) usage("--dst is required");
  if (a.size < 0 || a.size > 65507 || a.from < 0 || a.to > 65507 || a.from > a.to)
    usage("sizes must be within 0..65507");
  if (a.window < 1 || a.count < 1) usage("--window and --count must be positive");
  return a;
}

// Payload: a 8-byte sequence number, then bytes derived from it.
void fill(std::vector<uint8_t> &buf, uint64_t seq, size_t len) {
  buf.resize(len);
  for (size_t i = 0; i < len; ++i) buf[i] = static_cast<uint8_t>((seq * 131 + i * 7 + 1) & 0xff);
  if (len >= 8) std::memcpy(buf.data(), &seq, 8);
}

int open_socket(const Args &a) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) { std::perror("socket"); std::exit(1); }
  int big = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  if (a.sport != 0) {
    sockaddr_in me{};
    me.sin_family = AF_INET;
    me.sin_port = htons(static_cast<uint16_t>(a.sport));
    if (bind(fd, reinterpret_cast<sockaddr *>(&me), sizeof me) != 0) { std::perror("bind"); std::exit(1); }
  }
  if (connect(fd, reinterpret_cast<const sockaddr *>(&a.dst), sizeof a.dst) != 0) {
    std::perror("connect");
    std::exit(1);
  }
  return fd;
}

// Waits for a reply equal to `want`; stale replies of earlier datagrams are skipped.
bool await_reply(int fd, const std::vector<uint8_t> &want, int timeout_ms, uint64_t *bad) {
  std::vector<uint8_t> got(65536);
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left)) <= 0) return false;
    ssize_t n = recv(fd, got.data(), got.size(), 0);
    if (n < 0) continue;
    if (static_cast<size_t>(n) == want.size() && std::memcmp(got.data(), want.data(), n) == 0) return true;
    ++*bad;  // an old reply, or a corrupted one
  }
}

double pct(std::vector<double> &v, double p) {
  if (v.empty()) return 0;
  size_t i = static_cast<size_t>(p / 100.0 * (v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

int run_latency(const Args &a, int fd) {
  std::vector<double> rtt;
  rtt.reserve(a.count);
  std::vector<uint8_t> buf;
  uint64_t lost = 0, bad = 0;
  for (long i = 0; i < a.count; ++i) {
    fill(buf, i, a.size);
    const auto t0 = Clock::now();
    send(fd, buf.data(), buf.size(), 0);
    if (await_reply(fd, buf, a.timeout_ms, &bad))
      rtt.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    else
      ++lost;
  }
  std::sort(rtt.begin(), rtt.end());
  double mean = 0;
  for (double r : rtt) mean += r;
  mean = rtt.empty() ? 0 : mean / rtt.size();
  std::printf("latency: %zu/%ld replies, size %ld, rtt us: mean %.1f p50 %.1f p90 %.1f p99 %.1f max %.1f\n",
              rtt.size(), a.count, a.size, mean, pct(rtt, 50), pct(rtt, 90), pct(rtt, 99),
              rtt.empty() ? 0 : rtt.back());
  std::printf("json: {\"mode\":\"latency\",\"sent\":%ld,\"received\":%zu,\"size\":%ld,\"mean_us\":%.2f,"
              "\"p50_us\":%.2f,\"p90_us\":%.2f,\"p99_us\":%.2f,\"max_us\":%.2f,\"mismatched\":%lu}\n",
              a.count, rtt.size(), a.size, mean, pct(rtt, 50), pct(rtt, 90), pct(rtt, 99),
              rtt.empty() ? 0 : rtt.back(), static_cast<unsigned long>(bad));
  return lost > a.max_loss * a.count ? 1 : 0;
}

int run_sizes(const Args &a, int fd) {
  std::vector<uint8_t> buf;
  long ok = 0, failed = 0;
  uint64_t bad = 0;
  for (long s = a.from; s <= a.to; ++s) {
    fill(buf, static_cast<uint64_t>(s), s);
    bool got = false;
    for (int attempt = 0; attempt < 3 && !got; ++attempt) {
      send(fd, buf.data(), buf.size(), 0);
      got = await_reply(fd, buf, a.timeout_ms, &bad);
    }
    if (got) ++ok;
    else {
      ++failed;
      std::fprintf(stderr, "sizes: no matching reply for %ld bytes\n", s);
    }
  }
  std::printf("sizes: %ld..%ld: %ld verified, %ld failed\n", a.from, a.to, ok, failed);
  std::printf("json: {\"mode\":\"sizes\",\"from\":%ld,\"to\":%ld,\"verified\":%ld,\"failed\":%ld}\n",
              a.from, a.to, ok, failed);
  return failed == 0 ? 0 : 1;
}

int run_flood(const Args &a, int fd) {
  std::vector<uint8_t> buf, got(65536);
  fill(buf, 0, a.size);
  uint64_t sent = 0, received = 0;
  long inflight = 0;
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration<double>(a.seconds);
  auto last_progress = start;
  while (Clock::now() < end) {
    while (inflight < a.window) {
      if (send(fd, buf.data(), buf.size(), MSG_DONTWAIT) < 0) break;
      ++sent;
      ++inflight;
    }
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, a.timeout_ms) <= 0) {
      inflight = 0;  // assume the window was lost; refill
      continue;
    }
    while (recv(fd, got.data(), got.size(), MSG_DONTWAIT) > 0) {
      ++received;
      if (inflight > 0) --inflight;
    }
    (void)last_progress;
  }
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("flood: size %ld window %ld: %lu sent, %lu received in %.2f s: %.0f replies/s\n", a.size,
              a.window, static_cast<unsigned long>(sent), static_cast<unsigned long>(received), secs,
              received / secs);
  std::printf("json: {\"mode\":\"flood\",\"size\":%ld,\"window\":%ld,\"sent\":%lu,\"received\":%lu,"
              "\"seconds\":%.3f,\"replies_per_sec\":%.1f}\n",
              a.size, a.window, static_cast<unsigned long>(sent), static_cast<unsigned long>(received),
              secs, received / secs);
  return received > 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char **argv) {
  const Args a = parse(argc, argv);
  const int fd = open_socket(a);
  int rc = 0;
  if (a.mode == "latency") rc = run_latency(a, fd);
  else if (a.mode == "sizes") rc = run_sizes(a, fd);
  else rc = run_flood(a, fd);
  close(fd);
  return rc;
}
