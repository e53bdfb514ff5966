// What protocol handlers need besides the store: the clock, the version,
// settings for `stats settings`, verbosity, and the command counters. One
// Context per server, shared by every elastic thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "conn_table.hh"
#include "prefix_stats.hh"
#include "store.hh"

namespace ix::mc {

// Counters one thread bumps; summed over threads when stats are read. Each
// thread owns its block (cache-line aligned), so counting never writes memory
// another core writes. Relaxed atomics with a load+store (no locked add) make
// the cross-thread read well defined without costing the writer anything.
struct alignas(64) ThreadCounters {
  enum Id : unsigned {
    cmd_get,
    get_hits,
    get_misses,
    cmd_set,
    cmd_touch,
    touch_hits,
    touch_misses,
    cmd_flush,
    delete_hits,
    delete_misses,
    incr_hits,
    incr_misses,
    decr_hits,
    decr_misses,
    cas_hits,
    cas_misses,
    cas_badval,
    cmd_meta,
    get_multi_keys,
    bytes_read,
    bytes_written,
    curr_connections,  // +1/-1 by the thread that owns the connection (may wrap per thread)
    total_connections,
    rejected_connections,
    protocol_errors,
    store_too_large,  // a store refused: the item would exceed -I
    store_no_memory,  // a store refused: no room (-M, or nothing left to evict)
    idle_kicks,       // connections closed by -o idle_timeout
    count_
  };
  std::atomic<uint64_t> v[count_] = {};

  void add(Id id, uint64_t n = 1) {
    v[id].store(v[id].load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void sub(Id id, uint64_t n = 1) { add(id, uint64_t(0) - n); }
};

// What `version` answers: memcached's protocol level, marked as this server.
inline constexpr std::string_view kServerVersion = "1.6.21-ix";

// Which protocols a connection may speak (memcached -B).
enum class BindingProtocol { Auto, Ascii, Binary };

struct ServerSettings {
  uint16_t port = 11211;
  uint16_t udp_port = 0;  // memcached -U; 0: no UDP
  std::string listen = "";
  uint32_t max_connections = 1024;
  uint32_t threads = 1;
  int verbosity = 0;
  bool cas_enabled = true;        // memcached -C turns cas values off
  bool flush_enabled = true;      // memcached -F refuses flush_all
  bool shutdown_enabled = false;  // memcached -A allows the shutdown command
  // memcached-debug's debugtime command (moves the server's clock), which
  // memcached's own test suite uses; a release memcached answers ERROR.
  bool debug_commands = false;
  BindingProtocol protocol = BindingProtocol::Auto;
  uint32_t tcp_backlog = 1024;  // memcached -b: shown in stats settings (see flags.cc)
  // -o idle_timeout: close a connection that sent no command for longer than
  // this many seconds (0: never), as memcached does.
  uint32_t idle_timeout = 0;
  // memcached's LRU crawler and maintainer threads (-o [no_]lru_crawler,
  // [no_]lru_maintainer). This store has neither thread (expired items go on
  // access, at eviction and in lru_crawler crawl; one CLOCK per lock stripe);
  // the switches decide what stats and stats settings show, and the crawler
  // switch gates lru_crawler crawl and metadump, as in memcached.
  bool lru_crawler = true;
  bool lru_maintainer = true;
  bool dump_enabled = true;  // memcached -X turns `stats cachedump` off
  // memcached -D: the key prefix delimiter of per-prefix stats, which -D
  // also turns on (`stats detail on|off` switches them at run time).
  char prefix_delimiter = ':';
  bool detail_enabled = false;
  StoreConfig store;
};

// memcached refuses to incr or decr an empty value before it compares the
// cas: a cas mismatch the store reports on an empty value is non-numeric there.
inline DeltaResultStatus delta_status_as_memcached(Store &store, std::string_view key,
                                                   DeltaResultStatus st, uint32_t now) {
  if (st != DeltaResultStatus::Exists) return st;
  ItemHistory unused;
  const ItemRef item = store.get(key, now, &unused, nullptr, false);
  return item && item.value().empty() ? DeltaResultStatus::NonNumeric : st;
}

class Context {
 public:
  static constexpr unsigned kMaxThreads = 64;

  explicit Context(const ServerSettings &settings);
  Store &store() { return store_; }
  const Store &store() const { return store_; }
  // Connections and the listener, for `stats conns` and the idle timeout.
  ConnTable &conn_table() { return conn_table_; }
  // Store clock, seconds (unix time unless a manual clock is set).
  uint32_t now() const;
  // For tests: a fixed clock instead of the real one (0 switches back).
  void set_manual_now(uint32_t now) { manual_now_.store(now, std::memory_order_relaxed); }
  // debugtime (ServerSettings::debug_commands): the clock moved by `seconds`
  // from now on, paused at its current reading, or running again.
  void move_clock(int64_t seconds) { clock_offset_.fetch_add(seconds, std::memory_order_relaxed); }
  void pause_clock(bool paused);
  std::string_view version() const { return kServerVersion; }
  void set_verbosity(int level) { verbosity_.store(level, std::memory_order_relaxed); }
  int verbosity() const { return verbosity_.load(std::memory_order_relaxed); }
  // `stats detail on|off` (shown as detail_enabled in stats settings).
  void set_detail_enabled(bool on) { detail_enabled_.store(on, std::memory_order_relaxed); }
  bool detail_enabled() const { return detail_enabled_.load(std::memory_order_relaxed); }
  // Per-prefix counts, kept only while detail is on (memcached's
  // stats_prefix_record_*): the protocols call these where memcached does.
  void detail_get(std::string_view key, bool hit) {
    if (detail_enabled()) prefix_stats_.record_get(key, hit);
  }
  void detail_set(std::string_view key) {
    if (detail_enabled()) prefix_stats_.record_set(key);
  }
  void detail_delete(std::string_view key) {
    if (detail_enabled()) prefix_stats_.record_delete(key);
  }
  // `stats detail dump`.
  std::string detail_dump() const { return prefix_stats_.dump(); }
  // lru_crawler enable|disable|sleep|tocrawl: memcached's crawler switches.
  // Here a crawl runs in the command that asks for it, so the switch gates
  // crawl and metadump as memcached's does, and the numbers are recorded.
  void set_lru_crawler(bool on) { lru_crawler_.store(on, std::memory_order_relaxed); }
  bool lru_crawler() const { return lru_crawler_.load(std::memory_order_relaxed); }
  void set_crawler_sleep(uint32_t us) { crawler_sleep_.store(us, std::memory_order_relaxed); }
  void set_crawler_tocrawl(uint32_t n) { crawler_tocrawl_.store(n, std::memory_order_relaxed); }
  // One crawler job at a time, as memcached runs one: a metadump (written
  // by the connection that asked for it) or a crawl (stepped by whichever
  // thread's serving loop takes it, a bounded step per round). false: busy.
  bool claim_crawler();
  void release_crawler() { crawler_busy_.store(false, std::memory_order_release); }
  bool crawler_busy() const { return crawler_busy_.load(std::memory_order_acquire); }
  // lru_crawler crawl: claims the crawler and leaves the sweep to a loop.
  bool request_crawl();
  // A serving loop's offer to run a requested crawl: true once, to the
  // thread that takes it (it then calls store().crawl_step each round and
  // release_crawler() at the end).
  // Every loop asks every round: a plain load first, so the shared line is
  // written only when a crawl is there to take.
  bool take_crawl() {
    return crawl_pending_.load(std::memory_order_relaxed) &&
           crawl_pending_.exchange(false, std::memory_order_acq_rel);
  }
  // `slabs automove N` and `slabs automove ratio R`: recorded and shown in
  // stats settings as memcached shows them; with items allocated to size
  // there are no slab pages for a mover to move.
  void set_slab_automove(uint32_t level) { slab_automove_.store(level, std::memory_order_relaxed); }
  uint32_t slab_automove() const { return slab_automove_.load(std::memory_order_relaxed); }
  void set_slab_automove_ratio(double r) {
    slab_automove_ratio_.store(r, std::memory_order_relaxed);
  }
  double slab_automove_ratio() const {
    return slab_automove_ratio_.load(std::memory_order_relaxed);
  }
  const ServerSettings &settings() const { return settings_; }
  // The shutdown command (allowed with -A): every thread's loop sees it and
  // stops; graceful (memcached's "shutdown graceful") is recorded for the log.
  void request_shutdown(bool graceful) {
    shutdown_graceful_.store(graceful, std::memory_order_relaxed);
    shutdown_.store(true, std::memory_order_relaxed);
  }
  bool shutdown_requested() const { return shutdown_.load(std::memory_order_relaxed); }
  bool shutdown_graceful() const { return shutdown_graceful_.load(std::memory_order_relaxed); }
  // Each elastic thread serving this context says so once (for `stats`).
  void thread_started() { threads_running_.fetch_add(1, std::memory_order_relaxed); }

  using StatRows = std::vector<std::pair<std::string, std::string>>;
  // stats groups with memcached's names, keys and order: "" (general),
  // "items", "slabs", "settings", "sizes", "conns"; std::nullopt for an
  // unknown group.
  std::optional<StatRows> stats(std::string_view group) const;
  // Clears the counters `stats reset` clears.
  void reset_stats();

 private:
  // One function per group, so per-class figures can replace the single class.
  StatRows general_stats() const;
  StatRows item_stats() const;
  StatRows slab_stats() const;
  StatRows settings_stats() const;
  StatRows size_stats() const;

 public:
  // The calling thread's counter block (claimed on first use).
  ThreadCounters &counters();
  uint64_t counter_sum(ThreadCounters::Id id) const;

 private:
  ServerSettings settings_;
  Store store_;
  ConnTable conn_table_;
  PrefixStats prefix_stats_;
  uint32_t started_;
  std::atomic<uint32_t> manual_now_{0};
  std::atomic<int64_t> clock_offset_{0};  // debugtime's moves, in seconds
  std::atomic<uint32_t> paused_at_{0};    // debugtime p: the reading held (0: running)
  std::atomic<int> verbosity_{0};
  std::atomic<bool> detail_enabled_{false};
  std::atomic<bool> lru_crawler_{true};
  std::atomic<uint32_t> crawler_sleep_{100};  // memcached's default, µs
  std::atomic<uint32_t> crawler_tocrawl_{0};
  std::atomic<uint64_t> crawler_starts_{0};
  std::atomic<bool> crawler_busy_{false};
  std::atomic<bool> crawl_pending_{false};
  std::atomic<uint32_t> slab_automove_{1};        // memcached 1.6's default
  std::atomic<double> slab_automove_ratio_{0.8};  // likewise
  std::atomic<uint32_t> threads_running_{0};
  std::atomic<bool> shutdown_{false};
  std::atomic<bool> shutdown_graceful_{false};
  uint64_t id_ = 0;
  std::atomic<unsigned> threads_claimed_{0};
  std::unique_ptr<ThreadCounters[]> counters_;
  // Offsets subtracted after `stats reset` (written only by the resetting thread).
  std::unique_ptr<std::atomic<uint64_t>[]> reset_base_;
};

}  // namespace ix::mc
