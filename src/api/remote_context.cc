#include "api/remote_context.hh"

#include <poll.h>
#include <sched.h>
#include <time.h>

#include <algorithm>
#include <cstring>
#include <utility>

namespace ix::api {

namespace {
constexpr uint32_t kMaxIovsPerSend = 1024;  // the dataplane's TCP_SENDV limit
constexpr uint64_t kCopyChunk = 64 * 1024;  // one copied piece at most
constexpr uint32_t kSendRecords = 65536;    // live copies per thread
constexpr int kSpins = 64;                  // pause-spins: well under a microsecond
constexpr int kYields = 2000;               // then sched_yield between checks, before the futex
constexpr uint64_t kWaitSliceNs = 10'000'000;
}  // namespace

RemoteContext::RemoteContext(const Regions &regions, const ipc::ChannelLimits &limits,
                             const std::atomic<bool> *stop, int dataplane_sock, MoveDesk *desk)
    : r_(regions),
      limits_(limits),
      stop_(stop),
      sock_(dataplane_sock),
      hdr_(reinterpret_cast<ipc::ChannelHeader *>(regions.channel->data())),
      send_arena_(regions.send_slice_bytes, kSendRecords),
      origin_(limits.max_cmds),
      local_rc_(limits.max_cmds),
      slot_pieces_(limits.max_cmds),
      tid_(static_cast<uint16_t>(
          reinterpret_cast<ipc::ChannelHeader *>(regions.channel->data())->thread_id)),
      desk_(desk) {
  const auto layout = ipc::ChannelLayout::of(limits);
  unsigned char *base = regions.channel->data();
  shm_cmds_ = reinterpret_cast<ix_cmd *>(base + layout.cmds);
  shm_iovs_ = reinterpret_cast<ix_iovec *>(base + layout.iovs);
  shm_events_ = reinterpret_cast<const ix_event *>(base + layout.events);
  request_ = hdr_->request.load(std::memory_order_relaxed);
}

bool RemoteContext::should_stop() const {
  return dataplane_gone_ || hdr_->stop.load(std::memory_order_relaxed) != 0 ||
         (stop_ != nullptr && stop_->load(std::memory_order_relaxed));
}

uint64_t RemoteContext::now_ns() const {
  // The dataplane reads the same system-wide clock (timing::MonotonicClock).
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

ipc::Ref RemoteContext::to_ref(const void *p, uint64_t len) const {
  if (r_.send->contains(p, len))
    return ipc::make_ref(ipc::Region::kSend,
                         static_cast<const unsigned char *>(p) - r_.send->data());
  if (r_.recv->contains(p, len))
    return ipc::make_ref(ipc::Region::kRecv,
                         static_cast<const unsigned char *>(p) - r_.recv->data());
  return 0;
}

int RemoteContext::encode_sendv(const ix_cmd &c, ix_cmd &w, uint32_t k) {
  const auto &s = c.u.tcp_sendv;
  if (s.iov == nullptr && s.iovcnt != 0) return IX_EINVAL;
  if (s.iovcnt > kMaxIovsPerSend) return IX_EINVAL;
  auto &pieces = slot_pieces_[k];
  const uint32_t first = iovs_used_;
  uint32_t out = 0;
  bool full = false;
  for (uint32_t i = 0; i < s.iovcnt && !full; ++i) {
    const ix_iovec v = s.iov[i];
    if (v.len == 0) continue;
    if (v.base == nullptr) return IX_EINVAL;
    if (const ipc::Ref ref = to_ref(v.base, v.len); ref != 0) {
      if (out == kMaxIovsPerSend) break;
      shm_iovs_[first + out++] = ix_iovec{reinterpret_cast<const void *>(ref), v.len};
      pieces.push_back({0, v.len, tid_});
      continue;
    }
    // Not in a shared region: copy, in pieces, as far as the arena has room
    // (the rest is not accepted now, as with a full send buffer).
    for (uint64_t done = 0; done < v.len;) {
      uint64_t off = 0;
      const uint64_t n = std::min(v.len - done, kCopyChunk);
      const uint64_t alloc = out == kMaxIovsPerSend ? 0 : send_arena_.alloc(n, &off);
      if (alloc == 0) {
        full = true;
        break;
      }
      std::memcpy(r_.send->data() + r_.send_slice_offset + off,
                  static_cast<const unsigned char *>(v.base) + done, n);
      const ipc::Ref ref = ipc::make_ref(ipc::Region::kSend, r_.send_slice_offset + off);
      shm_iovs_[first + out++] = ix_iovec{reinterpret_cast<const void *>(ref), n};
      pieces.push_back({alloc, n, tid_});
      done += n;
    }
  }
  iovs_used_ += out;
  w.u.tcp_sendv.iov = reinterpret_cast<const ix_iovec *>(uintptr_t{first});
  w.u.tcp_sendv.iovcnt = out;
  return IX_OK;
}

bool RemoteContext::encode(const ix_cmd &c, uint32_t k) {
  ix_cmd w = c;
  slot_pieces_[k].clear();
  int rc = IX_OK;
  switch (c.op) {
    case IX_CMD_TCP_SENDV:
      if (limits_.max_iovs - iovs_used_ < kMaxIovsPerSend) return false;  // next round
      rc = encode_sendv(c, w, k);
      break;
    case IX_CMD_UDP_SEND: {
      const auto &s = c.u.udp_send;
      uint64_t alloc = 0;
      ipc::Ref ref = 0;
      if (s.len > 0) {
        if (s.data == nullptr) {
          rc = IX_EINVAL;
          break;
        }
        ref = to_ref(s.data, s.len);
        if (ref == 0) {
          uint64_t off = 0;
          alloc = send_arena_.alloc(s.len, &off);
          if (alloc == 0) {
            rc = IX_ENOBUFS;
            break;
          }
          std::memcpy(r_.send->data() + r_.send_slice_offset + off, s.data, s.len);
          ref = ipc::make_ref(ipc::Region::kSend, r_.send_slice_offset + off);
        }
      }
      w.u.udp_send.data = reinterpret_cast<const void *>(ref);
      const uint64_t token = next_token_++;
      udp_tokens_[token] = UdpSend{c.cookie, alloc};
      w.cookie = token;
      break;
    }
    case ipc::kCmdRxFree:
    case ipc::kCmdFollowMoves:
      rc = IX_EOPNOTSUPP;  // the library's own; never the application's
      break;
    default:
      break;
  }
  local_rc_[k] = rc;
  if (rc != IX_OK) {
    // Answered here; the dataplane sees a no-op in its place.
    for (const Piece &p : slot_pieces_[k])
      if (p.alloc != 0) send_arena_.free(p.alloc);
    slot_pieces_[k].clear();
    w = ix_cmd{};
    w.op = IX_CMD_NOP;
  }
  shm_cmds_[k] = w;
  return true;
}

void RemoteContext::consume(std::deque<Piece> &q, uint64_t bytes, bool rx) {
  while (bytes > 0 && !q.empty()) {
    Piece &p = q.front();
    const uint64_t take = std::min(bytes, p.bytes);
    p.bytes -= take;
    bytes -= take;
    if (p.bytes > 0) break;
    release(p, rx);
    q.pop_front();
  }
}

void RemoteContext::consume_or_owe(uint64_t handle, uint64_t bytes, bool rx) {
  auto it = conns_.find(handle);
  if (it == conns_.end()) return;
  Conn &c = it->second;
  if (c.awaiting)  // its record has not followed it here yet: taken when it does
    (rx ? c.rx_owed : c.sent_owed) += bytes;
  else
    consume(rx ? c.rx : c.sent, bytes, rx);
}

void RemoteContext::release(const Piece &p, bool rx) {
  if (p.alloc == 0) return;
  if (p.owner != tid_) {
    ++move_stats_.handed_back;
    if (desk_ != nullptr) desk_->hand_back(p, rx);
  } else if (rx) {
    rx_frees_.push_back(p.alloc);
  } else {
    send_arena_.free(p.alloc);
  }
}

void RemoteContext::free_pieces(std::deque<Piece> &q, bool rx) {
  for (const Piece &p : q) {
    if (p.alloc == 0) continue;
    if (rx)
      dead_rx_.push_back(p);  // the application may still read it this round
    else
      release(p, false);
  }
  q.clear();
}

void RemoteContext::forget(uint64_t handle) {
  auto it = conns_.find(handle);
  if (it == conns_.end()) return;
  free_pieces(it->second.sent, false);
  free_pieces(it->second.rx, true);
  if (it->second.awaiting) {
    // Its record from the old thread is still to come: freed when it does.
    Conn orphan;
    orphan.awaiting = true;
    orphan.from = it->second.from;
    orphans_.push_back(std::move(orphan));
    awaiting_.erase(std::find(awaiting_.begin(), awaiting_.end(), handle));
  }
  conns_.erase(it);
}

void RemoteContext::finish_command(ix_cmd &c, const ix_cmd &w, uint32_t k) {
  if (local_rc_[k] != IX_OK) {
    c.result = local_rc_[k];
    return;
  }
  c.result = w.result;
  switch (c.op) {
    case IX_CMD_TCP_CONNECT:
      if (w.result == IX_OK) {
        c.u.tcp_conn.handle = w.u.tcp_conn.handle;
        // Its record, to follow its moves (whenever the application
        // starts following them).
        if (desk_ != nullptr) conns_[w.u.tcp_conn.handle];
      }
      break;
    case IX_CMD_TCP_ACCEPT:
      if (w.result == IX_OK && desk_ != nullptr) conns_[c.u.tcp_conn.handle];
      break;
    case IX_CMD_TCP_RECV_DONE: {
      // Only once the dataplane took it: a connection that moved meanwhile
      // answers IX_EMOVED, and the application reads on the new thread.
      if (w.result == IX_OK)
        consume_or_owe(c.u.tcp_recv_done.handle, c.u.tcp_recv_done.bytes, true);
      break;
    }
    case IX_CMD_TCP_SENDV: {
      // The accepted prefix is in the stream until acknowledged; copies of
      // bytes beyond it are not needed.
      uint64_t accepted = w.result > 0 ? static_cast<uint64_t>(w.result) : 0;
      Conn *conn = accepted > 0 ? &conns_[c.u.tcp_sendv.handle] : nullptr;
      for (const Piece &p : slot_pieces_[k]) {
        if (accepted > 0) {
          const uint64_t in = std::min(accepted, p.bytes);
          conn->sent.push_back({p.alloc, in, p.owner});
          accepted -= in;
        } else if (p.alloc != 0) {
          send_arena_.free(p.alloc);
        }
      }
      break;
    }
    case IX_CMD_TCP_ABORT:
    case IX_CMD_TCP_REJECT:
      // No IX_EV_TCP_DEAD follows: what the connection held goes now (its
      // received data stays readable until the next call, as after DEAD).
      if (w.result == IX_OK) forget(c.u.tcp_conn.handle);
      break;
    case IX_CMD_UDP_SEND:
      if (w.result != IX_OK) {
        auto it = udp_tokens_.find(w.cookie);
        if (it != udp_tokens_.end()) {
          if (it->second.alloc != 0) send_arena_.free(it->second.alloc);
          udp_tokens_.erase(it);
        }
      }
      break;
    default:
      break;
  }
  slot_pieces_[k].clear();
}

void RemoteContext::translate_event(ix_event &e) {
  switch (e.type) {
    case IX_EV_UDP_RECV: {
      const uint64_t off = ipc::ref_offset(reinterpret_cast<uintptr_t>(e.u.udp_recv.data));
      e.u.udp_recv.data = r_.recv->contains(r_.recv->data() + off, e.u.udp_recv.len)
                              ? r_.recv->data() + off
                              : nullptr;
      break;
    }
    case IX_EV_UDP_SENT: {
      auto it = udp_tokens_.find(e.cookie);
      if (it != udp_tokens_.end()) {
        e.cookie = it->second.cookie;
        if (it->second.alloc != 0) send_arena_.free(it->second.alloc);
        udp_tokens_.erase(it);
      }
      break;
    }
    case IX_EV_TCP_RECV: {
      const uint64_t alloc = e.u.raw[ipc::kTcpRecvAllocWord];
      e.u.raw[ipc::kTcpRecvAllocWord] = 0;
      if (e.u.tcp.len == 0) break;
      const uint64_t off = ipc::ref_offset(reinterpret_cast<uintptr_t>(e.u.tcp.data));
      e.u.tcp.data =
          r_.recv->contains(r_.recv->data() + off, e.u.tcp.len) ? r_.recv->data() + off : nullptr;
      conns_[e.u.tcp.handle].rx.push_back({alloc, e.u.tcp.len, tid_});
      break;
    }
    case IX_EV_TCP_SENT:
      consume_or_owe(e.u.tcp.handle, e.u.tcp.len, false);
      break;
    case IX_EV_TCP_CONNECTED:
      if (e.result != IX_OK) forget(e.u.tcp.handle);
      break;
    case IX_EV_TCP_DEAD:
      forget(e.u.tcp.handle);
      break;
    case IX_EV_TCP_MOVED_OUT:
      moved_out(e);
      break;
    case IX_EV_TCP_MOVED_IN:
      moved_in(e);
      break;
    default:
      break;
  }
}

bool RemoteContext::exchange() {
  const uint32_t req = ++request_;
  hdr_->request.store(req, std::memory_order_seq_cst);
  // The answer takes a loop iteration of the dataplane: check for it
  // briefly, then yield the CPU between checks (on a core shared with the
  // dataplane's thread that runs it at once; alone on a core it returns at
  // once and acts as a spin), then sleep on the futex.
  for (int i = 0; i < kSpins; ++i) {
    if (hdr_->response.load(std::memory_order_acquire) == req) return true;
    __builtin_ia32_pause();
  }
  // Tell the dataplane that this thread is off its CPU now and then, so
  // that it yields too once it has answered (on a shared core, the answer
  // is read at once instead of after the dataplane's next idle yield).
  hdr_->app_yielding.store(1, std::memory_order_seq_cst);
  for (int i = 0; i < kYields; ++i) {
    if (hdr_->response.load(std::memory_order_acquire) == req) {
      hdr_->app_yielding.store(0, std::memory_order_relaxed);
      return true;
    }
    sched_yield();
  }
  hdr_->app_yielding.store(0, std::memory_order_relaxed);
  while (true) {
    hdr_->app_waiting.store(1, std::memory_order_seq_cst);
    const uint32_t seen = hdr_->response.load(std::memory_order_seq_cst);
    if (seen == req) break;
    if (hdr_->stop.load(std::memory_order_relaxed) != 0) {
      hdr_->app_waiting.store(0, std::memory_order_relaxed);
      return false;
    }
    ipc::futex_wait(&hdr_->response, seen, kWaitSliceNs);
    if (hdr_->response.load(std::memory_order_acquire) == req) break;
    // Slow to answer: a busy dataplane, or a dead one (its end of the
    // attach socket is closed).
    pollfd p{sock_, POLLIN, 0};
    if (sock_ >= 0 && poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR | POLLIN))) {
      dataplane_gone_ = true;
      hdr_->app_waiting.store(0, std::memory_order_relaxed);
      return false;
    }
  }
  hdr_->app_waiting.store(0, std::memory_order_relaxed);
  return true;
}

int RemoteContext::run_io(ix_cmd *cmds, size_t ncmds, ix_event *events, size_t max_events) {
  if (cmds == nullptr) ncmds = 0;
  if (events == nullptr) max_events = 0;
  // Received data of connections reported dead in the previous call was
  // the application's to read until now.
  for (const Piece &p : dead_rx_) release(p, true);
  dead_rx_.clear();
  if (desk_ != nullptr) catch_up_moves();
  if (dataplane_gone_ || hdr_->stop.load(std::memory_order_relaxed) != 0) {
    for (size_t i = 0; i < ncmds; ++i) cmds[i].result = IX_ECLOSED;
    return 0;
  }
  size_t next = 0, got = 0;
  bool got_round = false;  // a round of this call was answered already
  do {
    uint32_t k = 0;
    iovs_used_ = 0;
    // The application's commands, then the library's frees, as room allows.
    while (next < ncmds && k < limits_.max_cmds) {
      if (!encode(cmds[next], k)) break;
      origin_[k++] = static_cast<int64_t>(next++);
    }
    while (!rx_frees_.empty() && k < limits_.max_cmds) {
      ix_cmd w{};
      w.op = ipc::kCmdRxFree;
      w.u.raw[0] = rx_frees_.back();
      rx_frees_.pop_back();
      local_rc_[k] = IX_OK;
      slot_pieces_[k].clear();
      shm_cmds_[k] = w;
      origin_[k++] = -1;
    }
    const uint32_t want =
        static_cast<uint32_t>(std::min<size_t>(max_events - got, limits_.max_events));
    hdr_->ncmds = k;
    hdr_->events_wanted = want;
    hdr_->continues = got_round ? 1 : 0;
    got_round = true;
    if (!exchange()) {
      for (uint32_t j = 0; j < k; ++j)
        if (origin_[j] >= 0) cmds[origin_[j]].result = IX_ECLOSED;
      for (size_t i = next; i < ncmds; ++i) cmds[i].result = IX_ECLOSED;
      return static_cast<int>(got);
    }
    for (uint32_t j = 0; j < k; ++j) {
      if (origin_[j] < 0) continue;
      const ix_cmd w = shm_cmds_[j];
      finish_command(cmds[origin_[j]], w, j);
    }
    const uint32_t n = std::min(hdr_->nevents, want);
    for (uint32_t j = 0; j < n; ++j) {
      events[got] = shm_events_[j];
      translate_event(events[got]);
      ++got;
    }
  } while (next < ncmds);
  return static_cast<int>(got);
}

// ---- flow-group moves (remote_moves.hh) ----

int RemoteContext::follow_moves(bool on) {
  if (desk_ == nullptr) return IX_EOPNOTSUPP;
  if (dataplane_gone_ || hdr_->stop.load(std::memory_order_relaxed) != 0) return IX_ECLOSED;
  // A batch of its own: the dataplane's answer is the command's result
  // (events stay queued for the next run_io).
  ix_cmd w{};
  w.op = ipc::kCmdFollowMoves;
  w.u.raw[0] = on ? 1 : 0;
  shm_cmds_[0] = w;
  hdr_->ncmds = 1;
  hdr_->events_wanted = 0;
  hdr_->continues = 0;
  if (!exchange()) return IX_ECLOSED;
  return shm_cmds_[0].result;
}

void RemoteContext::moved_out(const ix_event &e) {
  auto it = conns_.find(e.u.tcp.handle);
  // Nothing here for a knock withdrawn before its accept (no MOVED_IN
  // follows it) or for the connections of an application that does not
  // follow moves.
  if (it == conns_.end() || desk_ == nullptr) return;
  if (it->second.awaiting)
    awaiting_.erase(std::find(awaiting_.begin(), awaiting_.end(), e.u.tcp.handle));
  desk_->deposit(MoveKey{e.cookie, e.u.tcp.handle & IX_HANDLE_SANS_THREAD, e.u.tcp.len},
                 std::move(it->second));
  ++move_stats_.records_out;
  conns_.erase(it);
}

void RemoteContext::moved_in(const ix_event &e) {
  if (desk_ == nullptr) return;
  const MoveKey key{e.cookie, e.u.raw[3], e.u.tcp.len};
  Conn &c = conns_[e.u.tcp.handle];
  if (c.awaiting) {
    // A stale record under a reused handle: not this connection's.
    awaiting_.erase(std::find(awaiting_.begin(), awaiting_.end(), e.u.tcp.handle));
  }
  free_pieces(c.sent, false);
  free_pieces(c.rx, true);
  c = Conn{};
  c.awaiting = true;
  c.from = key;
  if (!adopt(c)) {
    ++move_stats_.awaited;
    awaiting_.push_back(e.u.tcp.handle);
  }
}

bool RemoteContext::adopt(Conn &c) {
  // A record may itself await an earlier one (the connection moved on
  // before its previous thread had its record): taken as far as they are
  // there, now, not at the next deposit.
  while (c.awaiting) {
    Conn old;
    if (!desk_->take(c.from, &old)) return false;
    ++move_stats_.records_in;
    merge(c, std::move(old));
  }
  return true;
}

void RemoteContext::merge(Conn &c, Conn &&old) {
  c.sent.insert(c.sent.begin(), old.sent.begin(), old.sent.end());
  c.rx.insert(c.rx.begin(), old.rx.begin(), old.rx.end());
  c.sent_owed += old.sent_owed;
  c.rx_owed += old.rx_owed;
  if (old.awaiting) {
    // The old thread was itself waiting for an earlier record: so is this.
    c.awaiting = true;
    c.from = old.from;
    return;
  }
  c.awaiting = false;
  consume(c.sent, std::exchange(c.sent_owed, 0), false);
  consume(c.rx, std::exchange(c.rx_owed, 0), true);
}

void RemoteContext::catch_up_moves() {
  if (desk_->has_returns(tid_)) {
    MoveDesk::Returned r = desk_->take_returns(tid_);
    for (uint64_t a : r.send) send_arena_.free(a);
    rx_frees_.insert(rx_frees_.end(), r.rx.begin(), r.rx.end());
  }
  if (awaiting_.empty() && orphans_.empty()) return;
  const uint64_t deposits = desk_->deposits();
  if (deposits == deposits_seen_) return;
  deposits_seen_ = deposits;
  for (size_t i = 0; i < awaiting_.size();) {
    if (!adopt(conns_[awaiting_[i]])) {
      ++i;
      continue;
    }
    awaiting_[i] = awaiting_.back();
    awaiting_.pop_back();
  }
  for (size_t i = 0; i < orphans_.size();) {
    bool done = false;
    for (Conn old; desk_->take(orphans_[i].from, &old); old = Conn{}) {
      free_pieces(old.sent, false);
      free_pieces(old.rx, true);
      if (!old.awaiting) {
        done = true;
        break;
      }
      orphans_[i].from = old.from;  // and the record before that one
    }
    if (!done) {
      ++i;
      continue;
    }
    orphans_[i] = std::move(orphans_.back());
    orphans_.pop_back();
  }
}

}  // namespace ix::api
