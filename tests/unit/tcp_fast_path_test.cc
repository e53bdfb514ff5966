// Header prediction (tcp_fast_path.cc) must do exactly what the long path
// does for the segments it takes: the same exchange, run once with it and
// once without (TcpConfig::header_prediction), on the deterministic loop wire
// (manual clock, seeded faults, fixed ISN keys and ports), must put the very
// same frames on the wire, byte for byte, in the same order, and leave the
// connections in the same state. Also: it does take the common segments.
#include <gtest/gtest.h>
#include <sys/uio.h>

#include <deque>
#include <string>
#include <vector>

#include "tcp_fixture.hh"

namespace ix::net::tcp::test {
namespace {

// One run of the exchange: a fixture of its own, so both runs start from
// the same clock.
class ExchangeRun : public TcpPairTest {
 public:
  void TestBody() override {}

  struct Result {
    std::vector<Bytes> frames;  // every frame either host sent, in order
    TcpStats a, b;
    Bytes a_received, b_received;
    Seq a_snd_una = 0, b_snd_una = 0, a_rcv_nxt = 0, b_rcv_nxt = 0;
    uint32_t a_cwnd = 0, b_cwnd = 0;
    bool ok = false;
  };

  Result run(bool prediction, const drivers::FaultConfig &faults) {
    Result r;
    TcpConfig c = default_tcp();
    c.header_prediction = prediction;
    c.isn_key.fill(7);
    c.cookie_key.fill(9);
    start(faults, c, c, 4096);
    auto record = [&r](const mem::Mbuf &m) {
      Bytes f;
      for (const mem::Mbuf *s = &m; s != nullptr; s = s->next)
        f.insert(f.end(), s->data(), s->data() + s->data_len);
      r.frames.push_back(std::move(f));
    };
    A->sink.tap = record;
    B->sink.tap = record;
    EXPECT_EQ(B->tcp().listen(80, 77, &B->app), IX_OK);
    const int64_t h = A->tcp().connect(kIpB, 80, 40000, 5, &A->app);
    EXPECT_GT(h, 0);
    const ConnHandle ha = static_cast<ConnHandle>(h);
    if (!run_until([&] { return A->app.conns[ha].connected && !B->app.knocks.empty(); })) return r;
    const ConnHandle hb = B->app.knocks.back().h;
    // Request/response rounds of a few sizes (the segments header prediction
    // is for), then a bulk stream each way (windows, SACK, recovery).
    // (The engines reference what is sent until it is acknowledged, which
    // may be after a transfer is complete at the receiver: sent_ keeps it.)
    auto keep = [this](Bytes b) -> const Bytes & { return sent_.emplace_back(std::move(b)); };
    for (int i = 0; i < 60; ++i) {
      const size_t n = 1 + (i * 97) % 600;
      if (!transfer(*A, ha, keep(pattern(n, i)), *B, hb) ||
          !transfer(*B, hb, keep(pattern(n, i + 1000)), *A, ha))
        return r;
    }
    if (!transfer(*A, ha, keep(pattern(300000, 5)), *B, hb) ||
        !transfer(*B, hb, keep(pattern(300000, 6)), *A, ha))
      return r;
    run_for(1'000'000'000);  // delayed ACKs, probes and timers play out
    const Tcb *ta = A->tcp().tcb_of(ha);
    const Tcb *tb = B->tcp().tcb_of(hb);
    r.a = A->tcp().stats();
    r.b = B->tcp().stats();
    r.a_received = A->app.conns[ha].received;
    r.b_received = B->app.conns[hb].received;
    r.a_snd_una = ta->snd_una;
    r.b_snd_una = tb->snd_una;
    r.a_rcv_nxt = ta->rcv_nxt;
    r.b_rcv_nxt = tb->rcv_nxt;
    r.a_cwnd = ta->cc.cwnd();
    r.b_cwnd = tb->cc.cwnd();
    r.ok = true;
    return r;
  }

 private:
  std::deque<Bytes> sent_;
};

void expect_same(const ExchangeRun::Result &fast, const ExchangeRun::Result &slow) {
  ASSERT_TRUE(fast.ok);
  ASSERT_TRUE(slow.ok);
  ASSERT_EQ(fast.frames.size(), slow.frames.size()) << "a different number of frames on the wire";
  for (size_t i = 0; i < fast.frames.size(); ++i) {
    if (fast.frames[i] != slow.frames[i]) {
      std::string d;
      for (size_t k = 0; k < std::min(fast.frames[i].size(), slow.frames[i].size()); ++k)
        if (fast.frames[i][k] != slow.frames[i][k])
          d += " @" + std::to_string(k) + ":" + std::to_string(fast.frames[i][k]) + "/" +
               std::to_string(slow.frames[i][k]);
      ADD_FAILURE() << "frame " << i << " differs (sizes " << fast.frames[i].size() << "/"
                    << slow.frames[i].size() << "):" << d;
      return;
    }
  }
  EXPECT_EQ(fast.a_received, slow.a_received);
  EXPECT_EQ(fast.b_received, slow.b_received);
  EXPECT_EQ(fast.a_snd_una, slow.a_snd_una);
  EXPECT_EQ(fast.b_snd_una, slow.b_snd_una);
  EXPECT_EQ(fast.a_rcv_nxt, slow.a_rcv_nxt);
  EXPECT_EQ(fast.b_rcv_nxt, slow.b_rcv_nxt);
  EXPECT_EQ(fast.a_cwnd, slow.a_cwnd);
  EXPECT_EQ(fast.b_cwnd, slow.b_cwnd);
  // Every counter but the fast path's own.
  auto a = fast.a, b = fast.b;
  a.fast_path_rx = slow.a.fast_path_rx;
  b.fast_path_rx = slow.b.fast_path_rx;
  std::vector<std::pair<std::string, uint64_t>> fa, sa, fb, sb;
  a.for_each([&](const char *n, uint64_t v) { fa.emplace_back(n, v); });
  slow.a.for_each([&](const char *n, uint64_t v) { sa.emplace_back(n, v); });
  b.for_each([&](const char *n, uint64_t v) { fb.emplace_back(n, v); });
  slow.b.for_each([&](const char *n, uint64_t v) { sb.emplace_back(n, v); });
  EXPECT_EQ(fa, sa);
  EXPECT_EQ(fb, sb);
}

TEST(TcpFastPath, TakesTheCommonSegmentsAndChangesNothingOnTheWire) {
  ExchangeRun on, off;
  const auto fast = on.run(true, {});
  const auto slow = off.run(false, {});
  expect_same(fast, slow);
  EXPECT_EQ(slow.a.fast_path_rx + slow.b.fast_path_rx, 0u);
  // Most segments of a clean exchange are the predicted ones.
  EXPECT_GT(fast.a.fast_path_rx + fast.b.fast_path_rx,
            (fast.a.segments_rx + fast.b.segments_rx) / 2);
}

TEST(TcpFastPath, UnderLossReorderingAndDuplicatesTheWireIsTheSameToo) {
  drivers::FaultConfig f;
  f.drop = 0.02;
  f.reorder = 0.02;
  f.duplicate = 0.01;
  f.seed = 11;
  ExchangeRun on, off;
  const auto fast = on.run(true, f);
  const auto slow = off.run(false, f);
  expect_same(fast, slow);
  EXPECT_GT(fast.a.retransmits + fast.b.retransmits, 0u) << "the faults caused no recovery";
  EXPECT_GT(fast.a.fast_path_rx + fast.b.fast_path_rx, 0u);
}

}  // namespace
}  // namespace ix::net::tcp::test
