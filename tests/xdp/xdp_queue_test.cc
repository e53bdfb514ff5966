// The AF_XDP driver's buffer paths against the real kernel: a veth pair in a
// private network namespace, the driver on one end and an AF_PACKET socket
// playing the peer on the other. Checks that received frames are the pool's
// own buffers (no copy in the driver), that pool buffers are sent from where
// they lie and come back on completion, that chains and application memory
// are gathered and released, and that an empty pool drops (counted) and
// recovers. Every wait is bounded and only decides failure, never speed.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "drivers/xdp/xdp_device.hh"
#include "mem/mbuf_pool.hh"

namespace ix::drivers {
namespace {

constexpr const char *kIx = "ixzc0";
constexpr const char *kPeer = "ixzc1";
constexpr uint16_t kEtherType = 0x88b5;  // IEEE local experimental
constexpr uint32_t kXdpPacketHeadroom = 256;
constexpr auto kPatience = std::chrono::seconds(10);

void sh(const std::string &cmd) {
  ASSERT_EQ(std::system((cmd + " >/dev/null 2>&1").c_str()), 0) << cmd;
}

// The peer: raw Ethernet frames on the other veth end.
class Peer {
 public:
  Peer() {
    fd_ = socket(AF_PACKET, SOCK_RAW, htons(kEtherType));
    ifindex_ = static_cast<int>(if_nametoindex(kPeer));
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(kEtherType);
    sll.sll_ifindex = ifindex_;
    if (fd_ >= 0) bind(fd_, reinterpret_cast<sockaddr *>(&sll), sizeof sll);
  }
  ~Peer() {
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return fd_ >= 0 && ifindex_ > 0; }

  void send(const std::vector<uint8_t> &frame) {
    sockaddr_ll to{};
    to.sll_family = AF_PACKET;
    to.sll_ifindex = ifindex_;
    to.sll_halen = 6;
    ASSERT_EQ(
        sendto(fd_, frame.data(), frame.size(), 0, reinterpret_cast<sockaddr *>(&to), sizeof to),
        static_cast<ssize_t>(frame.size()));
  }
  // Frames that arrived on the peer end (not its own transmissions), until
  // `want` or the patience runs out; `poll` runs between reads (the
  // driver's queue must be polled for the kernel to keep transmitting).
  template <typename Poll>
  std::vector<std::vector<uint8_t>> receive(size_t want, Poll poll) {
    std::vector<std::vector<uint8_t>> got;
    const auto deadline = std::chrono::steady_clock::now() + kPatience;
    std::array<uint8_t, 4096> buf{};
    while (got.size() < want && std::chrono::steady_clock::now() < deadline) {
      poll();
      sockaddr_ll from{};
      socklen_t fl = sizeof from;
      const ssize_t n = recvfrom(fd_, buf.data(), buf.size(), MSG_DONTWAIT,
                                 reinterpret_cast<sockaddr *>(&from), &fl);
      if (n < 0) usleep(100);
      if (n <= 0 || from.sll_pkttype == PACKET_OUTGOING) continue;
      got.emplace_back(buf.begin(), buf.begin() + n);
    }
    return got;
  }

 private:
  int fd_ = -1;
  int ifindex_ = 0;
};

std::vector<uint8_t> frame_for(const net::MacAddr &dst, uint32_t seq, size_t len) {
  std::vector<uint8_t> f(len);
  std::memcpy(f.data(), dst.b.data(), 6);
  const uint8_t src[6] = {0x02, 0, 0, 0, 0, 0x01};
  std::memcpy(f.data() + 6, src, 6);
  f[12] = kEtherType >> 8;
  f[13] = kEtherType & 0xff;
  std::memcpy(f.data() + 14, &seq, sizeof seq);
  for (size_t i = 18; i < len; ++i) f[i] = static_cast<uint8_t>(seq * 31 + i);
  return f;
}

uint32_t seq_of(const uint8_t *frame) {
  uint32_t s;
  std::memcpy(&s, frame + 14, sizeof s);
  return s;
}

class XdpQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // No IPv6 in this namespace: the kernel would send router solicitations
    // and MLD reports from the peer end, frames the tests do not expect.
    sh("sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1");
    sh(std::string("ip link add ") + kIx + " type veth peer name " + kPeer);
    sh(std::string("ethtool -K ") + kIx + " tx off");
    sh(std::string("ethtool -K ") + kPeer + " tx off");
    sh(std::string("ip link set ") + kIx + " up");
    sh(std::string("ip link set ") + kPeer + " up");
  }
  void TearDown() override {
    peer_.reset();
    dev_.reset();
    pool_.reset();
    std::system((std::string("ip link del ") + kIx + " >/dev/null 2>&1").c_str());
  }

  // Opens the driver on kIx (native attach, copy mode: all veth offers) with
  // a pool of `count` buffers laid out as its UMEM.
  void open(uint32_t count) {
    XdpConfig c;
    c.ifname = kIx;
    c.attach = XdpAttachMode::kNative;
    c.copy_mode = XdpCopyMode::kCopy;
    c.ring_size = 256;
    dev_ = std::make_unique<XdpDevice>(c);
    mem::MbufPoolConfig pc;
    pc.count = count;
    pc.try_huge_pages = false;
    pc.buffer_stride = dev_->caps().pool_buffer_stride;
    pc.device_share = dev_->caps().pool_device_share;
    pc.name = "xdp-test";
    pool_ = std::make_unique<mem::MbufPool>(pc);
    dev_->set_rx_pool(0, pool_.get());
    dev_->start();
    peer_ = std::make_unique<Peer>();
    ASSERT_TRUE(peer_->ok()) << "no AF_PACKET socket on " << kPeer;
  }

  // Polls queue 0 until `want` of the peer's frames arrived (or the
  // patience ran out); never takes more than `want`. Anything else the
  // kernel sends over the link is freed and counted in strays_.
  std::vector<mem::Mbuf *> receive(size_t want) {
    std::vector<mem::Mbuf *> got;
    const auto deadline = std::chrono::steady_clock::now() + kPatience;
    mem::Mbuf *burst[64];
    while (got.size() < want && std::chrono::steady_clock::now() < deadline) {
      const uint16_t max = static_cast<uint16_t>(std::min<size_t>(64, want - got.size()));
      const uint16_t n = dev_->rx_burst(0, burst, max);
      for (uint16_t i = 0; i < n; ++i) {
        const uint8_t *d = burst[i]->data();
        if (burst[i]->data_len >= 18 && d[12] == (kEtherType >> 8) &&
            d[13] == (kEtherType & 0xff)) {
          got.push_back(burst[i]);
        } else {
          ++strays_;
          mem::MbufPool::free_chain(burst[i]);
        }
      }
      if (n == 0) usleep(200);
    }
    return got;
  }

  // Every pool buffer is free or lent to the kernel: nothing leaked.
  bool pool_idle() const {
    return pool_->available() + dev_->pool_buffers_held(0) == pool_->capacity();
  }
  // One poll of queue 0 with nothing to send: kicks the kernel's TX,
  // drains completions.
  auto poller() {
    return [this] { dev_->tx_burst(0, nullptr, 0); };
  }
  // Polls until the kernel has completed every sent buffer.
  bool wait_idle() {
    const auto deadline = std::chrono::steady_clock::now() + kPatience;
    while (!pool_idle() && std::chrono::steady_clock::now() < deadline) {
      dev_->tx_burst(0, nullptr, 0);
      dev_->rx_burst(0, nullptr, 0);
      usleep(200);
    }
    return pool_idle();
  }

  // Nothing leaked and nothing freed twice.
  void expect_pool_whole() const {
    EXPECT_TRUE(pool_idle()) << "available " << pool_->available() << ", held by the device "
                             << dev_->pool_buffers_held(0) << ", capacity " << pool_->capacity();
    EXPECT_EQ(pool_->stats().double_frees, 0u);
  }

  std::unique_ptr<XdpDevice> dev_;
  std::unique_ptr<mem::MbufPool> pool_;
  std::unique_ptr<Peer> peer_;  // the other veth end, made by open()
  uint64_t strays_ = 0;         // frames receive() dropped as not the peer's
};

// Why set_rx_pool refused `pool` (a failure if it accepted it).
std::string refusal_of(XdpDevice &dev, mem::MbufPool &pool) {
  try {
    dev.set_rx_pool(0, &pool);
  } catch (const std::invalid_argument &e) {
    return e.what();
  }
  ADD_FAILURE() << "pool '" << pool.name() << "' was accepted";
  return {};
}

TEST_F(XdpQueueTest, APoolOfTheWrongLayoutIsRefusedNamingTheStrideItNeeds) {
  XdpConfig c;
  c.ifname = kIx;
  XdpDevice dev(c);
  EXPECT_EQ(dev.caps().pool_buffer_stride, dev.frame_size());
  mem::MbufPoolConfig pc;  // the default layout: 128 + 2048 bytes per buffer
  pc.count = 64;
  pc.try_huge_pages = false;
  mem::MbufPool pool(pc);
  const std::string layout = refusal_of(dev, pool);
  EXPECT_NE(layout.find("buffer_stride"), std::string::npos) << layout;
  EXPECT_NE(layout.find(std::to_string(dev.frame_size())), std::string::npos) << layout;
  pc.buffer_stride = dev.caps().pool_buffer_stride;  // the right layout, but no device share
  mem::MbufPool no_share(pc);
  const std::string share = refusal_of(dev, no_share);
  EXPECT_NE(share.find("device_share"), std::string::npos) << share;
}

TEST_F(XdpQueueTest, ReceivedFramesAreThePoolsOwnBuffersNotCopies) {
  ASSERT_NO_FATAL_FAILURE(open(2048));
  constexpr uint32_t kFrames = 100;
  for (uint32_t i = 0; i < kFrames; ++i) peer_->send(frame_for(dev_->mac(), i, 60 + i * 13));
  std::vector<mem::Mbuf *> got = receive(kFrames);
  ASSERT_EQ(got.size(), kFrames);
  std::set<uint32_t> seqs;
  for (mem::Mbuf *m : got) {
    // The frame lies in its own pool buffer, where the kernel wrote it.
    EXPECT_EQ(m->pool, pool_.get());
    EXPECT_TRUE(pool_->owns(m->data()));
    EXPECT_EQ(pool_->data_offset_of(m) % pool_->buffer_stride(), kXdpPacketHeadroom);
    EXPECT_EQ(pool_->by_data_offset(pool_->data_offset_of(m)), m);
    EXPECT_EQ(m->in_use, 1);
    ASSERT_GE(m->data_len, 18);
    const uint32_t seq = seq_of(m->data());
    ASSERT_LT(seq, kFrames);
    const std::vector<uint8_t> want = frame_for(dev_->mac(), seq, 60 + seq * 13);
    ASSERT_EQ(m->data_len, want.size());
    EXPECT_EQ(std::memcmp(m->data(), want.data(), want.size()), 0) << "frame " << seq;
    seqs.insert(seq);
  }
  EXPECT_EQ(seqs.size(), kFrames);
  EXPECT_EQ(dev_->stats(0).rx_packets, kFrames);
  for (mem::Mbuf *m : got) mem::MbufPool::free_chain(m);
  expect_pool_whole();
}

TEST_F(XdpQueueTest, PoolBuffersAreSentFromWhereTheyLieAndReturnOnCompletion) {
  ASSERT_NO_FATAL_FAILURE(open(512));
  const net::MacAddr peer_mac{{0x02, 0, 0, 0, 0, 0x02}};
  constexpr uint16_t kFrames = 48;
  std::vector<mem::Mbuf *> out;
  for (uint32_t i = 0; i < kFrames; ++i) {
    mem::Mbuf *m = pool_->alloc();
    ASSERT_NE(m, nullptr);
    const std::vector<uint8_t> f = frame_for(peer_mac, i, 64 + i * 29);
    std::memcpy(m->append(static_cast<uint16_t>(f.size())), f.data(), f.size());
    out.push_back(m);
  }
  const uint32_t free_before = pool_->available();
  ASSERT_EQ(dev_->tx_burst(0, out.data(), kFrames), kFrames);
  // The device holds the very buffers until the kernel completes them.
  EXPECT_EQ(dev_->xdp_stats(0).tx_zero_copy, kFrames);
  EXPECT_EQ(dev_->xdp_stats(0).tx_gathered, 0u);
  const auto got = peer_->receive(kFrames, poller());
  ASSERT_EQ(got.size(), kFrames);
  std::set<uint32_t> seqs;
  for (const auto &f : got) {
    const uint32_t seq = seq_of(f.data());
    ASSERT_LT(seq, kFrames);
    EXPECT_EQ(f, frame_for(peer_mac, seq, 64 + seq * 29)) << "frame " << seq;
    seqs.insert(seq);
  }
  EXPECT_EQ(seqs.size(), kFrames);
  ASSERT_TRUE(wait_idle()) << "sent buffers did not come back: available " << pool_->available()
                           << ", held " << dev_->pool_buffers_held(0);
  EXPECT_EQ(pool_->available(), free_before + kFrames);
  EXPECT_EQ(pool_->stats().double_frees, 0u);
}

struct Release {
  int calls = 0;
};
void count_release(mem::Mbuf *, void *arg) { ++static_cast<Release *>(arg)->calls; }

TEST_F(XdpQueueTest, ChainsAndApplicationMemoryAreGatheredAndReleasedAtOnce) {
  ASSERT_NO_FATAL_FAILURE(open(512));
  const net::MacAddr peer_mac{{0x02, 0, 0, 0, 0, 0x02}};
  constexpr uint16_t kFrames = 16;
  std::vector<std::vector<uint8_t>> frames;
  for (uint32_t i = 0; i < kFrames; ++i) frames.push_back(frame_for(peer_mac, i, 200 + i));
  Release rel;
  std::vector<mem::Mbuf *> out;
  for (uint32_t i = 0; i < kFrames; ++i) {
    // 20 bytes in a pool buffer, the rest in "application" memory.
    mem::Mbuf *head = pool_->alloc();
    mem::Mbuf *tail = pool_->alloc();
    ASSERT_TRUE(head != nullptr && tail != nullptr);
    std::memcpy(head->append(20), frames[i].data(), 20);
    tail->attach_external(frames[i].data() + 20, static_cast<uint16_t>(frames[i].size() - 20),
                          count_release, &rel, i);
    head->chain(tail);
    out.push_back(head);
  }
  ASSERT_EQ(dev_->tx_burst(0, out.data(), kFrames), kFrames);
  // The application's memory is no longer referenced once the burst returns.
  EXPECT_EQ(rel.calls, kFrames);
  EXPECT_EQ(dev_->xdp_stats(0).tx_gathered, kFrames);
  const auto got = peer_->receive(kFrames, poller());
  ASSERT_EQ(got.size(), kFrames);
  for (const auto &f : got) {
    const uint32_t seq = seq_of(f.data());
    ASSERT_LT(seq, kFrames);
    EXPECT_EQ(f, frames[seq]);
  }
  EXPECT_TRUE(wait_idle());
}

TEST_F(XdpQueueTest, AnEmptyPoolDropsCountedAndReceptionRecoversWhenBuffersReturn) {
  ASSERT_NO_FATAL_FAILURE(open(64));
  // The device keeps a full fill ring (ring_size 256) of its own share.
  const uint32_t posted = dev_->pool_buffers_held(0);
  EXPECT_EQ(posted, 256u);
  EXPECT_EQ(pool_->capacity(), 64u + dev_->caps().pool_device_share);
  // The application takes every free buffer: nothing can refill the ring.
  std::vector<mem::Mbuf *> held;
  while (mem::Mbuf *m = pool_->alloc_rx()) held.push_back(m);
  ASSERT_EQ(held.size() + posted, pool_->capacity());

  // The frames the ring's buffers can take arrive (and are held too)...
  uint32_t seq = 0;
  for (uint32_t chunk = 0; chunk < posted / 32; ++chunk) {
    for (uint32_t i = 0; i < 32; ++i) peer_->send(frame_for(dev_->mac(), seq++, 100));
    std::vector<mem::Mbuf *> got = receive(32);
    ASSERT_EQ(got.size(), 32u) << "chunk " << chunk;
    held.insert(held.end(), got.begin(), got.end());
  }
  EXPECT_EQ(dev_->pool_buffers_held(0), 0u);
  EXPECT_GT(dev_->xdp_stats(0).fill_short, 0u);
  // ...and then none: there is no buffer to receive into. Counted, not lost
  // silently.
  constexpr uint32_t kUnplaced = 40;
  for (uint32_t i = 0; i < kUnplaced; ++i) peer_->send(frame_for(dev_->mac(), seq++, 100));
  usleep(100'000);
  mem::Mbuf *burst[64];
  EXPECT_EQ(dev_->rx_burst(0, burst, 64), 0) << "received without a buffer to receive into";
  EXPECT_GE(dev_->stats(0).rx_nombuf, kUnplaced);

  // Buffers come back: reception resumes, every frame intact.
  for (mem::Mbuf *m : held) mem::MbufPool::free_chain(m);
  constexpr uint32_t kAfter = 30;
  for (uint32_t i = 0; i < kAfter; ++i) {
    dev_->rx_burst(0, burst, 0);  // a poll: refill the ring
    peer_->send(frame_for(dev_->mac(), 1000 + i, 100));
    std::vector<mem::Mbuf *> one = receive(1);
    ASSERT_EQ(one.size(), 1u) << "frame " << i << " after recovery";
    EXPECT_EQ(seq_of(one[0]->data()), 1000 + i);
    mem::MbufPool::free_chain(one[0]);
  }
  EXPECT_EQ(dev_->pool_buffers_held(0), 256u);
  expect_pool_whole();
}

TEST_F(XdpQueueTest, ReflectedFramesGoBackOutOfTheBufferTheyArrivedIn) {
  ASSERT_NO_FATAL_FAILURE(open(2048));
  constexpr uint32_t kFrames = 64;
  for (uint32_t i = 0; i < kFrames; ++i) peer_->send(frame_for(dev_->mac(), i, 300));
  std::vector<mem::Mbuf *> got = receive(kFrames);
  ASSERT_EQ(got.size(), kFrames);
  const net::MacAddr peer_mac{{0x02, 0, 0, 0, 0, 0x01}};
  for (mem::Mbuf *m : got) std::memcpy(m->data(), peer_mac.b.data(), 6);
  uint32_t sent = 0;
  while (sent < kFrames) sent += dev_->tx_burst(0, got.data() + sent, kFrames - sent);
  EXPECT_EQ(dev_->xdp_stats(0).tx_zero_copy, kFrames);
  const auto back = peer_->receive(kFrames, poller());
  ASSERT_EQ(back.size(), kFrames);
  EXPECT_TRUE(wait_idle());
}

}  // namespace
}  // namespace ix::drivers
