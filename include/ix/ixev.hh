// ixev: an event layer over ix_run_io for application writers (after IX's
// libix "ixev"). It turns the batched command/event arrays of ix/syscall.h
// into per-connection handlers, and turns the application's calls back into
// one ix_run_io batch per round.
//
//   struct Echo : ix::ev::Conn {
//     void on_readable() override { ... loop->recv(*this, buf, n) until IX_EAGAIN ... }
//     void on_hangup(int) override { delete this; }
//   };
//   struct Acceptor : ix::ev::Listener {
//     ix::ev::Conn *on_knock(const ix_endpoint &, const ix_endpoint &) override { return new Echo;
//     }
//   };
//   ix::ev::Ixev loop(ctx);
//   loop.listen(7, acceptor);
//   while (!loop.should_stop()) loop.poll();
//
// Rounds: poll() submits everything the application asked for since the last
// round (accepts, rejects, connects, recv_done, sends, closes) as ONE
// ix_run_io call, processes the command results and the events, and then
// calls handlers. Nothing an application does inside a handler reaches the
// dataplane before the next poll(): calls only queue work.
//
// Handlers are edge triggered: on_readable runs when new bytes (or the peer's
// FIN) arrived in this round, not while unread bytes remain; the application
// reads until recv() says IX_EAGAIN. on_writable runs once send space frees up
// after a send() that could not take everything.
//
// Connection lifetime seen by a Conn:
//   dial(): on_connected(IX_OK) ... or on_connected(<0), after which the Conn
//           is detached (no on_hangup).
//   knock:  Listener::on_knock returns the Conn that takes it (or nullptr: the
//           connection is refused with a reset); on_connected(IX_OK) follows
//           once the dataplane accepted it (sends may be queued before).
//   then:   on_readable / on_writable / on_sent as things happen, and
//           on_hangup(status) exactly once at the end: IX_OK after an orderly
//           close, IX_ECONNRESET, IX_ETIMEDOUT, IX_ECLOSED (abort() or the
//           dataplane ended it), IX_EBADH (the dataplane no longer knew the
//           handle). Before on_hangup the Conn is detached; the handler may
//           delete it. After it, every pointer recv_zc() returned is invalid
//           and all zero-copy send memory is the application's again.
// Deleting an attached Conn aborts its connection (reset) without handlers.
//
// Memory: receive is zero copy underneath; recv() copies out of the held
// packet buffers, recv_zc() hands out pointers into them. Either way the
// consumed bytes are returned to the dataplane (recv_done, batched per
// connection and round) at the next poll(), unless the connection is in
// manual-release mode, where recv_release() returns them (oldest first) —
// how an echo server sends straight from the received buffers. send() copies
// into buffers ixev owns (bounded per connection, freed as the peer
// acknowledges); sendv_zc() transmits from the application's memory and calls
// on_sent(cookie) once the peer acknowledged all of it. Sends the dataplane
// cannot take yet (its send window is full) stay queued in ixev and are
// retried when acknowledgements free space; their order is kept.
//
// Moves (IxevConfig::follow_moves): when the control plane moves a flow
// group to another elastic thread, its connections go with it, and so do
// their Conns: everything received and not yet consumed, everything queued
// to send, and the handler calls still owed. The Conn hears on_moved(loop)
// on the new thread, before any other handler there; from then on it is
// served by that thread's Ixev `loop` and must be used with it (and
// per-thread state it points at rebound). The old thread's Ixev forgets it
// first: from then until on_moved the Conn is in transit, detached
// (attached() false, calls return IX_ECLOSED) and hears no handler; the
// application must not delete it or use it meanwhile (an application touches
// a Conn from its own handlers, which this never interrupts). A knocked Conn whose connection
// moves before the dataplane accepted it hears on_hangup(IX_EMOVED) instead,
// and the new thread's Listener is asked again. The application shares its
// memory across threads (library mode), so the Conn object itself does not
// move.
//
// Allocation: the fast path allocates nothing once warm. Connection slots,
// receive-chunk and send-segment nodes and copy buffers come from free lists
// that grow in blocks only when more are in use at once than ever before
// (stats().pool_growths counts it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>

#include "ix/syscall.h"

namespace ix::ev {

class Ixev;
namespace detail {
class Engine;
struct Slot;
}  // namespace detail

// One TCP connection's context. Derive from it and override the handlers
// the application cares about. A Conn belongs to at most one Ixev at a time.
class Conn {
 public:
  Conn() = default;
  virtual ~Conn();
  Conn(const Conn &) = delete;
  Conn &operator=(const Conn &) = delete;

  virtual void on_connected(int /*status*/) {}
  virtual void on_readable() {}
  virtual void on_writable() {}
  virtual void on_sent(uint64_t /*cookie*/) {}
  virtual void on_hangup(int /*status*/) {}
  // The connection moved to another elastic thread, whose Ixev is `loop`
  // (see Moves above). Runs on that thread.
  virtual void on_moved(Ixev & /*loop*/) {}

  bool attached() const { return engine_ != nullptr; }
  const ix_endpoint &remote() const { return remote_; }
  const ix_endpoint &local() const { return local_; }

 private:
  friend class detail::Engine;
  detail::Engine *engine_ = nullptr;
  detail::Slot *slot_ = nullptr;
  ix_endpoint remote_{};
  ix_endpoint local_{};
};

// Decides about connections that knock on a listened port.
class Listener {
 public:
  virtual ~Listener() = default;
  // Return the Conn that takes the connection (not attached elsewhere), or
  // nullptr to refuse it.
  virtual Conn *on_knock(const ix_endpoint &remote, const ix_endpoint &local) = 0;
};

struct IxevConfig {
  uint32_t max_events = 512;          // events taken per round (the rest wait in the dataplane)
  uint32_t send_buffer = 256 * 1024;  // bytes per connection that send() may hold
  uint32_t iov_per_round = 16384;     // iovec entries all sendv commands of a round may use
  uint32_t iov_per_send = 256;        // iovec entries in one sendv command
  // Connections follow their flow group to other elastic threads (see Moves
  // above); every Conn must then cope with on_moved. Off: the control plane
  // does not move a flow group that holds one of this Ixev's connections.
  bool follow_moves = false;
  // How long a connection arriving from another thread waits for that
  // thread's Ixev to let it go (its application stopped polling, say)
  // before it is reset here; the old side then ends it too.
  uint32_t move_patience_ms = 10000;
};

struct IxevStats {
  uint64_t rounds = 0;
  uint64_t commands = 0;
  uint64_t events = 0;
  uint64_t stale_events = 0;      // for a connection ixev no longer tracks (dropped)
  uint64_t stale_handles = 0;     // commands the dataplane answered with IX_EBADH
  uint64_t partial_sends = 0;     // sendv commands that took fewer bytes than offered
  uint64_t rejected = 0;          // knocks refused
  uint64_t command_errors = 0;    // other command failures
  uint64_t foreign_events = 0;    // UDP or timer events (not ixev's; UDP buffers returned)
  uint64_t pool_growths = 0;      // free-list growth (allocation) after the first use
  uint64_t moved_in = 0;          // connections that arrived from another thread
  uint64_t moved_out = 0;         // ... and left for another
  uint64_t knocks_withdrawn = 0;  // knocks whose connection moved before it was accepted
  uint64_t move_waits = 0;        // arrivals that waited for the old thread to let go
  uint64_t commands_moved = 0;  // commands answered IX_EMOVED (undone; the new thread issues them)
  uint64_t moves_lost = 0;      // arrivals given up (the old thread never let go): reset
};

struct Bytes {
  const uint8_t *data = nullptr;
  size_t len = 0;
};

class Ixev {
 public:
  explicit Ixev(ix_ctx *ctx, const IxevConfig &cfg = {});
  ~Ixev();
  Ixev(const Ixev &) = delete;
  Ixev &operator=(const Ixev &) = delete;

  // Listening is set up at once (one ix_run_io of its own; events it produces
  // wait for the next poll()). IX_OK or the dataplane's status.
  int listen(uint16_t port, Listener &listener);
  int unlisten(uint16_t port);

  // Active open; on_connected reports the outcome. Sends queued before then
  // go out once connected. IX_OK, or IX_EINVAL (conn attached, bad endpoint).
  int dial(Conn &conn, ix_endpoint remote, uint16_t src_port = 0);

  // Copies up to len received bytes. Returns the count (> 0), 0 at the end of
  // the stream (the peer closed and everything was read), IX_EAGAIN when
  // nothing is buffered yet, IX_ECLOSED when the connection is gone.
  int64_t recv(Conn &conn, void *buf, size_t len);
  // The next contiguous received bytes (at most max), consumed. The pointer
  // stays valid until the next poll() (auto release) or until recv_release
  // covers it (manual release). len 0: nothing buffered (see peer_closed()).
  Bytes recv_zc(Conn &conn, size_t max);
  // Manual release: consumed bytes stay lent to the application until
  // recv_release(n) returns the oldest n of them. Switching back to automatic
  // release returns everything consumed.
  int set_manual_release(Conn &conn, bool manual);
  int recv_release(Conn &conn, size_t bytes);
  size_t readable_bytes(const Conn &conn) const;
  bool peer_closed(const Conn &conn) const;

  // Copying send: takes what fits in the connection's send buffer and returns
  // it (> 0), or IX_EAGAIN when it is full (on_writable follows when space
  // frees), IX_ECLOSED after close() or when the connection is gone.
  int64_t send(Conn &conn, const void *buf, size_t len);
  size_t send_space(const Conn &conn) const;
  // Zero-copy send of the application's memory, which must stay unchanged
  // until on_sent(cookie). Always queued whole: IX_OK, IX_EINVAL (no bytes,
  // bad iovec), IX_ECLOSED.
  int sendv_zc(Conn &conn, const ix_iovec *iov, size_t iovcnt, uint64_t cookie);

  // Graceful close once every queued byte is handed to the dataplane (a half
  // close: receiving goes on until the peer's FIN). on_hangup(IX_OK) follows
  // when both sides are done.
  int close(Conn &conn);
  // Reset now; on_hangup(IX_ECLOSED) follows in the next poll().
  int abort(Conn &conn);

  // One round: submits the queued commands in one ix_run_io, processes the
  // results and events, calls handlers. Returns the number of events handled.
  int poll();

  bool should_stop() const;
  uint64_t now_ns() const;
  unsigned thread_id() const;
  const IxevStats &stats() const;
  // Connections attached to a Conn or still being torn down.
  uint32_t connections() const;
  // Calls fn(conn, arg) for each connection this thread serves (attached to
  // a Conn, not hung up), for example to close idle ones; fn may close or
  // abort the connection it is given. Connections in transit to or from
  // another thread are not this thread's and are not visited.
  void for_each_conn(void (*fn)(Conn &conn, void *arg), void *arg);
  template <class F>
  void for_each_conn(F &&f) {
    using Fn = std::remove_reference_t<F>;
    for_each_conn([](Conn &c, void *a) { (*static_cast<Fn *>(a))(c); }, &f);
  }
  // Whether connections follow moves (asked for, and the dataplane can).
  bool follows_moves() const;

 private:
  std::unique_ptr<detail::Engine> engine_;
};

}  // namespace ix::ev
