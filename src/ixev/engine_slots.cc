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

Engine::Engine(ix_ctx *ctx, const IxevConfig &cfg)
    : ctx_(ctx),
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
}

Engine::~Engine() {
  // Connections still open are reset: their Conns are detached without
  // handlers, and the buffers they hold go back to the dataplane with them.
  std::vector<ix_cmd> aborts;
  for (auto &b : blocks_) {
    for (uint32_t i = 0; i <= kBlockMask; ++i) {
      Slot &s = b[i];
      if (s.state == SlotState::kFree) continue;
      if (s.conn != nullptr) s.conn->engine_ = nullptr;
      s.conn = nullptr;
      if (s.handle != 0 && s.state != SlotState::kDead) {
        ix_cmd c{};
        c.op = IX_CMD_TCP_ABORT;
        c.u.tcp_conn.handle = s.handle;
        aborts.push_back(c);
      }
    }
  }
  for (ix_tcp_handle h : reject_handles_) {
    ix_cmd c{};
    c.op = IX_CMD_TCP_REJECT;
    c.u.tcp_conn.handle = h;
    aborts.push_back(c);
  }
  if (!aborts.empty()) ix_run_io(ctx_, aborts.data(), aborts.size(), nullptr, 0);
}

Slot *Engine::alloc_slot() {
  if (free_slots_.empty()) {
    const uint32_t base = static_cast<uint32_t>(blocks_.size()) << kBlockShift;
    blocks_.push_back(std::make_unique<Slot[]>(kBlockMask + 1));
    if (blocks_.size() > 1) ++slot_growths_;
    for (uint32_t i = kBlockMask + 1; i-- > 0;) {
      blocks_.back()[i].index = base + i;
      free_slots_.push_back(base + i);
    }
  }
  Slot &s = slot_at(free_slots_.back());
  free_slots_.pop_back();
  ++in_use_;
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
  // Keep identity and list membership; everything else starts afresh. The
  // new generation makes events still carrying the old cookie stale.
  const uint32_t index = s.index;
  const uint32_t gen = s.gen + 1 == 0 ? 1 : s.gen + 1;
  const bool in_dirty = s.in_dirty, in_ready = s.in_ready;
  s = Slot{};
  s.index = index;
  s.gen = gen;
  s.in_dirty = in_dirty;
  s.in_ready = in_ready;
  free_slots_.push_back(index);
  --in_use_;
}

Slot *Engine::slot_of_cookie(uint64_t cookie) {
  if (cookie & kListenerTag) return nullptr;
  const uint32_t index = static_cast<uint32_t>(cookie);
  if ((index >> kBlockShift) >= blocks_.size()) return nullptr;
  Slot &s = slot_at(index);
  if (s.gen != static_cast<uint32_t>(cookie >> 32) || s.state == SlotState::kFree) return nullptr;
  return &s;
}

Slot *Engine::slot_of(const Conn &c) {
  if (c.engine_ != this) return nullptr;
  return &slot_at(c.slot_);
}

const Slot *Engine::slot_of(const Conn &c) const {
  if (c.engine_ != this) return nullptr;
  return &slot_at(c.slot_);
}

void Engine::attach(Slot &s, Conn &c) {
  s.conn = &c;
  c.engine_ = this;
  c.slot_ = s.index;
  c.remote_ = s.remote;
}

void Engine::detach(Slot &s) {
  if (s.conn != nullptr) s.conn->engine_ = nullptr;
  s.conn = nullptr;
}

void Engine::mark_dirty(Slot &s) {
  if (s.in_dirty) return;
  s.in_dirty = true;
  dirty_.push_back(s.index);
}

void Engine::mark_ready(Slot &s, uint8_t bits) {
  s.pending |= bits;
  if (s.in_ready) return;
  s.in_ready = true;
  ready_.push_back(s.index);
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
  stats_.pool_growths =
      slot_growths_ + rx_pool_.growths() + seg_pool_.growths() + block_pool_.growths();
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
