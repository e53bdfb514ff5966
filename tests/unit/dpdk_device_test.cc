// The DPDK driver over virtual devices in --no-huge mode: net_ring (a ring
// that loops TX back to RX, no RSS) and net_null (a sink with an RSS
// indirection table). The EAL can start only once per process, so every test
// here shares one set of EAL arguments (dpdk_rig.hh) and opens and closes
// ports within it; the one test of a failing start runs in a child process.
#include "drivers/dpdk/dpdk_device.hh"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "config/config.hh"
#include "dpdk_rig.hh"
#include "drivers/dpdk/dpdk_config.hh"
#include "drivers/dpdk/eal.hh"
#include "mem/mbuf_pool.hh"
#include "net/rss.hh"
#include "test_frames.hh"

namespace ix::drivers {
namespace {

namespace tf = ix::test_frames;

template <typename E, typename F>
std::string message_of(F &&f) {
  try {
    f();
  } catch (const E &e) {
    return e.what();
  } catch (const std::exception &e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
    return {};
  }
  ADD_FAILURE() << "no exception";
  return {};
}

TEST(DpdkConfig, SplitsEalArgumentsLikeAShell) {
  EXPECT_EQ(split_eal_args(""), std::vector<std::string>{});
  EXPECT_EQ(split_eal_args("  --no-huge   -m 512 "),
            (std::vector<std::string>{"--no-huge", "-m", "512"}));
  EXPECT_EQ(split_eal_args("--vdev='net_memif0,role=server' -a \"0000:01:00.0\" ''"),
            (std::vector<std::string>{"--vdev=net_memif0,role=server", "-a", "0000:01:00.0", ""}));
  EXPECT_EQ(split_eal_args("--vdev=\"a b\""), std::vector<std::string>{"--vdev=a b"});
  EXPECT_TRUE(
      Contains(message_of<std::invalid_argument>([] { split_eal_args("-a 'x"); }), "unclosed '"));
  DpdkConfig c;
  c.queues = 0;
  EXPECT_TRUE(Contains(message_of<std::invalid_argument>([&] { validate(c); }), "queues"));
  c.queues = 1;
  c.port = "net ring";
  EXPECT_TRUE(Contains(message_of<std::invalid_argument>([&] { validate(c); }), "dpdk_port"));
}

// `--dpdk-args "--no-huge ..."` takes the next argument even though it
// starts with "--", and a config file may quote the whole list.
TEST(DpdkConfig, OptionsReachTheDataplaneConfig) {
  config::DataplaneConfig c;
  const char *argv[] = {
      "ix",          "--driver",   "dpdk",        "--dpdk-args", "--no-huge -m 512",
      "--dpdk-port", "net_memif0", "--host-addr", "10.0.0.2/24", nullptr};
  auto r = config::parse_args(9, argv, {}, c);
  ASSERT_EQ(r.status, config::ParseResult::kOk) << r.message;
  EXPECT_EQ(c.driver, "dpdk");
  EXPECT_EQ(c.dpdk_args, "--no-huge -m 512");
  EXPECT_EQ(c.dpdk_port, "net_memif0");
  EXPECT_TRUE(Contains(config::describe(c), "driver dpdk on port net_memif0"));

  config::DataplaneConfig f;
  auto rf = config::parse_config_text(
      "driver = dpdk\n"
      "dpdk_args = \"--no-huge --vdev='net_memif0,role=client,id=1' -m 512\"\n"
      "host_addr = 10.0.0.3/24\n"
      "dpdk_tx_zero_copy = off\n",
      "test.conf", {}, f);
  ASSERT_EQ(rf.status, config::ParseResult::kOk) << rf.message;
  EXPECT_EQ(
      split_eal_args(f.dpdk_args),
      (std::vector<std::string>{"--no-huge", "--vdev=net_memif0,role=client,id=1", "-m", "512"}));
  EXPECT_TRUE(c.dpdk_tx_zero_copy);  // on unless said otherwise
  EXPECT_FALSE(f.dpdk_tx_zero_copy);

  config::DataplaneConfig bad;
  const char *bad_argv[] = {"ix", "--dpdk-tx-zero-copy", "maybe", nullptr};
  auto rb = config::parse_args(3, bad_argv, {}, bad);
  EXPECT_EQ(rb.status, config::ParseResult::kError);
  EXPECT_TRUE(Contains(rb.message, "maybe")) << rb.message;
}

// The copying TX path (dpdk_zero_copy_test.cc has the other).
TEST(DpdkDevice, RingPortLoopsFramesBackThroughOneQueue) {
  DpdkConfig cfg = config_for("net_ring0");
  cfg.tx_zero_copy = false;
  DpdkDevice dev(cfg);
  EXPECT_TRUE(Contains(dev.describe(), "TX copies every frame (dpdk_tx_zero_copy is off)"));
  EXPECT_EQ(dev.name(), "net_ring0");
  EXPECT_EQ(dev.port_info().driver, "net_ring");
  EXPECT_EQ(dev.caps().rx_queues, 1);
  EXPECT_FALSE(dev.caps().rss);  // net_ring has no RSS; with one queue that is no warning
  EXPECT_TRUE(dev.warnings().empty());
  EXPECT_FALSE(dev.caps().tx_l4_csum);  // no offloads: the stack computes checksums
  EXPECT_TRUE(dev.caps().tx_multi_seg);
  EXPECT_TRUE(Contains(dev.describe(), "RSS none"));

  mem::MbufPool pool(small_pool());
  dev.set_rx_pool(0, &pool);
  mem::Mbuf *early[1];
  EXPECT_EQ(dev.rx_burst(0, early, 1), 0);  // not started: nothing moves
  dev.start();

  // Three frames: a plain one, one whose payload is a second segment in
  // "application" memory (gathered by the TX copy), and a minimum-size one.
  FrameTrio f(pool, 7);
  const std::vector<uint8_t> &a = f.a, &b = f.b, &c = f.c;
  mem::Mbuf **out = f.out;
  const int &releases = f.releases;
  const uint32_t before = pool.available();
  ASSERT_EQ(dev.tx_burst(0, out, 3), 3);
  EXPECT_EQ(releases, 1);  // the application memory was copied: released at once
  EXPECT_EQ(pool.available(), before + 4);

  auto got = receive(dev, 0, 3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(tf::bytes_of(got[0]), a);
  EXPECT_EQ(tf::bytes_of(got[1]), b);
  EXPECT_EQ(tf::bytes_of(got[2]), c);
  for (mem::Mbuf *m : got) {
    EXPECT_EQ(m->pool, &pool);  // copied into the elastic thread's own pool
    EXPECT_EQ(m->rx_queue, 0);
    EXPECT_EQ(m->ol_flags & (mem::kRxIpCsumGood | mem::kRxL4CsumGood), 0u);
    mem::MbufPool::free_chain(m);
  }
  const QueueStats st = dev.stats(0);
  EXPECT_EQ(st.tx_packets, 3u);
  EXPECT_EQ(st.rx_packets, 3u);
  EXPECT_EQ(st.tx_bytes, a.size() + b.size() + c.size());
  EXPECT_EQ(st.rx_bytes, st.tx_bytes);
  EXPECT_EQ(st.tx_dropped, 0u);
}

TEST(DpdkDevice, ReceivedFramesAreLentInTheirRteMbufsUntilTheLoanIsUsedUp) {
  // Sent frames are copied into rte_mbufs, so every received one is in the
  // PMD's memory, not the pool's.
  DpdkConfig cfg = config_for("net_ring0");
  cfg.tx_zero_copy = false;
  DpdkDevice dev(cfg);
  const uint32_t loan = dev.port_info().rx_loan;
  ASSERT_GT(loan, 0u);
  EXPECT_TRUE(Contains(dev.describe(), std::to_string(loan) + " received frames lent"));
  mem::MbufPoolConfig pc = small_pool();
  pc.count = 2 * loan + 64;
  mem::MbufPool pool(pc);
  dev.set_rx_pool(0, &pool);
  dev.start();

  // Send loan + 10 frames in bursts and hold every received one: the first
  // `loan` arrive in the PMD's buffers, the rest are copies.
  std::vector<std::vector<uint8_t>> sent;
  std::vector<mem::Mbuf *> held;
  for (uint32_t i = 0; i < loan + 10; ++i) {
    tf::UdpSpec s;
    s.payload = tf::seq_payload(i, 100 + i % 700);
    sent.push_back(tf::udp_frame(s));
    mem::Mbuf *m = tf::to_mbuf(pool, sent.back());
    ASSERT_EQ(dev.tx_burst(0, &m, 1), 1);
    auto got = receive(dev, 0, 1);
    ASSERT_EQ(got.size(), 1u) << "frame " << i;
    held.push_back(got[0]);
  }
  uint32_t lent = 0;
  for (uint32_t i = 0; i < held.size(); ++i) {
    mem::Mbuf *m = held[i];
    EXPECT_EQ(tf::bytes_of(m), sent[i]) << "frame " << i;
    EXPECT_EQ(m->pool, &pool);  // the handle is always the elastic thread's
    const bool in_rte_mbuf = !pool.owns(m->data());
    EXPECT_EQ(in_rte_mbuf, m->is_external());
    EXPECT_EQ(in_rte_mbuf, i < loan) << "frame " << i;
    if (in_rte_mbuf) {
      ++lent;
      EXPECT_GE(m->headroom(), 64);  // the rte_mbuf's headroom comes along
    }
  }
  EXPECT_EQ(lent, loan);
  DpdkQueueDrops d = dev.drops(0);
  EXPECT_EQ(d.rx_lent, loan);
  EXPECT_EQ(d.rx_copied, 10u);

  // Freeing returns the rte_mbufs: the next frames are lent again, and
  // reception never stopped while the loan was used up.
  for (mem::Mbuf *m : held) mem::MbufPool::free_chain(m);
  EXPECT_EQ(pool.available(), pool.capacity());
  for (uint32_t i = 0; i < 2 * loan; ++i) {
    tf::UdpSpec s;
    s.payload = tf::seq_payload(1000 + i, 64);
    mem::Mbuf *m = tf::to_mbuf(pool, tf::udp_frame(s));
    ASSERT_EQ(dev.tx_burst(0, &m, 1), 1);
    auto got = receive(dev, 0, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_TRUE(got[0]->is_external()) << "frame " << i << " after the loan came back";
    mem::MbufPool::free_chain(got[0]);
  }
  d = dev.drops(0);
  EXPECT_EQ(d.rx_lent, 3 * loan);
  EXPECT_EQ(dev.stats(0).rx_nombuf, 0u);
}

TEST(DpdkDevice, BadFramesAreDroppedAndCountedNotSent) {
  DpdkDevice dev(config_for("net_ring0"));
  mem::MbufPool pool(small_pool());
  dev.set_rx_pool(0, &pool);
  dev.start();
  tf::UdpSpec s;
  s.payload = tf::seq_payload(1, 100);
  const std::vector<uint8_t> good = tf::udp_frame(s);
  // A chain whose pkt_len disagrees with its segments, then a good frame.
  mem::Mbuf *bad = tf::to_mbuf(pool, good);
  bad->pkt_len += 5;
  mem::Mbuf *out[2] = {bad, tf::to_mbuf(pool, good)};
  EXPECT_EQ(dev.tx_burst(0, out, 2), 2);
  auto got = receive(dev, 0, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(tf::bytes_of(got[0]), good);
  mem::MbufPool::free_chain(got[0]);
  EXPECT_EQ(dev.stats(0).tx_dropped, 1u);
  EXPECT_EQ(dev.drops(0).tx_bad_chain, 1u);

  // With an empty RX pool frames are counted as rx_nombuf, not leaked.
  mem::MbufPoolConfig tiny = small_pool();
  tiny.count = 1;
  mem::MbufPool one(tiny);
  mem::Mbuf *held = one.alloc();
  mem::Mbuf *again[1] = {tf::to_mbuf(pool, good)};
  ASSERT_EQ(dev.tx_burst(0, again, 1), 1);
  dev.set_rx_pool(0, &one);
  mem::Mbuf *burst[4];
  for (int i = 0; i < 1000 && dev.stats(0).rx_nombuf == 0; ++i)
    EXPECT_EQ(dev.rx_burst(0, burst, 4), 0);
  EXPECT_EQ(dev.stats(0).rx_nombuf, 1u);
  one.free_one(held);
}

// Elastic threads are not EAL lcores: bursts from a thread IX created must
// work (the driver registers the thread with the EAL on first use).
TEST(DpdkDevice, QueuesWorkFromNonEalThreads) {
  DpdkDevice dev(config_for("net_ring0", 2));
  ASSERT_EQ(dev.caps().rx_queues, 2);
  // Two queues without RSS: the port says what that means for flows.
  ASSERT_EQ(dev.warnings().size(), 1u);
  EXPECT_TRUE(Contains(dev.warnings()[0], "cannot steer flows by RSS"));
  EXPECT_TRUE(Contains(dev.warnings()[0], "Use one queue"));
  mem::MbufPool p0(small_pool()), p1(small_pool());
  dev.set_rx_pool(0, &p0);
  dev.set_rx_pool(1, &p1);
  dev.start();
  tf::UdpSpec s;
  s.payload = tf::seq_payload(3, 64);
  const std::vector<uint8_t> frame = tf::udp_frame(s);
  size_t received[2] = {0, 0};
  auto run = [&](uint16_t q, mem::MbufPool &pool) {
    for (int i = 0; i < 200; ++i) {
      mem::Mbuf *m[1] = {tf::to_mbuf(pool, frame)};
      while (dev.tx_burst(q, m, 1) == 0) {
      }
      auto got = receive(dev, q, 1);
      for (mem::Mbuf *g : got) {
        received[q] += tf::bytes_of(g) == frame ? 1 : 0;
        mem::MbufPool::free_chain(g);
      }
    }
  };
  std::thread t0(run, 0, std::ref(p0)), t1(run, 1, std::ref(p1));
  t0.join();
  t1.join();
  EXPECT_EQ(received[0], 200u);
  EXPECT_EQ(received[1], 200u);
  EXPECT_TRUE(register_eal_thread());  // this (main) thread is the EAL's own lcore
}

TEST(DpdkDevice, RssUsesIxKeyAndSpreadsFlowGroupsOverQueues) {
  DpdkDevice dev(config_for("net_null0", 3));
  const DpdkPortInfo &info = dev.port_info();
  ASSERT_TRUE(info.rss) << dev.describe();
  EXPECT_TRUE(dev.caps().rss);
  EXPECT_TRUE(info.reta_set);
  EXPECT_GT(info.reta_size, 0);
  EXPECT_EQ(dev.caps().reta_size, info.reta_size);
  EXPECT_TRUE(info.rss_key_ix);
  const std::string_view key = dev.rss_key();
  ASSERT_EQ(key.size(), net::kDefaultRssKey.size());
  EXPECT_EQ(std::memcmp(key.data(), net::kDefaultRssKey.data(), key.size()), 0);
  const net::FlowGroupTable want(info.reta_size, 3);
  const std::vector<uint16_t> reta = dev.read_reta();
  ASSERT_EQ(reta.size(), info.reta_size);
  for (uint16_t g = 0; g < info.reta_size; ++g) EXPECT_EQ(reta[g], want.queue_of_group(g)) << g;
  EXPECT_TRUE(dev.warnings().empty());
  EXPECT_TRUE(Contains(dev.describe(), "RSS with IX's key, table of"));
}

TEST(DpdkDevice, TheRuntimesFlowGroupsGoIntoTheNicsTable) {
  DpdkDevice dev(config_for("net_null0", 3));
  const uint16_t size = dev.port_info().reta_size;
  ASSERT_GT(size, 0);
  // Not round robin: every group to queue 2 except every fifth to queue 0.
  net::FlowGroupTable table(size, 3);
  for (uint16_t g = 0; g < size; ++g) table.assign(g, g % 5 == 0 ? 0 : 2);
  ASSERT_TRUE(dev.set_flow_groups(table));
  const std::vector<uint16_t> reta = dev.read_reta();
  ASSERT_EQ(reta.size(), size);
  for (uint16_t g = 0; g < size; ++g) EXPECT_EQ(reta[g], table.queue_of_group(g)) << g;

  // A table of another size or naming a queue the port lacks changes nothing.
  EXPECT_FALSE(dev.set_flow_groups(net::FlowGroupTable(size / 2, 3)));
  net::FlowGroupTable too_far(size, 3);
  too_far.assign(7, 3);
  EXPECT_FALSE(dev.set_flow_groups(too_far));
  EXPECT_EQ(dev.read_reta(), reta);

  // A port without a table (net_ring) refuses: the runtime steers in software.
  DpdkDevice ring(config_for("net_ring0"));
  EXPECT_FALSE(ring.set_flow_groups(net::FlowGroupTable(128, 1)));
}

TEST(DpdkDeviceErrors, NameTheProblemAndTheFix) {
  const std::string missing =
      message_of<std::runtime_error>([] { DpdkDevice d(config_for("net_nope0")); });
  EXPECT_TRUE(Contains(missing, "no port named 'net_nope0'"));
  EXPECT_TRUE(Contains(missing, "net_ring0"));  // lists what exists
  EXPECT_TRUE(Contains(missing, "--vdev=net_nope0"));
  EXPECT_TRUE(Contains(message_of<std::runtime_error>([] { DpdkDevice d(config_for("77")); }),
                       "no port 77"));
  EXPECT_TRUE(Contains(message_of<std::runtime_error>([] { DpdkDevice d(config_for("")); }),
                       "choose one with --dpdk-port"));

  const std::string queues =
      message_of<std::runtime_error>([] { DpdkDevice d(config_for("net_ring0", 17)); });
  EXPECT_TRUE(Contains(queues, "offers 16 RX / 16 TX queue(s), but 17 are needed"));
  EXPECT_TRUE(Contains(queues, "use fewer cores"));

  {
    DpdkDevice first(config_for("net_ring0"));
    EXPECT_TRUE(Contains(message_of<std::runtime_error>([] { DpdkDevice d(config_for("0")); }),
                         "already open"));
  }
  DpdkDevice reopened(config_for("net_ring0"));  // closing released the port

  DpdkConfig huge = config_for("net_null0");
  huge.pool_mbufs = 1u << 20;  // ~2.3 GiB: more than -m 256 gives
  const std::string pool = message_of<std::runtime_error>([&] { DpdkDevice d(huge); });
  EXPECT_TRUE(Contains(pool, "cannot reserve a mempool of 1048576 mbufs"));
  EXPECT_TRUE(Contains(pool, "-m 1024"));
  EXPECT_TRUE(Contains(pool, "nr_hugepages"));
  DpdkDevice after(config_for("net_null0"));  // the failure left the port usable

  DpdkConfig other = config_for("net_ring0");
  other.eal_args = "--no-huge -m 64";
  const std::string twice = message_of<std::invalid_argument>([&] { DpdkDevice d(other); });
  EXPECT_TRUE(Contains(twice, "already runs in this process"));
  EXPECT_TRUE(Contains(twice, "only once per process"));
}

TEST(DpdkDeviceErrors, ATrustedLinkIsOnlyForMemif) {
  DpdkConfig ring = config_for("net_ring0");
  ring.trusted_link = true;
  const std::string msg = message_of<std::runtime_error>([&] { DpdkDevice d(ring); });
  EXPECT_TRUE(Contains(msg, "net_memif")) << msg;
  EXPECT_TRUE(Contains(msg, "driver net_ring")) << msg;
  EXPECT_TRUE(Contains(msg, "turn trusted_link off")) << msg;
  DpdkDevice after(config_for("net_ring0"));  // the refusal left the port usable
  EXPECT_FALSE(after.caps().rx_l4_csum);      // and an untrusted ring claims no offload
}

// A failing EAL start cannot be retried in its process, so it runs in a
// freshly executed child (gtest's threadsafe death-test style re-executes
// the binary, where no EAL runs yet).
TEST(DpdkEalDeathTest, FailingStartSaysWhyAndHow) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto try_bad_eal = [] {
    try {
      init_eal("--no-huge --definitely-not-an-eal-option");
    } catch (const std::runtime_error &e) {
      std::fprintf(stderr, "%s\n", e.what());
      std::_Exit(3);
    }
    std::_Exit(0);
  };
  EXPECT_EXIT(try_bad_eal(), ::testing::ExitedWithCode(3),
              "EAL initialisation failed with '--no-huge --definitely-not-an-eal-option'.*"
              "--no-huge -m 512");
}

}  // namespace
}  // namespace ix::drivers
