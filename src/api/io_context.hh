// The application's side of one elastic thread: executes batched commands
// against the stack and turns what the stack delivers into events. This is
// the only place application requests meet dataplane state; the application
// itself sees just the arrays of include/ix/syscall.h.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "api/context.hh"
#include "core/elastic_thread.hh"
#include "ix/syscall.h"
#include "net/stack.hh"
#include "net/tcp/tcp.hh"
#include "timing/timer_wheel.hh"

namespace ix::api {

// Library mode's ix_ctx: the application's thread runs the dataplane itself.
class LocalContext final : public ix_ctx,
                           public ix::net::UdpReceiver,
                           public ix::net::tcp::TcpEvents {
 public:
  static constexpr uint32_t kMaxAppTimers = 1024;

  // How the context shares its elastic thread.
  struct Options {
    // Several contexts on one thread (the dataplane process: one per
    // attached application). Then: UDP payloads are copied on send (a
    // zero-copy send's completion would go to the thread's one send
    // listener, not to this context), and a context whose queue of events
    // holds `event_backlog_cap` or more drops further datagrams (counted in
    // udp_backlog_drops) instead of growing it: a slow application loses its
    // own datagrams; it cannot pause reception for the others.
    bool shared_thread = false;
    size_t event_backlog_cap = 65536;
    // The owner's name for flow-group moves (TcpEvents::move_tag): the
    // dataplane process's application id, by which the new thread finds
    // the same application's context. 0 in library mode.
    uint64_t move_tag = 0;
  };

  LocalContext(ix::core::ElasticThread &thread, const std::atomic<bool> *stop)
      : LocalContext(thread, stop, Options{}) {}
  LocalContext(ix::core::ElasticThread &thread, const std::atomic<bool> *stop,
               const Options &options);
  ~LocalContext() override;
  LocalContext(const LocalContext &) = delete;
  LocalContext &operator=(const LocalContext &) = delete;

  int run_io(ix_cmd *cmds, size_t ncmds, ix_event *events, size_t max_events) override;

  bool should_stop() const override {
    return stop_ != nullptr && stop_->load(std::memory_order_relaxed);
  }
  unsigned thread_id() const override { return thread_.config().id; }
  unsigned thread_count() const override { return thread_.config().threads; }
  uint64_t now_ns() const override { return thread_.clock().now_ns(); }
  // Follows moves when the application asks. In library mode this context
  // is the thread's receiver of arriving connections; on a shared thread
  // (the dataplane process) the process's serve loop is, and finds the
  // application's context by move_tag.
  int follow_moves(bool on) override;
  ix::core::ElasticThread &thread() { return thread_; }
  size_t pending_events() const { return ev_count_; }

  // ---- for the dataplane process, which drives the thread itself ----
  // Executes one command (the result is returned, not written into c),
  // checked as in run_io; c's handle comes back in it for TCP_CONNECT.
  int execute(ix_cmd &c);
  // The oldest event not yet taken, or nullptr.
  const ix_event *front_event() const { return ev_count_ == 0 ? nullptr : &ev_[ev_head_]; }
  void pop_event() {
    ix_event &e = ev_[ev_head_];
    moved_delivered_ += e.type == IX_EV_TCP_MOVED_OUT;
    queued_rx_events_ -= opts_.shared_thread && e.type == IX_EV_TCP_RECV && e.u.tcp.len != 0;
    if (e.flags & kCopiedAtMove) delete[] e.u.tcp.data;
    ev_head_ = (ev_head_ + 1) % ev_.size();
    --ev_count_;
  }
  // A TCP_RECV event whose data was copied out of the engine when its
  // connection moved (shared thread only; see on_moved_out): u.tcp.data is
  // this context's copy, freed by pop_event, and the engine's buffers were
  // released by the connection's new thread, so no recv_done is owed here.
  static constexpr uint16_t kCopiedAtMove = 0x8000;
  // A new batch from the application of a shared thread, which had taken
  // every event popped before: commands on the connections whose
  // IX_EV_TCP_MOVED_OUT it took are plainly stale now (IX_EBADH, not
  // IX_EMOVED). run_io does this itself.
  void begin_batch();
  // IX_OK if h names a live connection of this context on this thread;
  // IX_EMOVED if it moved away and the application has not heard yet;
  // IX_EBADH otherwise.
  int check_handle(ix_tcp_handle h) const;
  // Frees the receive buffers of this context's dead connections once no
  // event that points into them is left (see Tcp::free_deferred).
  void release_dead_buffers() {
    if (ev_count_ == 0) thread_.stack().tcp().free_deferred(*this);
  }
  uint64_t udp_backlog_drops() const { return udp_backlog_drops_; }
  // Connections of this context that left with their flow group and that
  // arrived with one; bytes copied out of the engine as they left (see
  // on_moved_out).
  struct MoveCounts {
    uint64_t out = 0, in = 0, copied_bytes = 0;
  };
  const MoveCounts &move_counts() const { return move_counts_; }
  // At most `ports` TCP listeners and UDP bindings at once (0: no cap);
  // beyond, LISTEN and UDP_BIND get IX_ENOMEM. In the dataplane process one
  // application cannot take every port or the listener table.
  void set_port_quota(uint32_t ports) { port_quota_ = ports; }

  // UdpReceiver: a datagram for a port this context bound.
  void on_udp(ix::mem::Mbuf *m, const ix::net::UdpDatagram &d) override;

  // TcpEvents: queued as events for the application.
  void on_knock(uint64_t listener_cookie, ix::net::tcp::ConnHandle h, ix::net::Ipv4Addr src,
                uint16_t sport, ix::net::Ipv4Addr dst, uint16_t dport) override;
  void on_connected(uint64_t cookie, ix::net::tcp::ConnHandle h, int result) override;
  void on_recv(uint64_t cookie, ix::net::tcp::ConnHandle h, const uint8_t *data,
               uint32_t len) override;
  void on_sent(uint64_t cookie, ix::net::tcp::ConnHandle h, uint32_t bytes) override;
  void on_dead(uint64_t cookie, ix::net::tcp::ConnHandle h, ix::net::tcp::DeadReason why) override;
  bool follows_moves() const override { return follow_moves_; }
  uint64_t move_tag() const override { return opts_.move_tag; }
  uint32_t on_moved_out(uint64_t cookie, ix::net::tcp::ConnHandle h, uint32_t move) override;
  void on_moved(uint64_t cookie, ix::net::tcp::ConnHandle old, ix::net::tcp::ConnHandle h,
                uint32_t move) override;

  // TCP handles as the application sees them: the engine's handle (slot,
  // generation and, in bits 48..59, the connection's flow group) with the
  // low 4 bits of this thread's id in bits 60..63. A command's handle must
  // carry this thread's tag, name a flow group this thread owns, and match
  // the live connection's flow group; a handle of another thread is
  // refused with IX_EBADH and counted (core.foreign_handles), never misread.
  ix_tcp_handle app_handle(ix::net::tcp::ConnHandle h) const;
  enum class HandleCheck { kOk, kForeign, kBad };
  // kOk: *out is the engine's handle and *tcb the connection.
  HandleCheck engine_handle(ix_tcp_handle h, ix::net::tcp::ConnHandle *out,
                            ix::net::tcp::Tcb **tcb) const;
  // Fetches the control blocks the batch's per-message commands name.
  void prefetch_connections(const ix_cmd *cmds, size_t ncmds) const;

  // Buffer handles: thread id, generation and pool index of the mbuf lent to
  // the application. A stale or forged handle decodes to nothing (IX_EBADH).
  ix_buf_handle handle_of(const ix::mem::Mbuf *m) const;
  ix::mem::Mbuf *mbuf_of(ix_buf_handle h) const;

 private:
  struct AppTimer {
    ix::timing::Timer timer;
    uint64_t cookie = 0;
    LocalContext *ctx = nullptr;
    AppTimer *next_free = nullptr;
  };

  int udp_bind(uint16_t port);
  int udp_unbind(uint16_t port);
  int udp_send(const ix_cmd &c);
  int recv_done(ix_buf_handle h);
  int timer_arm(const ix_cmd &c);
  int tcp_command(ix_cmd &c);

  ix_event &push_event();
  // An event about TCP connection h (its handle as the application sees it).
  ix_event &push_tcp_event(uint16_t type, uint64_t cookie, ix::net::tcp::ConnHandle h);
  static void on_send_released(void *ctx, uint64_t cookie);
  static void on_timer(ix::timing::Timer *t, void *arg);

  ix::core::ElasticThread &thread_;
  const std::atomic<bool> *stop_;
  Options opts_;
  uint64_t udp_backlog_drops_ = 0;
  // Pending events: a ring preallocated for the common case. It grows only
  // when the application queues more completions than it drains (a slow
  // path, never per packet in steady state).
  std::vector<ix_event> ev_;
  size_t ev_head_ = 0;
  size_t ev_count_ = 0;
  size_t rx_pause_threshold_;
  std::vector<uint8_t> udp_bound_;      // 65536 flags: ports this context bound
  std::vector<uint8_t> tcp_listening_;  // 65536 flags: ports this context listens on
  uint32_t ports_held_ = 0;             // flags set in the two above
  uint32_t port_quota_ = 0;
  bool at_port_quota() const { return port_quota_ != 0 && ports_held_ >= port_quota_; }
  std::vector<AppTimer> timers_;
  AppTimer *free_timers_ = nullptr;

  // Moves. Handles of connections that left, in the order of their
  // IX_EV_TCP_MOVED_OUT events: until the application has taken that
  // event, a command naming one gets IX_EMOVED (it did not know yet), and
  // from the next batch after it IX_EBADH (begin_batch drops the first
  // moved_delivered_, which were taken).
  bool follow_moves_ = false;
  MoveCounts move_counts_;
  // Shared thread: IX_EV_TCP_RECV events with data in the queue (a moving
  // connection's are looked for only when there are some).
  size_t queued_rx_events_ = 0;
  std::vector<ix_tcp_handle> moved_away_;
  size_t moved_delivered_ = 0;
  bool moved_away(ix_tcp_handle h) const;
  static ix::net::tcp::TcpEvents *move_receiver(void *self, ix::net::tcp::TcpEvents *old,
                                                uint64_t old_tag);
  static bool may_park(void *self);
};

}  // namespace ix::api
