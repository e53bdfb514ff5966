// Protected mode's ix_ctx: the application's side of one elastic thread's
// channel to the dataplane process (ipc/channel.hh). run_io writes the batch
// into shared memory, naming data by region and offset, waits for the
// dataplane's answer (spinning briefly, then sleeping on a futex), and turns
// the answer back into results and events with pointers into this process's
// mappings.
//
// The application keeps library mode's contract: it may send from any of its
// memory and must keep it until IX_EV_*_SENT. Data already in a region the
// dataplane can read (the send region, or received data in the receive
// region, e.g. an echo) goes by reference; anything else is copied into this
// thread's part of the send region, which is freed as the dataplane reports
// the bytes acknowledged. Received data stays in the (read-only) receive
// region until the application is done with it (*_RECV_DONE).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <unordered_map>
#include <vector>

#include "api/context.hh"
#include "api/remote_moves.hh"
#include "ipc/channel.hh"
#include "ipc/log_arena.hh"
#include "ipc/shared_region.hh"

namespace ix::api {

class RemoteContext final : public ix_ctx {
 public:
  struct Regions {
    const ipc::Mapping *channel;  // this thread's, read-write
    const ipc::Mapping *send;     // the application's, read-write
    const ipc::Mapping *recv;     // this thread's, read-only
    uint64_t send_slice_offset;   // this thread's part of the send region
    uint64_t send_slice_bytes;
  };
  // `dataplane_sock`: the attach socket, polled when the dataplane is slow
  // to answer, to tell a dead dataplane from a busy one. `desk`: shared by
  // the application's contexts, for connections that move between them
  // (nullptr: ix_follow_moves answers IX_EOPNOTSUPP).
  RemoteContext(const Regions &regions, const ipc::ChannelLimits &limits,
                const std::atomic<bool> *stop, int dataplane_sock, MoveDesk *desk = nullptr);

  int run_io(ix_cmd *cmds, size_t ncmds, ix_event *events, size_t max_events) override;
  bool should_stop() const override;
  unsigned thread_id() const override { return hdr_->thread_id; }
  unsigned thread_count() const override { return hdr_->thread_count; }
  uint64_t now_ns() const override;
  // Asks this thread of the dataplane to move the application's
  // connections with their flow groups (remote_moves.hh has how their
  // records follow).
  int follow_moves(bool on) override;
  // Connections that arrived here before their record from the old thread
  // (for tests: none once the application's threads have caught up).
  size_t awaiting_records() const { return awaiting_.size() + orphans_.size(); }
  struct MoveStats {
    uint64_t records_out = 0;  // records of connections that left, deposited
    uint64_t records_in = 0;   // ... taken by connections that arrived here
    uint64_t awaited = 0;      // arrivals that came before their record
    uint64_t handed_back = 0;  // pieces of another thread's let go of here
  };
  const MoveStats &move_stats() const { return move_stats_; }
  // Copies in this thread's part of the send region not yet freed (for
  // tests: none once every byte sent was acknowledged).
  uint32_t send_copies_live() const { return send_arena_.live(); }
  // The dataplane closed its end of the attach socket while we waited for
  // an answer (it exited or was killed): every later call fails at once.
  bool dataplane_gone() const { return dataplane_gone_; }

 private:
  using Piece = RemotePiece;
  using Conn = RemoteConn;

  // Fills shm command slot k from c; false if c must wait for the next round
  // (its iovecs do not fit in what is left of the iovec area).
  bool encode(const ix_cmd &c, uint32_t k);
  int encode_sendv(const ix_cmd &c, ix_cmd &w, uint32_t k);
  ipc::Ref to_ref(const void *p, uint64_t len) const;
  void finish_command(ix_cmd &c, const ix_cmd &w, uint32_t k);
  void translate_event(ix_event &e);
  void consume(std::deque<Piece> &q, uint64_t bytes, bool rx);
  // Bytes of a connection's received (rx) or sent pieces are done with:
  // freed from the front, or owed while the connection awaits its record.
  void consume_or_owe(uint64_t handle, uint64_t bytes, bool rx);
  void free_pieces(std::deque<Piece> &q, bool rx);
  // Gives a piece back to its arena or receive region (through the desk if
  // another thread's).
  void release(const Piece &p, bool rx);
  // The connection is gone: its copies are freed, its received data is
  // freed at the next call (the application may still read it until then).
  void forget(uint64_t handle);
  // Moves (remote_moves.hh).
  void moved_out(const ix_event &e);
  void moved_in(const ix_event &e);
  // Puts a record from the old thread in front of what c gathered here.
  void merge(Conn &c, Conn &&from_old);
  // Takes the records an awaiting c waits for, as far as they are there;
  // true when it waits for none any more.
  bool adopt(Conn &c);
  // Looks again for the records connections here await; takes back the
  // pieces other threads let go of.
  void catch_up_moves();
  // Posts the batch and waits for the answer; false if the dataplane is gone
  // or stopping.
  bool exchange();

  Regions r_;
  ipc::ChannelLimits limits_;
  const std::atomic<bool> *stop_;
  int sock_;
  ipc::ChannelHeader *hdr_;
  ix_cmd *shm_cmds_;
  ix_iovec *shm_iovs_;
  const ix_event *shm_events_;
  ipc::LogArena send_arena_;
  uint32_t request_ = 0;
  bool dataplane_gone_ = false;
  uint32_t iovs_used_ = 0;
  // Per shm slot of the current round: the application's command it came
  // from (-1: the library's own) and the copies made for it.
  std::vector<int64_t> origin_;
  std::vector<int> local_rc_;  // IX_OK, or the status given without asking the dataplane
  std::vector<std::vector<Piece>> slot_pieces_;
  std::unordered_map<uint64_t, Conn> conns_;
  // UDP sends: the cookie passed to the dataplane -> the application's
  // cookie and the copy to free when IX_EV_UDP_SENT comes back.
  struct UdpSend {
    uint64_t cookie;
    uint64_t alloc;
  };
  std::unordered_map<uint64_t, UdpSend> udp_tokens_;
  uint64_t next_token_ = 1;
  std::vector<uint64_t> rx_frees_;  // receive allocations to give back
  std::vector<Piece> dead_rx_;      // of connections reported dead: freed next call

  uint16_t tid_;
  MoveDesk *desk_;
  // Handles of connections here awaiting their record, and records of
  // connections that ended while awaiting theirs (to free when it comes).
  std::vector<uint64_t> awaiting_;
  std::vector<Conn> orphans_;
  uint64_t deposits_seen_ = 0;
  MoveStats move_stats_;
};

}  // namespace ix::api
