#include "ipc/log_arena.hh"

#include <stdexcept>

namespace ix::ipc {

LogArena::LogArena(uint64_t size, uint32_t max_records)
    : size_(size), records_(max_records == 0 ? 1 : max_records) {
  if (size == 0) throw std::invalid_argument("LogArena: empty region");
}

uint64_t LogArena::alloc(uint64_t len, uint64_t *offset) {
  if (len == 0 || len > size_) return 0;
  if (head_id_ - tail_id_ >= records_.size()) return 0;
  uint64_t pos = head_pos_;
  const uint64_t at = pos % size_;
  if (at + len > size_) pos += size_ - at;  // does not fit before the end: wrap
  if (pos + len - tail_pos_ > size_) return 0;
  const uint64_t id = head_id_++;
  Record &r = records_[id % records_.size()];
  r.start = head_pos_;
  r.end = pos + len;
  r.len = len;
  r.live = true;
  head_pos_ = r.end;
  ++live_;
  *offset = pos % size_;
  return id;
}

bool LogArena::free(uint64_t id) {
  Record *r = record(id);
  if (r == nullptr || !r->live) return false;
  r->live = false;
  --live_;
  while (tail_id_ < head_id_) {
    const Record &t = records_[tail_id_ % records_.size()];
    if (t.live) break;
    tail_pos_ = t.end;
    ++tail_id_;
  }
  return true;
}

bool LogArena::range(uint64_t id, uint64_t *offset, uint64_t *len) const {
  if (id < tail_id_ || id >= head_id_) return false;
  const Record &r = records_[id % records_.size()];
  if (!r.live) return false;
  *len = r.len;
  *offset = (r.end - r.len) % size_;
  return true;
}

}  // namespace ix::ipc
