// A TCP connection on its way from one elastic thread's engine to another's
// (a flow-group move, core/group_move.hh): everything its control block
// held, copied out of the old engine's slot and arenas, with the received
// buffers it held (still the old thread's pool's, marked away: see
// MbufPool::give_back) and its timers as absolute deadlines. The old engine
// has forgotten the connection when this exists; the new one recreates it
// from this, so neither engine ever touches the other's table, arenas or
// wheel.
#pragma once

#include <cstdint>
#include <vector>

#include "net/tcp/conn_table.hh"
#include "net/tcp/reassembly_queue.hh"
#include "net/tcp/tcb.hh"

namespace ix::net::tcp {

struct MovedConn {
  TcbVars vars;
  SackScoreboard sb;
  std::vector<SendChunk> sq;
  std::vector<RecvChunk> rq;
  std::vector<TxRecord> txr;
  std::vector<ReassemblyQueue::Held> ooo;
  // Absolute deadlines (the runtime's clock) of the timers that were armed; 0: not armed.
  uint64_t rexmit_due_ns = 0;
  uint64_t delack_due_ns = 0;
  uint64_t wait_due_ns = 0;
  ConnHandle old_handle = 0;  // the application's name for it until now
  uint64_t owner_tag = 0;     // the old receiver's move_tag
  // Reported bytes the old receiver copied (TcpEvents::on_moved_out): the
  // new engine releases them once the connection is there.
  uint32_t released_by_app = 0;
};

}  // namespace ix::net::tcp
