// Item allocation and release.
#include "item.hh"

#include <cstdlib>
#include <cstring>
#include <new>

namespace ix::mc::detail {

Item *Item::create(std::string_view key, uint32_t value_len, uint32_t flags, uint32_t exptime) {
  if (key.size() > kMaxKeyLength) return nullptr;
  const size_t size = sizeof(Item) + key.size() + value_len + 2;
  void *mem = std::malloc(size);
  if (mem == nullptr) return nullptr;
  Item *it = new (mem) Item;
  it->exptime.store(exptime, std::memory_order_relaxed);
  it->flags = flags;
  it->key_len = static_cast<uint8_t>(key.size());
  it->value_len = value_len;
  std::memcpy(it->data(), key.data(), key.size());
  char *end = it->value_bytes() + value_len;
  end[0] = '\r';
  end[1] = '\n';
  return it;
}

// The block as glibc's malloc hands it out: the request plus its 8-byte
// chunk header, rounded up to 16 bytes, at least 32. The hash table's bucket
// array is not charged, as memcached does not charge its hash table to -m.
uint64_t Item::footprint_for(size_t key_len, size_t value_len) {
  const uint64_t block = sizeof(Item) + key_len + value_len + 2;
  const uint64_t chunk = (block + 8 + 15) & ~uint64_t(15);
  return chunk < 32 ? 32 : chunk;
}

void item_release(Item *item) {
  // acq_rel: the last owner must see every write made before other owners
  // dropped theirs before it frees the block.
  if (item->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    item->~Item();
    std::free(item);
  }
}

}  // namespace ix::mc::detail
