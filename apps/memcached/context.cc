// Context: clock, per-thread counters and the stats groups.
#include "context.hh"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>

namespace ix::mc {

namespace {

// Contexts get distinct ids so a thread's cached counter block can never be
// mistaken for one of an earlier Context that lived at the same address.
std::atomic<uint64_t> next_context_id{1};

struct CounterCache {
  uint64_t context_id = 0;
  ThreadCounters *block = nullptr;
};
thread_local CounterCache counter_cache;

std::string num(uint64_t v) { return std::to_string(v); }

std::string seconds(const timeval &tv) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%ld.%06ld", static_cast<long>(tv.tv_sec),
                static_cast<long>(tv.tv_usec));
  return buf;
}

uint32_t wall_seconds() {
  // CLOCK_REALTIME_COARSE is served from the vDSO: no system call.
  timespec ts{};
  clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  return static_cast<uint32_t>(ts.tv_sec);
}

}  // namespace

Context::Context(const ServerSettings &settings)
    : settings_(settings),
      store_(settings.store),
      started_(wall_seconds()),
      counters_(new ThreadCounters[kMaxThreads]),
      reset_base_(new std::atomic<uint64_t>[ThreadCounters::count_]()) {
  verbosity_.store(settings.verbosity, std::memory_order_relaxed);
  id_ = next_context_id.fetch_add(1, std::memory_order_relaxed);
}

uint32_t Context::now() const {
  const uint32_t manual = manual_now_.load(std::memory_order_relaxed);
  return manual != 0 ? manual : wall_seconds();
}

ThreadCounters &Context::counters() {
  CounterCache &c = counter_cache;
  if (c.context_id != id_) {
    // Claimed once per thread; past kMaxThreads threads share the last block
    // (their counts may then race, but stay well defined).
    unsigned slot = threads_claimed_.fetch_add(1, std::memory_order_relaxed);
    if (slot >= kMaxThreads) slot = kMaxThreads - 1;
    c.context_id = id_;
    c.block = &counters_[slot];
  }
  return *c.block;
}

uint64_t Context::counter_sum(ThreadCounters::Id id) const {
  uint64_t sum = 0;
  for (unsigned i = 0; i < kMaxThreads; ++i)
    sum += counters_[i].v[id].load(std::memory_order_relaxed);
  return sum - reset_base_[id].load(std::memory_order_relaxed);
}

void Context::reset_stats() {
  for (unsigned id = 0; id < ThreadCounters::count_; ++id) {
    if (id == ThreadCounters::curr_connections) continue;
    uint64_t sum = 0;
    for (unsigned i = 0; i < kMaxThreads; ++i)
      sum += counters_[i].v[id].load(std::memory_order_relaxed);
    reset_base_[id].store(sum, std::memory_order_relaxed);
  }
}

std::optional<std::vector<std::pair<std::string, std::string>>> Context::stats(
    std::string_view group) const {
  using C = ThreadCounters;
  std::vector<std::pair<std::string, std::string>> out;
  const uint32_t t = now();
  const StoreStats ss = store_.stats(t);
  const StoreConfig &sc = store_.config();
  if (group.empty()) {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    const uint32_t up = wall_seconds() - started_;
    out = {
        {"pid", num(static_cast<uint64_t>(getpid()))},
        {"uptime", num(up)},
        {"time", num(t)},
        {"version", std::string(version())},
        {"pointer_size", num(sizeof(void *) * 8)},
        {"rusage_user", seconds(ru.ru_utime)},
        {"rusage_system", seconds(ru.ru_stime)},
        {"max_connections", num(settings_.max_connections)},
        {"curr_connections", num(counter_sum(C::curr_connections))},
        {"total_connections", num(counter_sum(C::total_connections))},
        {"rejected_connections", num(counter_sum(C::rejected_connections))},
        {"cmd_get", num(counter_sum(C::cmd_get))},
        {"cmd_set", num(counter_sum(C::cmd_set))},
        {"cmd_flush", num(counter_sum(C::cmd_flush))},
        {"cmd_touch", num(counter_sum(C::cmd_touch))},
        {"cmd_meta", num(counter_sum(C::cmd_meta))},
        {"get_hits", num(counter_sum(C::get_hits))},
        {"get_misses", num(counter_sum(C::get_misses))},
        {"get_expired", num(ss.get_expired)},
        {"get_flushed", num(ss.get_flushed)},
        {"delete_misses", num(counter_sum(C::delete_misses))},
        {"delete_hits", num(counter_sum(C::delete_hits))},
        {"incr_misses", num(counter_sum(C::incr_misses))},
        {"incr_hits", num(counter_sum(C::incr_hits))},
        {"decr_misses", num(counter_sum(C::decr_misses))},
        {"decr_hits", num(counter_sum(C::decr_hits))},
        {"cas_misses", num(counter_sum(C::cas_misses))},
        {"cas_hits", num(counter_sum(C::cas_hits))},
        {"cas_badval", num(counter_sum(C::cas_badval))},
        {"touch_hits", num(counter_sum(C::touch_hits))},
        {"touch_misses", num(counter_sum(C::touch_misses))},
        {"bytes_read", num(counter_sum(C::bytes_read))},
        {"bytes_written", num(counter_sum(C::bytes_written))},
        {"limit_maxbytes", num(sc.memory_limit)},
        {"threads", num(threads_running_.load(std::memory_order_relaxed))},
        {"bytes", num(ss.bytes)},
        {"curr_items", num(ss.curr_items)},
        {"total_items", num(ss.total_items)},
        {"expired_unfetched", num(ss.expired_unfetched)},
        {"evicted_unfetched", num(ss.evicted_unfetched)},
        {"evictions", num(ss.evictions)},
        {"reclaimed", num(ss.reclaimed)},
    };
  } else if (group == "items") {
    // One LRU class (no slab classes here), reported as class 1 like
    // memcached reports each non-empty class.
    if (ss.curr_items != 0) {
      out = {
          {"items:1:number", num(ss.curr_items)},
          {"items:1:age", num(ss.oldest_item_age)},
          {"items:1:evicted", num(ss.evictions)},
          {"items:1:evicted_unfetched", num(ss.evicted_unfetched)},
          {"items:1:expired_unfetched", num(ss.expired_unfetched)},
          {"items:1:reclaimed", num(ss.reclaimed)},
      };
    }
  } else if (group == "slabs") {
    // Items are allocated one by one (no slab classes); one pseudo class
    // reports what is in use.
    if (ss.curr_items != 0) {
      out = {
          {"1:chunk_size", num(ss.bytes / ss.curr_items)},
          {"1:used_chunks", num(ss.curr_items)},
          {"1:mem_requested", num(ss.bytes)},
      };
    }
    out.push_back({"active_slabs", num(ss.curr_items != 0 ? 1 : 0)});
    out.push_back({"total_malloced", num(ss.bytes)});
  } else if (group == "settings") {
    out = {
        {"maxbytes", num(sc.memory_limit)},
        {"maxconns", num(settings_.max_connections)},
        {"tcpport", num(settings_.port)},
        {"udpport", "0"},
        {"inter", settings_.listen.empty() ? std::string("NULL") : settings_.listen},
        {"verbosity", num(static_cast<uint64_t>(verbosity()))},
        {"evictions", "on"},
        {"num_threads", num(threads_running_.load(std::memory_order_relaxed))},
        {"cas_enabled", "yes"},
        {"binding_protocol", "auto-negotiate"},
        {"item_size_max", num(sc.item_size_max)},
        {"flush_enabled", "yes"},
        {"lock_stripes", num(sc.stripes)},
    };
  } else {
    return std::nullopt;
  }
  return out;
}

}  // namespace ix::mc
