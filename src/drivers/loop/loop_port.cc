#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "drivers/loop/frame_ring.hh"
#include "drivers/loop/loop_wire.hh"
#include "drivers/loop/queue_counter.hh"
#include "drivers/loop/rx_steering.hh"

namespace ix::drivers {

namespace {

constexpr uint16_t kEthHeader = 14;
// Ethernet header plus one VLAN tag on top of the IP MTU.
constexpr uint16_t kFrameOverhead = 18;

enum GatherError : int32_t { kBadChain = -1, kOversize = -2 };

// The receiving NIC writes a frame into buffers from the queue's pool,
// scattering it over several if one is too small. nullptr: the pool ran dry.
mem::Mbuf *copy_to_mbufs(mem::MbufPool &pool, const uint8_t *data, uint16_t len) {
  mem::Mbuf *head = pool.alloc_rx();
  if (head == nullptr) return nullptr;
  mem::Mbuf *seg = head;
  uint16_t done = 0;
  for (;;) {
    const uint16_t part = std::min<uint16_t>(static_cast<uint16_t>(len - done), seg->tailroom());
    std::memcpy(seg->append(part), data + done, part);
    done = static_cast<uint16_t>(done + part);
    if (seg != head) head->chain(seg);
    if (done == len) return head;
    seg = pool.alloc_rx();
    if (seg == nullptr || seg->tailroom() == 0) {
      if (seg != nullptr) pool.free_one(seg);
      mem::MbufPool::free_chain(head);
      return nullptr;
    }
  }
}

}  // namespace

struct alignas(64) LoopPort::RxQueue {
  RxQueue(uint32_t depth, uint16_t frame_cap) : ring(depth, frame_cap) {}
  FrameRing ring;
  mem::MbufPool *pool = nullptr;
  OwnerCounter packets, bytes, nombuf;
  SharedCounter ring_full, oversize;  // counted by senders
};

struct alignas(64) LoopPort::TxQueue {
  TxQueue(const FaultConfig &cfg, uint64_t stream, uint16_t frame_cap)
      : faults(cfg, stream), scratch(frame_cap), held(frame_cap) {}
  FaultInjector faults;
  std::vector<uint8_t> scratch;  // the gathered frame being sent
  // A frame the reorder fault holds back, and how many frames still overtake it.
  std::vector<uint8_t> held;
  uint16_t held_len = 0;
  uint32_t held_gap = 0;
  uint8_t held_copies = 0;
  bool held_delayed = false;
  bool holding = false;

  OwnerCounter packets, bytes, dropped, runt, oversize, bad_chain, no_dest;
  OwnerCounter f_dropped, f_duplicated, f_reordered, f_corrupted, f_delayed;
};

LoopPort::LoopPort(LoopWire &wire, uint32_t index, const LoopPortConfig &cfg,
                   const FaultConfig &faults)
    : wire_(wire),
      cfg_(cfg),
      frame_cap_(static_cast<uint16_t>(cfg.mtu + kFrameOverhead)),
      rss_(cfg.rss_key) {
  const std::string who = "loop port " + cfg.name + ": ";
  if (cfg.queues == 0) throw std::invalid_argument(who + "needs at least one queue");
  if (cfg.ring_depth == 0) throw std::invalid_argument(who + "ring depth must be at least 1");
  if (cfg.mtu < 68 || cfg.mtu > 9000) throw std::invalid_argument(who + "MTU must be 68..9000");
  if (cfg.reta_size == 0) throw std::invalid_argument(who + "RETA needs at least one entry");

  caps_.rx_queues = cfg.queues;
  caps_.tx_queues = cfg.queues;
  caps_.rss = true;
  caps_.reta_size = cfg.reta_size;
  caps_.rx_hash = true;
  caps_.tx_multi_seg = true;
  caps_.tx_external = true;
  caps_.zero_copy = false;
  caps_.mtu = cfg.mtu;
  if (cfg.trusted_link) {
    if (faults.corrupt > 0)
      throw std::invalid_argument(who +
                                  "a trusted link skips checksums, so nothing would notice the "
                                  "corruption its faults inject; set corrupt to 0 or trust off");
    caps_.rx_ip_csum = caps_.rx_l4_csum = caps_.tx_ip_csum = caps_.tx_l4_csum = true;
  }

  reta_ = std::make_unique<std::atomic<uint16_t>[]>(cfg.reta_size);
  const net::FlowGroupTable spread(cfg.reta_size, cfg.queues);
  for (uint16_t g = 0; g < cfg.reta_size; ++g)
    reta_[g].store(spread.queue_of_group(g), std::memory_order_relaxed);

  for (uint16_t q = 0; q < cfg.queues; ++q) {
    rxq_.push_back(std::make_unique<RxQueue>(cfg.ring_depth, frame_cap_));
    // One fault stream per (port, TX queue): queues on different threads never share an RNG.
    txq_.push_back(std::make_unique<TxQueue>(faults, (uint64_t{index} << 16) | q, frame_cap_));
  }
}

LoopPort::~LoopPort() = default;

void LoopPort::set_rx_pool(uint16_t q, mem::MbufPool *pool) {
  if (q < rxq_.size()) rxq_[q]->pool = pool;
}

std::string_view LoopPort::rss_key() const {
  return {reinterpret_cast<const char *>(cfg_.rss_key.data()), cfg_.rss_key.size()};
}

uint16_t LoopPort::rx_burst(uint16_t q, mem::Mbuf **pkts, uint16_t max) {
  if (q >= rxq_.size() || pkts == nullptr) return 0;
  RxQueue &rxq = *rxq_[q];
  if (rxq.pool == nullptr) return 0;

  uint64_t now = 0;
  bool have_now = false;
  uint16_t n = 0;
  uint64_t bytes = 0, nombuf = 0;
  FrameRing::Frame f;
  while (n < max && rxq.ring.front(f)) {
    if (f.due_ns != 0) {
      if (!have_now) {
        now = wire_.clock().now_ns();
        have_now = true;
      }
      if (f.due_ns > now) break;  // the wire has not delivered it yet
    }
    mem::Mbuf *m = copy_to_mbufs(*rxq.pool, f.data, f.len);
    rxq.ring.pop();
    if (m == nullptr) {
      ++nombuf;
      continue;
    }
    m->rss_hash = f.rss_hash;
    if (f.hash_valid) m->ol_flags |= mem::kRxRssHashValid;
    if (cfg_.trusted_link) m->ol_flags |= mem::kRxIpCsumGood | mem::kRxL4CsumGood;
    m->rx_queue = q;
    bytes += f.len;
    pkts[n++] = m;
  }
  if (n != 0) {
    rxq.packets.add(n);
    rxq.bytes.add(bytes);
  }
  if (nombuf != 0) rxq.nombuf.add(nombuf);
  return n;
}

int32_t LoopPort::frame_of(const mem::Mbuf *m, uint8_t *scratch, const uint8_t **frame) const {
  if (m->pkt_len > frame_cap_) return kOversize;
  if (m->next == nullptr) {
    // One segment goes out from its own buffer, as a NIC's DMA reads it.
    if (uint32_t{m->data_off} + m->data_len > m->buf_len || m->data_len != m->pkt_len)
      return kBadChain;
    *frame = m->data();
    return m->data_len;
  }
  uint32_t total = 0, segs = 0;
  for (const mem::Mbuf *s = m; s != nullptr; s = s->next) {
    if (++segs > kMaxTxSegments) return kBadChain;
    if (uint32_t{s->data_off} + s->data_len > s->buf_len) return kBadChain;
    if (total + s->data_len > m->pkt_len) return kBadChain;
    if (s->data_len != 0) std::memcpy(scratch + total, s->data(), s->data_len);
    total += s->data_len;
  }
  *frame = scratch;
  return total == m->pkt_len ? static_cast<int32_t>(total) : kBadChain;
}

uint16_t LoopPort::tx_burst(uint16_t q, mem::Mbuf **pkts, uint16_t n) {
  if (q >= txq_.size() || pkts == nullptr) return 0;
  TxQueue &t = *txq_[q];
  for (uint16_t i = 0; i < n; ++i) {
    mem::Mbuf *m = pkts[i];
    if (m == nullptr) {
      t.dropped.add();
      t.bad_chain.add();
      continue;
    }
    const uint8_t *frame = nullptr;
    const int32_t len = frame_of(m, t.scratch.data(), &frame);
    if (len < 0) {
      t.dropped.add();
      (len == kOversize ? t.oversize : t.bad_chain).add();
    } else if (len < kEthHeader) {
      t.dropped.add();
      t.runt.add();
    } else {
      t.packets.add();
      t.bytes.add(static_cast<uint64_t>(len));
      transmit_frame(t, frame, static_cast<uint16_t>(len));
    }
    // The "DMA" is done (the receiver holds its own copy): the chain goes
    // back to its pools and external owners learn their memory is free.
    mem::MbufPool::free_chain(m);
  }
  return n;
}

void LoopPort::transmit_frame(TxQueue &t, const uint8_t *frame, uint16_t len) {
  if (tx_filter_ && !tx_filter_({frame, len})) {
    t.f_dropped.add();
    return;
  }
  const FaultDecision d = t.faults.decide(len);
  if (d.drop) {
    t.f_dropped.add();
    return;
  }
  if (d.corrupt_bit >= 0) {
    // The bit flips on the wire, not in the sender's buffer.
    if (frame != t.scratch.data())
      frame = static_cast<const uint8_t *>(std::memcpy(t.scratch.data(), frame, len));
    t.scratch[d.corrupt_bit / 8] ^= static_cast<uint8_t>(1u << (d.corrupt_bit % 8));
    t.f_corrupted.add();
  }
  const uint8_t copies = d.duplicate ? 2 : 1;
  if (d.duplicate) t.f_duplicated.add();
  if (d.delay) t.f_delayed.add();
  if (d.reorder && !t.holding) {  // one frame held at a time; a second stays in order
    std::memcpy(t.held.data(), frame, len);
    t.held_len = len;
    t.held_copies = copies;
    t.held_delayed = d.delay;
    t.held_gap = t.faults.config().reorder_gap;
    t.holding = true;
    t.f_reordered.add();
    return;
  }
  deliver(t, {frame, len}, copies, d.delay);
  if (t.holding && --t.held_gap == 0) {
    t.holding = false;
    deliver(t, {t.held.data(), t.held_len}, t.held_copies, t.held_delayed);
  }
}

bool LoopPort::flush_held(uint16_t q) {
  if (q >= txq_.size() || !txq_[q]->holding) return false;
  TxQueue &t = *txq_[q];
  t.holding = false;
  deliver(t, {t.held.data(), t.held_len}, t.held_copies, t.held_delayed);
  return true;
}

void LoopPort::deliver(TxQueue &t, std::span<const uint8_t> frame, uint8_t copies, bool delayed) {
  const uint64_t wait = wire_.config().latency_ns + (delayed ? t.faults.config().delay_ns : 0);
  const uint64_t due = wait != 0 ? wire_.clock().now_ns() + wait : 0;
  uint32_t receivers = 0;
  for (uint8_t c = 0; c < copies; ++c) receivers = wire_.deliver(*this, frame, due);
  if (receivers == 0) t.no_dest.add();
}

void LoopPort::receive(std::span<const uint8_t> frame, uint64_t due_ns) {
  const RxHash h = rx_hash_of_frame(rss_, frame);
  steering_.fetch_add(1, std::memory_order_seq_cst);
  RxQueue &rxq = *rxq_[h.valid ? queue_of_hash(h.hash) : 0];
  if (frame.size() > frame_cap_)
    rxq.oversize.add();
  else if (!rxq.ring.push(frame, due_ns, h.hash, h.valid))
    rxq.ring_full.add();
  steering_.fetch_sub(1, std::memory_order_release);
}

void LoopPort::wait_steered() const {
  // The new table is stored (seq_cst, like the increment in receive()): a
  // frame whose increment we do not see will read it. Those we see finish.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  while (steering_.load(std::memory_order_acquire) != 0) std::this_thread::yield();
}

uint64_t LoopPort::rx_mark(uint16_t q) const {
  return q < rxq_.size() ? rxq_[q]->ring.claimed() : kNoRxMark;
}

bool LoopPort::rx_passed(uint16_t q, uint64_t mark) const {
  return q < rxq_.size() && rxq_[q]->ring.taken() >= mark;
}

uint16_t LoopPort::queue_of_hash(uint32_t hash) const {
  // seq_cst, as the counter's increment before it: see wait_steered().
  return reta_[hash % cfg_.reta_size].load(std::memory_order_seq_cst);
}

bool LoopPort::set_flow_groups(const net::FlowGroupTable &table) {
  if (table.size() != cfg_.reta_size) return false;
  for (uint16_t g = 0; g < table.size(); ++g)
    if (table.queue_of_group(g) >= cfg_.queues) return false;
  for (uint16_t g = 0; g < table.size(); ++g)
    reta_[g].store(table.queue_of_group(g), std::memory_order_seq_cst);
  wait_steered();
  return true;
}

bool LoopPort::assign_flow_group(uint16_t group, uint16_t queue) {
  if (group >= cfg_.reta_size || queue >= cfg_.queues) return false;
  reta_[group].store(queue, std::memory_order_seq_cst);
  wait_steered();
  return true;
}

net::FlowGroupTable LoopPort::flow_groups() const {
  net::FlowGroupTable t(cfg_.reta_size, 1);
  for (uint16_t g = 0; g < cfg_.reta_size; ++g)
    t.assign(g, reta_[g].load(std::memory_order_relaxed));
  return t;
}

QueueStats LoopPort::stats(uint16_t q) const {
  QueueStats s;
  if (q >= rxq_.size()) return s;
  const RxQueue &r = *rxq_[q];
  const TxQueue &t = *txq_[q];
  s.rx_packets = r.packets.get();
  s.rx_bytes = r.bytes.get();
  s.rx_nombuf = r.nombuf.get();
  s.rx_dropped = r.ring_full.get() + r.oversize.get();
  s.tx_packets = t.packets.get();
  s.tx_bytes = t.bytes.get();
  s.tx_dropped = t.dropped.get();
  return s;
}

LoopQueueStats LoopPort::queue_stats(uint16_t q) const {
  LoopQueueStats s;
  if (q >= rxq_.size()) return s;
  const RxQueue &r = *rxq_[q];
  const TxQueue &t = *txq_[q];
  s.tx_runt = t.runt.get();
  s.tx_oversize = t.oversize.get();
  s.tx_bad_chain = t.bad_chain.get();
  s.tx_no_dest = t.no_dest.get();
  s.rx_ring_full = r.ring_full.get();
  s.rx_oversize = r.oversize.get();
  s.faults = {t.f_dropped.get(), t.f_duplicated.get(), t.f_reordered.get(), t.f_corrupted.get(),
              t.f_delayed.get()};
  return s;
}

}  // namespace ix::drivers
