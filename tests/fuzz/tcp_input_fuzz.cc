// libFuzzer target for the TCP input path: a stack on 10.0.0.1 with a
// listener on port 80 and an established connection from 10.0.0.2:40000.
// The first input byte picks how the rest is used:
//   0: a whole Ethernet frame, as received;
//   1: a TCP segment (header + options + payload) wrapped in valid Ethernet
//      and IPv4 headers with a correct TCP checksum;
//   2: as 1, but ports, sequence and acknowledgment numbers are placed near
//      the live connection's, so the established-state paths are reached.
// Time advances a little per input so timers fire; the connection is
// re-established whenever an input kills it.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "drivers/device.hh"
#include "mem/mbuf.hh"
#include "mem/mbuf_pool.hh"
#include "net/checksum.hh"
#include "net/stack.hh"
#include "net/tcp/tcp.hh"
#include "timing/clock.hh"
#include "timing/timer_wheel.hh"

namespace {

using namespace ix;
using net::Ipv4Addr;

const net::MacAddr kUs{{0x02, 0, 0, 0, 0, 0x01}};
const net::MacAddr kPeer{{0x02, 0, 0, 0, 0, 0x02}};
constexpr Ipv4Addr kUsIp = net::ipv4(10, 0, 0, 1);
constexpr Ipv4Addr kPeerIp = net::ipv4(10, 0, 0, 2);
constexpr uint16_t kPeerPort = 40000;

void put16(uint8_t *p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void put32(uint8_t *p, uint32_t v) {
  put16(p, static_cast<uint16_t>(v >> 16));
  put16(p + 2, static_cast<uint16_t>(v));
}
uint32_t get32(const uint8_t *p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// Keeps the last frame the stack sent (to learn the SYN-ACK's sequence number).
class LastFrameSink final : public net::FrameSink {
 public:
  void send_frame(mem::Mbuf *m) override {
    last.resize(m->pkt_len);
    m->copy_out(last.data());
    mem::MbufPool::free_chain(m);
  }
  std::vector<uint8_t> last;
};

class App final : public net::tcp::TcpEvents {
 public:
  void on_knock(uint64_t, net::tcp::ConnHandle h, Ipv4Addr, uint16_t, Ipv4Addr, uint16_t) override {
    knocked.push_back(h);
  }
  void on_connected(uint64_t, net::tcp::ConnHandle, int) override {}
  void on_recv(uint64_t, net::tcp::ConnHandle h, const uint8_t *data, uint32_t len) override {
    volatile uint8_t x = 0;  // touch every byte: ASan checks the pointer
    for (uint32_t i = 0; i < len; ++i) x = x ^ data[i];
    (void)x;
    pending.push_back({h, len});
  }
  void on_sent(uint64_t, net::tcp::ConnHandle, uint32_t) override {}
  void on_dead(uint64_t, net::tcp::ConnHandle, net::tcp::DeadReason) override {}

  std::vector<net::tcp::ConnHandle> knocked;
  std::vector<std::pair<net::tcp::ConnHandle, uint32_t>> pending;
};

struct World {
  World() : pool(pool_config()), timers(clock.now_ns()) {
    net::StackConfig cfg;
    cfg.mac = kUs;
    cfg.addr = kUsIp;
    cfg.prefix_len = 24;
    cfg.gratuitous_arp = false;
    cfg.tcp.max_connections = 64;
    cfg.tcp.syn_backlog = 8;
    cfg.tcp.rcv_buf = 64 * 1024;
    stack = std::make_unique<net::NetStack>(cfg, pool, clock, timers, sink, caps.link_caps());
    stack->tcp().listen(80, 1, &app);
    learn_peer();
  }
  static mem::MbufPoolConfig pool_config() {
    mem::MbufPoolConfig c;
    c.count = 1024;
    c.try_huge_pages = false;
    c.name = "tcp_fuzz";
    return c;
  }

  void input(const uint8_t *f, size_t n) {
    mem::Mbuf *m = pool.alloc();
    if (m == nullptr) return;
    uint8_t *p = m->append(static_cast<uint16_t>(std::min<size_t>(n, m->tailroom())));
    if (p == nullptr) {
      mem::MbufPool::free_chain(m);
      return;
    }
    std::memcpy(p, f, m->data_len);
    stack->input(m);
  }

  void learn_peer() {
    uint8_t f[42] = {};
    std::memset(f, 0xff, 6);
    std::memcpy(f + 6, kPeer.b.data(), 6);
    put16(f + 12, 0x0806);
    uint8_t *a = f + 14;
    put16(a, 1);
    put16(a + 2, 0x0800);
    a[4] = 6;
    a[5] = 4;
    put16(a + 6, 1);
    std::memcpy(a + 8, kPeer.b.data(), 6);
    put32(a + 14, kPeerIp.v);
    put32(a + 24, kUsIp.v);
    input(f, sizeof f);
  }

  // Wraps a TCP segment in Ethernet and IPv4 from the peer, checksum fixed.
  void input_segment(uint8_t *tcp, size_t len) {
    if (len > 1400) len = 1400;
    uint8_t f[1500];
    std::memcpy(f, kUs.b.data(), 6);
    std::memcpy(f + 6, kPeer.b.data(), 6);
    put16(f + 12, 0x0800);
    uint8_t *ip = f + 14;
    std::memset(ip, 0, 20);
    ip[0] = 0x45;
    put16(ip + 2, static_cast<uint16_t>(20 + len));
    put16(ip + 6, 0x4000);
    ip[8] = 64;
    ip[9] = 6;
    put32(ip + 12, kPeerIp.v);
    put32(ip + 16, kUsIp.v);
    put16(ip + 10, net::internet_checksum(ip, 20));
    std::memcpy(f + 34, tcp, len);
    if (len >= 18) {
      put16(f + 34 + 16, 0);
      const uint16_t sum =
          net::ones_add(net::pseudo_header_sum(kPeerIp, kUsIp, 6, static_cast<uint16_t>(len)),
                        net::ones_sum(f + 34, len));
      put16(f + 34 + 16, static_cast<uint16_t>(~sum));
    }
    input(f, 34 + len);
  }

  void segment(uint32_t seq, uint32_t ack, uint8_t flags) {
    uint8_t t[20] = {};
    put16(t, kPeerPort);
    put16(t + 2, 80);
    put32(t + 4, seq);
    put32(t + 8, ack);
    t[12] = 5 << 4;
    t[13] = flags;
    put16(t + 14, 65535);
    input_segment(t, sizeof t);
  }

  // Opens the connection from the peer if it is not there.
  void ensure_connection() {
    if (stack->tcp().state_of(kPeerIp, kPeerPort, 80) == net::tcp::TcpState::kEstablished) return;
    peer_seq += 100000;
    segment(peer_seq, 0, net::tcp::kSyn);
    if (sink.last.size() >= 54 && sink.last[47] == (net::tcp::kSyn | net::tcp::kAck)) {
      our_seq = get32(&sink.last[38]) + 1;
      segment(peer_seq + 1, our_seq, net::tcp::kAck);
      peer_seq += 1;
    }
    react();
  }

  void react() {
    for (auto h : app.knocked) stack->tcp().accept(h, 2);
    app.knocked.clear();
    for (auto [h, n] : app.pending) stack->tcp().recv_done(h, n);
    app.pending.clear();
  }

  mem::MbufPool pool;
  timing::ManualClock clock;
  timing::TimerWheel timers;
  LastFrameSink sink;
  drivers::DeviceCaps caps;
  App app;
  std::unique_ptr<net::NetStack> stack;
  uint32_t peer_seq = 1000;
  uint32_t our_seq = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static World w;
  if (size < 1) return 0;
  w.ensure_connection();
  const uint8_t mode = data[0] % 3;
  std::vector<uint8_t> body(data + 1, data + size);
  if (mode == 0) {
    w.input(body.data(), body.size());
  } else {
    if (mode == 2 && body.size() >= 12) {
      put16(body.data(), kPeerPort);
      put16(body.data() + 2, 80);
      // Offsets from the live sequence numbers, from the input.
      put32(body.data() + 4, w.peer_seq + 1 + get32(body.data() + 4) % 131072 - 65536);
      put32(body.data() + 8, w.our_seq + get32(body.data() + 8) % 4096 - 2048);
    }
    w.input_segment(body.data(), body.size());
  }
  w.react();
  w.clock.advance(1'000'000);
  w.timers.advance(w.clock.now_ns());
  return 0;
}
