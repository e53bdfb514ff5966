// A byte arena used as a log: allocations are contiguous and taken in order
// at the head; they may be freed in any order, and space comes back as the
// oldest allocations are freed. Suits buffers that are mostly released in the
// order they were taken (received data read in order, sent data acknowledged
// in order) and keeps an allocation one contiguous range, which a zero-copy
// reader needs. Its bookkeeping lives in the owner's private memory, never in
// the shared region it describes: the other process cannot corrupt it.
#pragma once

#include <cstdint>
#include <vector>

namespace ix::ipc {

class LogArena {
 public:
  // `size` bytes of region; at most `max_records` allocations live at once.
  LogArena(uint64_t size, uint32_t max_records);

  // Takes `len` (> 0) contiguous bytes; returns the allocation's id (never 0)
  // and its offset in the region, or 0 when there is no room now.
  uint64_t alloc(uint64_t len, uint64_t *offset);
  // Gives an allocation back. False (and nothing changes) for an id that is
  // not live: never allocated, already freed, or garbage.
  bool free(uint64_t id);
  // The allocation's range, or false if `id` is not live.
  bool range(uint64_t id, uint64_t *offset, uint64_t *len) const;

  uint64_t size() const { return size_; }
  // Bytes held by live allocations and the padding between them.
  uint64_t used() const { return head_pos_ - tail_pos_; }
  uint32_t live() const { return live_; }

 private:
  struct Record {
    uint64_t start = 0;  // position (monotonic) where the record's span begins (padding included)
    uint64_t end = 0;    // position just past its bytes
    uint64_t len = 0;
    bool live = false;
  };
  Record *record(uint64_t id) {
    return id >= tail_id_ && id < head_id_ ? &records_[id % records_.size()] : nullptr;
  }

  uint64_t size_;
  std::vector<Record> records_;
  uint64_t head_id_ = 1, tail_id_ = 1;    // records [tail_id_, head_id_) are not yet reclaimed
  uint64_t head_pos_ = 0, tail_pos_ = 0;  // monotonic positions; offset = pos % size_
  uint32_t live_ = 0;
};

}  // namespace ix::ipc
