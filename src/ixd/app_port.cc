#include "ixd/app_port.hh"

#include <algorithm>
#include <cstring>

namespace ix::ixd {

namespace {
constexpr uint32_t kMaxIovsPerSend = 1024;  // as the library's TCP_SENDV check
constexpr uint32_t kRxRecords = 65536;      // live receive allocations per thread
}  // namespace

AppPort::AppPort(Session &session, core::ElasticThread &thread)
    : session_(session),
      thread_(thread),
      tid_(thread.config().id),
      hdr_(session.channel(tid_)),
      limits_(session.config().limits),
      ctx_(std::make_unique<api::LocalContext>(
          thread, nullptr,
          api::LocalContext::Options{
              .shared_thread = true, .event_backlog_cap = 65536, .move_tag = session.id()})),
      rx_(session.config().recv_region_bytes, kRxRecords),
      rx_base_(session.recv_region(tid_).data()),
      rx_bytes_(session.config().recv_region_bytes),
      cmds_(limits_.max_cmds),
      iovs_(kMaxIovsPerSend) {
  const auto layout = ipc::ChannelLayout::of(limits_);
  unsigned char *base = session.channel_base(tid_);
  shm_cmds_ = reinterpret_cast<ix_cmd *>(base + layout.cmds);
  shm_iovs_ = reinterpret_cast<const ix_iovec *>(base + layout.iovs);
  shm_events_ = reinterpret_cast<ix_event *>(base + layout.events);
  const uint32_t quota = session.config().rx_buffers;
  ctx_->set_rx_buffer_quota(quota != 0 ? quota
                                       : std::max<uint32_t>(thread.pool().stack_capacity() / 4, 1));
  const uint32_t ports = session.config().max_ports;
  ctx_->set_port_quota(
      ports != 0 ? ports : std::max<uint32_t>(thread.config().stack.tcp.max_listeners / 2, 1));
  const uint32_t conns = session.config().max_conns;
  ctx_->set_connection_quota(
      conns != 0 ? conns : std::max<uint32_t>(thread.config().stack.tcp.max_connections / 2, 1));
  // The channel is new (request 0); the application may have posted its
  // first batch already, before this port existed: it is taken next.
  last_request_ = 0;
}

AppPort::~AppPort() {
  counters_.udp_dropped += ctx_->udp_backlog_drops();
  counters_.conns_moved_out += ctx_->move_counts().out;
  counters_.conns_moved_in += ctx_->move_counts().in;
  counters_.rx_copied_at_move += ctx_->move_counts().copied_bytes;
  counters_.rx_held_at_detach += ctx_->rx_buffers_held();
  counters_.rx_region_live_at_detach += rx_.live();
  ctx_.reset();  // resets the application's connections, closes its ports
  {
    std::lock_guard<std::mutex> lock(session_.counters_mu);
    session_.counters.add(counters_);
  }
  session_.ports_live.fetch_sub(1, std::memory_order_release);
}

bool AppPort::take_request() {
  if (!pending_) {
    const uint32_t request = hdr_->request.load(std::memory_order_acquire);
    if (request == last_request_) return false;
    last_request_ = request;
    pending_ = true;
    ++counters_.batches;
    if (hdr_->continues == 0) ctx_->begin_batch();
    // Copied before anything is read: the application may write the shared
    // batch while (or after) the dataplane checks it.
    ncmds_ = std::min(hdr_->ncmds, limits_.max_cmds);
    next_cmd_ = 0;
    events_wanted_ = std::min(hdr_->events_wanted, limits_.max_events);
    std::memcpy(cmds_.data(), shm_cmds_, ncmds_ * sizeof(ix_cmd));
  } else if (next_cmd_ == ncmds_) {
    return false;  // run; answered after the poll
  }
  // This application's turn: at most cmds_per_turn units of its batch, the
  // rest at its next turn, so that one application's big batches cannot
  // hold the thread (the poll and the others' batches) for long.
  const uint32_t budget = session_.config().cmds_per_turn;
  uint32_t spent = 0;
  while (next_cmd_ < ncmds_ && (budget == 0 || spent < budget)) {
    ix_cmd &c = cmds_[next_cmd_];
    spent += cost_of(c);
    const int rc = count(execute(c));
    shm_cmds_[next_cmd_].result = rc;
    if (c.op == IX_CMD_TCP_CONNECT && rc == IX_OK)
      shm_cmds_[next_cmd_].u.tcp_conn.handle = c.u.tcp_conn.handle;
    ++next_cmd_;
    ++counters_.commands;
  }
  if (next_cmd_ < ncmds_) ++counters_.turns_cut_short;
  return true;
}

uint32_t AppPort::cost_of(const ix_cmd &c) {
  // A command is one unit; a SENDV's iovecs (up to kMaxIovsPerSend, each a
  // lookup and a reference or copy in the engine) one more per 16.
  if (c.op != IX_CMD_TCP_SENDV) return 1;
  return 1 + std::min(c.u.tcp_sendv.iovcnt, kMaxIovsPerSend) / 16;
}

int AppPort::count(int rc) {
  if (rc == IX_EBADH)
    ++counters_.rejected_bad_handle;
  else if (rc == IX_EINVAL)
    ++counters_.rejected_invalid;
  else if (rc == IX_EOPNOTSUPP)
    ++counters_.rejected_unknown_op;
  return rc;
}

const void *AppPort::resolve(ipc::Ref ref, uint64_t len) const {
  const uint64_t off = ipc::ref_offset(ref);
  switch (ipc::ref_region(ref)) {
    case ipc::Region::kSend: {
      const auto &m = session_.send_region();
      if (off > m.size() || len > m.size() - off) return nullptr;
      return m.data() + off;
    }
    case ipc::Region::kRecv:
      if (off > rx_bytes_ || len > rx_bytes_ - off) return nullptr;
      return rx_base_ + off;
    default:
      return nullptr;
  }
}

int AppPort::execute(ix_cmd &c) {
  switch (c.op) {
    case ipc::kCmdRxFree:
    case IX_CMD_UDP_RECV_DONE:
      // Both name an allocation of this thread's receive region (a
      // datagram's buffer went back to the pool when it was copied).
      if (!rx_.free(c.op == ipc::kCmdRxFree ? c.u.raw[0] : c.u.recv_done.buf)) {
        ++counters_.bad_rx_frees;
        return IX_EBADH;
      }
      return IX_OK;
    case IX_CMD_UDP_SEND: {
      auto &s = c.u.udp_send;
      if (s.len > 0) {
        const void *p = resolve(reinterpret_cast<uintptr_t>(s.data), s.len);
        if (p == nullptr) {
          ++counters_.rejected_bad_ref;
          return IX_EINVAL;
        }
        s.data = p;
      } else {
        s.data = nullptr;
      }
      return ctx_->execute(c);
    }
    case IX_CMD_TCP_SENDV:
      if (const int rc = translate_sendv(c); rc != IX_OK) return rc;
      return ctx_->execute(c);
    case IX_CMD_TCP_RECV_DONE:
      // The engine's side was done when the bytes were copied out (deliver):
      // only the handle is checked.
      return ctx_->check_handle(c.u.tcp_recv_done.handle);
    case ipc::kCmdFollowMoves:
      return ctx_->follow_moves(c.u.raw[0] != 0);
    default:
      return ctx_->execute(c);
  }
}

int AppPort::translate_sendv(ix_cmd &c) {
  auto &s = c.u.tcp_sendv;
  const uint64_t first = reinterpret_cast<uintptr_t>(s.iov);
  const uint32_t n = s.iovcnt;
  if (n > kMaxIovsPerSend || first > limits_.max_iovs || n > limits_.max_iovs - first) {
    ++counters_.rejected_bad_ref;
    return IX_EINVAL;
  }
  for (uint32_t k = 0; k < n; ++k) {
    ix_iovec v;
    std::memcpy(&v, &shm_iovs_[first + k], sizeof v);  // once: the application may change it
    const void *p = v.len == 0 ? rx_base_ : resolve(reinterpret_cast<uintptr_t>(v.base), v.len);
    if (p == nullptr) {
      ++counters_.rejected_bad_ref;
      return IX_EINVAL;
    }
    iovs_[k] = iovec{const_cast<void *>(p), v.len};
  }
  s.iov = reinterpret_cast<const ix_iovec *>(iovs_.data());
  return IX_OK;
}

AppPort::Delivery AppPort::deliver(const ix_event &e, ix_event *out) {
  *out = e;
  if (e.type == IX_EV_UDP_RECV) {
    const uint32_t len = e.u.udp_recv.len;
    uint64_t off = 0;
    const uint64_t id = rx_.alloc(std::max<uint32_t>(len, 1), &off);
    if (id != 0) std::memcpy(rx_base_ + off, e.u.udp_recv.data, len);
    ix_cmd done{};
    done.op = IX_CMD_UDP_RECV_DONE;
    done.u.recv_done.buf = e.u.udp_recv.buf;
    ctx_->execute(done);  // the datagram's buffer goes back to the pool now
    if (id == 0) {
      ++counters_.udp_dropped;
      return Delivery::kDropped;
    }
    counters_.rx_bytes_copied += len;
    out->u.udp_recv.data =
        reinterpret_cast<const uint8_t *>(uintptr_t{ipc::make_ref(ipc::Region::kRecv, off)});
    out->u.udp_recv.buf = id;
    return Delivery::kDelivered;
  }
  out->flags = 0;
  const bool released = e.flags & api::LocalContext::kCopiedAtMove;
  if (e.type == IX_EV_TCP_RECV && e.u.tcp.len == 0) out->u.tcp.data = nullptr;  // the FIN
  if (e.type == IX_EV_TCP_RECV && e.u.tcp.len > 0) {
    uint64_t off = 0;
    const uint64_t id = rx_.alloc(e.u.tcp.len, &off);
    if (id == 0) {
      // Wait for the application to free some: until then the bytes stay in
      // the engine, unacknowledged to the application, and its window closes.
      if (!rx_stalled_) ++counters_.rx_region_full;
      rx_stalled_ = true;
      return Delivery::kWait;
    }
    rx_stalled_ = false;
    std::memcpy(rx_base_ + off, e.u.tcp.data, e.u.tcp.len);
    counters_.rx_bytes_copied += e.u.tcp.len;
    // The copy is the application's now: the engine frees its buffers and
    // opens the window as far as the receive region lets it (unless the
    // connection moved since, and its new thread did that).
    if (!released) {
      ix_cmd done{};
      done.op = IX_CMD_TCP_RECV_DONE;
      done.u.tcp_recv_done.handle = e.u.tcp.handle;
      done.u.tcp_recv_done.bytes = e.u.tcp.len;
      ctx_->execute(done);
    }
    out->u.tcp.data =
        reinterpret_cast<const uint8_t *>(uintptr_t{ipc::make_ref(ipc::Region::kRecv, off)});
    out->u.raw[ipc::kTcpRecvAllocWord] = id;
  }
  return Delivery::kDelivered;
}

bool AppPort::respond() {
  if (!pending_ || next_cmd_ < ncmds_) return false;  // its batch goes on next turn
  uint32_t n = 0;
  while (n < events_wanted_) {
    const ix_event *e = ctx_->front_event();
    if (e == nullptr) break;
    const Delivery d = deliver(*e, &shm_events_[n]);
    if (d == Delivery::kWait) break;
    ctx_->pop_event();
    if (d == Delivery::kDelivered) ++n;
  }
  ctx_->release_dead_buffers();
  hdr_->nevents = n;
  hdr_->now_ns = thread_.clock().now_ns();
  pending_ = false;
  hdr_->response.store(last_request_, std::memory_order_seq_cst);
  const bool asleep = hdr_->app_waiting.load(std::memory_order_seq_cst) != 0;
  if (asleep) ipc::futex_wake(&hdr_->response);
  return asleep || hdr_->app_yielding.load(std::memory_order_relaxed) != 0;
}

void AppPort::signal_stop() {
  hdr_->stop.store(1, std::memory_order_seq_cst);
  ipc::futex_wake(&hdr_->response);
}

}  // namespace ix::ixd
