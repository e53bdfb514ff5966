// What an ix_ctx (include/ix/syscall.h) is behind the C interface: one
// elastic thread's channel to a dataplane. In library mode it is the
// dataplane itself (api::LocalContext, the stack in this process); in
// protected mode it is a client of the dataplane process over shared memory
// (api::RemoteContext). Applications see neither: ix_run_io and friends
// dispatch through this interface, one virtual call per batch.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ix/syscall.h"

struct ix_ctx {
  virtual ~ix_ctx() = default;
  virtual int run_io(ix_cmd *cmds, size_t ncmds, ix_event *events, size_t max_events) = 0;
  virtual bool should_stop() const = 0;
  virtual unsigned thread_id() const = 0;
  virtual unsigned thread_count() const = 0;
  virtual uint64_t now_ns() const = 0;
  // ix_follow_moves: IX_OK where this context can follow its connections.
  virtual int follow_moves(bool /*on*/) { return IX_EOPNOTSUPP; }
};
