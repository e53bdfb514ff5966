// TCP echo on one core: the IX dataplane over the loop wire against the Linux
// kernel over 127.0.0.1, in one invocation, with 64-byte messages.
//
//   IxTcpEcho/conns:N     a client elastic thread and a server elastic thread
//                         (each its own pool, stack and ix_ctx) on one loop
//                         wire. Both are driven from the benchmark thread in
//                         turn, so client and server share ONE core, as the
//                         Linux client and server below do. The client keeps
//                         one 64-byte message in flight per connection; the
//                         server echoes zero copy: IX_CMD_TCP_SENDV straight
//                         from the received packet buffer, and
//                         IX_CMD_TCP_RECV_DONE for those bytes only once
//                         IX_EV_TCP_SENT says the client acknowledged them.
//   IxTcpEchoTrusted/conns:N  the same over a trusted link (no checksums at
//                         either end, as two IX processes on a trusted memif
//                         link; README, "Trusted links").
//   IxTcpPingPong         one connection, one message at a time; besides the
//                         rate it records every round trip's wall time.
//   LinuxTcpEcho/conns:N  the same pattern over loopback sockets with
//                         TCP_NODELAY: the server and the client each wait
//                         with a non-blocking epoll_wait and read()/write()
//                         (the echo copies, as a socket must).
//   LinuxTcpPingPong      one connection: client write, server read and
//                         write, client read, no epoll.
// items_per_second is completed round trips (messages echoed, every byte
// checked) per CPU second of the benchmark thread; bench/run_tcp_echo_loop.sh
// prints the IX/Linux ratios. Neither side touches a NIC: the loop wire
// copies each frame once per direction, and loopback skips the NIC driver.
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <vector>

#include "loop_pair.hh"

namespace {

using namespace ix;
using bench::kStallTurns;

// The Linux side sends the same message as the IX client.
constexpr uint32_t kMsgLen = bench::kEchoMsgLen;
const std::array<uint8_t, kMsgLen> &kMessage = bench::kEchoMessage;

// Round-trip times in 16 ns buckets up to ~1 ms (the last bucket holds the
// rest): fixed memory, so recording costs no allocation in the timed loop.
class RttHistogram {
 public:
  static constexpr uint64_t kBucketNs = 16;
  static constexpr size_t kBuckets = 65536;
  RttHistogram() : counts_(kBuckets, 0) {}
  void add(uint64_t ns) {
    ++counts_[std::min<uint64_t>(ns / kBucketNs, kBuckets - 1)];
    ++n_;
    sum_ += ns;
  }
  double mean() const { return n_ == 0 ? 0.0 : static_cast<double>(sum_) / n_; }
  // The upper edge of the bucket holding quantile q.
  double quantile(double q) const {
    const uint64_t want = static_cast<uint64_t>(q * static_cast<double>(n_));
    uint64_t seen = 0;
    for (size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen > want) return static_cast<double>((i + 1) * kBucketNs);
    }
    return static_cast<double>(kBuckets * kBucketNs);
  }

 private:
  std::vector<uint32_t> counts_;
  uint64_t n_ = 0;
  uint64_t sum_ = 0;
};

uint64_t now_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

// ---------------------------------------------------------------- IX ----

void report_ix(benchmark::State &state, bench::LoopEchoPair &pair, uint64_t echoed,
               uint64_t segs0) {
  state.SetItemsProcessed(static_cast<int64_t>(echoed));
  state.counters["errors"] = static_cast<double>(pair.errors());
  state.counters["drops"] = static_cast<double>(pair.drops());
  state.counters["retransmits"] = static_cast<double>(pair.retransmits());
  // Both directions' segments per echoed message: 2 means every ACK rode
  // on data; more means pure ACKs or window updates were sent.
  state.counters["segments_per_msg"] =
      echoed == 0 ? 0.0 : static_cast<double>(pair.segments() - segs0) / echoed;
}

void ix_tcp_echo(benchmark::State &state, bool trusted_link) {
  const size_t conns = static_cast<size_t>(state.range(0));
  auto pair = std::make_unique<bench::LoopEchoPair>(
      bench::LoopEchoConfig{.conns = conns, .trusted_link = trusted_link},
      bench::NextMessage::kSameConnection);
  if (!pair->open()) {
    state.SkipWithError("IX: connections did not open");
    return;
  }
  pair->start(conns);
  const uint64_t segs0 = pair->segments();
  uint64_t echoed = 0;
  for (auto _ : state) {
    // An iteration is `conns` round trips (one per connection on average).
    uint64_t done = 0;
    const uint64_t trips0 = pair->round_trips();
    for (int idle = 0; done < conns; ++idle) {
      if (pair->step() != 0) idle = 0;
      done = pair->round_trips() - trips0;
      if (idle > kStallTurns || pair->errors() != 0) {
        state.SkipWithError("IX echo stalled or a reply was wrong");
        return;
      }
    }
    echoed += done;
  }
  report_ix(state, *pair, echoed, segs0);
}

void IxTcpEcho(benchmark::State &state) { ix_tcp_echo(state, false); }
void IxTcpEchoTrusted(benchmark::State &state) { ix_tcp_echo(state, true); }

void IxTcpPingPong(benchmark::State &state) {
  auto pair = std::make_unique<bench::LoopEchoPair>(bench::LoopEchoConfig{.conns = 1},
                                                    bench::NextMessage::kNone);
  auto hist = std::make_unique<RttHistogram>();
  if (!pair->open()) {
    state.SkipWithError("IX: connection did not open");
    return;
  }
  const uint64_t segs0 = pair->segments();
  uint64_t echoed = 0;
  for (auto _ : state) {
    const uint64_t t0 = now_ns();
    const uint64_t trips0 = pair->round_trips();
    pair->start(1);
    for (int idle = 0; pair->round_trips() == trips0; ++idle) {
      if (pair->step() != 0) idle = 0;
      if (idle > kStallTurns || pair->errors() != 0) {
        state.SkipWithError("IX ping-pong stalled or a reply was wrong");
        return;
      }
    }
    hist->add(now_ns() - t0);
    ++echoed;
  }
  report_ix(state, *pair, echoed, segs0);
  state.counters["rtt_mean_ns"] = hist->mean();
  state.counters["rtt_p50_ns"] = hist->quantile(0.5);
  state.counters["rtt_p99_ns"] = hist->quantile(0.99);
}

// ------------------------------------------------------------- Linux ----

struct FdCloser {
  std::vector<int> fds;
  ~FdCloser() {
    for (int fd : fds) close(fd);
  }
  int keep(int fd) {
    if (fd >= 0) fds.push_back(fd);
    return fd;
  }
};

bool tune(int fd) {
  const int one = 1;
  const int flags = fcntl(fd, F_GETFL);
  return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0 && flags >= 0 &&
         fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

// `conns` connected pairs over 127.0.0.1; both ends non-blocking, TCP_NODELAY.
bool open_loopback(size_t conns, FdCloser &fds, std::vector<int> &clients,
                   std::vector<int> &servers) {
  const int lst = fds.keep(socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (lst < 0 || bind(lst, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 ||
      getsockname(lst, reinterpret_cast<sockaddr *>(&addr), &len) != 0 ||
      listen(lst, static_cast<int>(conns)) != 0)
    return false;
  for (size_t i = 0; i < conns; ++i) {
    // Connect and accept in turn, so the backlog never has to hold them all.
    const int c = fds.keep(socket(AF_INET, SOCK_STREAM, 0));
    if (c < 0 || connect(c, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) return false;
    const int s = fds.keep(accept(lst, nullptr, nullptr));
    if (s < 0 || !tune(c) || !tune(s)) return false;
    clients.push_back(c);
    servers.push_back(s);
  }
  return true;
}

bool write_all(int fd, const uint8_t *p, size_t n) {
  return write(fd, p, n) == static_cast<ssize_t>(n);
}

void LinuxTcpEcho(benchmark::State &state) {
  const size_t conns = static_cast<size_t>(state.range(0));
  FdCloser fds;
  std::vector<int> clients, servers;
  const int sep = fds.keep(epoll_create1(0));
  const int cep = fds.keep(epoll_create1(0));
  if (sep < 0 || cep < 0 || !open_loopback(conns, fds, clients, servers)) {
    state.SkipWithError("cannot set up loopback TCP connections");
    return;
  }
  for (size_t i = 0; i < conns; ++i) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<uint32_t>(i);
    epoll_ctl(sep, EPOLL_CTL_ADD, servers[i], &ev);
    epoll_ctl(cep, EPOLL_CTL_ADD, clients[i], &ev);
  }
  std::vector<uint32_t> received(conns, 0);
  std::vector<epoll_event> evs(std::max<size_t>(conns, 1));
  std::array<uint8_t, 4096> buf;
  uint64_t errors = 0, echoed = 0;
  for (size_t i = 0; i < conns; ++i)
    if (!write_all(clients[i], kMessage.data(), kMsgLen)) ++errors;

  for (auto _ : state) {
    uint64_t done = 0;
    for (int idle = 0; done < conns; ++idle) {
      if (idle > kStallTurns || errors != 0) {
        state.SkipWithError("Linux echo stalled or a reply was wrong");
        return;
      }
      // Server: echo whatever is readable (a copy through our buffer).
      int n = epoll_wait(sep, evs.data(), static_cast<int>(evs.size()), 0);
      for (int k = 0; k < n; ++k) {
        const int fd = servers[evs[k].data.u32];
        const ssize_t got = read(fd, buf.data(), buf.size());
        if (got > 0 && !write_all(fd, buf.data(), static_cast<size_t>(got))) ++errors;
        if (got == 0) ++errors;
      }
      // Client: check replies; a whole message sends the next.
      n = epoll_wait(cep, evs.data(), static_cast<int>(evs.size()), 0);
      for (int k = 0; k < n; ++k) {
        const uint32_t i = evs[k].data.u32;
        const ssize_t got = read(clients[i], buf.data(), kMsgLen - received[i]);
        if (got <= 0) {
          if (got == 0) ++errors;
          continue;
        }
        if (std::memcmp(buf.data(), kMessage.data() + received[i], static_cast<size_t>(got)) != 0)
          ++errors;
        received[i] += static_cast<uint32_t>(got);
        if (received[i] == kMsgLen) {
          received[i] = 0;
          ++done;
          idle = 0;
          if (!write_all(clients[i], kMessage.data(), kMsgLen)) ++errors;
        }
      }
    }
    echoed += done;
  }
  state.SetItemsProcessed(static_cast<int64_t>(echoed));
  state.counters["errors"] = static_cast<double>(errors);
}

// Reads exactly n bytes from a non-blocking socket, retrying while the
// kernel has not delivered them yet. False on EOF or error.
bool read_exact(int fd, uint8_t *p, size_t n) {
  size_t have = 0;
  for (int spins = 0; have < n; ++spins) {
    const ssize_t got = read(fd, p + have, n - have);
    if (got > 0) {
      have += static_cast<size_t>(got);
    } else if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) || spins > kStallTurns) {
      return false;
    }
  }
  return true;
}

void LinuxTcpPingPong(benchmark::State &state) {
  FdCloser fds;
  std::vector<int> clients, servers;
  if (!open_loopback(1, fds, clients, servers)) {
    state.SkipWithError("cannot set up a loopback TCP connection");
    return;
  }
  auto hist = std::make_unique<RttHistogram>();
  std::array<uint8_t, kMsgLen> sbuf, cbuf;
  uint64_t echoed = 0;
  for (auto _ : state) {
    const uint64_t t0 = now_ns();
    if (!write_all(clients[0], kMessage.data(), kMsgLen) ||
        !read_exact(servers[0], sbuf.data(), kMsgLen) ||
        !write_all(servers[0], sbuf.data(), kMsgLen) ||
        !read_exact(clients[0], cbuf.data(), kMsgLen) || cbuf != kMessage) {
      state.SkipWithError("Linux ping-pong failed or a reply was wrong");
      return;
    }
    hist->add(now_ns() - t0);
    ++echoed;
  }
  state.SetItemsProcessed(static_cast<int64_t>(echoed));
  state.counters["errors"] = 0;
  state.counters["rtt_mean_ns"] = hist->mean();
  state.counters["rtt_p50_ns"] = hist->quantile(0.5);
  state.counters["rtt_p99_ns"] = hist->quantile(0.99);
}

BENCHMARK(IxTcpEcho)->ArgName("conns")->Arg(1)->Arg(16)->Arg(256);
BENCHMARK(IxTcpEchoTrusted)->ArgName("conns")->Arg(16);
BENCHMARK(IxTcpPingPong);
BENCHMARK(LinuxTcpEcho)->ArgName("conns")->Arg(1)->Arg(16)->Arg(256);
BENCHMARK(LinuxTcpPingPong);

}  // namespace

BENCHMARK_MAIN();
