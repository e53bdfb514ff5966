// The cache itself: a hash table of immutable items under a memory limit,
// with LRU eviction, lazy expiry, cas values and flush_all.
//
// Concurrency: every elastic thread uses the one Store. It is split into many
// stripes by key hash; each stripe has its own small spin lock, buckets,
// CLOCK hand, counters and cas sequence, so two threads meet on a lock only when
// their keys land in the same stripe at the same moment (rare with hundreds
// of stripes and a handful of cores). This bends the "no shared writes" rule
// because a cache whose keys any core may ask for needs shared state; the
// places that still write shared memory are named where they happen (the
// memory-use counter on stores and the refcount of items two threads hold).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "item.hh"

namespace ix::mc {

enum class StoreCmd { Set, Add, Replace, Append, Prepend, Cas };
enum class StoreStatus { Stored, NotStored, Exists, NotFound, TooLarge, NoMemory };
enum class DeltaStatus { Ok, NotFound, NonNumeric };
enum class DeleteStatus { Deleted, NotFound, Exists };

struct StoreConfig {
  uint64_t memory_limit = 64ull << 20;  // at start; Store::memory_limit() is the current one
  uint32_t item_size_max = 1 << 20;
  // memcached -M: false answers a store that does not fit with an out-of-memory
  // error instead of evicting.
  bool evict = true;
  // Lock stripes (rounded up to a power of two). Victims are chosen by CLOCK
  // within a stripe (oldest of a few unreferenced items) and sampled across
  // stripes; tests that check which item goes use 1.
  uint32_t stripes = 1024;
};

// memcached's exptime rule: 0 never; 1..30 days (2592000 s) relative to now; larger is an
// absolute unix time; negative means already expired. Returns absolute store time (0 = never).
uint32_t absolute_exptime(int64_t exptime, uint32_t now);

// What the item looked like before this access (meta get's h and l flags).
struct ItemHistory {
  bool fetched_before = false;
  uint32_t last_access = 0;
};

// The meta arithmetic command's full request (ma): auto-create, cas compare,
// TTL update. delta() is the classic incr/decr subset.
struct DeltaRequest {
  bool incr = true;
  uint64_t by = 1;
  uint64_t cas_in = 0;           // 0: any
  bool autoviv = false;          // create the item when missing
  uint64_t initial = 0;          // its value then
  uint32_t autoviv_exptime = 0;  // its absolute exptime then
  bool update_exptime = false;   // set a hit item's exptime to new_exptime
  uint32_t new_exptime = 0;
};
enum class DeltaResultStatus { Ok, Created, NotFound, NonNumeric, Exists, NoMemory };
struct DeltaResult {
  uint64_t value = 0;
  ItemRef item;  // the item now holding the value
};

struct StoreStats {
  uint64_t curr_items = 0;
  uint64_t total_items = 0;
  uint64_t bytes = 0;  // bytes charged against the memory limit
  uint64_t evictions = 0;
  uint64_t evicted_unfetched = 0;
  uint64_t reclaimed = 0;  // dead items freed to make room
  uint64_t expired_unfetched = 0;
  uint64_t get_expired = 0;
  uint64_t get_flushed = 0;
  uint64_t crawler_reclaimed = 0;  // dead items freed by lru_crawler crawl
  uint64_t oldest_item_age = 0;    // seconds since the least recently used sampled item's access
};

class Store {  // every member is safe to call from several threads at once
 public:
  explicit Store(const StoreConfig &cfg);
  ~Store();
  Store(const Store &) = delete;
  Store &operator=(const Store &) = delete;

  ItemRef get(std::string_view key, uint32_t now);  // bumps LRU
  // get with the item's access history from before this access; a non-null
  // new_exptime_abs also touches it (mg T); bump false leaves the LRU position
  // and the access history as they were (mg u).
  ItemRef get(std::string_view key, uint32_t now, ItemHistory *history,
              const uint32_t *new_exptime_abs = nullptr, bool bump = true);
  ItemRef touch(std::string_view key, uint32_t new_exptime_abs, uint32_t now);  // gat/touch
  StoreStatus store(StoreCmd cmd, std::string_view key, std::string_view value, uint32_t flags,
                    uint32_t exptime_abs, uint64_t cas_in, uint32_t now, uint64_t *cas_out);
  DeltaStatus delta(std::string_view key, bool incr, uint64_t by, uint32_t now, uint64_t *value_out,
                    uint64_t *cas_out);
  DeltaResultStatus delta(std::string_view key, const DeltaRequest &req, uint32_t now,
                          DeltaResult *out);
  // Meta set with C and I: a cas older than the item's does not fail but
  // stores the value marked stale (clients see X until someone recaches).
  StoreStatus store_or_invalidate(StoreCmd cmd, std::string_view key, std::string_view value,
                                  uint32_t flags, uint32_t exptime_abs, uint64_t cas_in,
                                  uint32_t now, uint64_t *cas_out);
  // Meta delete with I: instead of removing, marks the item stale with a new
  // cas (and, when given, a new exptime).
  DeleteStatus invalidate(std::string_view key, uint64_t cas_in, const uint32_t *new_exptime_abs,
                          uint32_t now);
  // Meta get's vivify: adds an empty stub item when the key is missing;
  // true when this call created it (the caller "won" the recache).
  bool add_stub(std::string_view key, uint32_t exptime_abs, uint32_t now);
  DeleteStatus remove(std::string_view key, uint64_t cas_in /*0: any*/, uint32_t now);
  void flush_all(uint32_t when_abs /*0: now*/, uint32_t now);
  const StoreConfig &config() const { return cfg_; }
  // The item memory limit now: -m at start, then what cache_memlimit set.
  // Lowering it evicts nothing at once; stores evict down to it as they
  // reserve (memcached likewise frees memory as it goes).
  uint64_t memory_limit() const { return memory_limit_.load(std::memory_order_relaxed); }
  void set_memory_limit(uint64_t bytes) { memory_limit_.store(bytes, std::memory_order_relaxed); }

  // Whole item size as counted against item_size_max (memcached counts its
  // item header too, so a value of exactly item_size_max does not fit).
  static uint64_t item_size(size_t key_len, size_t value_len);
  StoreStats stats(uint32_t now) const;
  // Calls fn for each live item, stripe by stripe under that stripe's lock
  // (fn must not call the store), until fn returns false. For `stats
  // cachedump`: it holds one stripe's lock at a time, as memcached's holds one
  // LRU's, and is as slow as the table is large.
  void visit_live(uint32_t now, const std::function<bool(const detail::Item &)> &fn);
  // A walk over the table in steps (lru_crawler metadump): each step visits
  // whole buckets from the cursor on, one stripe lock at a time, until
  // enough() says the step has done enough; true when the walk is over.
  // Items stored or removed between steps may be missed, and a stripe whose
  // table grew meanwhile may list some twice (memcached's crawler makes the
  // same promise: a snapshot of nothing in particular).
  struct WalkCursor {
    uint32_t stripe = 0;
    uint32_t bucket = 0;
  };
  // A step also ends after max_buckets buckets, so a filter that matches
  // nothing still walks in bounded steps.
  bool walk_step(uint32_t now, WalkCursor &cur, const std::function<void(const detail::Item &)> &fn,
                 const std::function<bool()> &enough, uint32_t max_buckets);
  // One step of lru_crawler crawl: frees the expired and flushed items of
  // up to max_buckets buckets from the cursor on (one bucket's stripe lock
  // at a time); true when the whole table has been swept.
  bool crawl_step(uint32_t now, WalkCursor &cur, uint32_t max_buckets);

 private:
  struct Stripe;
  Stripe &stripe_for(uint32_t hash) const;
  uint32_t flush_generation(uint32_t now);
  bool reserve(uint64_t bytes, uint32_t now);
  void unreserve(uint64_t bytes);
  bool evict_one(uint32_t now);
  // Read-copy-update of one key (append/prepend, incr/decr, invalidation):
  // items are immutable once published, so a writer snapshots the live item
  // under the stripe lock, builds its replacement outside the lock, then
  // swaps it in only if the key still maps to the item it read; otherwise it
  // builds again from the newer one.
  enum class Snapshot { kFound, kMissing, kCasMismatch };
  Snapshot snapshot(Stripe &s, std::string_view key, uint32_t hash, uint64_t cas_in, uint32_t now,
                    ItemRef *out);
  // The walk of walk_step and crawl_step: visit(stripe, &bucket_head) for
  // each bucket from the cursor on, under that stripe's lock, until stop()
  // (asked after each bucket) or max_buckets; true at the end of the table.
  template <class Visit, class Stop>
  bool step_buckets(WalkCursor &cur, uint32_t max_buckets, Visit &&visit, Stop &&stop);
  enum class Swap { kSwapped, kReplaced, kNoMemory };
  // Charges `fresh` to the memory limit and links it in place of `expected`
  // (nullptr: no live item) with a new cas. On kReplaced and kNoMemory
  // `fresh` is released. Once linked, `fresh` belongs to the stripe and
  // another writer may free it as soon as the lock drops, so its cas and a
  // reference are handed out here, under the lock (each optional).
  // keep_fetched carries the replaced item's fetched mark over (read under
  // the lock, where it is written).
  Swap swap_in(Stripe &s, std::string_view key, uint32_t hash, const detail::Item *expected,
               detail::Item *fresh, uint32_t now, uint64_t *cas_out, ItemRef *ref_out,
               bool keep_fetched = false);
  StoreStatus store_impl(StoreCmd cmd, std::string_view key, std::string_view value, uint32_t flags,
                         uint32_t exptime_abs, uint64_t cas_in, uint32_t now, uint64_t *cas_out,
                         bool stub, bool invalidate);

  StoreConfig cfg_;
  uint32_t stripe_mask_ = 0;
  std::unique_ptr<Stripe[]> stripes_;
  // Shared writes, bent on purpose: the memory limit is global, so every
  // store and unlink adjusts one counter (a relaxed atomic add; gets never
  // touch it). The flush state is written only by flush_all.
  alignas(64) std::atomic<uint64_t> used_{0};
  std::atomic<uint64_t> memory_limit_;  // read per store, written by cache_memlimit
  alignas(64) std::atomic<uint32_t> flush_gen_{1};
  std::atomic<uint32_t> flush_pending_at_{0};
};

}  // namespace ix::mc
