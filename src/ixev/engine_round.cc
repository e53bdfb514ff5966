// One ixev round: everything the application queued becomes one command
// batch, ix_run_io runs it, then command results and events update the
// connections, and only then are handlers called (so no handler ever reads
// a buffer that an event later in the same batch says is gone).
#include "ixev/engine.hh"

namespace ix::ev::detail {

int Engine::poll() {
  build_batch();
  const int n = ix_run_io(ctx_, cmds_.data(), cmds_.size(), events_.data(), events_.size());
  ++stats_.rounds;
  stats_.commands += cmds_.size();
  if (n < 0) return n;
  read_results();
  read_events(n);
  dispatch();
  return n;
}

ix_cmd &Engine::add_cmd(uint16_t op, uint64_t cookie, Slot *slot) {
  ix_cmd &c = cmds_.emplace_back();
  c = ix_cmd{};
  c.op = op;
  c.cookie = cookie;
  cmd_slot_.push_back(slot);
  return c;
}

void Engine::build_batch() {
  cmds_.clear();
  cmd_slot_.clear();
  iov_used_ = 0;
  for (ix_tcp_handle h : reject_handles_)
    add_cmd(IX_CMD_TCP_REJECT, 0, nullptr).u.tcp_conn.handle = h;
  reject_handles_.clear();
  for (ix_tcp_handle h : abort_handles_)
    add_cmd(IX_CMD_TCP_ABORT, 0, nullptr).u.tcp_conn.handle = h;
  abort_handles_.clear();
  for (ix_buf_handle b : udp_returns_)
    add_cmd(IX_CMD_UDP_RECV_DONE, 0, nullptr).u.recv_done.buf = b;
  udp_returns_.clear();
  building_.swap(dirty_);
  for (Slot *sp : building_) {
    Slot &s = *sp;
    s.in_dirty = false;
    if (s.state != SlotState::kFree) build_for(s);
  }
  building_.clear();
}

void Engine::build_for(Slot &s) {
  if (s.abort_requested) {
    if (s.state == SlotState::kDead) return;
    if (s.handle != 0) {
      add_cmd(IX_CMD_TCP_ABORT, 0, &s).u.tcp_conn.handle = s.handle;
    } else {
      mark_dead(s, IX_ECLOSED);  // never reached the dataplane
    }
    return;
  }
  switch (s.state) {
    case SlotState::kDialing: {
      ix_cmd &c = add_cmd(IX_CMD_TCP_CONNECT, s.cookie(), &s);
      c.u.tcp_connect.dst = s.remote;
      c.u.tcp_connect.src_port = s.src_port;
      return;
    }
    case SlotState::kConnecting:
      // Closing before the handshake finished just forgets the attempt.
      if (s.close_requested && !s.close_sent) {
        add_cmd(IX_CMD_TCP_CLOSE, 0, &s).u.tcp_conn.handle = s.handle;
        s.close_sent = true;
      }
      return;
    case SlotState::kAccepting:
      add_cmd(IX_CMD_TCP_ACCEPT, s.cookie(), &s).u.tcp_conn.handle = s.handle;
      break;
    case SlotState::kOpen:
      break;
    default:
      return;
  }
  const uint64_t mark = rx_release_mark(s);
  if (mark > s.rx_done) {
    ix_cmd &c = add_cmd(IX_CMD_TCP_RECV_DONE, 0, &s);
    c.u.tcp_recv_done.handle = s.handle;
    c.u.tcp_recv_done.bytes = mark - s.rx_done;
    s.rx_done = mark;
  }
  bool sending = false;
  if (s.tx_next != nullptr && !s.tx_blocked) {
    const uint32_t room = static_cast<uint32_t>(iov_.size()) - iov_used_;
    const uint32_t max_iov = room < cfg_.iov_per_send ? room : cfg_.iov_per_send;
    if (max_iov == 0) {
      mark_dirty(s);  // this round's iovecs are used up: next round
      return;
    }
    uint32_t n = 0;
    tx_gather(s, &iov_[iov_used_], max_iov, &n);
    ix_cmd &c = add_cmd(IX_CMD_TCP_SENDV, 0, &s);
    c.u.tcp_sendv.handle = s.handle;
    c.u.tcp_sendv.iov = &iov_[iov_used_];
    c.u.tcp_sendv.iovcnt = n;
    iov_used_ += n;
    sending = true;
  }
  // The FIN goes only after every queued byte was taken (a sendv in this
  // batch might be taken in part).
  if (s.close_requested && !s.close_sent && !sending && s.tx_unsubmitted == 0) {
    add_cmd(IX_CMD_TCP_CLOSE, 0, &s).u.tcp_conn.handle = s.handle;
    s.close_sent = true;
  }
}

void Engine::read_results() {
  for (size_t i = 0; i < cmds_.size(); ++i) {
    const ix_cmd &c = cmds_[i];
    if (cmd_slot_[i] == nullptr) {
      // Rejects and stray UDP buffers: a stale handle means the connection
      // went away by itself, which is what a reject wanted anyway.
      if (c.result == IX_EBADH)
        ++stats_.stale_handles;
      else if (c.result != IX_OK)
        ++stats_.command_errors;
      continue;
    }
    Slot &s = *cmd_slot_[i];
    const int r = c.result;
    if (r == IX_EMOVED) {
      undo_moved(c, s);
      continue;
    }
    if (r == IX_EBADH) ++stats_.stale_handles;
    switch (c.op) {
      case IX_CMD_TCP_CONNECT:
        if (r == IX_OK) {
          s.handle = c.u.tcp_conn.handle;
          s.state = SlotState::kConnecting;
          if (s.abort_requested || s.close_requested) mark_dirty(s);
        } else {
          ++stats_.command_errors;
          s.state = SlotState::kDead;
          s.connect_status = r;
          mark_ready(s, kPendConnected);
        }
        break;
      case IX_CMD_TCP_ACCEPT:
        if (r == IX_OK) {
          s.state = SlotState::kOpen;
          s.connect_status = IX_OK;
          mark_ready(s, kPendConnected);  // ready: the application may greet
        } else {
          if (r != IX_EBADH) ++stats_.command_errors;
          mark_dead(s, r);
        }
        break;
      case IX_CMD_TCP_SENDV: {
        if (!s.live()) break;
        if (r >= 0) {
          uint64_t offered = 0;
          for (uint32_t k = 0; k < c.u.tcp_sendv.iovcnt; ++k) offered += c.u.tcp_sendv.iov[k].len;
          tx_submitted(s, static_cast<uint64_t>(r));
          if (static_cast<uint64_t>(r) < offered) {
            // The send window is full: the rest waits for IX_EV_TCP_SENT.
            ++stats_.partial_sends;
            s.tx_blocked = true;
          } else if (s.tx_unsubmitted > 0 || (s.close_requested && !s.close_sent)) {
            mark_dirty(s);
          }
        } else if (r == IX_EBADH) {
          mark_dead(s, IX_EBADH);
        } else {
          // Closing or closed underneath: what is not taken never will be.
          ++stats_.command_errors;
          tx_drop_unsubmitted(s);
        }
        break;
      }
      case IX_CMD_TCP_RECV_DONE:
      case IX_CMD_TCP_CLOSE:
        if (r == IX_EBADH) {
          if (s.live()) mark_dead(s, IX_EBADH);
        } else if (c.op == IX_CMD_TCP_CLOSE && r == IX_OK && s.state == SlotState::kConnecting) {
          mark_dead(s, IX_ECLOSED);  // the attempt was dropped; no event follows
        } else if (r != IX_OK && !(c.op == IX_CMD_TCP_CLOSE && r == IX_ECLOSED)) {
          ++stats_.command_errors;
        }
        break;
      case IX_CMD_TCP_ABORT:
        if (s.state != SlotState::kDead) mark_dead(s, IX_ECLOSED);
        break;
      default:
        break;
    }
  }
}

void Engine::read_events(int n) {
  stats_.events += static_cast<uint64_t>(n);
  for (int i = 0; i < n; ++i) on_event(events_[i]);
}

void Engine::on_event(const ix_event &e) {
  switch (e.type) {
    case IX_EV_TCP_KNOCK:
      knocks_.push_back({e.cookie, e.u.tcp_knock.handle, e.u.tcp_knock.src, e.u.tcp_knock.dst});
      return;
    case IX_EV_TCP_CONNECTED:
    case IX_EV_TCP_RECV:
    case IX_EV_TCP_SENT:
    case IX_EV_TCP_DEAD:
      break;
    case IX_EV_TCP_MOVED_OUT:
      move_out(e);
      return;
    case IX_EV_TCP_MOVED_IN:
      move_in(e);
      return;
    case IX_EV_UDP_RECV:
      udp_returns_.push_back(e.u.udp_recv.buf);
      ++stats_.foreign_events;
      return;
    default:
      ++stats_.foreign_events;
      return;
  }
  Slot *s = slot_of_cookie(e.cookie);
  if (s == nullptr || s->handle != e.u.tcp.handle || !s->live()) {
    ++stats_.stale_events;
    return;
  }
  switch (e.type) {
    case IX_EV_TCP_CONNECTED:
      if (s->state != SlotState::kConnecting) {
        ++stats_.stale_events;
        return;
      }
      s->connect_status = e.result;
      if (e.result == IX_OK) {
        s->state = SlotState::kOpen;
        if (s->tx_next != nullptr || s->close_requested) mark_dirty(*s);
      } else {
        s->state = SlotState::kDead;  // no IX_EV_TCP_DEAD follows a failed open
      }
      mark_ready(*s, kPendConnected);
      return;
    case IX_EV_TCP_RECV:
      if (s->state != SlotState::kOpen) {
        ++stats_.stale_events;
        return;
      }
      if (e.u.tcp.len == 0) {
        s->peer_fin = true;
      } else {
        rx_append(*s, e.u.tcp.data, static_cast<uint32_t>(e.u.tcp.len));
      }
      mark_ready(*s, kPendReadable);
      return;
    case IX_EV_TCP_SENT:
      tx_acked(*s, e.u.tcp.len);
      s->tx_blocked = false;
      if (s->tx_unsubmitted > 0 || (s->close_requested && !s->close_sent)) mark_dirty(*s);
      if (s->want_writable && s->tx_copy_bytes < cfg_.send_buffer) {
        s->want_writable = false;
        mark_ready(*s, kPendWritable);
      }
      return;
    case IX_EV_TCP_DEAD:
      mark_dead(*s, e.result, /*keep_rx=*/true);
      return;
    default:
      return;
  }
}

void Engine::dispatch() {
  for (const Knock &k : knocks_) dispatch_knock(k);
  knocks_.clear();
  dispatching_.swap(ready_);
  for (Slot *sp : dispatching_) {
    Slot &s = *sp;
    s.in_ready = false;
    if (s.state != SlotState::kFree) dispatch_slot(s);
  }
  dispatching_.clear();
}

void Engine::dispatch_knock(const Knock &k) {
  const uint64_t idx = k.listener_cookie & ~kListenerTag;
  Conn *c = nullptr;
  if ((k.listener_cookie & kListenerTag) && idx < listeners_.size() && listeners_[idx].active)
    c = listeners_[idx].listener->on_knock(k.remote, k.local);
  if (c == nullptr || c->engine_ != nullptr) {
    reject_handles_.push_back(k.handle);
    ++stats_.rejected;
    return;
  }
  Slot *s = alloc_slot();
  s->state = SlotState::kAccepting;
  s->handle = k.handle;
  s->remote = k.remote;
  attach(*s, *c);
  c->local_ = k.local;
  mark_dirty(*s);
}

void Engine::dispatch_slot(Slot &s) {
  const uint8_t p = s.pending;
  s.pending = 0;
  const uint32_t gen = s.gen;
  // A handler may detach its Conn (delete it) or start closing; the slot
  // itself is freed only here, so `s` stays this connection's throughout.
  if ((p & kPendMoved) && s.conn != nullptr) s.conn->on_moved(*face_);
  if (p & kPendConnected) {
    if (s.connect_status != IX_OK) {
      Conn *c = s.conn;
      const int status = s.connect_status;
      free_slot(s);
      if (c != nullptr) c->on_connected(status);
      return;
    }
    if (s.conn != nullptr) s.conn->on_connected(IX_OK);
  }
  while (s.done_head != nullptr) {
    TxSeg *d = s.done_head;
    s.done_head = d->next;
    if (s.done_head == nullptr) s.done_tail = nullptr;
    const uint64_t cookie = d->cookie;
    seg_pool_.put(d);
    if (s.conn != nullptr) s.conn->on_sent(cookie);
  }
  if ((p & kPendReadable) && s.conn != nullptr && s.readable() && !s.abort_requested)
    s.conn->on_readable();
  if ((p & kPendWritable) && s.conn != nullptr && s.live() && !s.abort_requested)
    s.conn->on_writable();
  if (s.gen == gen && s.state == SlotState::kDead) {
    Conn *c = s.conn;
    const int status = s.hangup_status;
    free_slot(s);
    if (c != nullptr) c->on_hangup(status);
  }
}

}  // namespace ix::ev::detail
