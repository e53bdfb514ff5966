// The memcached store: storage commands, cas, expiry on a manual clock,
// flush_all, the memory limit with CLOCK eviction, and many threads at once.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "memcached/store.hh"

namespace ix::mc {
namespace {

constexpr uint32_t kNow = 1'700'000'000;  // a unix time: past the 30-day relative range

std::string value_of(Store &s, std::string_view key, uint32_t now = kNow) {
  ItemRef r = s.get(key, now);
  return r ? std::string(r.value()) : std::string("<miss>");
}

StoreStatus set(Store &s, std::string_view key, std::string_view value, uint32_t exptime = 0,
                uint32_t now = kNow) {
  return s.store(StoreCmd::Set, key, value, 0, exptime, 0, now, nullptr);
}

TEST(McExptime, MemcachedRule) {
  EXPECT_EQ(absolute_exptime(0, kNow), 0u);
  EXPECT_EQ(absolute_exptime(10, kNow), kNow + 10);
  EXPECT_EQ(absolute_exptime(2592000, kNow), kNow + 2592000);  // 30 days: still relative
  EXPECT_EQ(absolute_exptime(2592001 + int64_t(kNow), kNow), 2592001u + kNow);  // absolute
  EXPECT_LE(absolute_exptime(2592001, kNow), kNow);  // absolute but in the past: expired
  EXPECT_LE(absolute_exptime(-1, kNow), kNow);       // negative: expired at once
  EXPECT_NE(absolute_exptime(-1, kNow), 0u);         // ... and not "never"
}

TEST(McStore, SetGetAddReplaceAppendPrepend) {
  Store s(StoreConfig{});
  EXPECT_EQ(value_of(s, "k"), "<miss>");
  EXPECT_EQ(s.store(StoreCmd::Replace, "k", "x", 0, 0, 0, kNow, nullptr), StoreStatus::NotStored);
  EXPECT_EQ(s.store(StoreCmd::Append, "k", "x", 0, 0, 0, kNow, nullptr), StoreStatus::NotStored);
  EXPECT_EQ(s.store(StoreCmd::Add, "k", "one", 7, 0, 0, kNow, nullptr), StoreStatus::Stored);
  EXPECT_EQ(s.store(StoreCmd::Add, "k", "two", 0, 0, 0, kNow, nullptr), StoreStatus::NotStored);
  EXPECT_EQ(value_of(s, "k"), "one");
  EXPECT_EQ(s.get("k", kNow).flags(), 7u);
  EXPECT_EQ(s.store(StoreCmd::Replace, "k", "three", 9, 0, 0, kNow, nullptr), StoreStatus::Stored);
  EXPECT_EQ(s.store(StoreCmd::Append, "k", "+a", 1, 0, 0, kNow, nullptr), StoreStatus::Stored);
  EXPECT_EQ(s.store(StoreCmd::Prepend, "k", "p-", 2, 0, 0, kNow, nullptr), StoreStatus::Stored);
  EXPECT_EQ(value_of(s, "k"), "p-three+a");
  EXPECT_EQ(s.get("k", kNow).flags(), 9u) << "append/prepend keep the item's flags";
  EXPECT_EQ(set(s, "empty", ""), StoreStatus::Stored);
  EXPECT_EQ(value_of(s, "empty"), "");
  EXPECT_EQ(s.get("empty", kNow).value_with_crlf(), "\r\n");
}

TEST(McStore, CasUniqueAndConflicts) {
  Store s(StoreConfig{});
  uint64_t c1 = 0, c2 = 0, c3 = 0;
  ASSERT_EQ(s.store(StoreCmd::Set, "a", "1", 0, 0, 0, kNow, &c1), StoreStatus::Stored);
  ASSERT_EQ(s.store(StoreCmd::Set, "b", "1", 0, 0, 0, kNow, &c2), StoreStatus::Stored);
  ASSERT_EQ(s.store(StoreCmd::Set, "a", "2", 0, 0, 0, kNow, &c3), StoreStatus::Stored);
  EXPECT_NE(c1, 0u);
  EXPECT_NE(c1, c2);
  EXPECT_NE(c1, c3);
  EXPECT_EQ(s.get("a", kNow).cas(), c3);
  EXPECT_EQ(s.store(StoreCmd::Cas, "a", "x", 0, 0, c1, kNow, nullptr), StoreStatus::Exists);
  EXPECT_EQ(s.store(StoreCmd::Cas, "zz", "x", 0, 0, c1, kNow, nullptr), StoreStatus::NotFound);
  uint64_t c4 = 0;
  EXPECT_EQ(s.store(StoreCmd::Cas, "a", "x", 0, 0, c3, kNow, &c4), StoreStatus::Stored);
  EXPECT_NE(c4, c3);
  EXPECT_EQ(s.store(StoreCmd::Cas, "a", "y", 0, 0, c3, kNow, nullptr), StoreStatus::Exists)
      << "a cas value is good for one update only";
  EXPECT_EQ(s.remove("a", c3, kNow), DeleteStatus::Exists);
  EXPECT_EQ(s.remove("a", c4, kNow), DeleteStatus::Deleted);
  EXPECT_EQ(s.remove("a", 0, kNow), DeleteStatus::NotFound);
  // Append with a stale cas is refused too.
  ASSERT_EQ(s.store(StoreCmd::Set, "b", "1", 0, 0, 0, kNow, &c1), StoreStatus::Stored);
  EXPECT_EQ(s.store(StoreCmd::Append, "b", "2", 0, 0, c1 + 1000, kNow, nullptr),
            StoreStatus::Exists);
  EXPECT_EQ(s.store(StoreCmd::Append, "b", "2", 0, 0, c1, kNow, nullptr), StoreStatus::Stored);
  EXPECT_EQ(value_of(s, "b"), "12");
}

TEST(McStore, ItemStaysValidWhileReplaced) {
  Store s(StoreConfig{});
  set(s, "k", std::string(1000, 'a'));
  ItemRef held = s.get("k", kNow);
  set(s, "k", std::string(1000, 'b'));
  s.remove("k", 0, kNow);
  s.flush_all(0, kNow);
  EXPECT_EQ(held.value(), std::string(1000, 'a')) << "the value a reply is sending never changes";
  EXPECT_EQ(held.key(), "k");
}

TEST(McStore, ExpiryIsLazyOnAccess) {
  Store s(StoreConfig{});
  set(s, "rel", "v", absolute_exptime(10, kNow));
  set(s, "abs", "v", absolute_exptime(int64_t(kNow) + 5, kNow) /* > 30 days: absolute */);
  set(s, "neg", "v", absolute_exptime(-1, kNow));
  set(s, "never", "v", 0);
  EXPECT_EQ(value_of(s, "neg"), "<miss>");
  EXPECT_EQ(value_of(s, "rel", kNow + 9), "v");
  EXPECT_EQ(value_of(s, "abs", kNow + 4), "v");
  EXPECT_EQ(value_of(s, "abs", kNow + 5), "<miss>");
  EXPECT_EQ(value_of(s, "rel", kNow + 10), "<miss>");
  EXPECT_EQ(value_of(s, "never", kNow + 100000000), "v");
  EXPECT_EQ(s.stats(kNow + 10).curr_items, 1u) << "expired items were unlinked when touched";
  // An expired key behaves as missing for add.
  set(s, "x", "old", kNow + 1);
  EXPECT_EQ(s.store(StoreCmd::Add, "x", "new", 0, 0, 0, kNow + 1, nullptr), StoreStatus::Stored);
  EXPECT_EQ(value_of(s, "x", kNow + 1), "new");
}

TEST(McStore, TouchChangesExpiry) {
  Store s(StoreConfig{});
  set(s, "k", "v", kNow + 10);
  ItemRef t = s.touch("k", kNow + 100, kNow + 5);
  ASSERT_TRUE(t);
  EXPECT_EQ(t.exptime(), kNow + 100);
  EXPECT_EQ(value_of(s, "k", kNow + 50), "v");
  EXPECT_FALSE(s.touch("nope", 0, kNow));
  EXPECT_TRUE(s.touch("k", 0, kNow));
  EXPECT_EQ(value_of(s, "k", kNow + 1000000), "v");
}

TEST(McStore, DeltaIncrDecr) {
  Store s(StoreConfig{});
  uint64_t v = 0, cas = 0;
  EXPECT_EQ(s.delta("n", true, 1, kNow, &v, &cas), DeltaStatus::NotFound);
  set(s, "n", "10");
  EXPECT_EQ(s.delta("n", true, 5, kNow, &v, &cas), DeltaStatus::Ok);
  EXPECT_EQ(v, 15u);
  EXPECT_EQ(s.get("n", kNow).cas(), cas);
  EXPECT_EQ(s.delta("n", false, 100, kNow, &v, nullptr), DeltaStatus::Ok);
  EXPECT_EQ(v, 0u) << "decr stops at 0";
  set(s, "n", "18446744073709551615");
  EXPECT_EQ(s.delta("n", true, 2, kNow, &v, nullptr), DeltaStatus::Ok);
  EXPECT_EQ(v, 1u) << "incr wraps at 2^64";
  EXPECT_EQ(value_of(s, "n"), "1" + std::string(19, ' ')) << "in place, as memcached pads it";
  set(s, "t", "abc");
  EXPECT_EQ(s.delta("t", true, 1, kNow, &v, nullptr), DeltaStatus::NonNumeric);
  set(s, "t", "");
  EXPECT_EQ(s.delta("t", true, 1, kNow, &v, nullptr), DeltaStatus::NonNumeric);
  set(s, "t", "18446744073709551616");
  EXPECT_EQ(s.delta("t", true, 1, kNow, &v, nullptr), DeltaStatus::NonNumeric);
  set(s, "t", "12 ");
  EXPECT_EQ(s.delta("t", true, 1, kNow, &v, nullptr), DeltaStatus::Ok);
  EXPECT_EQ(v, 13u);
}

TEST(McStore, DeltaRequestAutovivifyAndCas) {
  Store s(StoreConfig{});
  DeltaRequest r;
  r.autoviv = true;
  r.initial = 42;
  r.autoviv_exptime = kNow + 5;
  DeltaResult res;
  EXPECT_EQ(s.delta("c", r, kNow, &res), DeltaResultStatus::Created);
  EXPECT_EQ(res.value, 42u);
  EXPECT_EQ(res.item.exptime(), kNow + 5);
  EXPECT_EQ(s.delta("c", r, kNow, &res), DeltaResultStatus::Ok);
  EXPECT_EQ(res.value, 43u);
  DeltaRequest bad;
  bad.cas_in = res.item.cas() + 1;
  EXPECT_EQ(s.delta("c", bad, kNow, &res), DeltaResultStatus::Exists);
  DeltaRequest ttl;
  ttl.update_exptime = true;
  ttl.new_exptime = 0;
  EXPECT_EQ(s.delta("c", ttl, kNow, &res), DeltaResultStatus::Ok);
  EXPECT_EQ(value_of(s, "c", kNow + 100), "44");
}

TEST(McStore, FlushAllNowAndDelayed) {
  Store s(StoreConfig{});
  set(s, "a", "1");
  s.flush_all(0, kNow);
  EXPECT_EQ(value_of(s, "a"), "<miss>");
  set(s, "b", "2");
  EXPECT_EQ(value_of(s, "b"), "2") << "stored after the flush, in the same second";
  s.flush_all(kNow + 10, kNow);
  set(s, "c", "3", 0, kNow + 5);
  EXPECT_EQ(value_of(s, "b", kNow + 9), "2");
  EXPECT_EQ(value_of(s, "c", kNow + 9), "3");
  EXPECT_EQ(value_of(s, "b", kNow + 10), "<miss>");
  EXPECT_EQ(value_of(s, "c", kNow + 10), "<miss>") << "stored before the flush time came";
  set(s, "d", "4", 0, kNow + 11);
  EXPECT_EQ(value_of(s, "d", kNow + 12), "4");
  EXPECT_GE(s.stats(kNow + 12).get_flushed, 2u);
}

TEST(McStore, ItemSizeLimit) {
  StoreConfig cfg;
  cfg.item_size_max = 4096;
  Store s(cfg);
  set(s, "k", "small");
  EXPECT_EQ(set(s, "k", std::string(4096, 'x')), StoreStatus::TooLarge);
  EXPECT_EQ(value_of(s, "k"), "<miss>") << "a set too large removes the old value (as memcached)";
  set(s, "k", std::string(3000, 'x'));
  EXPECT_EQ(s.store(StoreCmd::Append, "k", std::string(2000, 'y'), 0, 0, 0, kNow, nullptr),
            StoreStatus::TooLarge);
  EXPECT_EQ(value_of(s, "k").size(), 3000u) << "a failed append keeps the value";
  EXPECT_EQ(s.store(StoreCmd::Add, "q", std::string(5000, 'x'), 0, 0, 0, kNow, nullptr),
            StoreStatus::TooLarge);
}

TEST(McStore, CountersAreRewrittenInPlaceAsMemcachedDoes) {
  Store s(StoreConfig{});
  ASSERT_EQ(set(s, "n", "100"), StoreStatus::Stored);
  uint64_t v = 0;
  ASSERT_EQ(s.delta("n", false, 1, kNow, &v, nullptr), DeltaStatus::Ok);
  EXPECT_EQ(v, 99u);
  EXPECT_EQ(value_of(s, "n"), "99 ") << "padded with spaces to the old length";
  ASSERT_EQ(s.delta("n", true, 1000, kNow, &v, nullptr), DeltaStatus::Ok);
  EXPECT_EQ(value_of(s, "n"), "1099") << "longer than before: a fresh value, no padding";
  // The item keeps its marks through an in-place rewrite: fetched, stale.
  ItemHistory h;
  ASSERT_EQ(set(s, "m", "10"), StoreStatus::Stored);
  ASSERT_TRUE(s.get("m", kNow));  // fetched
  ASSERT_EQ(s.delta("m", true, 1, kNow, &v, nullptr), DeltaStatus::Ok);
  ASSERT_TRUE(s.get("m", kNow, &h));
  EXPECT_TRUE(h.fetched_before);
  ASSERT_EQ(s.invalidate("m", 0, nullptr, kNow), DeleteStatus::Deleted);
  ASSERT_EQ(s.delta("m", true, 1, kNow, &v, nullptr), DeltaStatus::Ok);
  EXPECT_TRUE(s.get("m", kNow).is_stale());
  // A counter set and never read stays unfetched through incr.
  ASSERT_EQ(set(s, "u", "7"), StoreStatus::Stored);
  ASSERT_EQ(s.delta("u", true, 1, kNow, &v, nullptr), DeltaStatus::Ok);
  ASSERT_TRUE(s.get("u", kNow, &h));
  EXPECT_FALSE(h.fetched_before);
}

TEST(McStore, ClockEvictionKeepsWhatWasRead) {
  const std::string v(1000, 'v');
  const uint64_t each = detail::Item::footprint_for(2, v.size());
  StoreConfig cfg;
  cfg.stripes = 1;  // one CLOCK hand: the choice is deterministic
  cfg.memory_limit = each * 3;
  Store s(cfg);
  set(s, "k1", v, 0, kNow);
  set(s, "k2", v, 0, kNow + 1);
  set(s, "k3", v, 0, kNow + 2);
  EXPECT_EQ(s.stats(kNow).bytes, each * 3);
  EXPECT_TRUE(s.get("k1", kNow + 3));  // k1 is referenced: the hand passes it once
  set(s, "k4", v, 0, kNow + 4);
  EXPECT_EQ(value_of(s, "k2", kNow + 5), "<miss>") << "the oldest unreferenced item goes first";
  EXPECT_NE(value_of(s, "k1", kNow + 5), "<miss>");
  EXPECT_NE(value_of(s, "k3", kNow + 5), "<miss>");
  EXPECT_NE(value_of(s, "k4", kNow + 5), "<miss>");
  const StoreStats st = s.stats(kNow + 5);
  EXPECT_EQ(st.evictions, 1u);
  EXPECT_EQ(st.evicted_unfetched, 1u);
  EXPECT_LE(st.bytes, cfg.memory_limit);
  // An expired item is reclaimed before a live one is evicted.
  set(s, "k5", v, kNow + 6, kNow + 5);  // evicts one of k1, k3, k4; k5 expires at kNow + 6
  set(s, "k6", v, 0, kNow + 7);         // the expired k5 makes room
  const StoreStats st2 = s.stats(kNow + 7);
  EXPECT_EQ(st2.evictions, 2u);
  EXPECT_EQ(st2.reclaimed, 1u);
  EXPECT_EQ(st2.curr_items, 3u);
  EXPECT_EQ(value_of(s, "k6", kNow + 7), v);
  EXPECT_LE(st2.bytes, cfg.memory_limit);
}

TEST(McStore, NoEvictionsAnswersNoMemoryButReclaimsDeadItems) {
  const std::string v(1000, 'v');
  StoreConfig cfg;
  cfg.stripes = 1;
  cfg.memory_limit = detail::Item::footprint_for(2, v.size()) * 2;
  cfg.evict = false;  // memcached -M
  Store s(cfg);
  ASSERT_EQ(set(s, "k1", v, kNow + 10, kNow), StoreStatus::Stored);
  ASSERT_EQ(set(s, "k2", v, 0, kNow), StoreStatus::Stored);
  EXPECT_EQ(set(s, "k3", v, 0, kNow + 1), StoreStatus::NoMemory) << "full, and nothing is dead";
  EXPECT_EQ(value_of(s, "k1", kNow + 1), v) << "nothing was evicted";
  EXPECT_EQ(value_of(s, "k2", kNow + 1), v);
  EXPECT_EQ(set(s, "k3", v, 0, kNow + 20), StoreStatus::Stored) << "k1 expired: reclaimed";
  const StoreStats st = s.stats(kNow + 20);
  EXPECT_EQ(st.evictions, 0u);
  EXPECT_EQ(st.reclaimed, 1u);
}

// memcached 1.6 fits 64 MiB / 96 B chunks of 10-byte values with 12-byte
// keys (its 56-byte header with cas puts them in the 96-byte class); the
// 48-byte header must fit at least as many in the same limit, whatever the
// eviction policy does meanwhile.
TEST(McStore, SmallItemsFitAtLeastAsDenselyAsMemcached) {
  StoreConfig cfg;
  cfg.memory_limit = 1 << 20;
  Store s(cfg);
  char key[16];
  for (int i = 0; i < 20000; ++i) {
    std::snprintf(key, sizeof key, "key:%08d", i);
    ASSERT_EQ(set(s, key, "0123456789"), StoreStatus::Stored);
  }
  const StoreStats st = s.stats(kNow);
  EXPECT_GT(st.evictions, 0u);
  EXPECT_GE(st.curr_items, (1u << 20) / 96);
  EXPECT_EQ(detail::Item::footprint_for(12, 10), 80u);
}

TEST(McStore, EvictionAcrossManyStripesStaysUnderLimit) {
  StoreConfig cfg;
  cfg.memory_limit = 1 << 20;
  Store s(cfg);
  const std::string v(700, 'x');
  for (int i = 0; i < 5000; ++i)
    ASSERT_EQ(set(s, "key" + std::to_string(i), v), StoreStatus::Stored);
  const StoreStats st = s.stats(kNow);
  EXPECT_LE(st.bytes, cfg.memory_limit);
  EXPECT_GT(st.evictions, 0u);
  EXPECT_GT(st.curr_items, 1000u);
  EXPECT_EQ(value_of(s, "key4999"), v) << "the newest item survives";
}

TEST(McStore, NoMemoryWhenItemExceedsLimit) {
  StoreConfig cfg;
  cfg.memory_limit = 3000;
  Store s(cfg);
  EXPECT_EQ(set(s, "k", std::string(1500, 'x')), StoreStatus::Stored);
  EXPECT_EQ(set(s, "k2", std::string(1900, 'x')), StoreStatus::Stored) << "evicts k";
  EXPECT_EQ(value_of(s, "k"), "<miss>");
  EXPECT_EQ(set(s, "k3", std::string(5000, 'x')), StoreStatus::NoMemory);
}

TEST(McStore, ManyThreadsHammerOneStore) {
  StoreConfig cfg;
  cfg.memory_limit = 2 << 20;
  cfg.stripes = 64;
  Store s(cfg);
  set(s, "counter", "0");
  constexpr int kThreads = 4, kOps = 20000;
  std::atomic<int> bad{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      uint64_t v = 0;
      for (int i = 0; i < kOps; ++i) {
        const std::string key = "k" + std::to_string((i * 7 + t) % 500);
        const std::string val(100 + (i % 400), static_cast<char>('a' + t));
        switch (i % 5) {
          case 0:
          case 1:
            set(s, key, val);
            break;
          case 2: {
            ItemRef r = s.get(key, kNow);
            // A value is always one writer's whole value, never a mix.
            if (r && (r.value().find_first_not_of(r.value()[0]) != std::string_view::npos)) ++bad;
            break;
          }
          case 3:
            s.remove(key, 0, kNow);
            break;
          case 4:
            if (s.delta("counter", true, 1, kNow, &v, nullptr) != DeltaStatus::Ok) ++bad;
            break;
        }
      }
    });
  }
  for (auto &t : ts) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(value_of(s, "counter"), std::to_string(kThreads * kOps / 5)) << "no increment is lost";
  EXPECT_LE(s.stats(kNow).bytes, cfg.memory_limit);
}

}  // namespace
}  // namespace ix::mc
