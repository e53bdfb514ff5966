// Shared by the DPDK driver's tests: the EAL starts once per process, so
// every test file uses these same arguments, and opens and closes ports
// within them.
#pragma once

#include <gtest/gtest.h>

#include <span>
#include <string>
#include <vector>

#include "drivers/dpdk/dpdk_config.hh"
#include "drivers/dpdk/dpdk_device.hh"
#include "mem/mbuf_pool.hh"
#include "test_frames.hh"

namespace ix::drivers {

// One EAL for the whole binary. --no-shconf: no runtime files, so
// concurrent test processes (ctest -j) do not collide and nothing is left in
// /var/run/dpdk (--in-memory would do the same but excludes --no-huge).
inline const std::string &eal_args() {
  static const std::string args =
      "--no-huge -m 256 --no-pci --no-shconf --no-telemetry --log-level=lib.eal:error "
      "--file-prefix ix_unit --vdev=net_ring0 --vdev=net_null0";
  return args;
}

inline ::testing::AssertionResult Contains(const std::string &message, const std::string &part) {
  if (message.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "expected to find \"" << part << "\" in:\n" << message;
}

inline DpdkConfig config_for(const std::string &port, uint16_t queues = 1) {
  DpdkConfig c;
  c.eal_args = eal_args();
  c.port = port;
  c.queues = queues;
  c.rx_descs = 256;
  c.tx_descs = 256;
  return c;
}

inline mem::MbufPoolConfig small_pool() {
  mem::MbufPoolConfig p;
  p.count = 512;
  p.try_huge_pages = false;
  return p;
}

// Receives from queue q until `want` frames arrived or a bounded number of
// polls passed (net_ring delivers at once; the bound only keeps a broken
// driver from hanging the test).
inline std::vector<mem::Mbuf *> receive(DpdkDevice &dev, uint16_t q, size_t want) {
  std::vector<mem::Mbuf *> got;
  mem::Mbuf *burst[64];
  for (int polls = 0; polls < 100000 && got.size() < want; ++polls) {
    const uint16_t n = dev.rx_burst(q, burst, 64);
    got.insert(got.end(), burst, burst + n);
  }
  return got;
}

// A UDP frame whose payload is `len` bytes of test_frames::seq_payload(seed).
inline std::vector<uint8_t> udp_bytes(uint32_t seed, size_t len) {
  test_frames::UdpSpec s;
  s.payload = test_frames::seq_payload(seed, len);
  return test_frames::udp_frame(s);
}

// Three frames to send: `a` in one pool buffer, `b` a header whose payload
// is a second segment in "application" memory (released through
// `releases`), `c` of minimum size. The byte vectors are what should arrive.
struct FrameTrio {
  std::vector<uint8_t> a, b, c;
  mem::Mbuf *out[3] = {};
  int releases = 0;

  FrameTrio(mem::MbufPool &pool, uint32_t seed) {
    test_frames::UdpSpec s;
    s.payload = test_frames::seq_payload(seed, 600);
    a = test_frames::udp_frame(s);
    s.payload = test_frames::seq_payload(seed + 1, 900);
    b = test_frames::udp_frame(s);
    s.payload = {};
    c = test_frames::udp_frame(s);
    out[0] = test_frames::to_mbuf(pool, a);
    out[1] = test_frames::to_mbuf(
        pool, std::span<const uint8_t>(b).first(test_frames::kUdpPayloadOffset));
    mem::Mbuf *tail = pool.alloc();
    tail->attach_external(
        b.data() + test_frames::kUdpPayloadOffset,
        static_cast<uint16_t>(b.size() - test_frames::kUdpPayloadOffset),
        [](mem::Mbuf *, void *self) { ++static_cast<FrameTrio *>(self)->releases; }, this, 0);
    out[1]->chain(tail);
    out[2] = test_frames::to_mbuf(pool, c);
  }
  FrameTrio(const FrameTrio &) = delete;
  FrameTrio &operator=(const FrameTrio &) = delete;
};

}  // namespace ix::drivers
