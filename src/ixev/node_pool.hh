// A free list of fixed-size nodes for one thread. It grows by a block when
// empty: that is the only allocation, and it happens only when more nodes
// are in use at once than ever before, so a warm application allocates
// nothing. Nodes are never returned to the system before the pool dies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace ix::ev::detail {

// T needs a `T *next` member, used as the free-list link while T is free.
template <class T>
class NodePool {
 public:
  explicit NodePool(size_t block_nodes) : block_nodes_(block_nodes == 0 ? 1 : block_nodes) {}
  NodePool(const NodePool &) = delete;
  NodePool &operator=(const NodePool &) = delete;

  // A node with stale contents: the caller sets every field it uses (a copy
  // buffer is too large to clear on every use).
  T *get() {
    if (free_ == nullptr) grow();
    T *n = free_;
    free_ = n->next;
    ++in_use_;
    return n;
  }
  void put(T *n) {
    n->next = free_;
    free_ = n;
    --in_use_;
  }

  size_t in_use() const { return in_use_; }
  // Blocks allocated beyond the first one.
  uint64_t growths() const { return blocks_.empty() ? 0 : blocks_.size() - 1; }

 private:
  void grow() {
    blocks_.push_back(std::make_unique<T[]>(block_nodes_));
    T *b = blocks_.back().get();
    for (size_t i = block_nodes_; i-- > 0;) {
      b[i].next = free_;
      free_ = &b[i];
    }
  }

  size_t block_nodes_;
  std::vector<std::unique_ptr<T[]>> blocks_;
  T *free_ = nullptr;
  size_t in_use_ = 0;
};

}  // namespace ix::ev::detail
