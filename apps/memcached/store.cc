// Store: striped hash table, CLOCK eviction per stripe, memory limit, expiry.
#include "store.hh"

#include <charconv>
#include <cstring>
#include <thread>

namespace ix::mc {

using detail::Item;

namespace {

constexpr uint32_t kRelativeLimit = 60 * 60 * 24 * 30;  // memcached's 30 days
constexpr int kSampleStripes = 5;    // non-empty stripes compared to choose a victim
constexpr int kClockCandidates = 4;  // unreferenced items a stripe's hand compares (oldest goes)
constexpr uint32_t kDeadScanBuckets = 64;  // buckets searched for dead items when not evicting
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

uint32_t bucket_hash(std::string_view key) { return static_cast<uint32_t>(hash_key(key)); }

struct alignas(64) Store::Stripe {
  SpinLock lock;
  std::unique_ptr<Item *[]> buckets;
  uint32_t bucket_mask = 0;
  std::atomic<uint64_t> count{0};  // read without the lock to skip empty stripes
  // CLOCK: the bucket the hand looks at next. Reads set an item's referenced
  // bit (no list to relink, so a hit writes only its own item); the hand
  // clears the bits it passes and offers the oldest unreferenced items.
  uint32_t clock_hand = 0;
  uint64_t cas_seq = 0;
  uint32_t index = 0;
  uint32_t index_bits = 0;
  uint64_t total_items = 0, bytes = 0, evictions = 0, evicted_unfetched = 0, reclaimed = 0,
           expired_unfetched = 0, get_expired = 0, get_flushed = 0, crawler_reclaimed = 0;

  // cas values are unique across the store without a shared counter: each
  // stripe counts on its own and puts its index in the low bits.
  uint64_t next_cas() { return (++cas_seq << index_bits) | index; }

  Item **find(std::string_view key, uint32_t hash) {
    Item **slot = &buckets[hash & bucket_mask];
    while (*slot != nullptr) {
      Item *it = *slot;
      if (it->key_len == key.size() && std::memcmp(it->data(), key.data(), key.size()) == 0)
        return slot;
      slot = &it->hash_next;
    }
    return slot;
  }
  void bump(Item *it, uint32_t now) {
    it->last_access = now;
    it->usage |= Item::kReferenced;
  }
  void grow() {
    const uint32_t n = (bucket_mask + 1) * 2;
    std::unique_ptr<Item *[]> fresh(new (std::nothrow) Item *[n]());
    if (!fresh) return;  // keep the longer chains rather than fail the store
    for (uint32_t b = 0; b <= bucket_mask; ++b) {
      Item *it = buckets[b];
      while (it != nullptr) {
        Item *next = it->hash_next;
        Item *&head = fresh[bucket_hash(it->key()) & (n - 1)];
        it->hash_next = head;
        head = it;
        it = next;
      }
    }
    buckets = std::move(fresh);
    bucket_mask = n - 1;
    clock_hand = 0;
  }
};

Store::Store(const StoreConfig &cfg) : cfg_(cfg), memory_limit_(cfg.memory_limit) {
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
    for (uint32_t b = 0; b <= s.bucket_mask; ++b) {
      for (Item *it = s.buckets[b]; it != nullptr;) {
        Item *next = it->hash_next;
        detail::item_release(it);
        it = next;
      }
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

// Under the stripe lock: takes the item out of the table and drops the
// table's reference (a reply still sending it keeps its own).
template <class StripeT>
void unlink_item(StripeT &s, Item **slot, std::atomic<uint64_t> &used) {
  Item *it = *slot;
  *slot = it->hash_next;
  it->hash_next = nullptr;
  s.count.store(s.count.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
  const uint64_t footprint = it->footprint();
  s.bytes -= footprint;
  used.fetch_sub(footprint, std::memory_order_relaxed);
  detail::item_release(it);
}

// A new item starts unreferenced: it survives the CLOCK hand's first pass
// only if it is read before then (or is younger than the other candidates).
template <class StripeT>
void link_item(StripeT &s, Item **slot, Item *it, uint32_t now) {
  it->hash_next = *slot;
  *slot = it;
  it->last_access = now;
  s.count.store(s.count.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  s.bytes += it->footprint();
  ++s.total_items;
  if (s.count.load(std::memory_order_relaxed) > uint64_t(s.bucket_mask + 1) * 3 / 2) s.grow();
}

// Why a lookup unlinks a dead item, for the statistics memcached keeps: a
// lookup that reads the item (get, touch, delete, the read before an append)
// counts get_expired or get_flushed, as memcached's do_item_get does; a store
// that puts a new item where the dead one was counts reclaimed (memcached's
// "stored using memory from an expired entry": its allocator takes the dead
// item's memory first).
enum class DeadFound { kGet, kStore };

// Finds key's slot, unlinking a dead item sitting there (lazy expiry).
template <class StripeT>
Item **find_live(StripeT &s, std::string_view key, uint32_t hash, const Liveness &live,
                 std::atomic<uint64_t> &used, DeadFound why) {
  Item **slot = s.find(key, hash);
  Item *it = *slot;
  if (it != nullptr && live.dead(it)) {
    if (why == DeadFound::kGet) {
      if (live.flushed(it))
        ++s.get_flushed;
      else
        ++s.get_expired;
    } else if (why == DeadFound::kStore) {
      ++s.reclaimed;
    }
    if (!it->fetched() && !live.flushed(it)) ++s.expired_unfetched;
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
  Item *it = *find_live(s, key, static_cast<uint32_t>(h), live, used_, DeadFound::kGet);
  if (it == nullptr) return {};
  if (history != nullptr) {
    history->fetched_before = it->fetched();
    history->last_access = it->last_access;
  }
  if (bump) {
    it->usage |= Item::kFetched;
    s.bump(it, now);
  }
  if (new_exptime_abs != nullptr) it->exptime.store(*new_exptime_abs, std::memory_order_relaxed);
  return ItemRef::share(it);
}

bool Store::reserve(uint64_t bytes, uint32_t now) {
  const uint64_t limit = memory_limit();
  if (bytes > limit) return false;
  // The shared write on the store path (see the header): one relaxed add.
  used_.fetch_add(bytes, std::memory_order_relaxed);
  int misses = 0;
  while (used_.load(std::memory_order_relaxed) > limit) {
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

namespace {

// Under the stripe lock: frees the first dead (expired or flushed) item in
// the `buckets` buckets from the hand, if there is one. That is reclaiming,
// which -M allows, not evicting.
template <class StripeT>
bool reclaim_dead(StripeT &s, const Liveness &live, uint32_t buckets, std::atomic<uint64_t> &used) {
  for (uint32_t n = 0; n < buckets && n <= s.bucket_mask; ++n) {
    const uint32_t b = (s.clock_hand + n) & s.bucket_mask;
    for (Item **slot = &s.buckets[b]; *slot != nullptr; slot = &(*slot)->hash_next) {
      Item *it = *slot;
      if (!live.dead(it)) continue;
      if (!it->fetched() && !live.flushed(it)) ++s.expired_unfetched;
      ++s.reclaimed;
      unlink_item(s, slot, used);
      return true;
    }
  }
  return false;
}

// Under the stripe lock: moves the CLOCK hand until it has passed
// kClockCandidates unreferenced items (clearing the referenced bits it
// passes, at most two sweeps), and returns the oldest of them (nullptr for
// an empty stripe). A dead item on the way is returned at once with *dead set.
template <class StripeT>
Item *clock_victim(StripeT &s, const Liveness &live, bool *dead) {
  Item *best = nullptr;
  int found = 0;
  const uint32_t steps = 2 * (s.bucket_mask + 1);
  for (uint32_t n = 0; n < steps && found < kClockCandidates; ++n) {
    const uint32_t b = s.clock_hand & s.bucket_mask;
    for (Item *it = s.buckets[b]; it != nullptr; it = it->hash_next) {
      if (live.dead(it)) {
        *dead = true;
        return it;
      }
      if (it->referenced()) {
        it->usage &= static_cast<uint8_t>(~Item::kReferenced);
        continue;
      }
      ++found;
      if (best == nullptr || it->last_access < best->last_access) best = it;
    }
    s.clock_hand = b + 1;
  }
  return best;
}

}  // namespace

bool Store::evict_one(uint32_t now) {
  // Each thread walks the stripes from its own cursor so concurrent evictors
  // spread out instead of queueing on one stripe.
  thread_local uint32_t cursor = 0;
  const Liveness live{now, flush_generation(now)};
  const uint32_t n = stripe_mask_ + 1;
  int sampled = 0;
  // The best victim so far, held by a reference so that it stays valid after
  // its stripe's lock is dropped (another thread may unlink it meanwhile).
  ItemRef best;
  uint32_t best_stripe = 0, best_access = 0;
  for (uint32_t i = 0; i < n && sampled < kSampleStripes; ++i) {
    const uint32_t idx = (cursor + i) & stripe_mask_;
    Stripe &s = stripes_[idx];
    if (s.count.load(std::memory_order_relaxed) == 0) continue;
    Guard g(s.lock);
    if (!cfg_.evict) {
      if (reclaim_dead(s, live, kDeadScanBuckets, used_)) {
        cursor = idx + 1;
        return true;
      }
      ++sampled;
      continue;
    }
    bool dead = false;
    Item *candidate = clock_victim(s, live, &dead);
    if (candidate == nullptr) continue;
    if (dead) {
      if (!candidate->fetched() && !live.flushed(candidate)) ++s.expired_unfetched;
      ++s.reclaimed;
      unlink_item(s, s.find(candidate->key(), bucket_hash(candidate->key())), used_);
      cursor = idx + 1;
      return true;
    }
    ++sampled;
    if (!best || candidate->last_access < best_access) {
      best = ItemRef::share(candidate);
      best_stripe = idx;
      best_access = candidate->last_access;
    }
  }
  if (!best) return false;
  Stripe &s = stripes_[best_stripe];
  cursor = best_stripe + 1;
  {
    Guard g(s.lock);
    Item **slot = s.find(best.key(), bucket_hash(best.key()));
    // Gone meanwhile (replaced, deleted or evicted by another thread): that
    // freed memory too, so the caller checks the limit again.
    if (*slot != best.raw()) return true;
    ++s.evictions;
    if (!best.raw()->fetched()) ++s.evicted_unfetched;
    unlink_item(s, slot, used_);
  }
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
  Item *it = *find_live(s, key, hash, live, used_, DeadFound::kGet);
  if (it == nullptr) return Snapshot::kMissing;
  if (cas_in != 0 && it->cas != cas_in) return Snapshot::kCasMismatch;
  *out = ItemRef::share(it);
  return Snapshot::kFound;
}

Store::Swap Store::swap_in(Stripe &s, std::string_view key, uint32_t hash, const Item *expected,
                           Item *fresh, uint32_t now, uint64_t *cas_out, ItemRef *ref_out,
                           bool keep_fetched) {
  if (!reserve(fresh->footprint(), now)) {
    detail::item_release(fresh);
    return Swap::kNoMemory;
  }
  const Liveness live{now, flush_generation(now)};
  Guard g(s.lock);
  Item **slot = find_live(s, key, hash, live, used_, DeadFound::kStore);
  if (*slot != expected) {
    unreserve(fresh->footprint());
    detail::item_release(fresh);
    return Swap::kReplaced;
  }
  if (keep_fetched && *slot != nullptr) fresh->usage |= (*slot)->usage & Item::kFetched;
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
  if (item_size(key.size(), value.size()) > cfg_.item_size_max ||
      key.size() > Item::kMaxKeyLength) {
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
  if (stub) fresh->traits |= Item::kStub;
  // The stub's creator is told it won (W); later readers see Z.
  fresh->win_sent.store(stub, std::memory_order_relaxed);

  const Liveness live{now, flush_generation(now)};
  StoreStatus status = StoreStatus::Stored;
  {
    Guard g(s.lock);
    Item **slot = find_live(s, key, hash, live, used_, DeadFound::kStore);
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
          if (invalidate && cas_in < old->cas) {
            // A stale value set under an older CAS (meta "I" mode) keeps the
            // item's TTL and its recache-token mark, as memcached does: it
            // must not extend the life of what it replaces.
            fresh->traits |= Item::kStale;
            fresh->exptime.store(old->exptime.load(std::memory_order_relaxed),
                                 std::memory_order_relaxed);
            fresh->win_sent.store(old->win_sent.load(std::memory_order_relaxed),
                                  std::memory_order_relaxed);
          } else
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
    // memcached rewrites a counter in place when the new number is no
    // longer than the old value, padding it with spaces to the old length
    // ("100" decr 1 reads "99 "), and the item keeps its marks (fetched,
    // stale, recache token sent); a longer number is a fresh item. Clients
    // see both in what they read back, so the same happens here.
    const bool in_place = old && text.size() <= old.value().size();
    const size_t len = in_place ? old.value().size() : text.size();
    Item *fresh = Item::create(key, static_cast<uint32_t>(len), flags, exptime);
    if (fresh == nullptr) return DeltaResultStatus::NoMemory;
    std::memcpy(fresh->value_bytes(), text.data(), text.size());
    std::memset(fresh->value_bytes() + text.size(), ' ', len - text.size());
    if (in_place) {
      if (old.is_stale()) fresh->traits |= Item::kStale;
      fresh->win_sent.store(old.win_sent(), std::memory_order_relaxed);
    }
    const Swap done = swap_in(s, key, hash, old.raw(), fresh, now, nullptr, &out->item,
                              /*keep_fetched=*/in_place);
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
  Item **slot = find_live(s, key, hash, live, used_, DeadFound::kGet);
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
    fresh->traits |= Item::kStale;
    const Swap done = swap_in(s, key, hash, old.raw(), fresh, now, nullptr, nullptr, true);
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
    st.crawler_reclaimed += s.crawler_reclaimed;
    // The oldest access over every item: stats are rare, and without an LRU
    // list there is no tail to read it from.
    for (uint32_t b = 0; b <= s.bucket_mask; ++b)
      for (const Item *it = s.buckets[b]; it != nullptr; it = it->hash_next)
        if (it->last_access < oldest) oldest = it->last_access;
  }
  st.oldest_item_age = oldest == UINT32_MAX || oldest > now ? 0 : now - oldest;
  return st;
}

template <class Visit, class Stop>
bool Store::step_buckets(WalkCursor &cur, uint32_t max_buckets, Visit &&visit, Stop &&stop) {
  uint32_t visited = 0;
  for (; cur.stripe <= stripe_mask_; ++cur.stripe, cur.bucket = 0) {
    Stripe &s = stripes_[cur.stripe];
    for (;;) {
      {
        Guard g(s.lock);
        if (cur.bucket > s.bucket_mask) break;
        visit(s, &s.buckets[cur.bucket]);
      }
      ++cur.bucket;
      if (stop() || ++visited >= max_buckets) return false;
    }
  }
  return true;
}

bool Store::walk_step(uint32_t now, WalkCursor &cur, const std::function<void(const Item &)> &fn,
                      const std::function<bool()> &enough, uint32_t max_buckets) {
  const Liveness live{now, flush_generation(now)};
  return step_buckets(
      cur, max_buckets,
      [&](Stripe &, Item **head) {
        for (const Item *it = *head; it != nullptr; it = it->hash_next)
          if (!live.dead(it)) fn(*it);
      },
      enough);
}

bool Store::crawl_step(uint32_t now, WalkCursor &cur, uint32_t max_buckets) {
  const Liveness live{now, flush_generation(now)};
  return step_buckets(
      cur, max_buckets,
      [&](Stripe &s, Item **head) {
        for (Item **slot = head; *slot != nullptr;) {
          if (!live.dead(*slot)) {
            slot = &(*slot)->hash_next;
            continue;
          }
          if (!(*slot)->fetched() && !live.flushed(*slot)) ++s.expired_unfetched;
          unlink_item(s, slot, used_);
          ++s.crawler_reclaimed;
        }
      },
      [] { return false; });
}

void Store::visit_live(uint32_t now, const std::function<bool(const Item &)> &fn) {
  const Liveness live{now, flush_generation(now)};
  for (uint32_t i = 0; i <= stripe_mask_; ++i) {
    Stripe &s = stripes_[i];
    Guard g(s.lock);
    for (uint32_t b = 0; b <= s.bucket_mask; ++b)
      for (const Item *it = s.buckets[b]; it != nullptr; it = it->hash_next)
        if (!live.dead(it) && !fn(*it)) return;
  }
}

}  // namespace ix::mc
