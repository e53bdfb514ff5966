// The machinery behind ix::ev::Ixev for one elastic thread: the slot table,
// the node pools, the command batch of the round and the dispatch of
// handlers. Split by job: engine_round.cc (building a batch, reading results
// and events, calling handlers), engine_rx.cc and engine_tx.cc (the
// application's receive and send calls and their bookkeeping),
// engine_slots.cc (slot lifetime), engine_moves.cc (connections that move
// to or from another elastic thread's engine).
#pragma once

#include <memory>
#include <vector>

#include "ix/ixev.hh"
#include "ix/syscall.h"
#include "ixev/conn_slot.hh"
#include "ixev/node_pool.hh"

namespace ix::ev::detail {

class Engine {
 public:
  Engine(ix_ctx *ctx, const IxevConfig &cfg, Ixev *face);
  ~Engine();
  Engine(const Engine &) = delete;
  Engine &operator=(const Engine &) = delete;

  int listen(uint16_t port, Listener &l);
  int unlisten(uint16_t port);
  int dial(Conn &c, ix_endpoint remote, uint16_t src_port);

  int64_t recv(Conn &c, void *buf, size_t len);
  Bytes recv_zc(Conn &c, size_t max);
  int set_manual_release(Conn &c, bool manual);
  int recv_release(Conn &c, size_t bytes);
  size_t readable_bytes(const Conn &c) const;
  bool peer_closed(const Conn &c) const;

  int64_t send(Conn &c, const void *buf, size_t len);
  size_t send_space(const Conn &c) const;
  int sendv_zc(Conn &c, const ix_iovec *iov, size_t iovcnt, uint64_t cookie);

  int close(Conn &c);
  int abort(Conn &c);
  // The application deletes an attached Conn: reset, no handlers.
  void forget(Conn &c);

  int poll();

  ix_ctx *ctx() const { return ctx_; }
  bool follows_moves() const { return follows_moves_; }
  const IxevStats &stats();
  uint32_t connections() const { return in_use_; }
  void for_each_conn(void (*fn)(Conn &, void *), void *arg);

 private:
  struct ListenerEntry {
    uint16_t port;
    bool active;
    Listener *listener;
  };
  struct Knock {
    uint64_t listener_cookie;
    ix_tcp_handle handle;
    ix_endpoint remote;
    ix_endpoint local;
  };

  // engine_slots.cc
  Slot *alloc_slot();
  void free_slot(Slot &s);
  void live_link(Slot &s);
  void live_unlink(Slot &s);
  Slot *slot_of_cookie(uint64_t cookie);
  Slot *slot_of(const Conn &c);
  const Slot *slot_of(const Conn &c) const;
  void attach(Slot &s, Conn &c);
  void detach(Slot &s);
  void mark_dirty(Slot &s);
  void mark_ready(Slot &s, uint8_t bits);
  // The dataplane's connection is gone: drop what refers to its buffers and
  // owe on_hangup(status).
  // keep_rx: the death came with IX_EV_TCP_DEAD, so data reported before it
  // is still readable this round; otherwise it is dropped now.
  void mark_dead(Slot &s, int status, bool keep_rx = false);

  // engine_rx.cc
  void rx_append(Slot &s, const uint8_t *data, uint32_t len);
  void rx_consume(Slot &s, size_t n);
  void rx_drop_all(Slot &s);
  uint64_t rx_release_mark(const Slot &s) const;

  // engine_tx.cc
  void tx_push(Slot &s, const uint8_t *base, uint32_t len, CopyBlock *block);
  void tx_submitted(Slot &s, uint64_t n);
  void tx_drop_unsubmitted(Slot &s);
  void tx_acked(Slot &s, uint64_t bytes);
  void tx_drop_all(Slot &s);
  void block_unref(CopyBlock *b);
  // Adds iovecs for the unsubmitted bytes of s; returns the bytes offered.
  uint64_t tx_gather(Slot &s, ix_iovec *iov, uint32_t max_iov, uint32_t *n_iov);

  // engine_moves.cc
  // IX_EV_TCP_MOVED_OUT: the slot goes to whichever engine hears
  // IX_EV_TCP_MOVED_IN for it (published through Slot::handoff).
  void move_out(const ix_event &e);
  // IX_EV_TCP_MOVED_IN: waits for the old engine to let the slot go, then
  // takes it (and its nodes) with the connection's new handle.
  void move_in(const ix_event &e);
  // A command the dataplane answered IX_EMOVED: undone, so that the new
  // engine issues it.
  void undo_moved(const ix_cmd &c, Slot &s);
  // Nodes a slot holds (for the pools' counts as it changes hands).
  struct NodeCounts {
    size_t rx = 0, segs = 0, blocks = 0;
  };
  static NodeCounts count_nodes(const Slot &s);
  bool abandoned(uint64_t cookie) const;

  // engine_round.cc
  void build_batch();
  void build_for(Slot &s);
  void read_results();
  void read_events(int n);
  void on_event(const ix_event &e);
  void dispatch();
  void dispatch_knock(const Knock &k);
  void dispatch_slot(Slot &s);
  ix_cmd &add_cmd(uint16_t op, uint64_t cookie, Slot *slot);

  static constexpr uint32_t kSlotBlock = 1024;
  static constexpr uint64_t kListenerTag = uint64_t{1} << 63;

  ix_ctx *ctx_;
  Ixev *face_;
  IxevConfig cfg_;
  IxevStats stats_;
  bool follows_moves_ = false;

  Slot *free_slots_ = nullptr;
  Slot *live_ = nullptr;  // slots this engine owns and uses
  uint32_t in_use_ = 0;
  uint64_t slot_takes_ = 0;
  // Cookies of moved connections given up (their old engine never let
  // them go): their events are dropped here.
  std::vector<uint64_t> abandoned_;

  NodePool<RxChunk> rx_pool_;
  NodePool<TxSeg> seg_pool_;
  NodePool<CopyBlock> block_pool_;

  std::vector<ListenerEntry> listeners_;
  std::vector<Knock> knocks_;
  std::vector<Slot *> dirty_;
  std::vector<Slot *> ready_;
  std::vector<ix_tcp_handle> reject_handles_;
  std::vector<ix_tcp_handle> abort_handles_;  // connections without a slot to reset
  std::vector<ix_buf_handle> udp_returns_;    // stray UDP buffers given back
  std::vector<Slot *> building_;              // dirty_ while a batch is built
  std::vector<Slot *> dispatching_;           // ready_ while handlers run

  // The round's batch: commands, which slot each belongs to, the iovecs the
  // sendv commands point at (never reallocated while a batch is built), and
  // the events array.
  std::vector<ix_cmd> cmds_;
  std::vector<Slot *> cmd_slot_;  // nullptr: not a connection's command
  std::vector<ix_iovec> iov_;
  uint32_t iov_used_ = 0;
  std::vector<ix_event> events_;
};

}  // namespace ix::ev::detail
