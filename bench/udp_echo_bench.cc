// UDP echo on one core: the IX dataplane over the loop wire against the
// Linux kernel over loopback, in one invocation.
//
//   IxUdpEcho:    a raw client port injects a burst of UDP datagrams into the
//                 loop wire; one elastic thread (pool, stack, ix_ctx) echoes
//                 them zero copy through ix_run_io; the client drains the
//                 replies. Everything runs on the calling core.
//   LinuxUdpEcho: a client socket sends the same burst with sendmmsg to a
//                 server socket on 127.0.0.1, which echoes with
//                 recvmmsg/sendmmsg; the client reads the replies. Also one
//                 core, kernel on both sides.
// items_per_second is echoed datagrams per second (each reply's length
// checked); bench/run_udp_echo_loop.sh prints the IX/Linux ratio. Neither
// figure is a NIC's: the loop wire copies each frame once per direction,
// loopback skips the NIC driver. The clients differ too: IX's is a raw port
// (allocate, copy, enqueue), Linux's is a socket through the kernel's UDP/IP
// stack, so the Linux figure carries two stack traversals per datagram
// where IX's carries one. That is the cost of a kernel peer on loopback, and
// it is stated next to the figures.
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>
#include <vector>

#include "api/io_context.hh"
#include "core/elastic_thread.hh"
#include "drivers/loop/loop_wire.hh"
#include "ix/ix.hh"
#include "net/checksum.hh"
#include "timing/clock.hh"

namespace {

using namespace ix;

constexpr int kBurst = 32;
const net::MacAddr kClientMac{{0x02, 0, 0, 0, 0, 0xc1}};
const net::MacAddr kServerMac{{0x02, 0, 0, 0, 0, 0x5e}};
constexpr net::Ipv4Addr kClientIp = net::ipv4(10, 0, 0, 1);
constexpr net::Ipv4Addr kServerIp = net::ipv4(10, 0, 0, 2);

void put16(uint8_t *p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void put32(uint8_t *p, uint32_t v) {
  put16(p, static_cast<uint16_t>(v >> 16));
  put16(p + 2, static_cast<uint16_t>(v));
}

std::vector<uint8_t> ethernet(net::MacAddr dst, uint16_t type) {
  std::vector<uint8_t> f(14);
  std::memcpy(f.data(), dst.b.data(), 6);
  std::memcpy(f.data() + 6, kClientMac.b.data(), 6);
  put16(f.data() + 12, type);
  return f;
}

std::vector<uint8_t> arp_request() {
  auto f = ethernet(net::MacAddr::broadcast(), 0x0806);
  f.resize(42);
  uint8_t *a = f.data() + 14;
  put16(a, 1);
  put16(a + 2, 0x0800);
  a[4] = 6;
  a[5] = 4;
  put16(a + 6, 1);
  std::memcpy(a + 8, kClientMac.b.data(), 6);
  put32(a + 14, kClientIp.v);
  put32(a + 24, kServerIp.v);
  return f;
}

std::vector<uint8_t> udp_frame(uint16_t sport, uint16_t dport, size_t payload) {
  auto f = ethernet(kServerMac, 0x0800);
  f.resize(14 + 20 + 8 + payload);
  uint8_t *ip = f.data() + 14;
  ip[0] = 0x45;
  put16(ip + 2, static_cast<uint16_t>(20 + 8 + payload));
  put16(ip + 6, 0x4000);
  ip[8] = 64;
  ip[9] = 17;
  put32(ip + 12, kClientIp.v);
  put32(ip + 16, kServerIp.v);
  put16(ip + 10, net::internet_checksum(ip, 20));
  uint8_t *udp = ip + 20;
  put16(udp, sport);
  put16(udp + 2, dport);
  put16(udp + 4, static_cast<uint16_t>(8 + payload));
  for (size_t i = 0; i < payload; ++i) udp[8 + i] = static_cast<uint8_t>(i);
  const uint16_t sum = net::ones_add(
      net::pseudo_header_sum(kClientIp, kServerIp, 17, static_cast<uint16_t>(8 + payload)),
      net::ones_sum(udp, 8 + payload));
  put16(udp + 6, sum == 0xffff ? 0xffff : static_cast<uint16_t>(~sum));
  return f;
}

void inject(drivers::LoopPort &port, mem::MbufPool &pool, const std::vector<uint8_t> &frame) {
  mem::Mbuf *m = pool.alloc();
  if (m == nullptr) throw std::runtime_error("client pool empty");
  std::memcpy(m->append(static_cast<uint16_t>(frame.size())), frame.data(), frame.size());
  if (port.tx_burst(0, &m, 1) != 1) mem::MbufPool::free_chain(m);
}

void IxUdpEcho(benchmark::State &state) {
  const size_t payload = static_cast<size_t>(state.range(0));
  timing::MonotonicClock clock;
  drivers::LoopWire wire(clock);
  auto &client = wire.add_port({.name = "client", .mac = kClientMac, .queues = 1});
  auto &server = wire.add_port({.name = "server", .mac = kServerMac, .queues = 1});
  mem::MbufPool client_pool({.count = 1024, .try_huge_pages = false, .name = "client"});
  client.set_rx_pool(0, &client_pool);

  core::ElasticThreadConfig tc;
  tc.pool.count = 4096;
  tc.stack.mac = kServerMac;
  tc.stack.addr = kServerIp;
  tc.stack.gratuitous_arp = false;
  core::ElasticThread thread(tc, server, clock);
  api::LocalContext ctx(thread, nullptr);

  ix::Batch batch(256, 256);
  batch.udp_bind(7);
  batch.run(&ctx);
  batch.clear();
  // Let the server learn the client's MAC from an ARP request for its address.
  inject(client, client_pool, arp_request());
  batch.run(&ctx);
  mem::Mbuf *rx[64];
  for (uint16_t n; (n = client.rx_burst(0, rx, 64)) != 0;)
    for (uint16_t i = 0; i < n; ++i) mem::MbufPool::free_chain(rx[i]);

  std::vector<std::vector<uint8_t>> frames;
  for (int i = 0; i < kBurst; ++i)
    frames.push_back(udp_frame(static_cast<uint16_t>(1000 + i), 7, payload));

  const size_t reply_len = frames[0].size();
  uint64_t echoed = 0, bad = 0;
  for (auto _ : state) {
    for (auto &f : frames) inject(client, client_pool, f);
    int replies = 0;
    // A burst that never completes is a dataplane bug; stop instead of spinning.
    for (int idle = 0; replies < kBurst; ++idle) {
      if (idle > 10'000) {
        state.SkipWithError("IX echo stalled: replies missing");
        return;
      }
      auto events = batch.run(&ctx);
      batch.clear();
      for (const ix_event &e : events) {
        if (e.type == IX_EV_UDP_RECV) {
          const auto &r = e.u.udp_recv;
          batch.udp_send(r.data, r.len, r.dst.port, r.src, r.buf);
        } else if (e.type == IX_EV_UDP_SENT) {
          batch.recv_done(e.cookie);
        }
      }
      const uint16_t n = client.rx_burst(0, rx, 64);
      for (uint16_t i = 0; i < n; ++i) {
        if (rx[i]->pkt_len != reply_len) ++bad;
        mem::MbufPool::free_chain(rx[i]);
      }
      replies += n;
      if (n != 0) idle = 0;
    }
    echoed += replies;
  }
  state.SetItemsProcessed(static_cast<int64_t>(echoed));
  state.counters["drops"] = static_cast<double>(thread.stack().counters().total_drops());
  state.counters["bad_replies"] = static_cast<double>(bad);
  // Frames per non-empty poll: how full adaptive batching ran.
  const core::CoreStats &cs = thread.stats();
  const uint64_t busy_polls = cs.iterations - cs.idle_polls;
  state.counters["mean_batch"] =
      busy_polls == 0 ? 0.0 : static_cast<double>(cs.rx_frames) / static_cast<double>(busy_polls);
}

void LinuxUdpEcho(benchmark::State &state) {
  const size_t payload = static_cast<size_t>(state.range(0));
  int server = socket(AF_INET, SOCK_DGRAM, 0);
  int client = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (bind(server, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 ||
      getsockname(server, reinterpret_cast<sockaddr *>(&addr), &len) != 0 ||
      connect(client, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
    state.SkipWithError("cannot set up loopback sockets");
    return;
  }
  std::vector<std::vector<char>> bufs(kBurst, std::vector<char>(2048));
  std::vector<iovec> iov(kBurst);
  std::vector<sockaddr_in> peers(kBurst);
  std::vector<mmsghdr> msgs(kBurst);
  auto reset = [&](bool with_names, size_t want) {
    for (int i = 0; i < kBurst; ++i) {
      iov[i] = {bufs[i].data(), want};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      if (with_names) {
        msgs[i].msg_hdr.msg_name = &peers[i];
        msgs[i].msg_hdr.msg_namelen = sizeof peers[i];
      }
    }
  };
  uint64_t echoed = 0, bad = 0;
  for (auto _ : state) {
    reset(false, payload);
    int sent = sendmmsg(client, msgs.data(), kBurst, 0);
    int got = 0;
    while (got < sent) {
      reset(true, 2048);
      // MSG_WAITFORONE: return what is there rather than wait for kBurst.
      int n = recvmmsg(server, msgs.data(), kBurst, MSG_WAITFORONE, nullptr);
      if (n <= 0) break;
      for (int i = 0; i < n; ++i) iov[i].iov_len = msgs[i].msg_len;
      sendmmsg(server, msgs.data(), n, 0);
      got += n;
    }
    int back = 0;
    while (back < got) {
      reset(false, 2048);
      int n = recvmmsg(client, msgs.data(), kBurst, MSG_WAITFORONE, nullptr);
      if (n <= 0) break;
      for (int i = 0; i < n; ++i)
        if (msgs[i].msg_len != payload) ++bad;
      back += n;
    }
    echoed += back;
  }
  state.SetItemsProcessed(static_cast<int64_t>(echoed));
  state.counters["bad_replies"] = static_cast<double>(bad);
  close(server);
  close(client);
}

BENCHMARK(IxUdpEcho)->Arg(64)->Arg(1024);
BENCHMARK(LinuxUdpEcho)->Arg(64)->Arg(1024);

}  // namespace

BENCHMARK_MAIN();
