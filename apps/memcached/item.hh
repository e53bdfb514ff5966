// One cached key/value item and the refcounted handle the rest of the server
// holds it by. An item is immutable once the store publishes it (key, value,
// flags, cas never change), so a reply can send its value zero copy while
// another thread replaces or deletes the key: the replacement is a new item,
// and the old one lives until its last ItemRef goes away.
#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>

namespace ix::mc {

namespace detail {

// Laid out as one heap block: this 48-byte header, then the key, then the
// value, then "\r\n" (so a text reply sends value and terminator as one
// iovec). The header is what decides how many items fit in -m: memcached's
// is 56 bytes with cas, here 48, by keeping no LRU list links (the store
// evicts by CLOCK, a referenced bit per item), no cached hash (recomputed
// from the key on the rare paths that need it) and the key length in a byte.
struct Item {
  static constexpr size_t kMaxKeyLength = 250;  // memcached's; fits key_len

  // Traits fixed before the item is published (read without the lock).
  static constexpr uint8_t kStub = 1;   // created empty by meta get's N (vivify on miss)
  static constexpr uint8_t kStale = 2;  // marked invalid by meta delete/set I: served with X
  // Usage bits, changed only under the item's stripe lock.
  static constexpr uint8_t kFetched = 1;     // read at least once since stored
  static constexpr uint8_t kReferenced = 2;  // read since the CLOCK hand last passed

  Item *hash_next = nullptr;  // owned by the store, under the stripe lock
  uint64_t cas = 0;           // set before publication
  // Shared by every thread holding the item: an atomic count is the price of
  // zero-copy sends that outlive the key's replacement (bends "no shared
  // writes" only when two threads hold the same hot item at once).
  std::atomic<uint32_t> refs{1};
  // The one field that changes after publication (touch, gat, mg T): atomic so
  // readers always see a whole value; the value bytes never change.
  std::atomic<uint32_t> exptime{0};
  uint32_t flags = 0;
  uint32_t value_len = 0;
  uint32_t last_access = 0;  // under the stripe lock
  uint32_t flush_gen = 0;    // the store's flush generation when stored
  uint8_t key_len = 0;
  uint8_t traits = 0;
  uint8_t usage = 0;
  // Whether a client was already told it won the right to recache this item
  // (meta W/Z flags). Set at most once; only stale or expiring items race on it.
  std::atomic<bool> win_sent{false};

  bool stub() const { return (traits & kStub) != 0; }
  bool stale() const { return (traits & kStale) != 0; }
  bool fetched() const { return (usage & kFetched) != 0; }
  bool referenced() const { return (usage & kReferenced) != 0; }

  char *data() { return reinterpret_cast<char *>(this + 1); }
  const char *data() const { return reinterpret_cast<const char *>(this + 1); }
  std::string_view key() const { return {data(), key_len}; }
  std::string_view value() const { return {data() + key_len, value_len}; }
  char *value_bytes() { return data() + key_len; }

  // A fresh item with room for the value (filled by the caller before it is
  // published); refs = 1. Returns nullptr when the allocation fails or the
  // key is longer than kMaxKeyLength.
  static Item *create(std::string_view key, uint32_t value_len, uint32_t flags, uint32_t exptime);
  // What one item costs the memory limit: its whole allocation.
  static uint64_t footprint_for(size_t key_len, size_t value_len);
  uint64_t footprint() const { return footprint_for(key_len, value_len); }
};
static_assert(sizeof(Item) == 48, "the item header sets how many items fit; keep it at 48 bytes");

void item_release(Item *item);

}  // namespace detail

// Shared ownership of one immutable item; value memory stays valid while any
// ItemRef to it lives (so it can be sent zero copy).
class ItemRef {
 public:
  ItemRef() = default;
  ItemRef(const ItemRef &other) : item_(other.item_) {
    if (item_ != nullptr) item_->refs.fetch_add(1, std::memory_order_relaxed);
  }
  ItemRef(ItemRef &&other) noexcept : item_(other.item_) { other.item_ = nullptr; }
  ItemRef &operator=(const ItemRef &other) {
    if (this != &other) {
      ItemRef copy(other);
      swap(copy);
    }
    return *this;
  }
  ItemRef &operator=(ItemRef &&other) noexcept {
    if (this != &other) {
      reset();
      item_ = other.item_;
      other.item_ = nullptr;
    }
    return *this;
  }
  ~ItemRef() { reset(); }

  explicit operator bool() const { return item_ != nullptr; }
  std::string_view key() const { return item_->key(); }
  // The data block without memcached's trailing \r\n.
  std::string_view value() const { return item_->value(); }
  // The data block with its \r\n, as a text reply sends it.
  std::string_view value_with_crlf() const {
    return {item_->data() + item_->key_len, item_->value_len + 2u};
  }
  uint32_t flags() const { return item_->flags; }
  uint64_t cas() const { return item_->cas; }
  // Absolute, in the store's clock seconds; 0 = never.
  uint32_t exptime() const { return item_->exptime.load(std::memory_order_relaxed); }
  // An empty placeholder made by meta get's N flag: its creator won the
  // right to recache the key; later readers are told so (Z).
  bool is_stub() const { return item_->stub(); }
  bool is_stale() const { return item_->stale(); }
  bool win_sent() const { return item_->win_sent.load(std::memory_order_relaxed); }
  // True for exactly one caller: the one that now holds the recache win.
  bool claim_win() const { return !item_->win_sent.exchange(true, std::memory_order_relaxed); }

  void reset() {
    if (item_ != nullptr) detail::item_release(item_);
    item_ = nullptr;
  }
  void swap(ItemRef &other) noexcept {
    detail::Item *t = item_;
    item_ = other.item_;
    other.item_ = t;
  }

  // For the store: take over one reference (no count change) / add one.
  static ItemRef adopt(detail::Item *item) {
    ItemRef r;
    r.item_ = item;
    return r;
  }
  static ItemRef share(detail::Item *item) {
    item->refs.fetch_add(1, std::memory_order_relaxed);
    return adopt(item);
  }
  detail::Item *raw() const { return item_; }

 private:
  detail::Item *item_ = nullptr;
};

}  // namespace ix::mc
