// Flow-group moves: a connection leaves one engine as a MovedConn and is
// recreated in another (see moved_conn.hh and core/group_move.hh for the
// protocol that keeps every segment in order around it).
#include <algorithm>

#include "ix/syscall.h"
#include "net/tcp/moved_conn.hh"
#include "net/tcp/tcp.hh"
#include "net/tcp/tcp_segment.hh"

namespace ix::net::tcp {

namespace {

uint64_t take_deadline(timing::TimerWheel &w, timing::Timer &t) {
  const uint64_t due = timing::TimerWheel::armed(t) ? t.expires_ns : 0;
  w.cancel(t);
  return due;
}

void arm_at(timing::TimerWheel &w, timing::Timer &t, uint64_t due, uint64_t now) {
  if (due != 0) w.arm(t, due > now ? due - now : 0);
}

}  // namespace

int Tcp::export_group(uint16_t group, std::vector<MovedConn> &out) {
  // All or nothing: a receiver that cannot follow its connections to
  // another thread (it would never hear of them again) refuses the move
  // before anything is taken.
  bool movable = true;
  table_.for_each([&](Tcb &t) {
    if (t.flow_group == group && t.ev != nullptr && !t.ev->follows_moves()) movable = false;
  });
  if (!movable) return IX_EINVAL;
  const mem::MbufPool *none = nullptr;  // held by no stack until imported
  table_.for_each([&](Tcb &t) {
    if (t.flow_group != group) return;
    MovedConn &c = out.emplace_back();
    c.old_handle = table_.handle(t);
    c.rexmit_due_ns = take_deadline(ctx_.timers, t.rexmit_timer);
    c.delack_due_ns = take_deadline(ctx_.timers, t.delack_timer);
    c.wait_due_ns = take_deadline(ctx_.timers, t.wait_timer);
    if (t.state == TcpState::kSynReceived && t.passive) --syn_rcvd_;
    if (t.state == TcpState::kTimeWait) time_wait_unlink(t);
    if (t.ev != nullptr) {
      if (!t.app_gone) --t.ev->conns_;
      t.ev->rx_held_ -= t.rq.size();
    }
    c.sq.reserve(t.sq.size());
    while (!t.sq.empty()) {
      c.sq.push_back(t.sq.front());
      t.sq.pop();
    }
    c.rq.reserve(t.rq.size());
    while (!t.rq.empty()) {
      mem::MbufPool::mark_held_by(t.rq.front().m, none);
      c.rq.push_back(t.rq.front());
      t.rq.pop();
    }
    c.txr.reserve(t.txr.size());
    while (!t.txr.empty()) {
      c.txr.push_back(t.txr.front());
      t.txr.pop();
    }
    ooo_held_ -= t.ooo.segments();
    c.ooo.reserve(t.ooo.segments());
    t.ooo.hand_over([&](const ReassemblyQueue::Held &h) {
      mem::MbufPool::mark_held_by(h.m, none);
      c.ooo.push_back(h);
    });
    sync_ooo_listing(t);
    ++t.moves;
    // The application hears of every connection it knows (the knocked
    // ones too: their knock is withdrawn here and made again there).
    if (t.ev != nullptr) c.owner_tag = t.ev->move_tag();
    if (t.ev != nullptr && !t.app_gone && (!t.passive || t.knocked)) {
      // The received buffers are still readable here (c.rq holds them).
      c.released_by_app =
          std::min(t.ev->on_moved_out(t.cookie, c.old_handle, t.moves), t.rq_reported_bytes);
    }
    c.vars = static_cast<const TcbVars &>(t);
    // The way to the peer is this stack's ARP table's to vouch for.
    c.vars.nh = NextHopCache{};
    c.sb = t.sb;
    t.state = TcpState::kClosed;
    table_.free(&t);
    ++ports_freed_;
    ++stats_.moved_out;
  });
  return IX_OK;
}

uint32_t Tcp::import_conns(std::vector<MovedConn> &conns, ReceiverMap map, void *arg) {
  const uint64_t now = ctx_.clock.now_ns();
  uint32_t imported = 0;
  for (MovedConn &c : conns) {
    TcpEvents *ev =
        c.vars.ev != nullptr && map != nullptr ? map(arg, c.vars.ev, c.owner_tag) : nullptr;
    // Not accepted yet: it belongs to this engine's listener on its port
    // (its old listener's cookie means nothing here), which hears the
    // knock again if the old one had heard it.
    const bool unaccepted = c.vars.passive && !c.vars.accepted && !c.vars.app_gone;
    const bool reknock = unaccepted && c.vars.knocked;
    if (unaccepted && c.vars.ev != nullptr) {
      // Only the same owner's listener (in the dataplane process another
      // application may listen on the port on this thread).
      const Listener *l = find_listener(c.vars.lport);
      if (l != nullptr && (l->ev == nullptr || l->ev->move_tag() != c.owner_tag)) l = nullptr;
      ev = l != nullptr ? l->ev : nullptr;
      if (l != nullptr) c.vars.cookie = l->cookie;
      c.vars.knocked = false;
    }
    Tcb *t = table_.alloc();
    if (t == nullptr && evict_oldest_time_wait()) t = table_.alloc();
    if (t == nullptr || (c.vars.ev != nullptr && ev == nullptr)) {
      // No slot, or no receiver here: the connection cannot live on. The
      // peer hears a reset; its buffers go back to their pool.
      if (t != nullptr) table_.free(t);
      ++stats_.moved_lost;
      if (c.vars.synchronized() && c.vars.state != TcpState::kTimeWait) {
        const TcpOptions none{};
        ++stats_.resets_tx;
        send_segment(nullptr, c.vars.remote, c.vars.lport, c.vars.rport, c.vars.snd_nxt,
                     c.vars.rcv_nxt, static_cast<uint8_t>(kRst | kAck), 0, none, 0, 0);
      }
      for (const RecvChunk &r : c.rq) mem::MbufPool::free_chain(r.m);
      for (const auto &h : c.ooo) mem::MbufPool::free_chain(h.m);
      // The application's record of it came along (on_moved_out told the
      // old side): it arrives here, handle 0, and dies at once.
      if (ev != nullptr && !c.vars.app_gone && !unaccepted) {
        ev->on_moved(c.vars.cookie, c.old_handle, 0, c.vars.moves);
        ev->on_dead(c.vars.cookie, 0, DeadReason::kAborted);
      }
      continue;
    }
    static_cast<TcbVars &>(*t) = c.vars;
    t->sb = c.sb;
    t->oow_ack_ns = 0;
    t->tcp = this;
    t->ev = ev;
    for (const SendChunk &s : c.sq) t->sq.push(s);
    for (const RecvChunk &r : c.rq) {
      mem::MbufPool::mark_held_by(r.m, &ctx_.pool);
      t->rq.push(r);
    }
    for (const TxRecord &r : c.txr) t->txr.push(r);
    t->ooo.clear();
    for (const auto &h : c.ooo) {
      mem::MbufPool::mark_held_by(h.m, &ctx_.pool);
      if (t->ooo.insert(h.seq, h.m, h.data, h.len))
        ++ooo_held_;
      else
        mem::MbufPool::free_chain(h.m);  // beyond this engine's limits: given up, as SACK allows
    }
    sync_ooo_listing(*t);
    bind_timers(*t);
    arm_at(ctx_.timers, t->rexmit_timer, c.rexmit_due_ns, now);
    arm_at(ctx_.timers, t->delack_timer, c.delack_due_ns, now);
    arm_at(ctx_.timers, t->wait_timer, c.wait_due_ns, now);
    table_.insert(t);
    if (t->state == TcpState::kSynReceived && t->passive) ++syn_rcvd_;
    if (t->state == TcpState::kTimeWait) time_wait_link(*t);
    if (ev != nullptr) {
      if (!t->app_gone) ++ev->conns_;
      ev->rx_held_ += t->rq.size();
    }
    ++stats_.moved_in;
    ++imported;
    if (ev == nullptr || t->app_gone) continue;
    const ConnHandle h = table_.handle(*t);
    if (reknock) {
      t->knocked = true;
      ev->on_knock(t->cookie, h, t->remote, t->rport, t->local, t->lport);
    } else if (!unaccepted) {
      ev->on_moved(t->cookie, c.old_handle, h, t->moves);
      // What the old receiver copied is the application's already: freed
      // here, the window reopening as if it had been read here.
      if (c.released_by_app != 0) recv_done(*t, c.released_by_app);
    }
  }
  conns.clear();
  return imported;
}

}  // namespace ix::net::tcp
