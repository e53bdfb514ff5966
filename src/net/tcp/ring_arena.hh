// Storage for the per-connection FIFO rings (send chunks, received chunks)
// of one Tcp engine, and the Ring that uses it.
//
// Why: most of a server's connections are idle most of the time, and a ring
// sized for a full window (hundreds of entries) on every connection would
// cost kilobytes per idle connection. A Ring therefore holds no storage while
// empty; its first push takes a small array from the arena, a full ring moves
// to the next size class (4x larger, up to the configured capacity), and a
// ring that drains gives its array back. Arrays come from per-class free
// lists that grow by whole blocks: the only allocation is when more arrays of
// a class are in use at once than ever before, so a warm engine allocates
// nothing per packet. Blocks go back to the system only with the arena.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <type_traits>
#include <vector>

namespace ix::net::tcp {

template <class T>
class RingArena {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) >= sizeof(void *) &&
                    alignof(T) >= alignof(void *),
                "a free array stores the free-list link in its first bytes");

 public:
  static constexpr uint32_t kSmallest = 4;
  static constexpr unsigned kMaxClasses = 12;

  // Rings of at most max_len entries (>= 1).
  explicit RingArena(uint32_t max_len) : max_len_(std::max<uint32_t>(max_len, 1)) {
    uint32_t len = std::min(kSmallest, max_len_);
    for (;;) {
      lens_[classes_++] = len;
      if (len == max_len_ || classes_ == kMaxClasses) break;
      len = len >= max_len_ / 4 ? max_len_ : len * 4;
    }
    lens_[classes_ - 1] = max_len_;
  }
  RingArena(const RingArena &) = delete;
  RingArena &operator=(const RingArena &) = delete;

  uint32_t max_len() const { return max_len_; }
  unsigned classes() const { return classes_; }
  uint32_t len_of(unsigned cls) const { return lens_[cls]; }

  T *get(unsigned cls) {
    Class &c = class_[cls];
    if (c.free == nullptr) grow(cls);
    void *p = c.free;
    std::memcpy(&c.free, p, sizeof(void *));
    ++c.in_use;
    return static_cast<T *>(p);
  }
  void put(T *a, unsigned cls) {
    Class &c = class_[cls];
    std::memcpy(static_cast<void *>(a), &c.free, sizeof(void *));
    c.free = a;
    --c.in_use;
  }

  // Bytes of arrays allocated (in use or free), and arrays in use now.
  size_t reserved_bytes() const { return reserved_bytes_; }
  size_t arrays_in_use() const {
    size_t n = 0;
    for (unsigned i = 0; i < classes_; ++i) n += class_[i].in_use;
    return n;
  }

 private:
  struct Class {
    void *free = nullptr;
    size_t in_use = 0;
  };
  struct Deleter {
    void operator()(std::byte *p) const { ::operator delete[](p, std::align_val_t{alignof(T)}); }
  };

  // About 64 KiB per block, at least one array.
  void grow(unsigned cls) {
    const size_t bytes = size_t{lens_[cls]} * sizeof(T);
    const size_t n = std::max<size_t>(1, (64 * 1024) / bytes);
    std::byte *b =
        static_cast<std::byte *>(::operator new[](n *bytes, std::align_val_t{alignof(T)}));
    blocks_.emplace_back(b);
    reserved_bytes_ += n * bytes;
    for (size_t i = n; i-- > 0;) {
      void *a = b + i * bytes;
      std::memcpy(a, &class_[cls].free, sizeof(void *));
      class_[cls].free = a;
    }
  }

  uint32_t max_len_;
  unsigned classes_ = 0;
  uint32_t lens_[kMaxClasses] = {};
  Class class_[kMaxClasses];
  std::vector<std::unique_ptr<std::byte[], Deleter>> blocks_;
  size_t reserved_bytes_ = 0;
};

// A FIFO of at most arena.max_len() entries whose storage comes and goes
// with its contents (see above). Indexes wrap by comparison, not modulo, as
// class sizes need not be powers of two.
template <class T>
class Ring {
 public:
  Ring() = default;
  Ring(const Ring &) = delete;
  Ring &operator=(const Ring &) = delete;

  // Binds the ring to its arena (the ring must be empty).
  void init(RingArena<T> *arena) { arena_ = arena; }

  uint32_t size() const { return count_; }
  uint32_t capacity() const { return arena_ == nullptr ? 0 : arena_->max_len(); }
  uint32_t free() const { return capacity() - count_; }
  bool empty() const { return count_ == 0; }
  // Entries the ring's current array holds (0 when it has none).
  uint32_t allocated() const { return items_ == nullptr ? 0 : len_; }

  T &at(uint32_t i) { return items_[wrap(head_ + i)]; }
  const T &at(uint32_t i) const { return items_[wrap(head_ + i)]; }
  T &front() { return items_[head_]; }
  // The caller checks free() first.
  void push(const T &v) {
    if (items_ == nullptr || count_ == len_) grow();
    items_[wrap(head_ + count_)] = v;
    ++count_;
  }
  void pop() {
    head_ = wrap(head_ + 1);
    if (--count_ == 0) release();
  }
  // Drops every entry (their owners are the caller's business).
  void clear() {
    count_ = 0;
    release();
  }

 private:
  uint32_t wrap(uint32_t i) const { return i >= len_ ? i - len_ : i; }
  void grow() {
    const unsigned cls = items_ == nullptr ? 0 : cls_ + 1;
    T *next = arena_->get(cls);
    for (uint32_t i = 0; i < count_; ++i) next[i] = items_[wrap(head_ + i)];
    if (items_ != nullptr) arena_->put(items_, cls_);
    items_ = next;
    cls_ = cls;
    len_ = arena_->len_of(cls);
    head_ = 0;
  }
  void release() {
    if (items_ != nullptr) arena_->put(items_, cls_);
    items_ = nullptr;
    head_ = 0;
    len_ = 0;
  }

  RingArena<T> *arena_ = nullptr;
  T *items_ = nullptr;
  uint32_t len_ = 0;
  uint32_t head_ = 0;
  uint32_t count_ = 0;
  uint8_t cls_ = 0;
};

}  // namespace ix::net::tcp
