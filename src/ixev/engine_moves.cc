// Connections that move between elastic threads with their flow group.
//
// The dataplane moves a connection between two batches of the old thread
// and tells both sides: IX_EV_TCP_MOVED_OUT on the old thread (the last
// event for it there) and IX_EV_TCP_MOVED_IN on the new one (the first
// there), both numbered with the connection's move count. The slot, the
// Conn and every node they hold (received chunks, queued and unacknowledged
// send segments, copy blocks the dataplane still sends from) stay where
// they are in memory and change owner:
//  - the old engine, at MOVED_OUT, takes the slot off its lists, hands its
//    node counts over and publishes (release) generation + move number in
//    the slot's handoff word; it touches the slot no more;
//  - the new engine, at MOVED_IN, waits until that word says exactly this
//    move (acquire), then owns the slot: the new handle, its lists, and
//    on_moved(new Ixev) to the Conn before any other handler.
// Each engine takes its events in order, and a MOVED_OUT is queued on the
// old thread before the matching MOVED_IN exists on the new one, so an
// engine waiting at a MOVED_IN never waits for one that waits for it: every
// wait is for an event queued earlier than the one waiting (no cycle).
// A thread does not park before its application has taken every event
// (ElasticThread::set_park_guard), so the old engine is always running.
#include <sched.h>

#include <algorithm>
#include <chrono>

#include "ixev/engine.hh"

namespace ix::ev::detail {

namespace {
// Cookies of given-up arrivals whose events are still dropped (the oldest
// forgotten first: by then their events are long gone).
constexpr size_t kMaxAbandoned = 64;

uint64_t handoff_value(uint32_t gen15, uint64_t move) {
  return (uint64_t{gen15} << 32) | (move & 0xffff);
}
// Set by a new owner that gave up waiting (with the value it waited for):
// the old owner, finding it, keeps the slot and ends the connection there.
constexpr uint64_t kAbandoned = uint64_t{1} << 63;
}  // namespace

Engine::NodeCounts Engine::count_nodes(const Slot &s) {
  NodeCounts n;
  for (const RxChunk *c = s.rx_head; c != nullptr; c = c->next) ++n.rx;
  const CopyBlock *last = nullptr;
  for (const TxSeg *g = s.tx_head; g != nullptr; g = g->next) {
    ++n.segs;
    // A slot's segments use its own blocks, in order: a block is counted
    // where its run of segments starts.
    if (g->block != nullptr && g->block != last) {
      ++n.blocks;
      last = g->block;
    }
  }
  if (s.tx_block != nullptr && s.tx_block != last) ++n.blocks;
  for (const TxSeg *d = s.done_head; d != nullptr; d = d->next) ++n.segs;
  return n;
}

void Engine::move_out(const ix_event &e) {
  if (e.cookie & kListenerTag) {
    // A knock withdrawn before it was accepted: the new thread's listener
    // hears it again. If it was already handed to a Listener, the accept
    // gets IX_EMOVED (undo_moved).
    knocks_.erase(std::remove_if(knocks_.begin(), knocks_.end(),
                                 [&](const Knock &k) { return k.handle == e.u.tcp.handle; }),
                  knocks_.end());
    ++stats_.knocks_withdrawn;
    return;
  }
  Slot *s = slot_of_cookie(e.cookie);
  if (s == nullptr || s->handle != e.u.tcp.handle) {
    ++stats_.stale_events;
    return;
  }
  if (s->in_dirty) dirty_.erase(std::find(dirty_.begin(), dirty_.end(), s));
  if (s->in_ready) ready_.erase(std::find(ready_.begin(), ready_.end(), s));
  s->in_dirty = s->in_ready = false;
  const NodeCounts n = count_nodes(*s);
  rx_pool_.handed_over(n.rx);
  seg_pool_.handed_over(n.segs);
  block_pool_.handed_over(n.blocks);
  live_unlink(*s);
  --in_use_;
  // Calls on the Conn fail (IX_ECLOSED) until on_moved hands it the new
  // thread's Ixev.
  Conn *conn = s->conn;
  if (conn != nullptr) conn->engine_ = nullptr;
  ++stats_.moved_out;
  const uint64_t value = handoff_value(s->gen & Slot::kGenMask, e.u.tcp.len);
  if (s->handoff.v.exchange(value, std::memory_order_acq_rel) != (value | kAbandoned)) return;
  // The new owner gave up long ago and reset the connection: the slot stays
  // here and its Conn hears the end.
  live_link(*s);
  ++in_use_;
  rx_pool_.taken_over(n.rx);
  seg_pool_.taken_over(n.segs);
  block_pool_.taken_over(n.blocks);
  if (conn != nullptr) conn->engine_ = this;
  --stats_.moved_out;
  mark_dead(*s, IX_ECONNRESET);
}

void Engine::move_in(const ix_event &e) {
  if (e.cookie & kListenerTag) {
    ++stats_.stale_events;  // not sent for knocks (those are knocked again)
    return;
  }
  Slot *s = Slot::from_cookie(e.cookie);
  // Nothing in the slot is read before the old owner's release.
  const uint64_t want = handoff_value(Slot::gen_of_cookie(e.cookie), e.u.tcp.len);
  if (s == nullptr) {
    ++stats_.stale_events;
    return;
  }
  if (s->handoff.v.load(std::memory_order_acquire) != want) {
    // The old thread's application has not reached its MOVED_OUT yet (it is
    // running; see above). A control-path wait, once per moved connection.
    ++stats_.move_waits;
    // A MOVED_IN whose old engine has not let the slot go after this long
    // is given up (its thread ended, or its application stopped polling):
    // the connection is reset here rather than this thread waiting for ever.
    const auto give_up =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(cfg_.move_patience_ms);
    unsigned spins = 0;
    for (uint64_t seen; (seen = s->handoff.v.load(std::memory_order_acquire)) != want;) {
      if (++spins % 64 != 0) continue;
      if (std::chrono::steady_clock::now() > give_up &&
          s->handoff.v.compare_exchange_strong(seen, want | kAbandoned,
                                               std::memory_order_acq_rel)) {
        // The old owner, when it gets there, keeps the slot (see move_out).
        ++stats_.moves_lost;
        if (abandoned_.size() == kMaxAbandoned) abandoned_.erase(abandoned_.begin());
        abandoned_.push_back(e.cookie);
        abort_handles_.push_back(e.u.tcp.handle);  // reset with the next batch
        return;
      }
      sched_yield();  // it may be waiting for this CPU
    }
  }
  // Taken: a later connection in this slot must not find this value.
  s->handoff.v.store(0, std::memory_order_relaxed);
  s->handle = e.u.tcp.handle;
  live_link(*s);
  ++in_use_;
  const NodeCounts n = count_nodes(*s);
  rx_pool_.taken_over(n.rx);
  seg_pool_.taken_over(n.segs);
  block_pool_.taken_over(n.blocks);
  if (s->conn != nullptr) s->conn->engine_ = this;
  ++stats_.moved_in;
  // Whatever the old engine still owed (commands it had not issued, or
  // issued too late and undid, and handler calls) happens here.
  mark_dirty(*s);
  mark_ready(*s, kPendMoved);
}

void Engine::undo_moved(const ix_cmd &c, Slot &s) {
  ++stats_.commands_moved;
  switch (c.op) {
    case IX_CMD_TCP_ACCEPT:
      // The knock went to another thread before it was accepted; there its
      // listener is asked again. This Conn never saw the connection.
      mark_dead(s, IX_EMOVED);
      return;
    case IX_CMD_TCP_RECV_DONE:
      s.rx_done -= c.u.tcp_recv_done.bytes;
      return;
    case IX_CMD_TCP_CLOSE:
      s.close_sent = false;
      return;
    default:
      // SENDV took nothing (the bytes stay queued); ABORT stays requested.
      return;
  }
}

bool Engine::abandoned(uint64_t cookie) const {
  return std::find(abandoned_.begin(), abandoned_.end(), cookie) != abandoned_.end();
}

}  // namespace ix::ev::detail
