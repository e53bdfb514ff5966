// Context: clock, per-thread counters and the stats groups.
#include "context.hh"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
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
// memcached's "%.2f".
std::string ratio2(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%.2f", v);
  return b;
}

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
      prefix_stats_(settings.prefix_delimiter),
      started_(wall_seconds()),
      counters_(new ThreadCounters[kMaxThreads]),
      reset_base_(new std::atomic<uint64_t>[ThreadCounters::count_]()) {
  verbosity_.store(settings.verbosity, std::memory_order_relaxed);
  detail_enabled_.store(settings.detail_enabled, std::memory_order_relaxed);
  lru_crawler_.store(settings.lru_crawler, std::memory_order_relaxed);
  id_ = next_context_id.fetch_add(1, std::memory_order_relaxed);
}

uint32_t Context::now() const {
  const uint32_t paused = paused_at_.load(std::memory_order_relaxed);
  if (paused != 0) return paused;
  const uint32_t manual = manual_now_.load(std::memory_order_relaxed);
  return static_cast<uint32_t>(int64_t{manual != 0 ? manual : wall_seconds()} +
                               clock_offset_.load(std::memory_order_relaxed));
}

void Context::pause_clock(bool paused) {
  if (paused) {
    if (paused_at_.load(std::memory_order_relaxed) == 0)
      paused_at_.store(std::max<uint32_t>(now(), 1), std::memory_order_relaxed);
    return;
  }
  // Running again reads the real time plus the moves, as memcached's next
  // clock tick after a pause does.
  paused_at_.store(0, std::memory_order_relaxed);
}

bool Context::claim_crawler() {
  bool idle = false;
  if (!crawler_busy_.compare_exchange_strong(idle, true, std::memory_order_acq_rel)) return false;
  crawler_starts_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

bool Context::request_crawl() {
  if (!claim_crawler()) return false;
  crawl_pending_.store(true, std::memory_order_release);
  return true;
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
  prefix_stats_.clear();  // memcached's stats reset clears them too
}

Context::StatRows Context::general_stats() const {
  using C = ThreadCounters;
  const uint32_t t = now();
  const StoreStats ss = store_.stats(t);
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  const uint32_t up = wall_seconds() - started_;
  const std::string threads = num(threads_running_.load(std::memory_order_relaxed));
  // memcached's keys in memcached's order; figures of machinery we do not
  // have (libevent, read buffers, hash table expansion, slab mover, LRU
  // crawler) are reported as memcached reports them when idle, and only
  // where memcached's own settings would show them.
  StatRows out = {
      {"pid", num(static_cast<uint64_t>(getpid()))},
      {"uptime", num(up)},
      {"time", num(t)},
      {"version", std::string(version())},
      {"libevent", "none"},
      {"pointer_size", num(sizeof(void *) * 8)},
      {"rusage_user", seconds(ru.ru_utime)},
      {"rusage_system", seconds(ru.ru_stime)},
      {"max_connections", num(settings_.max_connections)},
      {"curr_connections", num(counter_sum(C::curr_connections))},
      {"total_connections", num(counter_sum(C::total_connections))},
      {"rejected_connections", num(counter_sum(C::rejected_connections))},
      {"connection_structures", num(counter_sum(C::curr_connections))},
      {"response_obj_oom", "0"},
      {"response_obj_count", "0"},
      {"response_obj_bytes", "0"},
      {"read_buf_count", "0"},
      {"read_buf_bytes", "0"},
      {"read_buf_bytes_free", "0"},
      {"read_buf_oom", "0"},
      {"reserved_fds", "0"},
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
      {"store_too_large", num(counter_sum(C::store_too_large))},
      {"store_no_memory", num(counter_sum(C::store_no_memory))},
      {"auth_cmds", "0"},
      {"auth_errors", "0"},
  };
  if (settings_.idle_timeout != 0) out.push_back({"idle_kicks", num(counter_sum(C::idle_kicks))});
  out.insert(out.end(), {
                            {"bytes_read", num(counter_sum(C::bytes_read))},
                            {"bytes_written", num(counter_sum(C::bytes_written))},
                            {"limit_maxbytes", num(store_.memory_limit())},
                            {"accepting_conns", "1"},
                            {"listen_disabled_num", "0"},
                            {"time_in_listen_disabled_us", "0"},
                            {"threads", threads},
                            {"conn_yields", "0"},
                            {"hash_power_level", "16"},
                            {"hash_bytes", "524288"},
                            {"hash_is_expanding", "0"},
                            {"slab_reassign_rescues", "0"},
                            {"slab_reassign_chunk_rescues", "0"},
                            {"slab_reassign_evictions_nomem", "0"},
                            {"slab_reassign_inline_reclaim", "0"},
                            {"slab_reassign_busy_items", "0"},
                            {"slab_reassign_busy_deletes", "0"},
                            {"slab_reassign_running", "0"},
                            {"slabs_moved", "0"},
                        });
  if (lru_crawler())
    out.insert(out.end(),
               {{"lru_crawler_running", num(crawler_busy() ? 1 : 0)},
                {"lru_crawler_starts", num(crawler_starts_.load(std::memory_order_relaxed))}});
  if (settings_.lru_maintainer) out.push_back({"lru_maintainer_juggles", "0"});
  out.insert(out.end(), {
                            {"malloc_fails", "0"},
                            {"log_worker_dropped", "0"},
                            {"log_worker_written", "0"},
                            {"log_watcher_skipped", "0"},
                            {"log_watcher_sent", "0"},
                            {"log_watchers", "0"},
                            {"unexpected_napi_ids", "0"},
                            {"round_robin_fallback", "0"},
                            {"bytes", num(ss.bytes)},
                            {"curr_items", num(ss.curr_items)},
                            {"total_items", num(ss.total_items)},
                            {"slab_global_page_pool", "0"},
                            {"expired_unfetched", num(ss.expired_unfetched)},
                            {"evicted_unfetched", num(ss.evicted_unfetched)},
                        });
  if (settings_.lru_maintainer) out.push_back({"evicted_active", "0"});
  out.insert(out.end(), {
                            {"evictions", num(ss.evictions)},
                            {"reclaimed", num(ss.reclaimed)},
                            {"crawler_reclaimed", num(ss.crawler_reclaimed)},
                            {"crawler_items_checked", "0"},
                            {"lrutail_reflocked", "0"},
                        });
  if (settings_.lru_maintainer)
    out.insert(out.end(), {{"moves_to_cold", "0"},
                           {"moves_to_warm", "0"},
                           {"moves_within_lru", "0"},
                           {"direct_reclaims", "0"},
                           {"lru_bumps_dropped", "0"}});
  return out;
}

// memcached lists each slab class holding items. The store has no classes
// yet, so everything is class 1; per-class figures replace these rows when
// the allocator provides them.
Context::StatRows Context::item_stats() const {
  const StoreStats ss = store_.stats(now());
  if (ss.curr_items == 0) return {};
  const std::pair<const char *, uint64_t> figures[] = {
      {"number", ss.curr_items},
      {"number_hot", 0},
      {"number_warm", 0},
      {"number_cold", ss.curr_items},
      {"age_hot", 0},
      {"age_warm", 0},
      {"age", ss.oldest_item_age},
      {"mem_requested", ss.bytes},
      {"evicted", ss.evictions},
      {"evicted_nonzero", 0},
      {"evicted_time", 0},
      {"outofmemory", 0},
      {"tailrepairs", 0},
      {"reclaimed", ss.reclaimed},
      {"expired_unfetched", ss.expired_unfetched},
      {"evicted_unfetched", ss.evicted_unfetched},
      {"evicted_active", 0},
      {"crawler_reclaimed", ss.crawler_reclaimed},
      {"crawler_items_checked", 0},
      {"lrutail_reflocked", 0},
      {"moves_to_cold", 0},
      {"moves_to_warm", 0},
      {"moves_within_lru", 0},
      {"direct_reclaims", 0},
      {"hits_to_hot", 0},
      {"hits_to_warm", 0},
      {"hits_to_cold", 0},
      {"hits_to_temp", 0},
  };
  StatRows out;
  for (const auto &[name, value] : figures)
    out.push_back({std::string("items:1:") + name, num(value)});
  return out;
}

// memcached lists each slab class with pages, then two totals. One class
// (1) stands for the store until it has memcached-like classes.
Context::StatRows Context::slab_stats() const {
  using C = ThreadCounters;
  const StoreStats ss = store_.stats(now());
  StatRows out;
  // memcached lists a class from its first item on: its slab pages stay when
  // the items go (t/lru-crawler.t reads 0 used chunks after a crawl).
  if (ss.total_items != 0) {
    // Average item size; memcached's class 1 chunk (96 B) when none is left.
    const uint64_t chunk = ss.curr_items != 0 ? ss.bytes / ss.curr_items : 96;
    const std::pair<const char *, uint64_t> figures[] = {
        {"chunk_size", chunk},
        {"chunks_per_page", 0},
        {"total_pages", 0},
        {"total_chunks", ss.curr_items},
        {"used_chunks", ss.curr_items},
        {"free_chunks", 0},
        {"free_chunks_end", 0},
        {"get_hits", counter_sum(C::get_hits)},
        {"cmd_set", counter_sum(C::cmd_set)},
        {"delete_hits", counter_sum(C::delete_hits)},
        {"incr_hits", counter_sum(C::incr_hits)},
        {"decr_hits", counter_sum(C::decr_hits)},
        {"cas_hits", counter_sum(C::cas_hits)},
        {"cas_badval", counter_sum(C::cas_badval)},
        {"touch_hits", counter_sum(C::touch_hits)},
    };
    for (const auto &[name, value] : figures) out.push_back({std::string("1:") + name, num(value)});
  }
  out.push_back({"active_slabs", num(ss.total_items != 0 ? 1 : 0)});
  out.push_back({"total_malloced", num(ss.bytes)});
  return out;
}

Context::StatRows Context::settings_stats() const {
  const StoreConfig &sc = store_.config();
  const char *binding = settings_.protocol == BindingProtocol::Ascii    ? "ascii"
                        : settings_.protocol == BindingProtocol::Binary ? "binary"
                                                                        : "auto-negotiate";
  const std::string threads = num(settings_.threads);
  auto yes_no = [](bool v) { return std::string(v ? "yes" : "no"); };
  // memcached's keys in its order; features memcached has and we do not
  // (extstore, TLS, slab mover, LRU crawler) show memcached's defaults.
  return {
      {"maxbytes", num(store_.memory_limit())},
      {"maxconns", num(settings_.max_connections)},
      {"tcpport", num(settings_.port)},
      {"udpport", num(settings_.udp_port)},
      {"inter", settings_.listen.empty() ? std::string("NULL") : settings_.listen},
      {"verbosity", num(static_cast<uint64_t>(verbosity()))},
      {"oldest", "0"},
      {"evictions", "on"},
      {"domain_socket", "NULL"},
      {"umask", "700"},
      {"shutdown_command", yes_no(settings_.shutdown_enabled)},
      {"growth_factor", "1.25"},
      {"chunk_size", "48"},
      {"num_threads", threads},
      {"num_threads_per_udp", threads},
      {"stat_key_prefix", std::string(1, prefix_stats_.delimiter())},
      {"detail_enabled", yes_no(detail_enabled())},
      {"reqs_per_event", "20"},  // -R is accepted and has no effect here (flags.cc)
      {"cas_enabled", yes_no(settings_.cas_enabled)},
      {"tcp_backlog", num(settings_.tcp_backlog)},
      {"binding_protocol", binding},
      {"auth_enabled_sasl", "no"},
      {"auth_enabled_ascii", "no"},
      {"item_size_max", num(sc.item_size_max)},
      {"maxconns_fast", "yes"},
      {"hashpower_init", "0"},
      {"slab_reassign", "yes"},
      {"slab_automove", num(slab_automove())},
      {"slab_automove_ratio", ratio2(slab_automove_ratio())},
      {"slab_automove_window", "30"},
      {"slab_chunk_max", num(sc.item_size_max / 2)},
      {"lru_crawler", yes_no(lru_crawler())},
      {"lru_crawler_sleep", num(crawler_sleep_.load(std::memory_order_relaxed))},
      {"lru_crawler_tocrawl", num(crawler_tocrawl_.load(std::memory_order_relaxed))},
      {"tail_repair_time", "0"},
      {"flush_enabled", yes_no(settings_.flush_enabled)},
      {"dump_enabled", yes_no(settings_.dump_enabled)},
      {"hash_algorithm", "murmur3"},
      {"lru_maintainer_thread", yes_no(settings_.lru_maintainer)},
      {"lru_segmented", "yes"},
      {"hot_lru_pct", "20"},
      {"warm_lru_pct", "40"},
      {"hot_max_factor", "0.20"},
      {"warm_max_factor", "2.00"},
      {"temp_lru", "no"},
      {"temporary_ttl", "61"},
      {"idle_timeout", num(settings_.idle_timeout)},
      {"watcher_logbuf_size", "262144"},
      {"worker_logbuf_size", "65536"},
      {"read_buf_mem_limit", "0"},
      {"track_sizes", "no"},
      {"inline_ascii_response", "no"},
      {"ext_item_size", "512"},
      {"ext_item_age", "4294967295"},
      {"ext_low_ttl", "0"},
      {"ext_recache_rate", "2000"},
      {"ext_wbuf_size", "4194304"},
      {"ext_compact_under", "0"},
      {"ext_drop_under", "0"},
      {"ext_max_sleep", "1000000"},
      {"ext_max_frag", "0.80"},
      {"slab_automove_freeratio", "0.010"},
      {"ext_drop_unread", "no"},
      {"ssl_enabled", "no"},
      {"ssl_chain_cert", "(null)"},
      {"ssl_key", "(null)"},
      {"ssl_verify_mode", "0"},
      {"ssl_keyformat", "1"},
      {"ssl_ciphers", "NULL"},
      {"ssl_ca_cert", "NULL"},
      {"ssl_wbuf_size", "16384"},
      {"ssl_session_cache", "no"},
      {"ssl_kernel_tls", "no"},
      {"ssl_min_version", "tlsv1.2"},
      {"num_napi_ids", "(null)"},
      {"memory_file", "(null)"},
  };
}

// memcached tracks item sizes only when started with -o track_sizes.
Context::StatRows Context::size_stats() const { return {{"sizes_status", "disabled"}}; }

std::optional<Context::StatRows> Context::stats(std::string_view group) const {
  if (group.empty()) return general_stats();
  if (group == "items") return item_stats();
  if (group == "slabs") return slab_stats();
  if (group == "settings") return settings_stats();
  if (group == "sizes") return size_stats();
  if (group == "conns") return conn_table_.rows(now());
  return std::nullopt;
}

}  // namespace ix::mc
