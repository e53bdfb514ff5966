// Free lists of fixed-size nodes. Each thread's engine has its own
// NodePool (no lock, no shared write on the fast path); the memory behind
// them comes from one NodeArena per node type for the whole process, which
// never returns it to the system. That is what lets a node cross threads:
// a connection whose flow group moves to another elastic thread takes its
// nodes along, and the engine there frees them into its own pool; an
// engine that ends gives its free nodes back to the arena for the next.
// A pool grows (takes a block from the arena, under the arena's lock) only
// when more nodes are in use at once than ever before, so a warm
// application allocates nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace ix::ev::detail {

// T needs a `T *next` member, used as the free-list link while T is free.
template <class T>
class NodeArena {
 public:
  // The process's arena for T: created on first use and never destroyed,
  // so nodes stay valid for as long as any thread may hold one.
  static NodeArena &instance() {
    static NodeArena *arena = new NodeArena;
    return *arena;
  }

  // A chain of n free nodes (linked through next): returned ones first.
  T *take(size_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    T *head = nullptr;
    for (size_t i = 0; i < n; ++i) {
      if (free_ == nullptr) {
        blocks_.push_back(std::make_unique<T[]>(n - i));
        T *b = blocks_.back().get();
        for (size_t k = n - i; k-- > 0;) {
          b[k].next = free_;
          free_ = &b[k];
        }
      }
      T *node = free_;
      free_ = node->next;
      node->next = head;
      head = node;
    }
    return head;
  }
  // Gives a chain of free nodes back (an engine that ends).
  void give(T *head) {
    std::lock_guard<std::mutex> lock(mu_);
    while (head != nullptr) {
      T *next = head->next;
      head->next = free_;
      free_ = head;
      head = next;
    }
  }

 private:
  NodeArena() = default;
  std::mutex mu_;
  std::vector<std::unique_ptr<T[]>> blocks_;
  T *free_ = nullptr;
};

template <class T>
class NodePool {
 public:
  explicit NodePool(size_t block_nodes) : block_nodes_(block_nodes == 0 ? 1 : block_nodes) {}
  ~NodePool() { NodeArena<T>::instance().give(free_); }
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
  // Nodes in use that leave with a moved connection, or arrive with one:
  // the count follows them (each is put into the pool of the engine that
  // frees it).
  void handed_over(size_t n) { in_use_ -= static_cast<int64_t>(n); }
  void taken_over(size_t n) { in_use_ += static_cast<int64_t>(n); }

  int64_t in_use() const { return in_use_; }
  // Blocks taken beyond the first one.
  uint64_t growths() const { return grows_ == 0 ? 0 : grows_ - 1; }

 private:
  void grow() {
    free_ = NodeArena<T>::instance().take(block_nodes_);
    ++grows_;
  }

  size_t block_nodes_;
  T *free_ = nullptr;
  int64_t in_use_ = 0;
  uint64_t grows_ = 0;
};

}  // namespace ix::ev::detail
