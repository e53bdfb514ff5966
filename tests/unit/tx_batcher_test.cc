// The TX batcher hands queued frames to the device until the device takes
// no more: a device that takes at most a burst per call (DPDK's drivers) gets
// every frame in one flush, and only a full ring keeps frames back, in order,
// for the next flush.
#include "core/tx_batcher.hh"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "core/core_stats.hh"
#include "drivers/device.hh"
#include "mem/mbuf_pool.hh"

namespace ix::core {
namespace {

// Takes at most `per_call` frames a call and holds `ring` of them until
// drain() frees them, as a NIC's TX ring does.
class BurstLimitedDevice final : public drivers::Device {
 public:
  BurstLimitedDevice(uint16_t per_call, size_t ring) : per_call_(per_call), ring_(ring) {}
  ~BurstLimitedDevice() override { drain(); }

  std::string_view name() const override { return "burst-limited"; }
  const drivers::DeviceCaps &caps() const override { return caps_; }
  net::MacAddr mac() const override { return {}; }
  void set_rx_pool(uint16_t, mem::MbufPool *) override {}
  uint16_t rx_burst(uint16_t, mem::Mbuf **, uint16_t) override { return 0; }
  uint16_t tx_burst(uint16_t, mem::Mbuf **pkts, uint16_t n) override {
    ++calls;
    const size_t room = ring_ - held_.size();
    const uint16_t take = static_cast<uint16_t>(std::min<size_t>({n, per_call_, room}));
    held_.insert(held_.end(), pkts, pkts + take);
    return take;
  }
  drivers::QueueStats stats(uint16_t) const override { return {}; }

  // Frees what the ring holds; returns the frames' tags in the order sent.
  std::vector<uint32_t> drain() {
    std::vector<uint32_t> tags;
    for (mem::Mbuf *m : held_) {
      tags.push_back(m->data_len);
      mem::MbufPool::free_chain(m);
    }
    held_.clear();
    return tags;
  }
  unsigned calls = 0;

 private:
  drivers::DeviceCaps caps_;
  uint16_t per_call_;
  size_t ring_;
  std::vector<mem::Mbuf *> held_;
};

class TxBatcherTest : public ::testing::Test {
 protected:
  // A frame tagged by its length, to check the order frames leave in.
  mem::Mbuf *frame(uint32_t tag) {
    mem::Mbuf *m = pool.alloc();
    EXPECT_NE(m, nullptr);
    m->data_len = static_cast<uint16_t>(tag);
    m->pkt_len = tag;
    return m;
  }
  mem::MbufPool pool{mem::MbufPoolConfig{.count = 1024, .try_huge_pages = false}};
  CoreStats stats;
};

TEST_F(TxBatcherTest, ADeviceTakingABurstPerCallGetsEveryFrameInOneFlush) {
  BurstLimitedDevice dev(64, 1024);
  TxBatcher batcher(dev, 0, 512, stats);
  for (uint32_t i = 1; i <= 200; ++i) batcher.send_frame(frame(i));
  EXPECT_EQ(batcher.flush(), 200u);
  EXPECT_EQ(batcher.queued(), 0u);
  EXPECT_EQ(stats.tx_frames, 200u);
  EXPECT_EQ(stats.tx_full, 0u) << "a burst-sized take is not a full ring";
  EXPECT_EQ(dev.calls, 4u);  // 64 + 64 + 64 + 8
  std::vector<uint32_t> want(200);
  for (uint32_t i = 0; i < 200; ++i) want[i] = i + 1;
  EXPECT_EQ(dev.drain(), want);
}

TEST_F(TxBatcherTest, AFullRingKeepsTheRestInOrderForTheNextFlush) {
  BurstLimitedDevice dev(64, 100);
  TxBatcher batcher(dev, 0, 512, stats);
  for (uint32_t i = 1; i <= 150; ++i) batcher.send_frame(frame(i));
  EXPECT_EQ(batcher.flush(), 100u);
  EXPECT_EQ(batcher.queued(), 50u);
  EXPECT_EQ(stats.tx_full, 50u) << "counts the frames kept back";
  std::vector<uint32_t> first = dev.drain();
  ASSERT_EQ(first.size(), 100u);
  EXPECT_EQ(first.front(), 1u);
  EXPECT_EQ(first.back(), 100u);
  // The ring drained: the rest leave next, in order.
  EXPECT_EQ(batcher.flush(), 50u);
  EXPECT_EQ(batcher.queued(), 0u);
  EXPECT_EQ(stats.tx_frames, 150u);
  std::vector<uint32_t> rest = dev.drain();
  ASSERT_EQ(rest.size(), 50u);
  for (uint32_t i = 0; i < 50; ++i) EXPECT_EQ(rest[i], 101 + i);
  EXPECT_EQ(pool.available(), pool.capacity()) << "every frame freed once";
}

TEST_F(TxBatcherTest, ABacklogThatOverflowsDropsAndCountsTheNewFrame) {
  BurstLimitedDevice dev(64, 0);  // a ring that never takes anything
  TxBatcher batcher(dev, 0, 8, stats);
  for (uint32_t i = 1; i <= 10; ++i) batcher.send_frame(frame(i));
  EXPECT_EQ(batcher.queued(), 8u);
  EXPECT_EQ(stats.tx_dropped, 2u);
  EXPECT_EQ(pool.available(), pool.capacity() - 8) << "the dropped frames were freed";
}

}  // namespace
}  // namespace ix::core
