// memcached 1.6's text protocol (classic ASCII commands and meta commands).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "context.hh"
#include "reply.hh"

namespace ix::mc {

// Per-connection state the text protocol keeps between calls: the rest of a
// rejected data block still to be skipped as it arrives (memcached swallows
// a too-large value instead of buffering it).
struct TextSession {
  uint64_t swallow = 0;
  // lru_crawler metadump in progress: it is written in steps, between which
  // the connection's replies drain; input waits meanwhile.
  struct Metadump {
    bool active = false;
    bool all = true;       // "all" or "hash"; else only the classes in `classes`
    uint64_t classes = 0;  // bit per slab class id (1..63)
    Store::WalkCursor cursor;
  } metadump;
  bool dumping() const { return metadump.active; }
  // The last turn stopped at kTurnReplyBudget with requests left in the input.
  bool paused = false;
  // Whether the connection should be given a turn on its buffered input
  // without waiting for more to arrive.
  bool wants_turn() const { return metadump.active || paused; }
};

// Longest command line accepted without its "\r\n" before the connection is
// judged broken and closed without a reply (memcached's 2048). get/gets
// lines may be longer: multi-gets are unbounded in memcached; we bound them
// at kMaxGetLine so one client cannot hold unbounded memory.
constexpr size_t kMaxLine = 2048;
constexpr size_t kMaxGetLine = 4 * 1024 * 1024;
constexpr size_t kMaxKeyLength = 250;
// Largest data length a storage command may name: memcached keeps the length
// plus its CRLF in an int, and refuses a longer one as a malformed line.
constexpr int64_t kMaxDataLength = INT32_MAX - 2;

// Handles complete text requests at the start of `in`, writing responses to
// `out`. Returns the bytes consumed (0: the first request is incomplete, wait
// for more input). Sets *close_after on quit or when the stream cannot be
// parsed any further (after writing the error, if any).
size_t handle_text(std::span<const uint8_t> in, Context &ctx, Reply &out, bool *close_after,
                   TextSession &session);

}  // namespace ix::mc
