// The `loop` NIC: an in-process virtual wire (one Ethernet segment behind a
// learning-free switch) joining two or more ports, each a multi-queue NIC with
// RSS. Tests run whole stacks over it with a ManualClock and seeded faults;
// nothing leaves the process.
//
//   timing::ManualClock clock;
//   LoopWire wire(clock);
//   LoopPort &a = wire.add_port({.name = "a", .mac = mac_a, .queues = 2});
//   LoopPort &b = wire.add_port({.name = "b", .mac = mac_b, .queues = 2});
//   a.set_rx_pool(0, &pool0); ...
//   a.tx_burst(0, pkts, n);           // frames land in b's RX rings
//   b.rx_burst(q, pkts, 64);          // q chosen by b's RSS
//
// What the wire does with a frame sent on port P, TX queue t:
//  1. Gathers the chain (pool, chained and external segments) into one
//     contiguous copy, then frees the chain with MbufPool::free_chain, so
//     external-buffer release callbacks fire on the sender's thread.
//     Runts (< 14 bytes), frames over MTU + 18 and inconsistent chains are
//     refused: tx_dropped plus a reason counter.
//  2. Applies the faults of (P, t) (see FaultConfig).
//  3. Delivers a copy to the port whose MAC equals the destination, or to every
//     other port for broadcast/multicast; unknown unicast counts tx_no_dest.
//  4. The receiving port hashes the frame (rx_steering.hh), looks the hash up
//     in its flow group table and pushes the frame onto that RX queue's ring;
//     a full ring counts rx_dropped.
// rx_burst(q) then copies each due frame into an mbuf from q's pool (chained
// if it does not fit one), setting rss_hash/kRxRssHashValid and rx_queue; an
// empty pool drops the frame and counts rx_nombuf.
//
// Time: frames carry a due time (now + latency_ns, + delay_ns when the delay
// fault hits). rx_burst stops at the first frame not yet due, so a delayed
// frame also holds back the frames behind it on the same RX queue: delay
// never reorders (use the reorder fault for that).
//
// Threading: as on a real NIC, each queue belongs to one thread. Different
// threads may run tx_burst/rx_burst on different queues of the same or other
// ports concurrently; the RX rings are the only shared points (frame_ring.hh).
// Ports must all be added before traffic starts. set_flow_groups and
// assign_flow_group may run concurrently with traffic; like a NIC's RETA
// update they take effect at no particular packet boundary, but, as on a
// NIC whose DMA of a frame finishes within a bounded time, they return only
// once every frame steered by the old table is in its RX ring (a sender
// thread descheduled between the lookup and the ring would otherwise put a
// frame on the old queue at any later time; flow-group moves rely on this).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "drivers/device.hh"
#include "drivers/loop/fault_injector.hh"
#include "net/rss.hh"
#include "timing/clock.hh"

namespace ix::drivers {

class LoopWire;

struct LoopWireConfig {
  FaultConfig faults;       // for every port that does not set its own
  uint64_t latency_ns = 0;  // constant one-way delay of every frame
};

struct LoopPortConfig {
  std::string name = "loop";
  net::MacAddr mac;            // unicast, not zero, unique on the wire
  uint16_t queues = 1;         // RX queues and TX queues
  uint32_t ring_depth = 1024;  // frames per RX ring
  uint16_t mtu = 1500;         // IP MTU; frames up to mtu + 18 bytes are carried
  uint16_t reta_size = net::FlowGroupTable::kDefaultSize;
  std::array<uint8_t, 40> rss_key = net::kDefaultRssKey;
  std::optional<FaultConfig> faults;  // overrides the wire's faults for frames this port sends
  // A trusted link (README, "Trusted links"): the port claims every checksum
  // offload and does none of the work. It marks received frames' checksums
  // good and sends the partial sums the stack leaves for the offload, so
  // both ends must be IX stacks on trusted ports, and the wire must not
  // corrupt frames (a corrupting fault config is refused).
  bool trusted_link = false;
};

// Faults injected on one TX queue's frames.
struct FaultStats {
  uint64_t dropped = 0;
  uint64_t duplicated = 0;
  uint64_t reordered = 0;
  uint64_t corrupted = 0;
  uint64_t delayed = 0;
};

// Reasons behind QueueStats' drop counters, and the faults, for queue q.
struct LoopQueueStats {
  uint64_t tx_runt = 0;       // shorter than an Ethernet header
  uint64_t tx_oversize = 0;   // longer than mtu + 18
  uint64_t tx_bad_chain = 0;  // segment lengths do not add up to pkt_len
  uint64_t tx_no_dest = 0;    // sent, but no port has the destination MAC
  uint64_t rx_ring_full = 0;  // RX ring overflow
  uint64_t rx_oversize = 0;   // frame larger than this port's MTU allows
  FaultStats faults;          // injected on frames sent from TX queue q
};

class LoopPort final : public Device {
 public:
  // Made by LoopWire::add_port; `index` seeds this port's fault streams.
  LoopPort(LoopWire &wire, uint32_t index, const LoopPortConfig &cfg, const FaultConfig &faults);
  ~LoopPort() override;
  LoopPort(const LoopPort &) = delete;
  LoopPort &operator=(const LoopPort &) = delete;

  // Device
  std::string_view name() const override { return cfg_.name; }
  const DeviceCaps &caps() const override { return caps_; }
  net::MacAddr mac() const override { return cfg_.mac; }
  void set_rx_pool(uint16_t q, mem::MbufPool *pool) override;
  uint16_t rx_burst(uint16_t q, mem::Mbuf **pkts, uint16_t max) override;
  uint16_t tx_burst(uint16_t q, mem::Mbuf **pkts, uint16_t n) override;
  QueueStats stats(uint16_t q) const override;
  std::string_view rss_key() const override;

  // Flow groups (the RSS indirection table). Return false, changing nothing,
  // if the table's size differs from reta_size or a queue is out of range.
  bool set_flow_groups(const net::FlowGroupTable &table) override;
  uint64_t rx_mark(uint16_t q) const override;
  bool rx_passed(uint16_t q, uint64_t mark) const override;
  bool assign_flow_group(uint16_t group, uint16_t queue);
  net::FlowGroupTable flow_groups() const;
  // The RX queue a frame with this hash lands on.
  uint16_t queue_of_hash(uint32_t hash) const;

  LoopQueueStats queue_stats(uint16_t q) const;
  // Deliver a frame the reorder fault is holding on TX queue q now (call from
  // q's owner thread). Returns whether one was held.
  bool flush_held(uint16_t q);

  // A scripted fault, before the random ones: a frame this port sends is
  // dropped (and counted so) when the filter returns false. Tests use it to
  // lose exactly the segments a scenario needs; empty: every frame passes.
  // Set before traffic flows, from the thread that sends.
  using TxFilter = std::function<bool(std::span<const uint8_t> frame)>;
  void set_tx_filter(TxFilter f) { tx_filter_ = std::move(f); }

 private:
  friend class LoopWire;
  struct RxQueue;
  struct TxQueue;

  // Called by the wire on the sender's thread.
  void receive(std::span<const uint8_t> frame, uint64_t due_ns);
  void transmit_frame(TxQueue &txq, const uint8_t *frame, uint16_t len);
  void deliver(TxQueue &txq, std::span<const uint8_t> frame, uint8_t copies, bool delayed);
  // The frame m carries, checked: *frame points at its bytes (the buffer's
  // own for a single segment, else gathered into scratch); its length, or a
  // GatherError.
  int32_t frame_of(const mem::Mbuf *m, uint8_t *scratch, const uint8_t **frame) const;

  LoopWire &wire_;
  const LoopPortConfig cfg_;
  const uint16_t frame_cap_;      // largest frame carried: mtu + 18
  const net::ToeplitzTable rss_;  // the port's key, tabulated
  TxFilter tx_filter_;
  DeviceCaps caps_;
  std::unique_ptr<std::atomic<uint16_t>[]> reta_;
  // Frames between their RETA lookup and their RX ring (receive()); a table
  // update waits for it to reach zero. One RMW pair per frame on a line the
  // senders share: this is the simulated NIC, not the dataplane.
  alignas(64) std::atomic<uint32_t> steering_{0};
  void wait_steered() const;
  std::vector<std::unique_ptr<RxQueue>> rxq_;
  std::vector<std::unique_ptr<TxQueue>> txq_;
};

class LoopWire {
 public:
  explicit LoopWire(const timing::Clock &clock, const LoopWireConfig &cfg = {});
  ~LoopWire();
  LoopWire(const LoopWire &) = delete;
  LoopWire &operator=(const LoopWire &) = delete;

  // Adds a port; the wire owns it. Throws std::invalid_argument on a bad
  // configuration (no queues, zero ring, MTU outside 68..9000, a multicast,
  // zero or duplicate MAC, empty RETA).
  LoopPort &add_port(const LoopPortConfig &cfg);
  size_t port_count() const { return ports_.size(); }
  LoopPort &port(size_t i) { return *ports_.at(i); }

  const timing::Clock &clock() const { return clock_; }
  const LoopWireConfig &config() const { return cfg_; }

 private:
  friend class LoopPort;
  // Hands a frame to every port that should see it; returns how many did.
  uint32_t deliver(const LoopPort &from, std::span<const uint8_t> frame, uint64_t due_ns);

  const timing::Clock &clock_;
  const LoopWireConfig cfg_;
  std::vector<std::unique_ptr<LoopPort>> ports_;
};

}  // namespace ix::drivers
