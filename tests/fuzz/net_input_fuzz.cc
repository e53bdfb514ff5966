// libFuzzer target: every input is one received Ethernet frame for a stack
// on 10.0.0.1/24 with a bound UDP port. The first byte picks the offload
// flags and headroom, so both the software-checksum and NIC-verified paths
// and the in-place/copying ICMP error paths are explored. Persistent state
// (ARP table, timers, token bucket) carries across inputs, as on a real link.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

#include "drivers/device.hh"
#include "mem/mbuf.hh"
#include "mem/mbuf_pool.hh"
#include "net/stack.hh"
#include "timing/clock.hh"
#include "timing/timer_wheel.hh"

namespace {

using namespace ix;

class FreeingSink final : public net::FrameSink {
 public:
  void send_frame(mem::Mbuf *m) override { mem::MbufPool::free_chain(m); }
};

class FreeingReceiver final : public net::UdpReceiver {
 public:
  void on_udp(mem::Mbuf *m, const net::UdpDatagram &d) override {
    // Touch every payload byte so ASan sees any out-of-bounds pointer.
    volatile uint8_t x = 0;
    for (uint16_t i = 0; i < d.len; ++i) x = x ^ d.payload[i];
    (void)x;
    mem::MbufPool::free_chain(m);
  }
};

struct World {
  World() : pool(pool_config()), timers(clock.now_ns()) {
    net::StackConfig cfg;
    cfg.mac = net::MacAddr{{0x02, 0, 0, 0, 0, 0x01}};
    cfg.addr = net::ipv4(10, 0, 0, 1);
    cfg.prefix_len = 24;
    cfg.gateway = net::ipv4(10, 0, 0, 254);
    cfg.arp_table_size = 64;
    stack = std::make_unique<net::NetStack>(cfg, pool, clock, timers, sink, caps.link_caps());
    stack->udp_bind(7, &receiver);
    stack->start();
  }
  static mem::MbufPoolConfig pool_config() {
    mem::MbufPoolConfig c;
    c.count = 512;
    c.try_huge_pages = false;
    c.name = "fuzz";
    return c;
  }

  mem::MbufPool pool;
  timing::ManualClock clock;
  timing::TimerWheel timers;
  FreeingSink sink;
  FreeingReceiver receiver;
  drivers::DeviceCaps caps;
  std::unique_ptr<net::NetStack> stack;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static World w;
  if (size == 0) return 0;
  const uint8_t control = data[0];
  ++data;
  --size;
  mem::Mbuf *m = w.pool.alloc();
  if (m == nullptr) __builtin_trap();  // a leak: every frame must come back
  m->data_off = (control & 4) ? 0 : 128;
  const size_t room = m->buf_len - m->data_off;
  const uint16_t n = static_cast<uint16_t>(size < room ? size : room);
  std::memcpy(m->append(n), data, n);
  m->ol_flags =
      ((control & 1) ? mem::kRxIpCsumGood : 0u) | ((control & 2) ? mem::kRxL4CsumGood : 0u);
  w.stack->input(m);
  if (control & 8) {
    w.clock.advance(uint64_t{control} * 50'000'000ull);
    w.timers.advance(w.clock.now_ns());
  }
  return 0;
}
