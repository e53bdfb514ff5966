// One attached application on one elastic thread: the dataplane's side of
// the channel. It takes the application's batch out of shared memory,
// checks every command (handles, owners, regions, lengths) and executes it
// through an api::LocalContext of its own, and after the thread's poll hands
// back the events, copying received data into the application's receive
// region (the application maps it read-only; no other application can map
// it at all). Lives on its elastic thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "api/io_context.hh"
#include "core/elastic_thread.hh"
#include "ipc/channel.hh"
#include "ipc/log_arena.hh"
#include "ixd/session.hh"

namespace ix::ixd {

class AppPort {
 public:
  AppPort(Session &session, core::ElasticThread &thread);
  // Resets the application's connections and closes its ports (through the
  // context's destructor).
  ~AppPort();
  AppPort(const AppPort &) = delete;
  AppPort &operator=(const AppPort &) = delete;

  Session &session() { return session_; }
  // The application's receiver of TCP events on this thread (where its
  // connections arrive when their flow group moves here).
  api::LocalContext &context() { return *ctx_; }
  // Events not yet handed to the application, or a batch not yet run to
  // its end (the thread must not park before either is done).
  bool owes_events() const {
    return ctx_->pending_events() != 0 || (pending_ && next_cmd_ < ncmds_);
  }
  // The application's turn: takes a new batch if it posted one, and runs
  // its commands, or the next of them, up to SessionConfig::cmds_per_turn
  // units; true if it ran any.
  bool take_request();
  // Answers the batch taken once all its commands ran: events, results, the
  // clock. No-op otherwise.
  // True if the application was off its CPU waiting (yielding or asleep):
  // the caller then yields once, which on a core shared with the
  // application runs it now.
  bool respond();
  // Wakes an application blocked in run_io to tell it the dataplane stops.
  void signal_stop();
  const AppCounters &counters() const { return counters_; }
  // Received buffers the application's connections hold in the engine.
  uint32_t rx_buffers_held() const { return ctx_->rx_buffers_held(); }

 private:
  int execute(ix_cmd &c);
  int translate_sendv(ix_cmd &c);
  // Address in this process of [ref, ref + len) in the application's
  // regions, or nullptr if it is not wholly inside one of them.
  const void *resolve(ipc::Ref ref, uint64_t len) const;
  int count(int rc);
  static uint32_t cost_of(const ix_cmd &c);
  // The event at the front of the context, made fit for the application in
  // *out; or dropped (a datagram that does not fit); or left to wait (TCP
  // data that does not fit in the receive region yet).
  enum class Delivery { kDelivered, kDropped, kWait };
  Delivery deliver(const ix_event &e, ix_event *out);

  Session &session_;
  core::ElasticThread &thread_;
  unsigned tid_;
  ipc::ChannelHeader *hdr_;
  ix_cmd *shm_cmds_;
  const ix_iovec *shm_iovs_;
  ix_event *shm_events_;
  ipc::ChannelLimits limits_;
  std::unique_ptr<api::LocalContext> ctx_;
  ipc::LogArena rx_;
  unsigned char *rx_base_;
  uint64_t rx_bytes_;
  uint32_t last_request_ = 0;
  bool pending_ = false;
  bool rx_stalled_ = false;
  uint32_t ncmds_ = 0;     // commands in the batch taken
  uint32_t next_cmd_ = 0;  // the first not yet run
  uint32_t events_wanted_ = 0;
  // The batch, copied out of shared memory before anything in it is read.
  std::vector<ix_cmd> cmds_;
  std::vector<iovec> iovs_;
  size_t iovs_used_ = 0;
  AppCounters counters_;
};

}  // namespace ix::ixd
