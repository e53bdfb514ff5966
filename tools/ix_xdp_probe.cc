// ix-xdp-probe: opens the AF_XDP driver on an interface and either counts
// what arrives or reflects it back, printing per-queue statistics at the end.
// It proves the driver end to end (rings, wakeups, multi-queue) with no
// network stack: as a reflector it swaps the Ethernet addresses and, for
// IPv4/UDP, the IP addresses and ports, which leaves every checksum valid.
//
//   ix-xdp-probe --dev IF [--queues N] [--start-queue Q] [--mode copy|zerocopy|auto]
//                [--attach native|skb|auto] [--ring N] [--reflect [--split]] [--seconds S]
//
// --split sends each reply as a two-segment chain whose second segment is
// external memory (the received mbuf's data, released through ext_release),
// exercising the driver's TX gather and external-buffer release.
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "drivers/xdp/xdp_device.hh"
#include "mem/mbuf_pool.hh"

namespace {

using ix::drivers::XdpConfig;
using ix::drivers::XdpDevice;
using ix::mem::Mbuf;
using ix::mem::MbufPool;

volatile std::sig_atomic_t stop_requested = 0;
void on_signal(int) { stop_requested = 1; }

struct ProbeOptions {
  XdpConfig dev;
  bool reflect = false;
  bool split = false;
  double seconds = 10;
};

[[noreturn]] void usage(const char *why) {
  std::fprintf(stderr,
               "ix-xdp-probe: %s\n"
               "usage: ix-xdp-probe --dev IF [--queues N] [--start-queue Q]\n"
               "       [--mode copy|zerocopy|auto] [--attach native|skb|auto] [--ring N]\n"
               "       [--reflect [--split]] [--seconds S]\n",
               why);
  std::exit(2);
}

unsigned long parse_number(const char *flag, const char *s) {
  char *end = nullptr;
  errno = 0;
  const unsigned long v = std::strtoul(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0')
    usage((std::string(flag) + " needs a number").c_str());
  return v;
}

ProbeOptions parse_args(int argc, char **argv) {
  ProbeOptions o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> const char * {
      if (i + 1 >= argc) usage((a + " needs a value").c_str());
      return argv[++i];
    };
    if (a == "--dev") {
      o.dev.ifname = value();
    } else if (a == "--queues") {
      const unsigned long n = parse_number("--queues", value());
      if (n == 0 || n > 64) usage("--queues must be 1..64");
      o.dev.queues = static_cast<uint16_t>(n);
    } else if (a == "--start-queue") {
      o.dev.start_queue = static_cast<uint32_t>(parse_number("--start-queue", value()));
    } else if (a == "--ring") {
      o.dev.ring_size = static_cast<uint32_t>(parse_number("--ring", value()));
    } else if (a == "--mode") {
      auto m = ix::drivers::parse_xdp_copy_mode(value());
      if (!m) usage("--mode must be copy, zerocopy or auto");
      o.dev.copy_mode = *m;
    } else if (a == "--attach") {
      auto m = ix::drivers::parse_xdp_attach_mode(value());
      if (!m) usage("--attach must be native, skb or auto");
      o.dev.attach = *m;
    } else if (a == "--reflect") {
      o.reflect = true;
    } else if (a == "--split") {
      o.split = true;
    } else if (a == "--seconds") {
      o.seconds = std::strtod(value(), nullptr);
      if (!(o.seconds > 0)) usage("--seconds must be positive");
    } else {
      usage(("unknown option " + a).c_str());
    }
  }
  if (o.dev.ifname.empty()) usage("--dev is required");
  return o;
}

template <size_t N>
void swap_bytes(uint8_t *a, uint8_t *b) {
  uint8_t t[N];
  std::memcpy(t, a, N);
  std::memcpy(a, b, N);
  std::memcpy(b, t, N);
}

// Turns a received frame into its reply in place. Returns false for frames
// not worth reflecting (runts, broadcast/multicast such as ARP requests).
bool reflect_frame(Mbuf *m) {
  uint8_t *p = m->data();
  const uint32_t len = m->data_len;
  if (len < 14 || (p[0] & 1) != 0) return false;
  swap_bytes<6>(p, p + 6);
  if (p[12] != 0x08 || p[13] != 0x00) return true;  // not IPv4: MACs only
  uint8_t *ip = p + 14;
  if (len < 14 + 20 || (ip[0] >> 4) != 4) return true;
  const uint32_t ihl = (ip[0] & 0x0fu) * 4;
  if (ihl < 20 || len < 14 + ihl) return true;
  swap_bytes<4>(ip + 12, ip + 16);  // header checksum is order-independent
  if (ip[9] == 17 && len >= 14 + ihl + 8) swap_bytes<2>(ip + ihl, ip + ihl + 2);
  return true;
}

struct ProbeCounters {
  uint64_t not_reflected = 0;
  uint64_t split_chains = 0;  // replies sent as header mbuf + external segment
  uint64_t ext_released = 0;  // external segments the driver/pool released
  uint64_t tx_full = 0;       // replies dropped because the TX ring or UMEM was full
};

// The external segment borrows the received mbuf's bytes; when the driver has
// copied them and frees the chain, the original goes back to its pool.
void release_borrowed(Mbuf *seg, void *arg) {
  ++static_cast<ProbeCounters *>(arg)->ext_released;
  Mbuf *original = reinterpret_cast<Mbuf *>(seg->cookie);
  original->pool->free_one(original);
}

// Rebuilds reply m as [first 14 bytes copied into a fresh mbuf] -> [external
// segment pointing at the rest of m]. Returns m itself if the pool is empty.
Mbuf *split_reply(Mbuf *m, MbufPool &pool, ProbeCounters &c) {
  constexpr uint16_t kHead = 14;
  if (m->data_len <= kHead) return m;
  Mbuf *head = pool.alloc();
  Mbuf *tail = pool.alloc();
  if (head == nullptr || tail == nullptr) {
    if (head != nullptr) pool.free_one(head);
    if (tail != nullptr) pool.free_one(tail);
    return m;
  }
  std::memcpy(head->append(kHead), m->data(), kHead);
  tail->attach_external(m->data() + kHead, static_cast<uint16_t>(m->data_len - kHead),
                        release_borrowed, &c, reinterpret_cast<uint64_t>(m));
  head->chain(tail);
  ++c.split_chains;
  return head;
}

void run(XdpDevice &dev, const std::vector<std::unique_ptr<MbufPool>> &pools, const ProbeOptions &o,
         ProbeCounters &c) {
  constexpr uint16_t kBurst = 64;
  Mbuf *rx[kBurst];
  Mbuf *tx[kBurst];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(o.seconds);
  const uint16_t nq = dev.caps().rx_queues;
  for (uint64_t iter = 0; !stop_requested; ++iter) {
    if ((iter & 1023) == 0 && std::chrono::steady_clock::now() >= deadline) break;
    for (uint16_t q = 0; q < nq; ++q) {
      const uint16_t n = dev.rx_burst(q, rx, kBurst);
      if (!o.reflect) {
        for (uint16_t i = 0; i < n; ++i) MbufPool::free_chain(rx[i]);
        // Still poll TX so the completion ring drains.
        dev.tx_burst(q, tx, 0);
        continue;
      }
      uint16_t out = 0;
      for (uint16_t i = 0; i < n; ++i) {
        if (reflect_frame(rx[i])) {
          tx[out++] = o.split ? split_reply(rx[i], *pools[q], c) : rx[i];
        } else {
          ++c.not_reflected;
          MbufPool::free_chain(rx[i]);
        }
      }
      const uint16_t sent = dev.tx_burst(q, tx, out);
      for (uint16_t i = sent; i < out; ++i) MbufPool::free_chain(tx[i]);
      c.tx_full += out - sent;
    }
  }
}

void print_stats(const XdpDevice &dev, const ProbeCounters &c) {
  for (uint16_t q = 0; q < dev.caps().rx_queues; ++q) {
    const auto s = dev.stats(q);
    const auto x = dev.xdp_stats(q);
    std::printf(
        "queue %u nic_queue=%u rx_packets=%llu rx_bytes=%llu rx_nombuf=%llu rx_dropped=%llu "
        "tx_packets=%llu tx_bytes=%llu tx_dropped=%llu xdp_rx_dropped=%llu "
        "xdp_rx_invalid_descs=%llu xdp_tx_invalid_descs=%llu xdp_rx_ring_full=%llu "
        "xdp_rx_fill_ring_empty_descs=%llu xdp_tx_ring_empty_descs=%llu tx_kicks=%llu "
        "rx_kicks=%llu kick_errors=%llu\n",
        q, dev.nic_queue(q), (unsigned long long)s.rx_packets, (unsigned long long)s.rx_bytes,
        (unsigned long long)s.rx_nombuf, (unsigned long long)s.rx_dropped,
        (unsigned long long)s.tx_packets, (unsigned long long)s.tx_bytes,
        (unsigned long long)s.tx_dropped, (unsigned long long)x.rx_dropped,
        (unsigned long long)x.rx_invalid_descs, (unsigned long long)x.tx_invalid_descs,
        (unsigned long long)x.rx_ring_full, (unsigned long long)x.rx_fill_ring_empty_descs,
        (unsigned long long)x.tx_ring_empty_descs, (unsigned long long)x.tx_kicks,
        (unsigned long long)x.rx_kicks, (unsigned long long)x.kick_errors);
  }
  std::printf("probe not_reflected=%llu tx_full=%llu split_chains=%llu ext_released=%llu\n",
              (unsigned long long)c.not_reflected, (unsigned long long)c.tx_full,
              (unsigned long long)c.split_chains, (unsigned long long)c.ext_released);
}

}  // namespace

int main(int argc, char **argv) {
  const ProbeOptions o = parse_args(argc, argv);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  try {
    XdpDevice dev(o.dev);
    std::vector<std::unique_ptr<MbufPool>> pools;
    for (uint16_t q = 0; q < dev.caps().rx_queues; ++q) {
      ix::mem::MbufPoolConfig pc;
      pc.count = 4096;
      pc.buffer_stride = dev.caps().pool_buffer_stride;
      pc.device_share = dev.caps().pool_device_share;
      pc.name = "xdp-probe-q" + std::to_string(q);
      pools.push_back(std::make_unique<MbufPool>(pc));
      dev.set_rx_pool(q, pools.back().get());
    }
    dev.start();
    std::printf("ready dev=%s queues=%u attach=%s zero_copy=%d mtu=%u mac=%s frame_size=%u\n",
                std::string(dev.name()).c_str(), dev.caps().rx_queues,
                std::string(ix::drivers::to_string(dev.attach_mode())).c_str(),
                dev.caps().zero_copy ? 1 : 0, dev.caps().mtu, dev.mac().to_string().c_str(),
                dev.frame_size());
    std::fflush(stdout);
    ProbeCounters c;
    run(dev, pools, o, c);
    print_stats(dev, c);
    std::fflush(stdout);
  } catch (const std::exception &e) {
    std::fprintf(stderr, "ix-xdp-probe: %s\n", e.what());
    return 1;
  }
  return 0;
}
