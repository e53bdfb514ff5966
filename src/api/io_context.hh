// The application's side of one elastic thread: executes batched commands
// against the stack and turns what the stack delivers into events. This is
// the only place application requests meet dataplane state; the application
// itself sees just the arrays of include/ix/syscall.h.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "core/elastic_thread.hh"
#include "ix/syscall.h"
#include "net/stack.hh"
#include "net/tcp/tcp.hh"
#include "timing/timer_wheel.hh"

struct ix_ctx final : public ix::net::UdpReceiver, public ix::net::tcp::TcpEvents {
 public:
  static constexpr uint32_t kMaxAppTimers = 1024;

  ix_ctx(ix::core::ElasticThread &thread, const std::atomic<bool> *stop);
  ~ix_ctx() override;
  ix_ctx(const ix_ctx &) = delete;
  ix_ctx &operator=(const ix_ctx &) = delete;

  int run_io(ix_cmd *cmds, size_t ncmds, ix_event *events, size_t max_events);

  bool should_stop() const { return stop_ != nullptr && stop_->load(std::memory_order_relaxed); }
  ix::core::ElasticThread &thread() { return thread_; }
  size_t pending_events() const { return ev_count_; }

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

  // TCP handles as the application sees them: the engine's handle (slot,
  // generation and, in bits 48..59, the connection's flow group) with the
  // low 4 bits of this thread's id in bits 60..63. A command's handle must
  // carry this thread's tag, name a flow group this thread owns, and match
  // the live connection's flow group; a handle of another thread is
  // refused with IX_EBADH and counted (core.foreign_handles), never misread.
  ix_tcp_handle app_handle(ix::net::tcp::ConnHandle h) const;
  enum class HandleCheck { kOk, kForeign, kBad };
  HandleCheck engine_handle(ix_tcp_handle h, ix::net::tcp::ConnHandle *out) const;

  // Buffer handles: thread id, generation and pool index of the mbuf lent to
  // the application. A stale or forged handle decodes to nothing (IX_EBADH).
  ix_buf_handle handle_of(const ix::mem::Mbuf *m) const;
  ix::mem::Mbuf *mbuf_of(ix_buf_handle h) const;

 private:
  struct AppTimer {
    ix::timing::Timer timer;
    uint64_t cookie = 0;
    ix_ctx *ctx = nullptr;
    AppTimer *next_free = nullptr;
  };

  int execute(ix_cmd &c);
  int udp_bind(uint16_t port);
  int udp_unbind(uint16_t port);
  int udp_send(const ix_cmd &c);
  int recv_done(ix_buf_handle h);
  int timer_arm(const ix_cmd &c);
  int tcp_command(ix_cmd &c);

  ix_event &push_event();
  static void on_send_released(void *ctx, uint64_t cookie);
  static void on_timer(ix::timing::Timer *t, void *arg);

  ix::core::ElasticThread &thread_;
  const std::atomic<bool> *stop_;
  // Pending events: a ring preallocated for the common case. It grows only
  // when the application queues more completions than it drains (a slow
  // path, never per packet in steady state).
  std::vector<ix_event> ev_;
  size_t ev_head_ = 0;
  size_t ev_count_ = 0;
  size_t rx_pause_threshold_;
  std::vector<uint8_t> udp_bound_;      // 65536 flags: ports this context bound
  std::vector<uint8_t> tcp_listening_;  // 65536 flags: ports this context listens on
  std::vector<AppTimer> timers_;
  AppTimer *free_timers_ = nullptr;
};
