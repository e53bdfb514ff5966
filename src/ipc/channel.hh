// The shared memory between an application process and the dataplane process
// (ixd) for one elastic thread: the run_io handoff. The application writes a
// batch of commands (and the iovecs they point to) and bumps `request`; the
// dataplane copies the batch out, checks and executes it, writes each
// command's result back, writes the events and sets `response` to the same
// number. One crossing per batch, as in library mode, never one per packet.
//
// Everything here is writable by the application, so the dataplane trusts
// none of it: it copies a batch into its own memory before it looks at it
// (so a concurrent write cannot change a command after it was checked),
// clamps every count, and keeps its own state (arenas, handles, pointers)
// out of this memory. Pointers never cross: data is named by a Ref, a region
// and an offset, which each side turns into an address in its own mapping.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "ix/syscall.h"

namespace ix::ipc {

constexpr uint32_t kChannelMagic = 0x31445849;  // "IXD1"
constexpr uint32_t kProtocolVersion = 2;

// Where data named by a Ref lives: the application's send region (it
// writes, the dataplane maps it read-only), or the receive region of this
// channel (the dataplane writes received data there; the application maps it
// read-only).
enum class Region : uint8_t { kNone = 0, kSend = 1, kRecv = 2 };

// A Ref packs a region and an offset: region in the top 8 bits.
using Ref = uint64_t;
constexpr Ref make_ref(Region r, uint64_t offset) {
  return (uint64_t{static_cast<uint8_t>(r)} << 56) | (offset & ((uint64_t{1} << 56) - 1));
}
constexpr Region ref_region(Ref ref) { return static_cast<Region>(ref >> 56); }
constexpr uint64_t ref_offset(Ref ref) { return ref & ((uint64_t{1} << 56) - 1); }

// Commands only the client library sends (the application never sees them):
// the receive-region allocation `u.raw[0]` is read and may be reused.
constexpr uint16_t kCmdRxFree = 200;
// ix_follow_moves for this thread's context: u.raw[0] nonzero for on.
constexpr uint16_t kCmdFollowMoves = 201;

// How commands and events carry Refs in place of pointers:
//   IX_CMD_UDP_SEND   u.udp_send.data = Ref of the payload
//   IX_CMD_TCP_SENDV  u.tcp_sendv.iov = index of the first iovec in the
//                     channel's iovec area; each iovec's base is a Ref
//   IX_EV_UDP_RECV    u.udp_recv.data = Ref into the receive region;
//                     u.udp_recv.buf = the allocation, freed by UDP_RECV_DONE
//   IX_EV_TCP_RECV    u.tcp.data = Ref into the receive region;
//                     u.raw[3] = the allocation, freed by kCmdRxFree once the
//                     application has done with the bytes (TCP_RECV_DONE)
constexpr size_t kTcpRecvAllocWord = 3;

struct ChannelLimits {
  uint32_t max_cmds = 4096;
  uint32_t max_iovs = 16384;
  uint32_t max_events = 4096;
};

struct alignas(64) ChannelHeader {
  // Set by the dataplane when it creates the channel; read-only in spirit.
  uint32_t magic;
  uint32_t version;
  uint32_t thread_id;
  uint32_t thread_count;
  uint32_t max_cmds;
  uint32_t max_iovs;
  uint32_t max_events;
  uint32_t reserved;
  uint64_t recv_region_bytes;

  // The application's side of the handoff.
  alignas(64) std::atomic<uint32_t> request;
  uint32_t ncmds;
  uint32_t events_wanted;              // room the application has for events in this call
  std::atomic<uint32_t> app_waiting;   // 1 while the application sleeps on `response`
  std::atomic<uint32_t> app_yielding;  // 1 while it yields the CPU between checks of `response`
  // 1: this batch continues the run_io call of the one before (a call with
  // more commands than max_cmds takes several), built before the
  // application saw that one's events: a handle whose IX_EV_TCP_MOVED_OUT
  // came with them still gets IX_EMOVED, not IX_EBADH.
  uint32_t continues;

  // The dataplane's side.
  alignas(64) std::atomic<uint32_t> response;
  uint32_t nevents;
  std::atomic<uint32_t> stop;  // the dataplane is shutting down: finish
  uint64_t now_ns;             // the dataplane's clock at the response
};

// Offsets of the areas behind the header; the same arithmetic on both sides.
struct ChannelLayout {
  size_t cmds, iovs, events, bytes;
  static ChannelLayout of(const ChannelLimits &l) {
    auto up = [](size_t v) { return (v + 63) & ~size_t{63}; };
    ChannelLayout c{};
    c.cmds = up(sizeof(ChannelHeader));
    c.iovs = up(c.cmds + l.max_cmds * sizeof(ix_cmd));
    c.events = up(c.iovs + l.max_iovs * sizeof(ix_iovec));
    c.bytes = (c.events + l.max_events * sizeof(ix_event) + 4095) & ~size_t{4095};
    return c;
  }
};

// Blocks while *word == expected (a futex on shared memory, so it works
// across processes), at most timeout_ns; wakes everyone waiting on word.
void futex_wait(std::atomic<uint32_t> *word, uint32_t expected, uint64_t timeout_ns);
void futex_wake(std::atomic<uint32_t> *word);

}  // namespace ix::ipc
