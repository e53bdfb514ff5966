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
#include <span>
#include <vector>

#include "api/io_context.hh"
#include "core/clock.hh"
#include "core/elastic_thread.hh"
#include "drivers/loop/loop_wire.hh"
#include "ix/syscall.h"

namespace {

using namespace ix;

constexpr uint32_t kMsgLen = 64;
constexpr uint16_t kPort = 7;
// A side's turn, or a Linux poll, that completes nothing this many times in
// a row means a lost message: stop with an error instead of spinning.
constexpr int kStallSteps = 2'000'000;

const net::MacAddr kClientMac{{0x02, 0, 0, 0, 0, 0xc1}};
const net::MacAddr kServerMac{{0x02, 0, 0, 0, 0, 0x5e}};
constexpr net::Ipv4Addr kClientIp = net::ipv4(10, 0, 0, 1);
constexpr net::Ipv4Addr kServerIp = net::ipv4(10, 0, 0, 2);

// The message every connection sends. It is never modified, so the client's
// zero-copy sends may all point at it at once.
const std::array<uint8_t, kMsgLen> kMessage = [] {
  std::array<uint8_t, kMsgLen> m{};
  for (uint32_t i = 0; i < kMsgLen; ++i) m[i] = static_cast<uint8_t>('a' + i % 26);
  return m;
}();

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

core::ElasticThreadConfig thread_config(unsigned id, net::MacAddr mac, net::Ipv4Addr addr) {
  core::ElasticThreadConfig c;
  c.id = id;
  c.pool.count = 4096;
  c.pool.try_huge_pages = false;
  c.stack.mac = mac;
  c.stack.addr = addr;
  c.stack.gratuitous_arp = false;
  // Both threads share this core: an idle poll must not give it away to
  // the scheduler (the other side has work to do on it).
  c.idle_polls_before_yield = 0;
  return c;
}

// One side's application: its pending commands, the events of its last
// run_io, and the iovecs its sends point at (alive until the next run_io).
struct IxApp {
  explicit IxApp(core::ElasticThread &t) : ctx(t, nullptr) {
    cmds.reserve(kMaxEvents * 2);
    iovs.reserve(kMaxEvents);
  }
  static constexpr size_t kMaxEvents = 512;
  ix_ctx ctx;
  std::vector<ix_cmd> cmds;
  std::vector<ix_iovec> iovs;
  std::array<ix_event, kMaxEvents> events{};

  ix_cmd &add(uint16_t op, uint64_t cookie) {
    ix_cmd &c = cmds.emplace_back();
    c = ix_cmd{};
    c.op = op;
    c.cookie = cookie;
    return c;
  }
  // Submit the pending commands and poll once; returns the events.
  std::span<const ix_event> run() {
    const int n = ix_run_io(&ctx, cmds.data(), cmds.size(), events.data(), events.size());
    return {events.data(), n > 0 ? static_cast<size_t>(n) : 0};
  }
};

// Two elastic threads on one loop wire, `conns` connections between them,
// and the echo applications on both ends. Member order is destruction order
// in reverse: contexts go before their threads, threads before the wire.
class IxTcpPair {
 public:
  // `resend`: the client sends the next message as soon as a reply is
  // complete (echo); otherwise the caller starts each round trip (ping-pong).
  IxTcpPair(size_t conns, bool resend)
      : wire_(clock_),
        client_port_(wire_.add_port({.name = "client", .mac = kClientMac, .queues = 1})),
        server_port_(wire_.add_port({.name = "server", .mac = kServerMac, .queues = 1})),
        client_thread_(thread_config(0, kClientMac, kClientIp), client_port_, clock_),
        server_thread_(thread_config(1, kServerMac, kServerIp), server_port_, clock_),
        client_(client_thread_),
        server_(server_thread_),
        conns_(conns),
        resend_(resend) {}

  // Listens, connects every client and waits for all to be accepted. The
  // first connection goes alone: while the server's address resolves, the
  // stack holds only a few packets for it (arp_hold_per_entry), and SYNs
  // beyond those would wait for a retransmission timeout.
  bool open() {
    server_.add(IX_CMD_TCP_LISTEN, 0).u.tcp_listen.port = kPort;
    return connect_range(0, 1) && connect_range(1, conns_.size());
  }

  // Puts one message in flight on every connection.
  void start() {
    for (size_t i = 0; i < conns_.size(); ++i) send_message(i);
  }

  // One turn of each side. Returns round trips completed.
  uint64_t step() {
    const uint64_t before = round_trips_;
    server_turn();
    client_turn();
    return round_trips_ - before;
  }

  uint64_t errors() const { return errors_; }
  const core::CoreStats &server_stats() { return server_thread_.stats(); }
  uint64_t segments() {
    return client_thread_.stack().tcp().stats().segments_tx +
           server_thread_.stack().tcp().stats().segments_tx;
  }
  uint64_t retransmits() {
    return client_thread_.stack().tcp().stats().retransmits +
           server_thread_.stack().tcp().stats().retransmits;
  }
  uint64_t drops() {
    return client_thread_.stack().counters().total_drops() +
           server_thread_.stack().counters().total_drops();
  }

 private:
  bool connect_range(size_t from, size_t to) {
    for (size_t i = from; i < to; ++i)
      client_.add(IX_CMD_TCP_CONNECT, i).u.tcp_connect.dst = ix_endpoint{kServerIp.v, kPort, 0};
    // Handshakes on the loop wire take microseconds; the deadline only
    // matters if one is lost.
    const uint64_t deadline = now_ns() + 5'000'000'000ull;
    while (established_ < to && errors_ == 0 && now_ns() < deadline) {
      server_turn();
      client_turn();
    }
    return established_ == to && errors_ == 0;
  }

  struct ClientConn {
    ix_tcp_handle handle = 0;
    uint32_t received = 0;  // bytes of the current message echoed so far
  };

  // A side's turn: run_io with its pending commands, react to the events,
  // and submit the reaction at once if there is one (as an application's
  // loop would), a few times at most so the other side gets the core.
  template <class React>
  void turn(IxApp &app, React react) {
    for (int round = 0; round < 4; ++round) {
      auto events = app.run();
      check_results(app);
      app.cmds.clear();
      app.iovs.clear();
      for (const ix_event &e : events) react(e);
      if (app.cmds.empty()) return;
    }
  }

  void check_results(IxApp &app) {
    for (const ix_cmd &c : app.cmds) {
      if (c.op == IX_CMD_TCP_SENDV) {
        uint64_t want = 0;
        for (uint32_t i = 0; i < c.u.tcp_sendv.iovcnt; ++i) want += c.u.tcp_sendv.iov[i].len;
        if (c.result < 0 || static_cast<uint64_t>(c.result) != want) ++errors_;
      } else if (c.op == IX_CMD_TCP_CONNECT) {
        if (c.result != IX_OK)
          ++errors_;
        else
          conns_[c.cookie].handle = c.u.tcp_conn.handle;
      } else if (c.result != IX_OK) {
        ++errors_;
      }
    }
  }

  void server_turn() {
    turn(server_, [this](const ix_event &e) {
      switch (e.type) {
        case IX_EV_TCP_KNOCK:
          server_.add(IX_CMD_TCP_ACCEPT, 0).u.tcp_conn.handle = e.u.tcp_knock.handle;
          ++established_;
          break;
        case IX_EV_TCP_RECV: {
          if (e.u.tcp.len == 0) {
            ++errors_;  // nobody closes during the benchmark
            break;
          }
          // Zero-copy echo: send from the packet buffer we were lent. The
          // iovec must outlive this run_io only; the bytes stay lent until
          // the client acknowledges them (IX_EV_TCP_SENT below).
          server_.iovs.push_back({e.u.tcp.data, e.u.tcp.len});
          ix_cmd &c = server_.add(IX_CMD_TCP_SENDV, 0);
          c.u.tcp_sendv = {e.u.tcp.handle, &server_.iovs.back(), 1};
          break;
        }
        case IX_EV_TCP_SENT: {
          // What we echo is exactly what we received, in order, so the
          // acknowledged bytes are the oldest received ones: give them back.
          ix_cmd &c = server_.add(IX_CMD_TCP_RECV_DONE, 0);
          c.u.tcp_recv_done = {e.u.tcp.handle, e.u.tcp.len};
          break;
        }
        case IX_EV_TCP_DEAD:
          ++errors_;
          break;
        default:
          break;
      }
    });
  }

  void client_turn() {
    turn(client_, [this](const ix_event &e) {
      switch (e.type) {
        case IX_EV_TCP_CONNECTED:
          if (e.result != IX_OK) ++errors_;
          break;
        case IX_EV_TCP_RECV: {
          ClientConn &cc = conns_[e.cookie];
          const uint32_t len = static_cast<uint32_t>(e.u.tcp.len);
          if (len == 0 || cc.received + len > kMsgLen ||
              std::memcmp(e.u.tcp.data, kMessage.data() + cc.received, len) != 0) {
            ++errors_;
            break;
          }
          // The client checks and is done with the bytes at once.
          ix_cmd &c = client_.add(IX_CMD_TCP_RECV_DONE, 0);
          c.u.tcp_recv_done = {cc.handle, len};
          cc.received += len;
          if (cc.received == kMsgLen) {
            cc.received = 0;
            ++round_trips_;
            if (resend_) send_message(e.cookie);
          }
          break;
        }
        case IX_EV_TCP_DEAD:
          ++errors_;
          break;
        default:
          break;  // IX_EV_TCP_SENT: kMessage is never reused, nothing to free
      }
    });
  }

  void send_message(size_t i) {
    client_.iovs.push_back({kMessage.data(), kMsgLen});
    ix_cmd &c = client_.add(IX_CMD_TCP_SENDV, i);
    c.u.tcp_sendv = {conns_[i].handle, &client_.iovs.back(), 1};
  }

  core::MonotonicClock clock_;
  drivers::LoopWire wire_;
  drivers::LoopPort &client_port_;
  drivers::LoopPort &server_port_;
  core::ElasticThread client_thread_;
  core::ElasticThread server_thread_;
  IxApp client_;
  IxApp server_;
  std::vector<ClientConn> conns_;
  bool resend_;
  size_t established_ = 0;
  uint64_t round_trips_ = 0;
  uint64_t errors_ = 0;
};

void report_ix(benchmark::State &state, IxTcpPair &pair, uint64_t echoed, uint64_t segs0) {
  state.SetItemsProcessed(static_cast<int64_t>(echoed));
  state.counters["errors"] = static_cast<double>(pair.errors());
  state.counters["drops"] = static_cast<double>(pair.drops());
  state.counters["retransmits"] = static_cast<double>(pair.retransmits());
  // Both directions' segments per echoed message: 2 means every ACK rode
  // on data; more means pure ACKs or window updates were sent.
  state.counters["segments_per_msg"] =
      echoed == 0 ? 0.0 : static_cast<double>(pair.segments() - segs0) / echoed;
}

void IxTcpEcho(benchmark::State &state) {
  const size_t conns = static_cast<size_t>(state.range(0));
  auto pair = std::make_unique<IxTcpPair>(conns, true);
  if (!pair->open()) {
    state.SkipWithError("IX: connections did not open");
    return;
  }
  pair->start();
  const uint64_t segs0 = pair->segments();
  uint64_t echoed = 0;
  for (auto _ : state) {
    // An iteration is `conns` round trips (one per connection on average).
    uint64_t done = 0;
    for (int idle = 0; done < conns; ++idle) {
      const uint64_t n = pair->step();
      done += n;
      if (n != 0) idle = 0;
      if (idle > kStallSteps || pair->errors() != 0) {
        state.SkipWithError("IX echo stalled or a reply was wrong");
        return;
      }
    }
    echoed += done;
  }
  report_ix(state, *pair, echoed, segs0);
}

void IxTcpPingPong(benchmark::State &state) {
  auto pair = std::make_unique<IxTcpPair>(1, false);
  auto hist = std::make_unique<RttHistogram>();
  if (!pair->open()) {
    state.SkipWithError("IX: connection did not open");
    return;
  }
  const uint64_t segs0 = pair->segments();
  uint64_t echoed = 0;
  for (auto _ : state) {
    const uint64_t t0 = now_ns();
    pair->start();
    for (int idle = 0; pair->step() == 0; ++idle) {
      if (idle > kStallSteps || pair->errors() != 0) {
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
      if (idle > kStallSteps || errors != 0) {
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
    } else if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) || spins > kStallSteps) {
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
BENCHMARK(IxTcpPingPong);
BENCHMARK(LinuxTcpEcho)->ArgName("conns")->Arg(1)->Arg(16)->Arg(256);
BENCHMARK(LinuxTcpPingPong);

}  // namespace

BENCHMARK_MAIN();
