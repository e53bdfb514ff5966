// Moving a flow group from one elastic thread to another while traffic
// flows, with no segment dropped or reordered (Runtime::move_group drives
// it; each thread's steps are in group_handoff.cc).
//
// What moves: the group's TCP connections (control blocks, the data they
// hold, their timers' deadlines: net/tcp/moved_conn.hh), the device's
// steering of the group (the NIC's RSS table, or the loop wire's), every
// thread's view of who owns the group, and the frames of the group already
// received or on their way. UDP has no per-flow state in the stack: its
// flows move with the steering and the views.
//
// The order, for group G from thread A to thread B (each step a control
// task the thread runs between batches; the mover waits for each):
//  1. B starts holding G: frames of G that reach B (from its queue or
//     forwarded by any sibling) are queued, not processed.
//  2. Every other thread C sets G's owner to B in its view, so frames of G
//     it receives from now on go to B (held there). Frames of G that C
//     forwarded to A before this are in C's link to A.
//  3. A exports G's connections into a parcel, pushes it on its link to B
//     (a FrameLink marker, in order with frames) and sets G's owner to B:
//     every frame of G that A sees from now on, from its queue or from a
//     sibling's link, is forwarded to B behind the parcel.
//  4. The mover switches the device's steering of G to B's queue.
//  5. A, at its first poll that starts after the switch (plus a settling
//     time for frames the NIC has in flight) and leaves its queue and its
//     in-links empty, pushes a "flushed" marker to B: every frame of G that
//     was steered to A or forwarded to A is now ahead of it on the link.
//  6. B, at the parcel, recreates the connections and processes the frames
//     A forwards after it as they come (they are older than any B holds);
//     at the flushed marker it processes what it held, in arrival order,
//     and G is B's like any other group.
// So B processes every frame of G that reached A before any frame of G that
// reached it directly or through a third thread, and frames within each of
// those paths keep their order: a flow's segments are processed in the order
// the wire delivered them as long as it delivered them in that order to
// queues that the device switched once.
//
// Buffers: received data the connections hold stays in A's pool buffers
// (the application may still be reading it); B frees them through the
// pool's return stack (mem/mbuf_pool.hh, give_back), the only cross-core
// write, once per moved buffer.
#pragma once

#include <cstdint>
#include <vector>

#include "net/tcp/moved_conn.hh"

namespace ix::core {

// FrameLink::Marker kinds.
constexpr uint8_t kParcelMarker = 1;   // parcel: a GroupParcel *, now the receiver's
constexpr uint8_t kFlushedMarker = 2;  // no more frames of the group from this link's sender

struct GroupParcel {
  uint16_t group = 0;
  std::vector<net::tcp::MovedConn> conns;
};

}  // namespace ix::core
