// ixev end to end: two elastic threads joined by the loop wire, each driven
// by an ixev event loop over ix_run_io with a manual clock. Thread b serves
// echo (zero copy or copying), a greeting that closes first, or refuses;
// thread a runs clients that verify every byte.
#include "ix/ixev.hh"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "api/io_context.hh"
#include "core/elastic_thread.hh"
#include "drivers/loop/loop_wire.hh"
#include "timing/clock.hh"

namespace ix {
namespace {

using ev::Bytes;
using ev::Conn;
using ev::Ixev;

constexpr uint32_t kAddrA = (10u << 24) | 1;
constexpr uint32_t kAddrB = (10u << 24) | 2;
constexpr uint16_t kZcEchoPort = 7;
constexpr uint16_t kCopyEchoPort = 8;
constexpr uint16_t kGreetPort = 9;
constexpr uint16_t kRefusePort = 10;
constexpr int kUnset = 1;

core::ElasticThreadConfig config_for(unsigned id, net::MacAddr mac, uint32_t addr) {
  core::ElasticThreadConfig c;
  c.id = id;
  c.pool.count = 4096;
  c.pool.try_huge_pages = false;
  c.stack.mac = mac;
  c.stack.addr = net::Ipv4Addr{addr};
  c.stack.prefix_len = 8;
  c.stack.gratuitous_arp = false;
  return c;
}

std::vector<uint8_t> pattern(size_t n, uint32_t seed) {
  std::vector<uint8_t> v(n);
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1103515245u + 12345u;
    v[i] = static_cast<uint8_t>(x >> 16);
  }
  return v;
}

// ---- the server side (thread b) ----

enum class Mode { kZeroCopyEcho, kCopyEcho, kGreet };

struct ServerConn final : Conn {
  ServerConn(Ixev &ev, Mode mode) : ev(ev), mode(mode) {}

  void on_connected(int status) override {
    if (status != IX_OK) return;
    if (mode == Mode::kZeroCopyEcho) ev.set_manual_release(*this, true);
    if (mode == Mode::kGreet) {
      static const char kHello[] = "hello, then goodbye";
      EXPECT_EQ(ev.send(*this, kHello, sizeof kHello - 1), static_cast<int64_t>(sizeof kHello - 1));
      EXPECT_EQ(ev.close(*this), IX_OK);
      EXPECT_EQ(ev.send(*this, kHello, 1), IX_ECLOSED);
    }
  }
  void on_readable() override {
    if (mode == Mode::kZeroCopyEcho) {
      for (Bytes b = ev.recv_zc(*this, SIZE_MAX); b.len > 0; b = ev.recv_zc(*this, SIZE_MAX)) {
        const ix_iovec iov{b.data, b.len};
        EXPECT_EQ(ev.sendv_zc(*this, &iov, 1, b.len), IX_OK);
      }
    } else if (mode == Mode::kCopyEcho) {
      copy_echo();
    } else {
      uint8_t sink[256];
      while (ev.recv(*this, sink, sizeof sink) > 0) {
      }
    }
    maybe_close();
  }
  void on_writable() override {
    ++writable_calls;
    copy_echo();
    maybe_close();
  }
  void on_sent(uint64_t bytes) override { EXPECT_EQ(ev.recv_release(*this, bytes), IX_OK); }
  void on_hangup(int status) override { hangup = status; }

  // Reads only while the echo fits the send buffer; what did not fit waits
  // in `held` for on_writable.
  void copy_echo() {
    for (;;) {
      while (held_off < held.size()) {
        const int64_t n = ev.send(*this, held.data() + held_off, held.size() - held_off);
        if (n <= 0) return;
        held_off += static_cast<size_t>(n);
      }
      held.resize(3000);
      held_off = 0;
      const int64_t n = ev.recv(*this, held.data(), held.size());
      held.resize(n > 0 ? static_cast<size_t>(n) : 0);
      if (n <= 0) return;
    }
  }
  void maybe_close() {
    if (!closing && mode != Mode::kGreet && ev.peer_closed(*this) &&
        ev.readable_bytes(*this) == 0 && held_off >= held.size()) {
      closing = true;
      EXPECT_EQ(ev.close(*this), IX_OK);
    }
  }

  Ixev &ev;
  Mode mode;
  std::vector<uint8_t> held;
  size_t held_off = 0;
  bool closing = false;
  int hangup = kUnset;
  int writable_calls = 0;
};

struct Server final : ev::Listener {
  explicit Server(Ixev &ev) : ev(ev) {}
  Conn *on_knock(const ix_endpoint &remote, const ix_endpoint &local) override {
    EXPECT_EQ(remote.addr, kAddrA);
    EXPECT_EQ(local.addr, kAddrB);
    Mode mode;
    switch (local.port) {
      case kZcEchoPort:
        mode = Mode::kZeroCopyEcho;
        break;
      case kCopyEchoPort:
        mode = Mode::kCopyEcho;
        break;
      case kGreetPort:
        mode = Mode::kGreet;
        break;
      default:
        return nullptr;  // refused
    }
    conns.push_back(std::make_unique<ServerConn>(ev, mode));
    return conns.back().get();
  }
  Ixev &ev;
  std::vector<std::unique_ptr<ServerConn>> conns;
};

// ---- the client side (thread a) ----

struct Client final : Conn {
  explicit Client(Ixev &ev) : ev(ev) {}

  // Queues `data`: copying through send() (refilled from on_writable) or
  // zero copy in one sendv_zc.
  void write(const std::vector<uint8_t> &data, bool zero_copy, uint64_t cookie = 0) {
    if (zero_copy) {
      const ix_iovec iov{data.data(), data.size()};
      ASSERT_EQ(ev.sendv_zc(*this, &iov, 1, cookie), IX_OK);
      return;
    }
    src = &data;
    src_off = 0;
    pump();
  }
  void pump() {
    while (src != nullptr && src_off < src->size()) {
      const int64_t n = ev.send(*this, src->data() + src_off, src->size() - src_off);
      if (n <= 0) {
        EXPECT_EQ(n, IX_EAGAIN);
        return;
      }
      src_off += static_cast<size_t>(n);
    }
  }
  void on_connected(int status) override { connected = status; }
  void on_readable() override {
    ++readable_calls;
    for (;;) {
      if (zero_copy_recv) {
        const Bytes b = ev.recv_zc(*this, 777);  // odd size: exercises partial chunks
        if (b.len == 0) break;
        got.insert(got.end(), b.data, b.data + b.len);
      } else {
        uint8_t buf[1000];
        const int64_t n = ev.recv(*this, buf, sizeof buf);
        if (n == 0) eof = true;
        if (n <= 0) break;
        got.insert(got.end(), buf, buf + n);
      }
    }
    if (zero_copy_recv && ev.peer_closed(*this) && ev.readable_bytes(*this) == 0) eof = true;
  }
  void on_writable() override {
    ++writable_calls;
    pump();
  }
  void on_sent(uint64_t cookie) override { sent.push_back(cookie); }
  void on_hangup(int status) override { hangup = status; }

  Ixev &ev;
  const std::vector<uint8_t> *src = nullptr;
  size_t src_off = 0;
  bool zero_copy_recv = false;
  int connected = kUnset;
  int hangup = kUnset;
  bool eof = false;
  int readable_calls = 0;
  int writable_calls = 0;
  std::vector<uint8_t> got;
  std::vector<uint64_t> sent;
};

class IxevTest : public ::testing::Test {
 protected:
  struct IxevConfigs {
    ev::IxevConfig a, b;
  };
  explicit IxevTest(const drivers::LoopWireConfig &wire = {}, const IxevConfigs &cfgs = {})
      : wire_(clock_, wire),
        pa_(wire_.add_port({.name = "a", .mac = mac_a_, .queues = 1})),
        pb_(wire_.add_port({.name = "b", .mac = mac_b_, .queues = 1})),
        ta_(config_for(0, mac_a_, kAddrA), pa_, clock_),
        tb_(config_for(1, mac_b_, kAddrB), pb_, clock_),
        a_(ta_, nullptr),
        b_(tb_, nullptr),
        eva_(&a_, cfgs.a),
        evb_(&b_, cfgs.b),
        server_(evb_) {
    for (uint16_t p : {kZcEchoPort, kCopyEchoPort, kGreetPort, kRefusePort})
      EXPECT_EQ(evb_.listen(p, server_), IX_OK);
  }

  // One round on each side per step of `step_ns`, until done() or the
  // bound; returns whether done() held.
  template <class Done>
  bool pump_until(Done done, int max_rounds = 20000, uint64_t step_ns = 20'000) {
    for (int i = 0; i < max_rounds; ++i) {
      if (done()) return true;
      clock_.advance(step_ns);
      eva_.poll();
      evb_.poll();
    }
    return done();
  }
  std::unique_ptr<Client> dial(uint16_t port) {
    auto c = std::make_unique<Client>(eva_);
    EXPECT_EQ(eva_.dial(*c, ix_endpoint{kAddrB, port, 0}), IX_OK);
    EXPECT_TRUE(pump_until([&] { return c->connected != kUnset; }));
    return c;
  }
  // Echoes `data` over c and checks it comes back intact.
  void echo(Client &c, const std::vector<uint8_t> &data, bool zero_copy, uint64_t cookie) {
    c.got.clear();
    c.write(data, zero_copy, cookie);
    ASSERT_TRUE(pump_until([&] { return c.got.size() >= data.size(); }, 200000))
        << "got " << c.got.size() << " of " << data.size();
    ASSERT_EQ(c.got.size(), data.size());
    ASSERT_TRUE(c.got == data) << "echo of " << data.size() << " bytes differs";
  }
  void close_and_wait(Client &c) {
    ASSERT_EQ(eva_.close(c), IX_OK);
    ASSERT_TRUE(pump_until([&] { return c.hangup != kUnset; }));
  }

  net::MacAddr mac_a_{{0x02, 0, 0, 0, 0, 0x0a}};
  net::MacAddr mac_b_{{0x02, 0, 0, 0, 0, 0x0b}};
  timing::ManualClock clock_;
  drivers::LoopWire wire_;
  drivers::LoopPort &pa_;
  drivers::LoopPort &pb_;
  core::ElasticThread ta_;
  core::ElasticThread tb_;
  api::LocalContext a_;
  api::LocalContext b_;
  Ixev eva_;
  Ixev evb_;
  Server server_;
};

const size_t kSizes[] = {1,     2,     3,     100,   1447,  1448,   1449,  4096,
                         16383, 16384, 16385, 65535, 65536, 100000, 262144};

TEST_F(IxevTest, EchoesEverySizeThroughZeroCopyAndCopyingPaths) {
  struct Case {
    uint16_t port;
    bool zc_send, zc_recv;
  };
  const Case cases[] = {{kZcEchoPort, true, false},
                        {kZcEchoPort, false, true},
                        {kCopyEchoPort, true, true},
                        {kCopyEchoPort, false, false}};
  uint32_t seed = 1;
  for (const Case &k : cases) {
    SCOPED_TRACE(::testing::Message()
                 << "port " << k.port << " zc_send " << k.zc_send << " zc_recv " << k.zc_recv);
    auto c = dial(k.port);
    ASSERT_EQ(c->connected, IX_OK);
    c->zero_copy_recv = k.zc_recv;
    for (size_t size : kSizes) {
      const auto data = pattern(size, seed++);
      echo(*c, data, k.zc_send, size);
      if (::testing::Test::HasFatalFailure()) return;
    }
    if (k.zc_send) {
      // Every zero-copy send was reported once, in order, by its cookie.
      ASSERT_TRUE(pump_until([&] { return c->sent.size() == std::size(kSizes); }));
      EXPECT_TRUE(std::equal(c->sent.begin(), c->sent.end(), std::begin(kSizes)));
    }
    // The client closes first: the server sees the end of the stream,
    // closes too, and both hear an orderly hang-up.
    ServerConn &sc = *server_.conns.back();
    close_and_wait(*c);
    EXPECT_EQ(c->hangup, IX_OK);
    EXPECT_TRUE(pump_until([&] { return sc.hangup != kUnset; }));
    EXPECT_EQ(sc.hangup, IX_OK);
    EXPECT_FALSE(c->attached());
    EXPECT_FALSE(sc.attached());
  }
  EXPECT_EQ(eva_.connections(), 0u);
  EXPECT_EQ(evb_.connections(), 0u);
  EXPECT_EQ(eva_.stats().stale_handles + evb_.stats().stale_handles, 0u);
  EXPECT_EQ(eva_.stats().command_errors + evb_.stats().command_errors, 0u);
}

TEST_F(IxevTest, ServerClosesFirstAndTheClientReadsToTheEnd) {
  auto c = dial(kGreetPort);
  ASSERT_EQ(c->connected, IX_OK);
  ASSERT_TRUE(pump_until([&] { return c->eof; }));
  EXPECT_EQ(std::string(c->got.begin(), c->got.end()), "hello, then goodbye");
  EXPECT_EQ(eva_.recv(*c, nullptr, 10), 0);  // end of stream, again
  EXPECT_EQ(eva_.send(*c, "x", 1), 1);       // half close: the client may still send
  close_and_wait(*c);
  EXPECT_EQ(c->hangup, IX_OK);
  ServerConn &sc = *server_.conns.back();
  EXPECT_TRUE(pump_until([&] { return sc.hangup != kUnset; }));
  EXPECT_EQ(sc.hangup, IX_OK);
}

TEST_F(IxevTest, RefusedKnockResetsTheClient) {
  auto c = dial(kRefusePort);
  // The handshake completes before the server decides, so the client is
  // connected first and then reset.
  ASSERT_TRUE(pump_until([&] { return c->hangup != kUnset || c->connected < 0; }));
  EXPECT_TRUE(c->hangup == IX_ECONNRESET || c->connected == IX_ECONNREFUSED)
      << "connected " << c->connected << " hangup " << c->hangup;
  EXPECT_EQ(evb_.stats().rejected, 1u);
  EXPECT_TRUE(server_.conns.empty());
  EXPECT_EQ(evb_.connections(), 0u);

  // Nobody listens on this port at all: the dial itself fails.
  auto d = std::make_unique<Client>(eva_);
  ASSERT_EQ(eva_.dial(*d, ix_endpoint{kAddrB, 4444, 0}), IX_OK);
  ASSERT_TRUE(pump_until([&] { return d->connected != kUnset; }));
  EXPECT_EQ(d->connected, IX_ECONNREFUSED);
  EXPECT_EQ(d->hangup, kUnset);
  EXPECT_FALSE(d->attached());
  EXPECT_EQ(eva_.dial(*d, ix_endpoint{0, 7, 0}), IX_EINVAL);
}

TEST_F(IxevTest, SendingMoreThanTheWindowIsQueuedAndRetried) {
  // 1.5 MiB in one zero-copy send and 1 MiB through the copying path, far
  // beyond the dataplane's 256 KiB send buffer: ixev keeps what was not
  // taken and feeds it in as acknowledgements free space.
  auto c = dial(kZcEchoPort);
  ASSERT_EQ(c->connected, IX_OK);
  const auto big = pattern(1536 * 1024, 99);
  echo(*c, big, true, 42);
  ASSERT_TRUE(pump_until([&] { return !c->sent.empty(); }));
  EXPECT_EQ(c->sent, std::vector<uint64_t>{42});
  EXPECT_GT(eva_.stats().partial_sends, 0u);
  const auto big2 = pattern(1024 * 1024, 100);
  echo(*c, big2, false, 0);
  EXPECT_GT(c->writable_calls, 0);  // send() ran out of buffer and was told when to go on
  EXPECT_EQ(eva_.send_space(*c), 256u * 1024);
}

TEST_F(IxevTest, CopyingServerWaitsForWritable) {
  // The copying echo server holds what its send buffer cannot take and
  // continues from on_writable.
  auto c = dial(kCopyEchoPort);
  ASSERT_EQ(c->connected, IX_OK);
  const auto big = pattern(2 * 1024 * 1024, 7);
  echo(*c, big, true, 1);
  EXPECT_GT(server_.conns.back()->writable_calls, 0);
}

TEST_F(IxevTest, StaleHandleAndDeadConnectionAreHandled) {
  auto c = dial(kZcEchoPort);
  ASSERT_EQ(c->connected, IX_OK);
  ServerConn &sc = *server_.conns.back();
  // The server resets the connection; its own hang-up follows at once.
  ASSERT_EQ(evb_.abort(sc), IX_OK);
  EXPECT_EQ(evb_.send(sc, "x", 1), IX_ECLOSED);
  evb_.poll();
  EXPECT_EQ(sc.hangup, IX_ECLOSED);
  EXPECT_EQ(evb_.send(sc, "x", 1), IX_ECLOSED);
  // The client's dataplane takes the reset, but ixev has not seen the event
  // yet (nobody took events), so it still sends on the handle: the
  // dataplane answers IX_EBADH and ixev hangs the connection up.
  for (int i = 0; i < 5; ++i) {
    clock_.advance(20'000);
    ix_run_io(&a_, nullptr, 0, nullptr, 0);
    evb_.poll();
  }
  ASSERT_EQ(c->hangup, kUnset);
  EXPECT_EQ(eva_.send(*c, "after", 5), 5);
  eva_.poll();
  EXPECT_EQ(c->hangup, IX_EBADH);
  EXPECT_FALSE(c->attached());
  EXPECT_GE(eva_.stats().stale_handles, 1u);
  EXPECT_GE(eva_.stats().stale_events, 1u);  // the reset's DEAD came for a connection let go
  EXPECT_EQ(eva_.recv(*c, nullptr, 1), IX_ECLOSED);
  EXPECT_EQ(eva_.close(*c), IX_ECLOSED);
}

TEST_F(IxevTest, DeletingAnAttachedConnResetsIt) {
  auto c = dial(kZcEchoPort);
  ASSERT_EQ(c->connected, IX_OK);
  ServerConn &sc = *server_.conns.back();
  const auto data = pattern(5000, 3);
  c->write(data, false);
  c.reset();  // no handler runs for it any more
  ASSERT_TRUE(pump_until([&] { return sc.hangup != kUnset; }));
  EXPECT_EQ(sc.hangup, IX_ECONNRESET);
  EXPECT_EQ(eva_.connections(), 0u);
}

TEST_F(IxevTest, ManyShortConnections) {
  for (int i = 0; i < 200; ++i) {
    auto c = dial(i % 2 ? kZcEchoPort : kCopyEchoPort);
    ASSERT_EQ(c->connected, IX_OK);
    const auto data = pattern(1 + i * 13, i);
    echo(*c, data, i % 3 == 0, i);
    close_and_wait(*c);
    ASSERT_EQ(c->hangup, IX_OK);
  }
  ASSERT_TRUE(pump_until([&] { return evb_.connections() == 0; }));
  // Warm after the first connections: nothing grew while 200 came and went.
  EXPECT_EQ(eva_.stats().pool_growths, 0u);
  EXPECT_EQ(evb_.stats().pool_growths, 0u);
}

class IxevLossyTest : public IxevTest {
 protected:
  static drivers::LoopWireConfig lossy() {
    drivers::LoopWireConfig w;
    w.faults.drop = 0.01;
    w.faults.reorder = 0.01;
    w.faults.reorder_gap = 2;
    w.faults.seed = 2026;
    return w;
  }
  IxevLossyTest() : IxevTest(lossy()) {}
};

TEST_F(IxevLossyTest, MegabytesSurviveLossAndReordering) {
  auto c = std::make_unique<Client>(eva_);
  ASSERT_EQ(eva_.dial(*c, ix_endpoint{kAddrB, kZcEchoPort, 0}), IX_OK);
  ASSERT_TRUE(pump_until([&] { return c->connected != kUnset; }, 2'000'000, 100'000));
  ASSERT_EQ(c->connected, IX_OK);
  const auto data = pattern(1536 * 1024, 5);
  c->write(data, true, 1);
  ASSERT_TRUE(pump_until([&] { return c->got.size() >= data.size(); }, 2'000'000, 100'000))
      << "got " << c->got.size();
  ASSERT_TRUE(c->got == data);
  const auto f = pa_.queue_stats(0).faults;
  const auto g = pb_.queue_stats(0).faults;
  EXPECT_GT(f.dropped + g.dropped, 0u);
  EXPECT_GT(f.reordered + g.reordered, 0u);
  ASSERT_EQ(eva_.close(*c), IX_OK);
  ASSERT_TRUE(pump_until([&] { return c->hangup != kUnset; }, 2'000'000, 100'000));
  EXPECT_EQ(c->hangup, IX_OK);
}

}  // namespace
}  // namespace ix
