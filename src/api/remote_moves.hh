// Protected mode's side of flow-group moves, in the application's process.
//
// A RemoteContext keeps, per connection, the copies it made into its part
// of the send region (freed as the dataplane reports bytes acknowledged)
// and the receive-region allocations the application has not finished
// reading (freed when it says so). When the connection moves from elastic
// thread A to B, that record must follow it: B's context hears the
// acknowledgements and the application's recv_done from then on. Both
// contexts run on their own threads, so the record goes through this desk:
//  - A, translating IX_EV_TCP_MOVED_OUT, deposits the record under the
//    move's key (cookie, the handle without its thread tag, move number);
//  - B, translating IX_EV_TCP_MOVED_IN (which carries the same three), takes
//    it. If A has not got there yet, B does not wait: the connection is
//    marked as awaiting, the bytes acknowledged or read meanwhile are owed,
//    and B looks again at its next run_io. A's pieces are older than any B
//    adds, so they go in front, and what is owed is then consumed from the
//    front, as it would have been.
// Pieces stay where they were allocated: one freed on another thread is
// handed to its owner through the desk (send-region copies to its arena,
// receive allocations to its next batch as kCmdRxFree, because each thread
// of the dataplane keeps its own receive region's books).
//
// A deposit exists only for a connection the application had accepted or
// connected (RemoteContext tracks those while it follows moves), which is
// exactly when the dataplane sends a MOVED_IN after the MOVED_OUT: a knock
// withdrawn before its accept leaves nothing behind.
//
// All of this is the control path (once per moved connection, one lock).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <vector>

namespace ix::api {

struct RemotePiece {
  uint64_t alloc;  // 0: nothing to free (the application's own memory, a shared ref)
  uint64_t bytes;
  uint16_t owner;  // the thread whose arena or receive region it is in
};

struct MoveKey {
  uint64_t cookie = 0;
  uint64_t handle = 0;  // on the old thread, without the thread's tag
  uint64_t move = 0;
  auto operator<=>(const MoveKey &) const = default;
};

// What a context knows of one connection.
struct RemoteConn {
  std::deque<RemotePiece> sent;  // bytes handed to sendv, oldest first
  std::deque<RemotePiece> rx;    // bytes received and not yet done with
  // Arrived on this thread before its record from the old one: `from`
  // names the deposit to wait for; what was acknowledged or read meanwhile
  // is owed to the pieces still to come.
  bool awaiting = false;
  MoveKey from;
  uint64_t sent_owed = 0, rx_owed = 0;
};

class MoveDesk {
 public:
  explicit MoveDesk(unsigned threads) : inbox_(threads) {}

  void deposit(const MoveKey &k, RemoteConn &&c);
  // The record deposited under k, if it is there (and then no longer).
  bool take(const MoveKey &k, RemoteConn *out);
  // Deposits so far: a context with connections awaiting looks again only
  // when this moved.
  uint64_t deposits() const { return deposits_.load(std::memory_order_acquire); }

  // A piece of thread `owner`'s, let go of on another thread.
  void hand_back(const RemotePiece &p, bool rx);
  struct Returned {
    std::vector<uint64_t> send, rx;
  };
  // Thread t's pieces handed back since it last asked (one relaxed load
  // when there are none).
  bool has_returns(unsigned t) const {
    return t < inbox_.size() && inbox_[t].pending.load(std::memory_order_acquire);
  }
  Returned take_returns(unsigned t);

 private:
  struct Inbox {
    std::atomic<bool> pending{false};
    Returned items;
  };
  std::mutex mu_;
  // Equal keys (the same cookie, old handle and move number of two
  // connections at once: only if an application gives connections the same
  // cookie) are taken in the order deposited.
  std::multimap<MoveKey, RemoteConn> deposited_;
  std::atomic<uint64_t> deposits_{0};
  std::deque<Inbox> inbox_;  // deque: atomics are not movable
};

}  // namespace ix::api
