// udp-ping: a Linux-socket UDP client that measures an echo server and checks
// every reply byte for byte. Used against the IX dataplane and against the
// Linux stack with the same options, so both are measured by one client.
//
//   udp-ping --dst 10.77.0.2:7 latency --count 1000 --size 64 [--spin]
//   udp-ping --dst 10.77.0.2:7 sizes --from 1 --to 1472
//   udp-ping --dst 10.77.0.2:7 flood --seconds 5 --window 32 --size 64 [--flows N] [--warmup S]
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

#include "ipv4_endpoint.hh"

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  std::string mode = "latency";
  sockaddr_in dst{};
  long count = 1000;
  long size = 64;
  long from = 1, to = 1472;
  double seconds = 5;
  double warmup = 0;
  long window = 32;
  long flows = 1;
  int timeout_ms = 200;
  double max_loss = 0;  // fraction of datagrams allowed to go unanswered
  bool max_loss_given = false;
  bool spin = false;
  int sport = 0;
};

[[noreturn]] void usage(const char *msg) {
  std::fprintf(stderr,
               "udp-ping: %s\nusage: udp-ping --dst IP:PORT [--sport N] [--timeout-ms N] "
               "[--max-loss F] MODE [options]\n"
               "  latency --count N --size S [--spin]\n"
               "        one datagram in flight; RTT percentiles (--spin: busy-wait for the reply\n"
               "        instead of sleeping in poll, so the client's wake-up is not measured)\n"
               "  sizes --from A --to B\n"
               "        one datagram of every size A..B, verified\n"
               "  flood --seconds T --window W --size S [--flows N] [--warmup S]\n"
               "        W datagrams in flight in total, spread over N sockets (N source ports,\n"
               "        --sport N.. when given); every reply verified by sequence number and\n"
               "        content; a datagram unanswered for --timeout-ms counts as lost and frees\n"
               "        its window slot. The rate counts verified replies after the warm-up.\n"
               "        Needs --size >= 8 (the sequence number).\n",
               msg);
  std::exit(2);
}

long to_long(const char *s, const char *what) {
  char *end = nullptr;
  long v = std::strtol(s, &end, 10);
  if (end == s || *end != '\0') usage((std::string(what) + ": not an integer: " + s).c_str());
  return v;
}

double to_double(const char *s, const char *what) {
  char *end = nullptr;
  double v = std::strtod(s, &end);
  if (end == s || *end != '\0' || !(v >= 0))
    usage((std::string(what) + ": not a non-negative number: " + s).c_str());
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
      if (const char *err = parse_ipv4_endpoint(val("--dst"), &a.dst))
        usage((std::string("--dst: ") + err).c_str());
      have_dst = true;
    } else if (k == "--count") {
      a.count = to_long(val("--count"), "--count");
    } else if (k == "--size") {
      a.size = to_long(val("--size"), "--size");
    } else if (k == "--from") {
      a.from = to_long(val("--from"), "--from");
    } else if (k == "--to") {
      a.to = to_long(val("--to"), "--to");
    } else if (k == "--window") {
      a.window = to_long(val("--window"), "--window");
    } else if (k == "--flows") {
      a.flows = to_long(val("--flows"), "--flows");
    } else if (k == "--timeout-ms") {
      a.timeout_ms = static_cast<int>(to_long(val("--timeout-ms"), "--timeout-ms"));
    } else if (k == "--sport") {
      a.sport = static_cast<int>(to_long(val("--sport"), "--sport"));
    } else if (k == "--seconds") {
      a.seconds = to_double(val("--seconds"), "--seconds");
    } else if (k == "--warmup") {
      a.warmup = to_double(val("--warmup"), "--warmup");
    } else if (k == "--max-loss") {
      a.max_loss = to_double(val("--max-loss"), "--max-loss");
      a.max_loss_given = true;
    } else if (k == "--spin") {
      a.spin = true;
    } else if (k == "latency" || k == "sizes" || k == "flood") {
      a.mode = k;
    } else {
      usage(("unknown argument " + k).c_str());
    }
  }
  if (!have_dst) usage("--dst is required");
  if (a.size < 0 || a.size > 65507 || a.from < 0 || a.to > 65507 || a.from > a.to)
    usage("sizes must be within 0..65507");
  if (a.window < 1 || a.count < 1) usage("--window and --count must be positive");
  if (a.window > 65536) usage("--window must be at most 65536");
  if (a.flows < 1 || a.flows > 64) usage("--flows must be 1..64");
  if (a.flows > a.window) usage("--flows must not exceed --window (each flow needs a slot)");
  if (a.timeout_ms < 1) usage("--timeout-ms must be positive");
  if (a.sport < 0 || a.sport + a.flows - 1 > 65535)
    usage("--sport (+ flows) must be within 0..65535");
  if (a.mode == "flood" && a.size < 8) usage("flood needs --size >= 8 (the sequence number)");
  return a;
}

// Payload: a 8-byte sequence number, then bytes derived from it.
void fill(std::vector<uint8_t> &buf, uint64_t seq, size_t len) {
  buf.resize(len);
  for (size_t i = 0; i < len; ++i) buf[i] = static_cast<uint8_t>((seq * 131 + i * 7 + 1) & 0xff);
  if (len >= 8) std::memcpy(buf.data(), &seq, 8);
}

int open_socket(const Args &a, int sport) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) {
    std::perror("socket");
    std::exit(1);
  }
  int big = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  if (sport != 0) {
    sockaddr_in me{};
    me.sin_family = AF_INET;
    me.sin_port = htons(static_cast<uint16_t>(sport));
    if (bind(fd, reinterpret_cast<sockaddr *>(&me), sizeof me) != 0) {
      std::perror("bind");
      std::exit(1);
    }
  }
  if (connect(fd, reinterpret_cast<const sockaddr *>(&a.dst), sizeof a.dst) != 0) {
    std::perror("connect");
    std::exit(1);
  }
  return fd;
}

// Waits until `fd` is readable: in poll, or by spinning on a non-blocking
// receive (which then already holds the datagram, returned through *n).
bool wait_readable(int fd, Clock::time_point deadline, bool spin, std::vector<uint8_t> &got,
                   ssize_t *n) {
  *n = -1;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (spin) {
      *n = recv(fd, got.data(), got.size(), MSG_DONTWAIT);
      if (*n >= 0) return true;
      if (Clock::now() >= deadline) return false;
      continue;
    }
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left)) > 0) return true;
  }
}

// Waits for a reply equal to `want`; stale replies of earlier datagrams are skipped.
bool await_reply(int fd, const std::vector<uint8_t> &want, int timeout_ms, bool spin,
                 uint64_t *bad) {
  static std::vector<uint8_t> got(65536);
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    ssize_t n;
    if (!wait_readable(fd, deadline, spin, got, &n)) return false;
    if (n < 0) n = recv(fd, got.data(), got.size(), MSG_DONTWAIT);
    if (n < 0) continue;
    if (static_cast<size_t>(n) == want.size() && std::memcmp(got.data(), want.data(), n) == 0)
      return true;
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
    if (await_reply(fd, buf, a.timeout_ms, a.spin, &bad))
      rtt.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    else
      ++lost;
  }
  std::sort(rtt.begin(), rtt.end());
  double mean = 0;
  for (double r : rtt) mean += r;
  mean = rtt.empty() ? 0 : mean / rtt.size();
  std::printf(
      "latency: %zu/%ld replies, size %ld, rtt us: mean %.1f p50 %.1f p90 %.1f p99 %.1f max %.1f\n",
      rtt.size(), a.count, a.size, mean, pct(rtt, 50), pct(rtt, 90), pct(rtt, 99),
      rtt.empty() ? 0 : rtt.back());
  std::printf(
      "json: {\"mode\":\"latency\",\"sent\":%ld,\"received\":%zu,\"size\":%ld,\"spin\":%s,"
      "\"mean_us\":%.2f,\"p50_us\":%.2f,\"p90_us\":%.2f,\"p99_us\":%.2f,\"max_us\":%.2f,"
      "\"mismatched\":%lu}\n",
      a.count, rtt.size(), a.size, a.spin ? "true" : "false", mean, pct(rtt, 50), pct(rtt, 90),
      pct(rtt, 99), rtt.empty() ? 0 : rtt.back(), static_cast<unsigned long>(bad));
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
      got = await_reply(fd, buf, a.timeout_ms, false, &bad);
    }
    if (got) {
      ++ok;
    } else {
      ++failed;
      std::fprintf(stderr, "sizes: no matching reply for %ld bytes\n", s);
    }
  }
  std::printf("sizes: %ld..%ld: %ld verified, %ld failed\n", a.from, a.to, ok, failed);
  std::printf(
      "json: {\"mode\":\"sizes\",\"from\":%ld,\"to\":%ld,\"verified\":%ld,\"failed\":%ld}\n",
      a.from, a.to, ok, failed);
  return failed == 0 ? 0 : 1;
}

// ---- flood ----------------------------------------------------------------

// Counts of a flood run, by what became of each datagram and reply.
struct FloodCounts {
  uint64_t sent = 0;
  uint64_t verified = 0;    // replies whose sequence number was in flight and content intact
  uint64_t lost = 0;        // no reply within --timeout-ms
  uint64_t late = 0;        // a reply after its datagram had been counted lost
  uint64_t corrupt = 0;     // wrong length or content
  uint64_t unexpected = 0;  // a sequence number never in flight (or a duplicate)
  uint64_t rx_calls = 0;    // recvmmsg calls that returned replies: how bursty the replies came
};

// One flow: a connected socket (its own source port) with its share of the
// window. Datagrams in flight sit in a ring indexed by sequence number, so a
// reply is matched in O(1) and a stale one is told apart from a fresh one.
class Flow {
 public:
  enum class SlotState : uint8_t { kFree, kInFlight, kExpired };
  struct Slot {
    uint64_t seq = 0;
    Clock::time_point sent_at;
    SlotState state = SlotState::kFree;
  };
  static constexpr int kBatch = 64;

  Flow(int fd, uint32_t id, long window, size_t size) : fd_(fd), window_(window), size_(size) {
    size_t cap = 1;
    while (cap < static_cast<size_t>(window) * 4) cap <<= 1;
    slots_.resize(cap);
    // Bytes after the sequence number depend on the flow only, so that a reply
    // is checked with one memcmp and a reply on the wrong flow is caught.
    fill(pattern_, (uint64_t{id} + 1) << 32, size);
    tx_bufs_.assign(kBatch, pattern_);
    rx_bufs_.assign(kBatch, std::vector<uint8_t>(size + 64));
  }

  int fd() const { return fd_; }
  long inflight() const { return inflight_; }

  // Sends until the flow's window is full or the socket pushes back.
  void refill(FloodCounts &c) {
    while (inflight_ < window_) {
      const int want = static_cast<int>(std::min<long>(window_ - inflight_, kBatch));
      mmsghdr msgs[kBatch];
      iovec iov[kBatch];
      for (int i = 0; i < want; ++i) {
        const uint64_t seq = next_seq_ + i;
        std::memcpy(tx_bufs_[i].data(), &seq, 8);
        iov[i] = {tx_bufs_[i].data(), size_};
        msgs[i] = {};
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
      }
      const int n = sendmmsg(fd_, msgs, want, MSG_DONTWAIT);
      if (n <= 0) return;
      const auto now = Clock::now();
      for (int i = 0; i < n; ++i) {
        Slot &s = slot(next_seq_);
        // The ring is four windows deep, so a datagram still in flight here
        // was overtaken by four windows of others: count it lost now rather
        // than let it hold a window slot until it times out.
        if (s.state == SlotState::kInFlight) lose(s, c);
        s = {next_seq_, now, SlotState::kInFlight};
        ++next_seq_;
      }
      inflight_ += n;
      c.sent += n;
      if (n < want) return;
    }
  }

  // Takes every reply waiting on the socket; returns how many it took.
  int drain(FloodCounts &c) {
    int total = 0;
    for (;;) {
      mmsghdr msgs[kBatch];
      iovec iov[kBatch];
      for (int i = 0; i < kBatch; ++i) {
        iov[i] = {rx_bufs_[i].data(), rx_bufs_[i].size()};
        msgs[i] = {};
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
      }
      const int n = recvmmsg(fd_, msgs, kBatch, MSG_DONTWAIT, nullptr);
      if (n <= 0) return total;
      ++c.rx_calls;
      for (int i = 0; i < n; ++i)
        check(rx_bufs_[i].data(), msgs[i].msg_len, msgs[i].msg_hdr.msg_flags, c);
      total += n;
      if (n < kBatch) return total;
    }
  }

  // Counts as lost every datagram in flight for longer than `timeout`.
  void expire(Clock::time_point now, Clock::duration timeout, FloodCounts &c) {
    for (Slot &s : slots_)
      if (s.state == SlotState::kInFlight && now - s.sent_at > timeout) lose(s, c);
  }

  // Counts as lost everything still in flight (at the end of a run).
  void expire_all(FloodCounts &c) {
    for (Slot &s : slots_)
      if (s.state == SlotState::kInFlight) lose(s, c);
  }

 private:
  Slot &slot(uint64_t seq) { return slots_[seq & (slots_.size() - 1)]; }

  void lose(Slot &s, FloodCounts &c) {
    s.state = SlotState::kExpired;
    --inflight_;
    ++c.lost;
  }

  void check(const uint8_t *p, unsigned len, int flags, FloodCounts &c) {
    if (len != size_ || (flags & MSG_TRUNC) != 0 ||
        std::memcmp(p + 8, pattern_.data() + 8, size_ - 8) != 0) {
      ++c.corrupt;
      return;
    }
    uint64_t seq;
    std::memcpy(&seq, p, 8);
    Slot &s = slot(seq);
    if (seq >= next_seq_ || s.seq != seq || s.state == SlotState::kFree) {
      ++c.unexpected;
      return;
    }
    if (s.state == SlotState::kExpired) {
      ++c.late;
    } else {
      ++c.verified;
      --inflight_;
    }
    s.state = SlotState::kFree;
  }

  int fd_;
  long window_;
  size_t size_;
  uint64_t next_seq_ = 0;
  long inflight_ = 0;
  std::vector<Slot> slots_;
  std::vector<uint8_t> pattern_;
  std::vector<std::vector<uint8_t>> tx_bufs_, rx_bufs_;
};

int run_flood(const Args &a) {
  std::vector<Flow> flows;
  std::vector<pollfd> fds;
  for (long i = 0; i < a.flows; ++i) {
    // The window is split evenly; the first flows take the remainder.
    const long share = a.window / a.flows + (i < a.window % a.flows ? 1 : 0);
    const int fd = open_socket(a, a.sport == 0 ? 0 : static_cast<int>(a.sport + i));
    flows.emplace_back(fd, static_cast<uint32_t>(i), share, static_cast<size_t>(a.size));
    fds.push_back({fd, POLLIN, 0});
  }
  const auto timeout = std::chrono::milliseconds(a.timeout_ms);
  const auto expire_every = std::max<Clock::duration>(timeout / 4, std::chrono::milliseconds(1));
  FloodCounts c;
  const auto start = Clock::now();
  const auto measure_from =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(a.warmup));
  const auto end = measure_from + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(a.seconds));
  bool measuring = a.warmup <= 0;
  FloodCounts at_start;  // counts when the measured interval began
  auto last_expire = start;
  for (auto now = start; now < end; now = Clock::now()) {
    if (!measuring && now >= measure_from) {
      measuring = true;
      at_start = c;
    }
    for (Flow &f : flows) f.refill(c);
    int got = 0;
    for (Flow &f : flows) got += f.drain(c);
    if (got == 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - now).count();
      const int wait_ms = static_cast<int>(std::clamp<long>(left, 0, a.timeout_ms / 4 + 1));
      poll(fds.data(), fds.size(), wait_ms);
    }
    now = Clock::now();
    if (now - last_expire >= expire_every) {
      for (Flow &f : flows) f.expire(now, timeout, c);
      last_expire = now;
    }
  }
  const auto stop = Clock::now();
  const FloodCounts in_window = c;
  // Collect the replies still on their way, then count the rest as lost.
  const auto drain_until = stop + timeout;
  for (auto now = stop; now < drain_until; now = Clock::now()) {
    long inflight = 0;
    for (Flow &f : flows) inflight += f.inflight();
    if (inflight == 0) break;
    for (Flow &f : flows) f.drain(c);
    poll(fds.data(), fds.size(), 1);
  }
  for (Flow &f : flows) f.expire_all(c);
  for (Flow &f : flows) close(f.fd());

  const double secs =
      std::chrono::duration<double>(stop - (a.warmup > 0 ? measure_from : start)).count();
  const uint64_t measured = in_window.verified - at_start.verified;
  const uint64_t sent_measured = in_window.sent - at_start.sent;
  const double rate = secs > 0 ? measured / secs : 0;
  const double loss = c.sent > 0 ? static_cast<double>(c.lost) / c.sent : 0;
  std::printf(
      "flood: size %ld window %ld flows %ld: %.0f verified replies/s over %.2f s "
      "(%lu sent, %lu verified, %lu lost, %lu late, %lu corrupt, %lu unexpected)\n",
      a.size, a.window, a.flows, rate, secs, static_cast<unsigned long>(c.sent),
      static_cast<unsigned long>(c.verified), static_cast<unsigned long>(c.lost),
      static_cast<unsigned long>(c.late), static_cast<unsigned long>(c.corrupt),
      static_cast<unsigned long>(c.unexpected));
  std::printf(
      "json: {\"mode\":\"flood\",\"size\":%ld,\"window\":%ld,\"flows\":%ld,\"seconds\":%.3f,"
      "\"warmup\":%.3f,\"replies_per_sec\":%.1f,\"sent_per_sec\":%.1f,\"sent\":%lu,"
      "\"received\":%lu,\"lost\":%lu,\"late\":%lu,\"corrupt\":%lu,\"unexpected\":%lu,"
      "\"loss\":%.6f,\"replies_per_recv_call\":%.2f}\n",
      a.size, a.window, a.flows, secs, a.warmup, rate, secs > 0 ? sent_measured / secs : 0,
      static_cast<unsigned long>(c.sent), static_cast<unsigned long>(c.verified),
      static_cast<unsigned long>(c.lost), static_cast<unsigned long>(c.late),
      static_cast<unsigned long>(c.corrupt), static_cast<unsigned long>(c.unexpected), loss,
      c.rx_calls > 0 ? static_cast<double>(c.verified + c.late + c.corrupt + c.unexpected) /
                           static_cast<double>(c.rx_calls)
                     : 0.0);
  if (c.verified == 0 || c.corrupt != 0) return 1;
  return a.max_loss_given && loss > a.max_loss ? 1 : 0;
}

}  // namespace

int main(int argc, char **argv) {
  const Args a = parse(argc, argv);
  if (a.mode == "flood") return run_flood(a);
  const int fd = open_socket(a, a.sport);
  const int rc = a.mode == "latency" ? run_latency(a, fd) : run_sizes(a, fd);
  close(fd);
  return rc;
}
