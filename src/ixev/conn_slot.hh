// ixev's record of one connection: what was received and not yet consumed,
// what is queued to send and not yet acknowledged, and what the handlers are
// still to hear. Slots come from a process-wide arena (node_pool.hh) and are
// owned by one thread's Engine at a time; the application's Conn points at
// its slot, the dataplane names it by cookie (address + generation), so an
// event for a connection ixev has let go of is recognised as stale, and a
// connection that moves to another elastic thread keeps its cookie.
#pragma once

#include <atomic>
#include <cstdint>

#include "ix/ixev.hh"
#include "ix/syscall.h"

namespace ix::ev::detail {

// One IX_EV_TCP_RECV's bytes, read-only, owned by the dataplane until the
// recv_done that covers them.
struct RxChunk {
  const uint8_t *data;
  uint32_t len;
  RxChunk *next;
};

// Memory that copying send() fills. Freed when no segment refers to it and
// it is not the connection's current tail block.
constexpr uint32_t kCopyBlockSize = 16 * 1024;
struct CopyBlock {
  uint32_t used;
  uint32_t refs;
  CopyBlock *next;
  uint8_t data[kCopyBlockSize];
};

// A run of bytes to send, in order. `submitted` bytes were taken by the
// dataplane (sendv), `acked` of those were acknowledged (IX_EV_TCP_SENT).
struct TxSeg {
  const uint8_t *base;
  uint32_t len;
  uint32_t submitted;
  uint32_t acked;
  bool has_cookie;   // the last segment of a sendv_zc: on_sent(cookie) when acked
  CopyBlock *block;  // null for zero-copy segments
  uint64_t cookie;
  TxSeg *next;
};

enum class SlotState : uint8_t {
  kFree,
  kDialing,     // connect not yet executed (no handle)
  kConnecting,  // handle known, waiting for IX_EV_TCP_CONNECTED
  kAccepting,   // knock taken, accept not yet executed
  kOpen,
  kDead,  // the dataplane's connection is gone; handlers still to hear it
};

// Handler calls still owed (dispatched after the round's events).
enum PendingBits : uint8_t {
  kPendConnected = 1,
  kPendReadable = 2,
  kPendWritable = 4,
  kPendSent = 8,
  kPendHangup = 16,
  kPendMoved = 32,  // on_moved first: the slot arrived from another thread
};

// The word one thread's engine publishes when it lets a moved connection's
// slot go (release) and the next owner waits for (acquire): the slot's
// generation and the move's number, so a value left from an earlier
// connection in the slot never matches. Copying a Slot (free_slot's reset)
// leaves it alone.
struct HandoffWord {
  std::atomic<uint64_t> v{0};
  HandoffWord() = default;
  HandoffWord(const HandoffWord &) {}
  HandoffWord &operator=(const HandoffWord &) { return *this; }
};

struct Slot {
  uint32_t gen = 1;
  SlotState state = SlotState::kFree;
  Conn *conn = nullptr;  // null: the application let go (no handlers)
  ix_tcp_handle handle = 0;
  ix_endpoint remote{};
  uint16_t src_port = 0;

  // Receive: chunks not yet consumed, in order; rx_off bytes of the head
  // chunk are consumed. Counters are totals since the connection began.
  RxChunk *rx_head = nullptr;
  RxChunk *rx_tail = nullptr;
  uint32_t rx_off = 0;
  uint64_t rx_buffered = 0;      // unconsumed bytes in the chunks
  uint64_t rx_read = 0;          // consumed by the application
  uint64_t rx_app_released = 0;  // given back by recv_release (manual mode)
  uint64_t rx_done = 0;          // handed to recv_done commands
  bool manual_release = false;
  bool peer_fin = false;

  // Send: segments not yet acknowledged, in order; tx_next is the first one
  // with bytes the dataplane has not taken.
  TxSeg *tx_head = nullptr;
  TxSeg *tx_tail = nullptr;
  TxSeg *tx_next = nullptr;
  CopyBlock *tx_block = nullptr;  // where send() appends
  uint64_t tx_copy_bytes = 0;     // send() bytes not yet acknowledged
  uint64_t tx_unsubmitted = 0;
  bool tx_blocked = false;  // the dataplane took less than offered: wait for SENT
  bool want_writable = false;
  bool close_requested = false;
  bool close_sent = false;
  bool abort_requested = false;

  // Handler calls owed.
  uint8_t pending = 0;
  int connect_status = IX_OK;
  int hangup_status = IX_OK;
  TxSeg *done_head = nullptr;  // acknowledged zero-copy sends: on_sent(cookie)
  TxSeg *done_tail = nullptr;

  // List membership (these avoid duplicates in the engine's lists).
  bool in_dirty = false;
  bool in_ready = false;

  // The owning engine's list of its slots in use (for its teardown), and
  // the free-list link while free.
  Slot *live_prev = nullptr;
  Slot *live_next = nullptr;
  Slot *next = nullptr;
  HandoffWord handoff;

  // The dataplane's name for the connection: the slot's address (user
  // space addresses fit 47 bits) and 15 bits of its generation; bit 63
  // stays clear (listener cookies set it).
  static constexpr unsigned kGenShift = 48;
  static constexpr uint64_t kGenMask = 0x7fff;
  uint64_t cookie() const {
    return reinterpret_cast<uintptr_t>(this) | ((gen & kGenMask) << kGenShift);
  }
  static Slot *from_cookie(uint64_t cookie) {
    return reinterpret_cast<Slot *>(cookie & ((uint64_t{1} << kGenShift) - 1));
  }
  static uint32_t gen_of_cookie(uint64_t cookie) {
    return static_cast<uint32_t>((cookie >> kGenShift) & kGenMask);
  }
  bool live() const { return state != SlotState::kFree && state != SlotState::kDead; }
  // Received data may still be read in the round a connection dies.
  bool readable() const { return state != SlotState::kFree; }
};

}  // namespace ix::ev::detail
