// Slot lifetime, listening and the connection-level calls (dial, close,
// abort) of the ixev engine.
#include <cstring>

#include "ixev/engine.hh"

namespace ix::ev::detail {

namespace {
// Node pools grow by these many nodes; the first block is the warm-up.
constexpr size_t kRxChunkBlock = 4096;
constexpr size_t kTxSegBlock = 4096;
constexpr size_t kCopyBlockBlock = 32;  // 512 KiB of send buffers
}  // namespace

Engine::Engine(ix_ctx *ctx, const IxevConfig &cfg, Ixev *face)
    : ctx_(ctx),
      face_(face),
      cfg_(cfg),
      rx_pool_(kRxChunkBlock),
      seg_pool_(kTxSegBlock),
      block_pool_(kCopyBlockBlock) {
  if (cfg_.max_events == 0) cfg_.max_events = 1;
  if (cfg_.iov_per_send == 0) cfg_.iov_per_send = 1;
  if (cfg_.iov_per_send > 1024) cfg_.iov_per_send = 1024;  // run_io's bound per sendv
  if (cfg_.iov_per_round < cfg_.iov_per_send) cfg_.iov_per_round = cfg_.iov_per_send;
  events_.resize(cfg_.max_events);
  iov_.resize(cfg_.iov_per_round);
  cmds_.reserve(1024);
  cmd_slot_.reserve(1024);
  dirty_.reserve(1024);
  ready_.reserve(1024);
  knocks_.reserve(256);
  reject_handles_.reserve(256);
  // Where the dataplane cannot move connections, they stay (and so do the
  // flow groups that hold them).
  if (cfg_.follow_moves) follows_moves_ = ix_follow_moves(ctx_, 1) == IX_OK;
}

Engine::~Engine() {
  // Connections still open are reset: their Conns are detached without
  // handlers, and the buffers they hold go back to the dataplane with them.
  std::vector<ix_cmd> aborts;
  for (Slot *s = live_; s != nullptr; s = s->live_next) {
    if (s->conn != nullptr) s->conn->engine_ = nullptr;
    s->conn = nullptr;
    if (s->handle != 0 && s->state != SlotState::kDead) {
      ix_cmd c{};
      c.op = IX_CMD_TCP_ABORT;
      c.u.tcp_conn.handle = s->handle;
      aborts.push_back(c);
    }
  }
  for (ix_tcp_handle h : reject_handles_) {
    ix_cmd c{};
    c.op = IX_CMD_TCP_REJECT;
    c.u.tcp_conn.handle = h;
    aborts.push_back(c);
  }
  if (!aborts.empty()) ix_run_io(ctx_, aborts.data(), aborts.size(), nullptr, 0);
  if (follows_moves_) ix_follow_moves(ctx_, 0);
  // The dataplane holds none of their memory now: slots and nodes go back
  // to the process's arenas for the next engine.
  while (live_ != nullptr) free_slot(*live_);
  for (Slot *s = free_slots_; s != nullptr; s = s->next) s->in_dirty = s->in_ready = false;
  NodeArena<Slot>::instance().give(free_slots_);
}

Slot *Engine::alloc_slot() {
  if (free_slots_ == nullptr) {
    free_slots_ = NodeArena<Slot>::instance().take(kSlotBlock);
    ++slot_takes_;
  }
  Slot &s = *free_slots_;
  free_slots_ = s.next;
  s.next = nullptr;
  s.handoff.v.store(0, std::memory_order_relaxed);  // a new connection, no move yet
  ++in_use_;
  live_link(s);
  s.state = SlotState::kDialing;
  return &s;
}

void Engine::free_slot(Slot &s) {
  rx_drop_all(s);
  tx_drop_all(s);
  while (s.done_head != nullptr) {
    TxSeg *d = s.done_head;
    s.done_head = d->next;
    seg_pool_.put(d);
  }
  detach(s);
  live_unlink(s);
  // Keep list membership; everything else starts afresh. The new
  // generation makes events still carrying the old cookie stale.
  const uint32_t gen = s.gen + 1 == 0 ? 1 : s.gen + 1;
  const bool in_dirty = s.in_dirty, in_ready = s.in_ready;
  s = Slot{};
  s.gen = gen;
  s.in_dirty = in_dirty;
  s.in_ready = in_ready;
  s.next = free_slots_;
  free_slots_ = &s;
  --in_use_;
}

void Engine::for_each_conn(void (*fn)(Conn &, void *), void *arg) {
  // close() and abort() only mark the slot, so the list stays as it is
  // while fn runs.
  for (Slot *s = live_; s != nullptr; s = s->live_next)
    if (s->conn != nullptr && s->live() && !s->abort_requested) fn(*s->conn, arg);
}

void Engine::live_link(Slot &s) {
  s.live_prev = nullptr;
  s.live_next = live_;
  if (live_ != nullptr) live_->live_prev = &s;
  live_ = &s;
}

void Engine::live_unlink(Slot &s) {
  if (s.live_prev != nullptr) s.live_prev->live_next = s.live_next;
  if (s.live_next != nullptr) s.live_next->live_prev = s.live_prev;
  if (live_ == &s) live_ = s.live_next;
  s.live_prev = s.live_next = nullptr;
}

// Cookies come back from the dataplane exactly as this engine (or, for a
// connection that moved here, the engine it came from) gave them; once the
// slot is this engine's, its generation tells a live connection from a
// connection long gone.
Slot *Engine::slot_of_cookie(uint64_t cookie) {
  if ((cookie & kListenerTag) || cookie == 0) return nullptr;
  if (!abandoned_.empty() && abandoned(cookie)) return nullptr;
  Slot *s = Slot::from_cookie(cookie);
  if ((s->gen & Slot::kGenMask) != Slot::gen_of_cookie(cookie) || s->state == SlotState::kFree)
    return nullptr;
  return s;
}

Slot *Engine::slot_of(const Conn &c) { return c.engine_ == this ? c.slot_ : nullptr; }

const Slot *Engine::slot_of(const Conn &c) const { return c.engine_ == this ? c.slot_ : nullptr; }

void Engine::attach(Slot &s, Conn &c) {
  s.conn = &c;
  c.engine_ = this;
  c.slot_ = &s;
  c.remote_ = s.remote;
}

void Engine::detach(Slot &s) {
  if (s.conn != nullptr && s.conn->engine_ == this) s.conn->engine_ = nullptr;
  s.conn = nullptr;
}

void Engine::mark_dirty(Slot &s) {
  if (s.in_dirty) return;
  s.in_dirty = true;
  dirty_.push_back(&s);
}

void Engine::mark_ready(Slot &s, uint8_t bits) {
  s.pending |= bits;
  if (s.in_ready) return;
  s.in_ready = true;
  ready_.push_back(&s);
}

void Engine::mark_dead(Slot &s, int status, bool keep_rx) {
  if (!keep_rx) rx_drop_all(s);
  // Data the dataplane reported before the connection died stays readable
  // until the next run_io (Tcp::free_deferred), so on_readable still runs in
  // this round, before on_hangup; free_slot drops what is left after that.
  tx_drop_all(s);
  s.state = SlotState::kDead;
  s.hangup_status = status;
  s.pending &= static_cast<uint8_t>(~kPendWritable);
  if (s.rx_buffered == 0) s.pending &= static_cast<uint8_t>(~kPendReadable);
  mark_ready(s, kPendHangup);
}

const IxevStats &Engine::stats() {
  stats_.pool_growths = (slot_takes_ > 1 ? slot_takes_ - 1 : 0) + rx_pool_.growths() +
                        seg_pool_.growths() + block_pool_.growths();
  return stats_;
}

// ---- listening ----

int Engine::listen(uint16_t port, Listener &l) {
  ix_cmd c{};
  c.op = IX_CMD_TCP_LISTEN;
  size_t idx = listeners_.size();
  for (size_t i = 0; i < listeners_.size(); ++i)
    if (!listeners_[i].active) idx = i;
  c.cookie = kListenerTag | idx;
  c.u.tcp_listen.port = port;
  // Set-up, not the fast path: its own run_io; events it yields stay queued.
  if (ix_run_io(ctx_, &c, 1, nullptr, 0) < 0) return IX_EINVAL;
  ++stats_.commands;
  if (c.result != IX_OK) return c.result;
  if (idx == listeners_.size()) listeners_.push_back({});
  listeners_[idx] = {port, true, &l};
  return IX_OK;
}

int Engine::unlisten(uint16_t port) {
  for (auto &e : listeners_) {
    if (!e.active || e.port != port) continue;
    ix_cmd c{};
    c.op = IX_CMD_TCP_UNLISTEN;
    c.u.tcp_listen.port = port;
    if (ix_run_io(ctx_, &c, 1, nullptr, 0) < 0) return IX_EINVAL;
    ++stats_.commands;
    e.active = false;
    e.listener = nullptr;
    return c.result;
  }
  return IX_EINVAL;
}

// ---- connection-level calls ----

int Engine::dial(Conn &c, ix_endpoint remote, uint16_t src_port) {
  if (c.engine_ != nullptr || remote.addr == 0 || remote.port == 0) return IX_EINVAL;
  Slot *s = alloc_slot();
  s->state = SlotState::kDialing;
  s->remote = remote;
  s->src_port = src_port;
  attach(*s, c);
  mark_dirty(*s);
  return IX_OK;
}

int Engine::close(Conn &c) {
  Slot *s = slot_of(c);
  if (s == nullptr || !s->live() || s->abort_requested) return IX_ECLOSED;
  s->close_requested = true;
  mark_dirty(*s);
  return IX_OK;
}

int Engine::abort(Conn &c) {
  Slot *s = slot_of(c);
  if (s == nullptr || !s->live()) return IX_ECLOSED;
  if (s->abort_requested) return IX_OK;
  // What the application queued is void; received bytes go with the reset.
  s->abort_requested = true;
  tx_drop_all(*s);
  mark_dirty(*s);
  return IX_OK;
}

void Engine::forget(Conn &c) {
  Slot *s = slot_of(c);
  if (s == nullptr) return;
  detach(*s);
  if (s->live() && !s->abort_requested) {
    s->abort_requested = true;
    tx_drop_all(*s);
    mark_dirty(*s);
  }
}

}  // namespace ix::ev::detail
