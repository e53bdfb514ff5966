#include "core/elastic_thread.hh"

#include <sched.h>

#include <stdexcept>

#include "net/tcp/tcp.hh"

namespace ix::core {

namespace {

// A device that receives straight into pool buffers dictates their layout.
mem::MbufPoolConfig pool_config_for(mem::MbufPoolConfig c, const drivers::DeviceCaps &caps) {
  if (caps.pool_buffer_stride != 0) c.buffer_stride = caps.pool_buffer_stride;
  c.device_share = caps.pool_device_share;
  return c;
}

}  // namespace

ElasticThread::ElasticThread(const ElasticThreadConfig &cfg, drivers::Device &dev,
                             const timing::Clock &clock, StatsMailbox<ThreadSnapshot> *mailbox)
    : cfg_(cfg),
      dev_(dev),
      clock_(clock),
      pool_(std::make_unique<mem::MbufPool>(pool_config_for(cfg.pool, dev.caps()))),
      timers_(clock.now_ns()),
      tx_(dev, cfg.queue, cfg.tx_backlog, stats_),
      rx_batch_(kMaxBatch),
      mailbox_(mailbox != nullptr ? mailbox : &own_mailbox_) {
  if (cfg.queue >= dev.caps().rx_queues || cfg.queue >= dev.caps().tx_queues)
    throw std::invalid_argument("elastic thread " + std::to_string(cfg.id) + ": queue " +
                                std::to_string(cfg.queue) + " does not exist on " +
                                std::string(dev.name()));
  set_batch(cfg.batch);
  dev_.set_rx_pool(cfg.queue, pool_.get());
  stack_ = std::make_unique<net::NetStack>(cfg.stack, *pool_, clock_, timers_, tx_,
                                           dev.caps().link_caps());
  net::FlowGroupTable all_mine(net::FlowGroupTable::kDefaultSize, 1);
  for (uint16_t g = 0; g < all_mine.size(); ++g) all_mine.assign(g, static_cast<uint16_t>(cfg.id));
  set_flow_ownership(
      net::FlowOwnership(net::kDefaultRssKey, all_mine, static_cast<uint16_t>(cfg.id)), false);
  publish_now();
}

void ElasticThread::set_flow_ownership(net::FlowOwnership view, bool trust_nic_hash) {
  flows_ = std::make_unique<net::FlowOwnership>(std::move(view));
  steer_ = false;
  for (uint16_t g = 0; g < flows_->groups(); ++g) steer_ = steer_ || !flows_->owns_group(g);
  trust_nic_hash_ = trust_nic_hash;
  stack_->tcp().set_flow_ownership(flows_.get());
  hold_from_.assign(flows_->groups(), 0);
  parcel_in_.assign(flows_->groups(), 0);
  held_.resize(flows_->groups());
}

void ElasticThread::connect_forwarding(std::vector<FrameLink *> out, std::vector<FrameLink *> in) {
  fwd_out_ = std::move(out);
  fwd_in_ = std::move(in);
  outbox_.assign(fwd_out_.size(), Outbox{});
  for (size_t i = 0; i < fwd_out_.size(); ++i)
    if (fwd_out_[i] != nullptr) outbox_[i].frames.resize(kOutboxFrames);
}

bool ElasticThread::steer_away(mem::Mbuf *m) {
  // The headers are in the first segment (every driver puts at least the
  // first 2 KiB there); a shorter one has no flow and stays here.
  const net::FrameFlow f = net::parse_frame_flow({m->data(), m->data_len});
  if (f.kind != net::FrameFlow::kIpv4L4) return false;  // ARP, ICMP, fragments: any thread
  const uint32_t hash = trust_nic_hash_ && (m->ol_flags & mem::kRxRssHashValid)
                            ? m->rss_hash
                            : flows_->hasher().ipv4_l4(f.src, f.dst, f.sport, f.dport);
  const uint16_t group = flows_->group_of_hash(hash);
  if (holding_ != 0 && hold_from_[group] != 0) {
    hold(group, m);
    return true;
  }
  const uint16_t owner = flows_->owner_of_group(group);
  if (owner == flows_->self()) return false;
  if (!forward(owner, m, group)) {
    ++stats_.fwd_dropped;  // never processed here: no state, no reset on the wrong thread
    mem::MbufPool::free_chain(m);
  }
  return true;
}

bool ElasticThread::forward(uint16_t to, mem::Mbuf *m, uint16_t group) {
  FrameLink *link = to < fwd_out_.size() ? fwd_out_[to] : nullptr;
  if (link == nullptr) return false;
  Outbox &box = outbox_[to];
  if (box.count == 0 && link->push(m, group)) {
    ++stats_.fwd_out;
    mem::MbufPool::free_chain(m);  // the link holds a copy
    return true;
  }
  if (box.count == box.frames.size()) return false;
  box.frames[(box.head + box.count) % box.frames.size()] = {m, group};
  ++box.count;
  ++outboxed_;
  return true;
}

void ElasticThread::drain_outboxes() {
  for (size_t to = 0; to < outbox_.size(); ++to) {
    Outbox &box = outbox_[to];
    while (box.count != 0) {
      const auto [m, group] = box.frames[box.head];
      if (!fwd_out_[to]->push(m, group)) break;
      ++stats_.fwd_out;
      mem::MbufPool::free_chain(m);
      box.head = (box.head + 1) % box.frames.size();
      --box.count;
      --outboxed_;
    }
  }
}

void ElasticThread::drain_forwarded() {
  drained_all_ = true;
  for (unsigned from = 0; from < fwd_in_.size(); ++from) {
    FrameLink *link = fwd_in_[from];
    if (link == nullptr) continue;
    uint16_t i = 0;
    for (; i < cfg_.batch; ++i) {
      mem::Mbuf *m = nullptr;
      FrameLink::Marker mk;
      uint16_t group = FrameLink::kNoGroup;
      const FrameLink::Item item = link->pop_item(*pool_, &m, &mk, &group);
      if (item == FrameLink::Item::kEmpty) break;
      if (item == FrameLink::Item::kMarker) {
        on_marker(from, mk);
        continue;
      }
      if (item == FrameLink::Item::kDropped) {
        ++stats_.fwd_dropped;
        continue;
      }
      ++stats_.fwd_in;
      // The sender found the frame's group (FrameLink::push), so it is not
      // parsed and hashed again here.
      const bool known = group < flows_->groups();
      if (holding_ != 0) {
        // A frame of a group being taken over is processed now only if it
        // comes from the old owner after its parcel: the old owner's frames
        // are the older ones. Any other is held until the old owner's last.
        const int g = known ? (hold_from_[group] != 0 ? group : -1) : held_group_of(m);
        if (g >= 0) {
          if (!(hold_from_[g] == from + 1 && parcel_in_[g]))
            hold(static_cast<uint16_t>(g), m);
          else
            stack_->input(m);
          continue;
        }
      }
      // A sibling that steered by an older view (descheduled mid-batch
      // across a move) may hand over a frame of a group that left: it goes
      // on to its owner, never into a stack without its connection.
      if (steer_ && (!known || !flows_->owns_group(group)) && steer_away(m)) continue;
      stack_->input(m);
    }
    if (i == cfg_.batch) drained_all_ = false;
  }
}

ElasticThread::~ElasticThread() {
  for (auto &q : held_)
    for (mem::Mbuf *m : q) mem::MbufPool::free_chain(m);
  for (Outbox &box : outbox_)
    for (; box.count != 0; --box.count, box.head = (box.head + 1) % box.frames.size())
      mem::MbufPool::free_chain(box.frames[box.head].m);
  // The stack may hold mbufs (ARP hold queues); release them before the pool.
  stack_.reset();
}

unsigned ElasticThread::poll_at(uint64_t now) {
  ++stats_.iterations;
  last_poll_start_ns_ = now;
  if (first_poll_ns_ == 0) first_poll_ns_ = last_poll_ns_ = now;
  if (last_poll_busy_) stats_.busy_ns += now - last_poll_ns_;
  stats_.loop_ns = now - first_poll_ns_;
  last_poll_ns_ = now;
  stats_.timers_fired += timers_.advance(now);
  // Older frames for siblings first, before this poll forwards newer ones.
  if (outboxed_ != 0) [[unlikely]]
    drain_outboxes();

  // After a parking, the queue waits until what its stand-in forwarded is
  // taken (adopted_queues.cc).
  const bool rx_waits = !rx_wait_.empty() && !passed(rx_wait_);
  const uint16_t n = rx_waits ? 0 : dev_.rx_burst(cfg_.queue, rx_batch_.data(), cfg_.batch);
  stats_.record_batch(n);
  if (n == 0) {
    ++stats_.idle_polls;
    if (cfg_.idle_polls_before_yield != 0 && ++idle_streak_ >= cfg_.idle_polls_before_yield) {
      idle_streak_ = 0;
      ++stats_.idle_yields;
      sched_yield();  // idle only: see idle_polls_before_yield
    }
  } else {
    idle_streak_ = 0;
    stats_.rx_frames += n;
    mem::Mbuf **pkts = rx_batch_.data();
    stack_->prefetch(pkts, n);
    for (uint16_t i = 0; i < n; ++i) {
      if (i + 1 < n) __builtin_prefetch(pkts[i + 1]->data());
      if ((steer_ || holding_ != 0) && steer_away(pkts[i])) continue;
      stack_->input(pkts[i]);
    }
  }
  if (!fwd_in_.empty())
    drain_forwarded();
  else
    drained_all_ = true;
  if (n == cfg_.batch || rx_waits) drained_all_ = false;
  if (!adopted_.empty()) [[unlikely]]
    poll_adopted();
  // Buffers that moved to a sibling with a connection and came back freed.
  pool_->reclaim();
  // Bindings siblings learned: rare, and one relaxed load per sibling when
  // there are none.
  for (ArpRing *in : arp_in_) {
    ArpNote note;
    while (in->pop(note)) stack_->arp_learned_elsewhere(note.ip, note.mac);
  }
  tx_.flush();
  last_poll_busy_ = n != 0;
  return n;
}

void ElasticThread::connect_siblings(std::vector<ArpRing *> outboxes,
                                     std::vector<ArpRing *> inboxes) {
  arp_out_ = std::move(outboxes);
  arp_in_ = std::move(inboxes);
  stack_->set_arp_listener(
      [](void *arg, net::Ipv4Addr ip, const net::MacAddr &mac) {
        auto *self = static_cast<ElasticThread *>(arg);
        for (ArpRing *out : self->arp_out_)
          if (!out->push(ArpNote{ip, mac})) ++self->stats_.arp_notes_dropped;
      },
      this);
}

void ElasticThread::ext_release_fn(mem::Mbuf *m, void *thread) {
  auto *t = static_cast<ElasticThread *>(thread);
  if (t->send_listener_fn_ != nullptr) t->send_listener_fn_(t->send_listener_, m->cookie);
}

void ElasticThread::maybe_publish() {
  const uint64_t now = clock_.now_ns();
  if (now < next_publish_ns_) return;
  next_publish_ns_ = now + cfg_.stats_period_ns;
  publish_now();
}

void ElasticThread::publish_now() {
  ThreadSnapshot s;
  s.core = stats_;
  if (stack_) {
    s.net = stack_->counters();
    s.tcp = stack_->tcp().stats();
  }
  s.pool = pool_->stats();
  s.pool_available = pool_->available();
  s.pool_capacity = pool_->capacity();
  s.pool_in_device = dev_.pool_buffers_held(cfg_.queue);
  mailbox_->publish(s);
}

ThreadSnapshot ElasticThread::snapshot() const { return mailbox_->read(); }

}  // namespace ix::core
