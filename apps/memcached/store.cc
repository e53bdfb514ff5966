// Store: striped hash table, per-stripe LRU lists, memory limit, expiry.
#include "store.hh"

#include <charconv>
#include <cstring>
#include <thread>

namespace ix::mc {

using detail::Item;

namespace {

constexpr uint32_t kRelativeLimit = 60 * 60 * 24 * 30;  // memcached's 30 days
constexpr int kTailChecks = 5;     // dead items looked for near each LRU tail when evicting
constexpr int kSampleStripes = 5;  // non-empty stripes compared to choose an LRU victim
constexpr uint32_t kInitialBuckets = 16;
constexpr int kMaxRetries = 64;

// A test-and-test-and-set spin lock: one byte of state, no syscall when
// uncontended. Critical sections are a few pointer updates, so a waiter spins
// briefly and then yields rather than sleeping (elastic threads never block).
class SpinLock {
 public:
  void lock() {
    for (unsigned spins = 0;; ++spins) {
      if (!locked_.exchange(true, std::memory_order_acquire)) return;
      while (locked_.load(std::memory_order_relaxed)) {
        if (++spins > 1000) {
          std::this_thread::yield();
          spins = 0;
        }
      }
    }
  }
  void unlock() { locked_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> locked_{false};
};

class Guard {
 public:
  explicit Guard(SpinLock &l) : l_(l) { l_.lock(); }
  ~Guard() { l_.unlock(); }
  Guard(const Guard &) = delete;
  Guard &operator=(const Guard &) = delete;

 private:
  SpinLock &l_;
};

uint64_t fmix64(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ULL;
  k ^= k >> 33;
  return k;
}

// 8 bytes at a time, each word mixed by multiply and rotate, finished with an
// avalanche step so that both halves of the result are usable (the high half
// picks the stripe, the low half the bucket).
uint64_t hash_key(std::string_view key) {
  const char *p = key.data();
  size_t n = key.size();
  uint64_t h = 0x9e3779b97f4a7c15ULL ^ (n * 0xbf58476d1ce4e5b9ULL);
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    w *= 0x87c37b91114253d5ULL;
    w = (w << 31) | (w >> 33);
    h = ((h ^ w) << 27 | (h ^ w) >> 37) * 5 + 0x52dce729;
    p += 8;
    n -= 8;
  }
  uint64_t tail = 0;
  std::memcpy(&tail, p, n);
  h ^= tail * 0x4cf5ad432745937fULL;
  return fmix64(h);
}

// Parses an incr/decr operand stored as an item value: optional leading
// spaces, digits, then only spaces (decr results may be space padded by other
// servers; we accept it the way memcached's strtoull-based parse does).
bool parse_counter(std::string_view v, uint64_t *out) {
  size_t i = 0;
  while (i < v.size() && v[i] == ' ') ++i;
  const char *b = v.data() + i, *e = v.data() + v.size();
  if (b == e || *b < '0' || *b > '9') return false;
  auto r = std::from_chars(b, e, *out);
  if (r.ec != std::errc{}) return false;
  for (const char *p = r.ptr; p != e; ++p)
    if (*p != ' ' && *p != '\r' && *p != '\n' && *p != '\t') return false;
  return true;
}

}  // namespace

uint32_t absolute_exptime(int64_t exptime, uint32_t now) {
  if (exptime == 0) return 0;
  if (exptime < 0) return 1;  // long past: expired at once
  if (exptime <= kRelativeLimit) {
    const uint64_t t = uint64_t(now) + uint64_t(exptime);
    return t > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(t);
  }
  if (exptime > UINT32_MAX) return UINT32_MAX;
  // An absolute time already past stays in the past (memcached maps it to 1).
  return exptime <= now ? 1 : static_cast<uint32_t>(exptime);
}

struct alignas(64) Store::Stripe {
  SpinLock lock;
  std::unique_ptr<Item *[]> buckets;
  uint32_t bucket_mask = 0;
  std::atomic<uint64_t> count{0};  // read without the lock to skip empty stripes
  Item *lru_head = nullptr;        // most recently used
  Item *lru_tail = nullptr;
  uint64_t cas_seq = 0;
  uint32_t index = 0;
  uint32_t index_bits = 0;
  uint64_t total_items = 0, bytes = 0, evictions = 0, evicted_unfetched = 0, reclaimed = 0,
           expired_unfetched = 0, get_expired = 0, get_flushed = 0;

  // cas values are unique across the store without a shared counter: each
  // stripe counts on its own and puts its index in the low bits.
  uint64_t next_cas() { return (++cas_seq << index_bits) | index; }

  Item **find(std::string_view key, uint32_t hash) {
    Item **slot = &buckets[hash & bucket_mask];
    while (*slot != nullptr) {
      Item *it = *slot;
      if (it->hash == hash && it->key() == key) return slot;
      slot = &it->hash_next;
    }
    return slot;
  }
  void lru_remove(Item *it) {
    if (it->lru_prev != nullptr)
      it->lru_prev->lru_next = it->lru_next;
    else
      lru_head = it->lru_next;
    if (it->lru_next != nullptr)
      it->lru_next->lru_prev = it->lru_prev;
    else
      lru_tail = it->lru_prev;
    it->lru_prev = it->lru_next = nullptr;
  }
  void lru_push_front(Item *it) {
    it->lru_prev = nullptr;
    it->lru_next = lru_head;
    if (lru_head != nullptr) lru_head->lru_prev = it;
    lru_head = it;
    if (lru_tail == nullptr) lru_tail = it;
  }
  void bump(Item *it, uint32_t now) {
    it->last_access = now;
    if (lru_head != it) {
      lru_remove(it);
      lru_push_front(it);
    }
  }
  void grow() {
    const uint32_t n = (bucket_mask + 1) * 2;
    std::unique_ptr<Item *[]> fresh(new (std::nothrow) Item *[n]());
    if (!fresh) return;  // keep the longer chains rather than fail the store
    for (uint32_t b = 0; b <= bucket_mask; ++b) {
      Item *it = buckets[b];
      while (it != nullptr) {
        Item *next = it->hash_next;
        Item *&head = fresh[it->hash & (n - 1)];
        it->hash_next = head;
        head = it;
        it = next;
      }
    }
    buckets = std::move(fresh);
    bucket_mask = n - 1;
  }
};

Store::Store(const StoreConfig &cfg) : cfg_(cfg) {
  uint32_t n = 1, bits = 0;
  while (n < cfg.stripes && n < (1u << 16)) {
    n <<= 1;
    ++bits;
  }
  stripe_mask_ = n - 1;
  cfg_.stripes = n;
  stripes_.reset(new Stripe[n]);
  for (uint32_t i = 0; i < n; ++i) {
    stripes_[i].buckets.reset(new Item *[kInitialBuckets]());
    stripes_[i].bucket_mask = kInitialBuckets - 1;
    stripes_[i].index = i;
    stripes_[i].index_bits = bits;
  }
}

Store::~Store() {
  for (uint32_t i = 0; i <= stripe_mask_; ++i) {
    Stripe &s = stripes_[i];
    for (Item *it = s.lru_head; it != nullptr;) {
      Item *next = it->lru_next;
      detail::item_release(it);
      it = next;
    }
  }
}

uint64_t Store::item_size(size_t key_len, size_t value_len) {
  return sizeof(Item) + uint64_t(key_len) + uint64_t(value_len) + 2;
}

Store::Stripe &Store::stripe_for(uint32_t hash_high) const {
  return stripes_[hash_high & stripe_mask_];
}

uint32_t Store::flush_generation(uint32_t now) {
  uint32_t at = flush_pending_at_.load(std::memory_order_acquire);
  if (at != 0 && now >= at &&
      flush_pending_at_.compare_exchange_strong(at, 0, std::memory_order_acq_rel))
    flush_gen_.fetch_add(1, std::memory_order_acq_rel);
  return flush_gen_.load(std::memory_order_acquire);
}

void Store::flush_all(uint32_t when_abs, uint32_t now) {
  if (when_abs == 0 || when_abs <= now) {
    flush_pending_at_.store(0, std::memory_order_release);
    flush_gen_.fetch_add(1, std::memory_order_acq_rel);
  } else {
    flush_pending_at_.store(when_abs, std::memory_order_release);
  }
}

namespace {

struct Liveness {
  uint32_t now;
  uint32_t gen;
  bool flushed(const Item *it) const { return it->flush_gen < gen; }
  bool expired(const Item *it) const {
    const uint32_t e = it->exptime.load(std::memory_order_relaxed);
    return e != 0 && e <= now;
  }
  bool dead(const Item *it) const { return flushed(it) || expired(it); }
};

}  // namespace

namespace {

// Under the stripe lock: takes the item out of the table and the LRU and
// drops the table's reference (a reply still sending it keeps its own).
template <class StripeT>
void unlink_item(StripeT &s, Item **slot, std::atomic<uint64_t> &used) {
  Item *it = *slot;
  *slot = it->hash_next;
  it->hash_next = nullptr;
  s.lru_remove(it);
  s.count.store(s.count.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
  s.bytes -= it->footprint;
  used.fetch_sub(it->footprint, std::memory_order_relaxed);
  detail::item_release(it);
}

template <class StripeT>
void link_item(StripeT &s, Item **slot, Item *it, uint32_t now) {
  it->hash_next = *slot;
  *slot = it;
  it->last_access = now;
  s.lru_push_front(it);
  s.count.store(s.count.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  s.bytes += it->footprint;
  ++s.total_items;
  if (s.count.load(std::memory_order_relaxed) > uint64_t(s.bucket_mask + 1) * 3 / 2) s.grow();
}

// Finds key's slot, unlinking a dead item sitting there (lazy expiry).
template <class StripeT>
Item **find_live(StripeT &s, std::string_view key, uint32_t hash, const Liveness &live,
                 std::atomic<uint64_t> &used, bool count_get) {
  Item **slot = s.find(key, hash);
  Item *it = *slot;
  if (it != nullptr && live.dead(it)) {
    if (count_get) {
      if (live.flushed(it))
        ++s.get_flushed;
      else
        ++s.get_expired;
    }
    if (!it->fetched && !live.flushed(it)) ++s.expired_unfetched;
    unlink_item(s, slot, used);
    slot = s.find(key, hash);  // unlinking rewired the chain
  }
  return slot;
}

}  // namespace

ItemRef Store::get(std::string_view key, uint32_t now) { return get(key, now, nullptr, nullptr); }

ItemRef Store::touch(std::string_view key, uint32_t new_exptime_abs, uint32_t now) {
  return get(key, now, nullptr, &new_exptime_abs);
}

ItemRef Store::get(std::string_view key, uint32_t now, ItemHistory *history,
                   const uint32_t *new_exptime_abs, bool bump) {
  const Liveness live{now, flush_generation(now)};
  const uint64_t h = hash_key(key);
  Stripe &s = stripe_for(static_cast<uint32_t>(h >> 32));
  Guard g(s.lock);
  Item *it = *find_live(s, key, static_cast<uint32_t>(h), live, used_, true);
  if (it == nullptr) return {};
  if (history != nullptr) {
    history->fetched_before = it->fetched;
    history->last_access = it->last_access;
  }
  if (bump) {
    it->fetched = true;
    s.bump(it, now);
  }
  if (new_exptime_abs != nullptr) it->exptime.store(*new_exptime_abs, std::memory_order_relaxed);
  return ItemRef::share(it);
}

bool Store::reserve(uint64_t bytes, uint32_t now) {
  if (bytes > cfg_.memory_limit) return false;
  // The shared write on the store path (see the header): one relaxed add.
  used_.fetch_add(bytes, std::memory_order_relaxed);
  int misses = 0;
  while (used_.load(std::memory_order_relaxed) > cfg_.memory_limit) {
    if (!evict_one(now)) {
      // Other threads' reservations may be in flight; give them a moment to
      // link (and become evictable) before declaring the memory exhausted.
      if (++misses > 3) {
        used_.fetch_sub(bytes, std::memory_order_relaxed);
        return false;
      }
      std::this_thread::yield();
    }
  }
  return true;
}

void Store::unreserve(uint64_t bytes) { used_.fetch_sub(bytes, std::memory_order_relaxed); }

bool Store::evict_one(uint32_t now) {
  // Each thread walks the stripes from its own cursor so concurrent evictors
  // spread out instead of queueing on one stripe.
  thread_local uint32_t cursor = 0;
  const Liveness live{now, flush_generation(now)};
  const uint32_t n = stripe_mask_ + 1;
  int sampled = 0;
  int64_t best = -1;
  uint32_t best_time = UINT32_MAX;
  for (uint32_t i = 0; i < n && sampled < kSampleStripes; ++i) {
    const uint32_t idx = (cursor + i) & stripe_mask_;
    Stripe &s = stripes_[idx];
    if (s.count.load(std::memory_order_relaxed) == 0) continue;
    Guard g(s.lock);
    // Dead items near the tail are freed first: that is reclaiming, not evicting.
    Item *it = s.lru_tail;
    for (int k = 0; k < kTailChecks && it != nullptr; ++k) {
      Item *prev = it->lru_prev;
      if (live.dead(it)) {
        if (!it->fetched && !live.flushed(it)) ++s.expired_unfetched;
        ++s.reclaimed;
        unlink_item(s, s.find(it->key(), it->hash), used_);
        cursor = idx + 1;
        return true;
      }
      it = prev;
    }
    if (s.lru_tail != nullptr) {
      ++sampled;
      if (s.lru_tail->last_access < best_time || best < 0) {
        best = idx;
        best_time = s.lru_tail->last_access;
      }
    }
  }
  if (best < 0) return false;
  Stripe &s = stripes_[best];
  Guard g(s.lock);
  Item *victim = s.lru_tail;
  if (victim == nullptr) return true;  // someone else freed it meanwhile: retry the check
  ++s.evictions;
  if (!victim->fetched) ++s.evicted_unfetched;
  unlink_item(s, s.find(victim->key(), victim->hash), used_);
  cursor = static_cast<uint32_t>(best) + 1;
  return true;
}

StoreStatus Store::store(StoreCmd cmd, std::string_view key, std::string_view value, uint32_t flags,
                         uint32_t exptime_abs, uint64_t cas_in, uint32_t now, uint64_t *cas_out) {
  return store_impl(cmd, key, value, flags, exptime_abs, cas_in, now, cas_out, false, false);
}

StoreStatus Store::store_or_invalidate(StoreCmd cmd, std::string_view key, std::string_view value,
                                       uint32_t flags, uint32_t exptime_abs, uint64_t cas_in,
                                       uint32_t now, uint64_t *cas_out) {
  return store_impl(cmd, key, value, flags, exptime_abs, cas_in, now, cas_out, false, true);
}

bool Store::add_stub(std::string_view key, uint32_t exptime_abs, uint32_t now) {
  return store_impl(StoreCmd::Add, key, {}, 0, exptime_abs, 0, now, nullptr, true, false) ==
         StoreStatus::Stored;
}

Store::Snapshot Store::snapshot(Stripe &s, std::string_view key, uint32_t hash, uint64_t cas_in,
                                uint32_t now, ItemRef *out) {
  const Liveness live{now, flush_generation(now)};
  Guard g(s.lock);
  Item *it = *find_live(s, key, hash, live, used_, false);
  if (it == nullptr) return Snapshot::kMissing;
  if (cas_in != 0 && it->cas != cas_in) return Snapshot::kCasMismatch;
  *out = ItemRef::share(it);
  return Snapshot::kFound;
}

Store::Swap Store::swap_in(Stripe &s, std::string_view key, uint32_t hash, const Item *expected,
                           Item *fresh, uint32_t now, uint64_t *cas_out, ItemRef *ref_out) {
  fresh->hash = hash;
  if (!reserve(fresh->footprint, now)) {
    detail::item_release(fresh);
    return Swap::kNoMemory;
  }
  const Liveness live{now, flush_generation(now)};
  Guard g(s.lock);
  Item **slot = find_live(s, key, hash, live, used_, false);
  if (*slot != expected) {
    unreserve(fresh->footprint);
    detail::item_release(fresh);
    return Swap::kReplaced;
  }
  if (*slot != nullptr) unlink_item(s, slot, used_);
  fresh->cas = s.next_cas();
  fresh->flush_gen = live.gen;
  link_item(s, s.find(key, hash), fresh, now);
  if (cas_out != nullptr) *cas_out = fresh->cas;
  if (ref_out != nullptr) *ref_out = ItemRef::share(fresh);
  return Swap::kSwapped;
}

StoreStatus Store::store_impl(StoreCmd cmd, std::string_view key, std::string_view value,
                              uint32_t flags, uint32_t exptime_abs, uint64_t cas_in, uint32_t now,
                              uint64_t *cas_out, bool stub, bool invalidate) {
  const uint64_t h = hash_key(key);
  const uint32_t hash = static_cast<uint32_t>(h);
  Stripe &s = stripe_for(static_cast<uint32_t>(h >> 32));

  if (cmd == StoreCmd::Append || cmd == StoreCmd::Prepend) {
    for (int attempt = 0; attempt < kMaxRetries; ++attempt) {
      ItemRef old;
      switch (snapshot(s, key, hash, cas_in, now, &old)) {
        case Snapshot::kMissing:
          return StoreStatus::NotStored;
        case Snapshot::kCasMismatch:
          return StoreStatus::Exists;
        case Snapshot::kFound:
          break;
      }
      const size_t len = old.value().size() + value.size();
      if (item_size(key.size(), len) > cfg_.item_size_max) return StoreStatus::TooLarge;
      Item *fresh = Item::create(key, static_cast<uint32_t>(len), old.flags(), old.exptime());
      if (fresh == nullptr) return StoreStatus::NoMemory;
      char *v = fresh->value_bytes();
      if (cmd == StoreCmd::Append) {
        std::memcpy(v, old.value().data(), old.value().size());
        std::memcpy(v + old.value().size(), value.data(), value.size());
      } else {
        std::memcpy(v, value.data(), value.size());
        std::memcpy(v + value.size(), old.value().data(), old.value().size());
      }
      fresh->footprint = Item::footprint_for(key.size(), len);
      fresh->fetched = false;
      const Swap done = swap_in(s, key, hash, old.raw(), fresh, now, cas_out, nullptr);
      if (done == Swap::kNoMemory) return StoreStatus::NoMemory;
      if (done == Swap::kReplaced) continue;  // build again from the new value
      return StoreStatus::Stored;
    }
    return StoreStatus::NotStored;
  }

  const uint64_t footprint = Item::footprint_for(key.size(), value.size());
  StoreStatus fail = StoreStatus::Stored;
  Item *fresh = nullptr;
  if (item_size(key.size(), value.size()) > cfg_.item_size_max) {
    fail = StoreStatus::TooLarge;
  } else if ((fresh = Item::create(key, static_cast<uint32_t>(value.size()), flags, exptime_abs)) ==
             nullptr) {
    fail = StoreStatus::NoMemory;
  } else if (!reserve(footprint, now)) {
    detail::item_release(fresh);
    fail = StoreStatus::NoMemory;
  }
  if (fail != StoreStatus::Stored) {
    // As memcached does: a set that cannot be stored must not leave the old
    // value readable (the client believes it replaced it).
    if (cmd == StoreCmd::Set) remove(key, 0, now);
    return fail;
  }
  if (!value.empty()) std::memcpy(fresh->value_bytes(), value.data(), value.size());
  fresh->hash = hash;
  fresh->footprint = footprint;
  fresh->stub = stub;
  // The stub's creator is told it won (W); later readers see Z.
  fresh->win_sent.store(stub, std::memory_order_relaxed);

  const Liveness live{now, flush_generation(now)};
  StoreStatus status = StoreStatus::Stored;
  {
    Guard g(s.lock);
    Item **slot = find_live(s, key, hash, live, used_, false);
    Item *old = *slot;
    switch (cmd) {
      case StoreCmd::Add:
        if (old != nullptr) {
          s.bump(old, now);  // memcached refreshes an item an add collided with
          status = StoreStatus::NotStored;
        }
        break;
      case StoreCmd::Replace:
        if (old == nullptr) status = StoreStatus::NotStored;
        break;
      case StoreCmd::Cas:
        if (old == nullptr)
          status = StoreStatus::NotFound;
        else if (old->cas != cas_in) {
          if (invalidate && cas_in < old->cas)
            fresh->stale = true;
          else
            status = StoreStatus::Exists;
        }
        break;
      default:
        break;
    }
    if (status == StoreStatus::Stored) {
      if (old != nullptr) unlink_item(s, slot, used_);
      fresh->cas = s.next_cas();
      fresh->flush_gen = live.gen;
      link_item(s, s.find(key, hash), fresh, now);
      if (cas_out != nullptr) *cas_out = fresh->cas;
      return status;
    }
  }
  unreserve(footprint);
  detail::item_release(fresh);
  return status;
}

DeltaStatus Store::delta(std::string_view key, bool incr, uint64_t by, uint32_t now,
                         uint64_t *value_out, uint64_t *cas_out) {
  DeltaRequest req;
  req.incr = incr;
  req.by = by;
  DeltaResult res;
  switch (delta(key, req, now, &res)) {
    case DeltaResultStatus::Ok:
    case DeltaResultStatus::Created:
      if (value_out != nullptr) *value_out = res.value;
      if (cas_out != nullptr) *cas_out = res.item.cas();
      return DeltaStatus::Ok;
    case DeltaResultStatus::NonNumeric:
      return DeltaStatus::NonNumeric;
    default:
      // Exists needs a cas and NoMemory an allocation failure of a tiny item;
      // the classic interface has no word for either, and the value is unchanged.
      return DeltaStatus::NotFound;
  }
}

DeltaResultStatus Store::delta(std::string_view key, const DeltaRequest &req, uint32_t now,
                               DeltaResult *out) {
  const uint64_t h = hash_key(key);
  const uint32_t hash = static_cast<uint32_t>(h);
  Stripe &s = stripe_for(static_cast<uint32_t>(h >> 32));
  for (int attempt = 0; attempt < kMaxRetries; ++attempt) {
    ItemRef old;
    switch (snapshot(s, key, hash, req.cas_in, now, &old)) {
      case Snapshot::kMissing:
        if (!req.autoviv) return DeltaResultStatus::NotFound;
        break;
      case Snapshot::kCasMismatch:
        return DeltaResultStatus::Exists;
      case Snapshot::kFound:
        break;
    }
    uint64_t value = 0;
    uint32_t flags = 0, exptime = 0;
    if (old) {
      if (!parse_counter(old.value(), &value)) return DeltaResultStatus::NonNumeric;
      if (req.incr)
        value += req.by;  // wraps at 2^64 as memcached's does
      else
        value = req.by > value ? 0 : value - req.by;
      flags = old.flags();
      exptime = req.update_exptime ? req.new_exptime : old.exptime();
    } else {
      value = req.initial;
      exptime = req.autoviv_exptime;
    }
    char digits[24];
    const auto r = std::to_chars(digits, digits + sizeof digits, value);
    const std::string_view text(digits, static_cast<size_t>(r.ptr - digits));
    Item *fresh = Item::create(key, static_cast<uint32_t>(text.size()), flags, exptime);
    if (fresh == nullptr) return DeltaResultStatus::NoMemory;
    std::memcpy(fresh->value_bytes(), text.data(), text.size());
    fresh->footprint = Item::footprint_for(key.size(), text.size());
    if (old) fresh->fetched = true;  // an incremented counter has been used
    const Swap done = swap_in(s, key, hash, old.raw(), fresh, now, nullptr, &out->item);
    if (done == Swap::kNoMemory) return DeltaResultStatus::NoMemory;
    if (done == Swap::kReplaced) continue;  // compute again from what is there now
    out->value = value;
    return old ? DeltaResultStatus::Ok : DeltaResultStatus::Created;
  }
  return DeltaResultStatus::NotFound;
}

DeleteStatus Store::remove(std::string_view key, uint64_t cas_in, uint32_t now) {
  const uint64_t h = hash_key(key);
  const uint32_t hash = static_cast<uint32_t>(h);
  Stripe &s = stripe_for(static_cast<uint32_t>(h >> 32));
  const Liveness live{now, flush_generation(now)};
  Guard g(s.lock);
  Item **slot = find_live(s, key, hash, live, used_, false);
  if (*slot == nullptr) return DeleteStatus::NotFound;
  if (cas_in != 0 && (*slot)->cas != cas_in) return DeleteStatus::Exists;
  unlink_item(s, slot, used_);
  return DeleteStatus::Deleted;
}

DeleteStatus Store::invalidate(std::string_view key, uint64_t cas_in,
                               const uint32_t *new_exptime_abs, uint32_t now) {
  const uint64_t h = hash_key(key);
  const uint32_t hash = static_cast<uint32_t>(h);
  Stripe &s = stripe_for(static_cast<uint32_t>(h >> 32));
  for (int attempt = 0; attempt < kMaxRetries; ++attempt) {
    ItemRef old;
    switch (snapshot(s, key, hash, cas_in, now, &old)) {
      case Snapshot::kMissing:
        return DeleteStatus::NotFound;
      case Snapshot::kCasMismatch:
        return DeleteStatus::Exists;
      case Snapshot::kFound:
        break;
    }
    // Items are immutable once published, so the stale version is a copy.
    const uint32_t exptime = new_exptime_abs != nullptr ? *new_exptime_abs : old.exptime();
    Item *fresh =
        Item::create(key, static_cast<uint32_t>(old.value().size()), old.flags(), exptime);
    if (fresh == nullptr) return DeleteStatus::NotFound;
    std::memcpy(fresh->value_bytes(), old.value().data(), old.value().size());
    fresh->footprint = old.raw()->footprint;
    fresh->stale = true;
    fresh->fetched = old.raw()->fetched;
    const Swap done = swap_in(s, key, hash, old.raw(), fresh, now, nullptr, nullptr);
    if (done == Swap::kNoMemory) return DeleteStatus::NotFound;
    if (done == Swap::kReplaced) continue;
    return DeleteStatus::Deleted;
  }
  return DeleteStatus::NotFound;
}

StoreStats Store::stats(uint32_t now) const {
  StoreStats st;
  uint32_t oldest = UINT32_MAX;
  for (uint32_t i = 0; i <= stripe_mask_; ++i) {
    Stripe &s = stripes_[i];
    Guard g(s.lock);
    st.curr_items += s.count.load(std::memory_order_relaxed);
    st.total_items += s.total_items;
    st.bytes += s.bytes;
    st.evictions += s.evictions;
    st.evicted_unfetched += s.evicted_unfetched;
    st.reclaimed += s.reclaimed;
    st.expired_unfetched += s.expired_unfetched;
    st.get_expired += s.get_expired;
    st.get_flushed += s.get_flushed;
    if (s.lru_tail != nullptr && s.lru_tail->last_access < oldest) oldest = s.lru_tail->last_access;
  }
  st.oldest_item_age = oldest == UINT32_MAX || oldest > now ? 0 : now - oldest;
  return st;
}

}  // namespace ix::mc
