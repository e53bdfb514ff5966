#include "net/arp.hh"

#include "net/ethernet.hh"

namespace ix::net {

namespace {
constexpr uint16_t kArpFrameLen = kEthHeaderLen + sizeof(ArpHeader);
}

Arp::Arp(StackContext &ctx, const Ipv4Subnet &subnet)
    : ctx_(ctx), subnet_(subnet), table_(ctx.cfg.arp_table_size) {
  for (size_t i = 0; i < table_.capacity(); ++i) {
    ArpEntry &e = table_.at(i);
    e.owner = this;
    e.timer.fn = &Arp::on_timer;
    e.timer.arg = &e;
  }
}

Arp::~Arp() {
  for (size_t i = 0; i < table_.capacity(); ++i) {
    ArpEntry &e = table_.at(i);
    if (timing::TimerWheel::armed(e.timer)) ctx_.timers.cancel(e.timer);
    while (mem::Mbuf *m = ArpTable::hold_pop(&e)) mem::MbufPool::free_chain(m);
  }
}

void Arp::announce() {
  if (subnet_.addr().is_zero()) return;
  ++ctx_.counters.arp_gratuitous_tx;
  send_request(subnet_.addr(), subnet_.addr());
}

void Arp::send_request(Ipv4Addr target, Ipv4Addr sender) {
  mem::Mbuf *m = ctx_.pool.alloc();
  if (m == nullptr) {
    // The retry timer (or the next announcement) tries again.
    ctx_.counters.drop(DropReason::kNoMbuf);
    return;
  }
  uint8_t *p = m->append(kArpFrameLen);
  if (p == nullptr) {
    ctx_.drop(m, DropReason::kNoMbuf);
    return;
  }
  write_ethernet(p, MacAddr::broadcast(), ctx_.cfg.mac, kEtherTypeArp);
  auto *a = reinterpret_cast<ArpHeader *>(p + kEthHeaderLen);
  a->htype.set(kArpHtypeEthernet);
  a->ptype.set(kEtherTypeIpv4);
  a->hlen = 6;
  a->plen = 4;
  a->op.set(kArpOpRequest);
  a->sha.set(ctx_.cfg.mac);
  a->spa.set(sender);
  a->tha.set(MacAddr{});
  a->tpa.set(target);
  m->l2_len = kEthHeaderLen;
  ++ctx_.counters.arp_requests_tx;
  ctx_.transmit(m);
}

void Arp::reply_in_place(mem::Mbuf *m, const MacAddr &to_mac, Ipv4Addr to_ip) {
  m->trim_to(kArpFrameLen);
  m->ol_flags = 0;
  uint8_t *p = m->data();
  write_ethernet(p, to_mac, ctx_.cfg.mac, kEtherTypeArp);
  auto *a = reinterpret_cast<ArpHeader *>(p + kEthHeaderLen);
  a->op.set(kArpOpReply);
  a->tha.set(to_mac);
  a->tpa.set(to_ip);
  a->sha.set(ctx_.cfg.mac);
  a->spa.set(subnet_.addr());
  ++ctx_.counters.arp_replies_tx;
  ctx_.transmit(m);
}

void Arp::input(mem::Mbuf *m) {
  if (m->data_len < kArpFrameLen) return ctx_.drop(m, DropReason::kArpTruncated);
  const auto *a = reinterpret_cast<const ArpHeader *>(m->data() + kEthHeaderLen);
  if (a->htype.get() != kArpHtypeEthernet) return ctx_.drop(m, DropReason::kArpBadHwType);
  if (a->ptype.get() != kEtherTypeIpv4) return ctx_.drop(m, DropReason::kArpBadProtoType);
  if (a->hlen != 6 || a->plen != 4) return ctx_.drop(m, DropReason::kArpBadAddrLen);
  const uint16_t op = a->op.get();
  if (op != kArpOpRequest && op != kArpOpReply) return ctx_.drop(m, DropReason::kArpBadOp);

  const MacAddr sha = a->sha.get();
  const Ipv4Addr spa = a->spa.get();
  const Ipv4Addr tpa = a->tpa.get();
  if (sha.is_multicast() || sha.is_zero() || spa.is_multicast() || subnet_.is_broadcast(spa))
    return ctx_.drop(m, DropReason::kArpBadSender);
  if (spa == subnet_.addr() && !spa.is_zero()) return ctx_.drop(m, DropReason::kArpAddrConflict);

  const bool for_us = tpa == subnet_.addr() && !tpa.is_zero();
  bool learned = false;
  if (!spa.is_zero()) {  // a zero sender is an address probe (RFC 5227): nothing to learn
    ArpEntry *e = table_.find(spa);
    if (e == nullptr && op == kArpOpRequest && for_us) {
      // The sender is about to talk to us; caching it now saves a request.
      e = table_.insert(spa);
      if (e == nullptr) ++ctx_.counters.arp_learn_skipped;
    }
    if (e != nullptr) {
      learn(e, sha);
      learned = true;
    }
  }

  // A reply to us is news for whichever sibling asked, even if we did not.
  const bool shared = listener_ != nullptr && !spa.is_zero() && (learned || for_us);
  if (shared) listener_(listener_arg_, spa, sha);

  if (op == kArpOpRequest) {
    ++ctx_.counters.arp_requests_rx;
    if (for_us) return reply_in_place(m, sha, spa);
  } else {
    ++ctx_.counters.arp_replies_rx;
  }
  if (learned || shared) {
    mem::MbufPool::free_chain(m);
  } else {
    ctx_.drop(m, DropReason::kArpNotForUs);
  }
}

void Arp::learn(ArpEntry *e, const MacAddr &mac) {
  const bool was_pending = e->state == ArpEntry::State::kPending;
  if (!was_pending && e->mac != mac) next_generation();
  e->state = ArpEntry::State::kResolved;
  e->mac = mac;
  e->retries = 0;
  e->expires_ns = ctx_.clock.now_ns() + ctx_.cfg.arp_timeout_ns;
  ctx_.timers.arm(e->timer, ctx_.cfg.arp_timeout_ns);
  if (!was_pending) return;
  ++ctx_.counters.arp_resolved;
  while (mem::Mbuf *m = ArpTable::hold_pop(e)) {
    reinterpret_cast<EthHeader *>(m->data())->dst.set(mac);
    ctx_.transmit(m);
  }
}

void Arp::learn_from_sibling(Ipv4Addr ip, const MacAddr &mac) {
  if (ip.is_zero() || ip == subnet_.addr() || mac.is_multicast() || mac.is_zero()) return;
  ArpEntry *e = table_.find(ip);
  if (e == nullptr) {
    if (table_.full()) {
      ++ctx_.counters.arp_learn_skipped;
      return;
    }
    e = table_.insert(ip);
    if (e == nullptr) return;
  }
  learn(e, mac);
}

bool Arp::fresh(const ArpEntry &e) const {
  return e.state == ArpEntry::State::kResolved && ctx_.clock.now_ns() < e.expires_ns;
}

void Arp::mark_pending(ArpEntry *e) {
  if (e->state == ArpEntry::State::kResolved) next_generation();
  e->state = ArpEntry::State::kPending;
  e->retries = 0;
  ctx_.timers.arm(e->timer, ctx_.cfg.arp_retry_ns);
  send_request(e->ip, subnet_.addr());
}

ArpEntry *Arp::evict_oldest_resolved() {
  // Only runs with a full table, so the linear scan is off the common path.
  ArpEntry *victim = nullptr;
  for (size_t i = 0; i < table_.capacity(); ++i) {
    ArpEntry &e = table_.at(i);
    if (e.state == ArpEntry::State::kResolved &&
        (victim == nullptr || e.expires_ns < victim->expires_ns))
      victim = &e;
  }
  if (victim == nullptr) return nullptr;
  ++ctx_.counters.arp_evicted;
  next_generation();
  if (timing::TimerWheel::armed(victim->timer)) ctx_.timers.cancel(victim->timer);
  table_.remove(victim);
  return victim;
}

ArpEntry *Arp::entry_for(Ipv4Addr next_hop) {
  ArpEntry *e = table_.find(next_hop);
  if (e != nullptr) {
    // The expiry timer may not have run yet (the wheel advances in ticks).
    if (e->state == ArpEntry::State::kResolved && !fresh(*e)) mark_pending(e);
    return e;
  }
  if (table_.full() && evict_oldest_resolved() == nullptr) return nullptr;
  e = table_.insert(next_hop);
  mark_pending(e);
  return e;
}

void Arp::output(ArpEntry *e, mem::Mbuf *frame) {
  if (e->state == ArpEntry::State::kResolved) {
    reinterpret_cast<EthHeader *>(frame->data())->dst.set(e->mac);
    ctx_.transmit(frame);
    return;
  }
  if (e->held >= ctx_.cfg.arp_hold_per_entry) return ctx_.drop(frame, DropReason::kArpHoldFull);
  ++ctx_.counters.arp_held;
  ArpTable::hold_push(e, frame);
}

void Arp::release(ArpEntry *e, DropReason held_reason) {
  if (e->state == ArpEntry::State::kResolved) next_generation();
  while (mem::Mbuf *m = ArpTable::hold_pop(e)) ctx_.drop(m, held_reason);
  if (timing::TimerWheel::armed(e->timer)) ctx_.timers.cancel(e->timer);
  table_.remove(e);
}

void Arp::on_timer(timing::Timer *, void *arg) {
  auto *e = static_cast<ArpEntry *>(arg);
  static_cast<Arp *>(e->owner)->timer_fired(e);
}

void Arp::timer_fired(ArpEntry *e) {
  if (e->state == ArpEntry::State::kPending) {
    if (e->retries < ctx_.cfg.arp_max_retries) {
      ++e->retries;
      ctx_.timers.arm(e->timer, ctx_.cfg.arp_retry_ns);
      send_request(e->ip, subnet_.addr());
      return;
    }
    release(e, DropReason::kArpUnresolved);
    return;
  }
  if (e->state == ArpEntry::State::kResolved) {
    ++ctx_.counters.arp_expired;
    release(e, DropReason::kArpUnresolved);
  }
}

bool Arp::lookup(Ipv4Addr ip, MacAddr *out) const {
  const ArpEntry *e = table_.find(ip);
  if (e == nullptr || !fresh(*e)) return false;
  if (out != nullptr) *out = e->mac;
  return true;
}

}  // namespace ix::net
