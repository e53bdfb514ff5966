// Bulk transfers through a faulty wire (seeded, so every run is the same):
// loss, duplication, reordering, corruption, delay. 10 MB must arrive
// intact; the recovery machinery that got it there is checked to have run.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

#include "net/tcp/tcp.hh"
#include "tcp_fixture.hh"

namespace ix::net::tcp::test {
namespace {

struct LossCase {
  const char *name;
  double drop, duplicate, reorder, corrupt;
  bool sack;
  bool timestamps;
  CcAlgorithm cc;
  size_t bytes;
};

class TcpLossTest : public TcpPairTest, public ::testing::WithParamInterface<LossCase> {};

TEST_P(TcpLossTest, TransferArrivesIntact) {
  const LossCase &c = GetParam();
  drivers::FaultConfig f;
  f.drop = c.drop;
  f.duplicate = c.duplicate;
  f.reorder = c.reorder;
  f.reorder_gap = 3;
  f.corrupt = c.corrupt;
  f.seed = 42;
  TcpConfig t = default_tcp();
  t.sack = c.sack;
  t.timestamps = c.timestamps;
  t.cc = c.cc;
  t.rcv_buf = 1 << 20;
  t.snd_buf = 1 << 20;
  t.max_retransmits = 30;
  start(f, t, t, 8192);
  auto [ha, hb] = connect_pair();
  ASSERT_NE(hb, 0u);
  const Bytes data = pattern(c.bytes, 11);
  const uint64_t t0 = clock.now_ns();
  ASSERT_TRUE(transfer(*A, ha, data, *B, hb, 3'000'000'000'000ull))
      << "got " << B->app.conns[hb].received.size();
  EXPECT_TRUE(B->app.conns[hb].received == data);
  ASSERT_TRUE(
      run_until([&] { return A->app.conns[ha].sent_acked == data.size(); }, 600'000'000'000ull));
  if (c.drop > 0) {
    EXPECT_GT(A->tcp().stats().retransmits, 0u);
    EXPECT_GT(A->tcp().stats().fast_retransmits, 0u);
  }
  if (c.corrupt > 0) {
    EXPECT_GT(B->stack->counters().dropped(DropReason::kTcpBadChecksum) +
                  B->stack->counters().total_drops(),
              0u);
  }
  EXPECT_FALSE(A->app.conns[ha].dead);
  const TcpStats &st = A->tcp().stats();
  RecordProperty("simulated_ms", static_cast<int>((clock.now_ns() - t0) / 1'000'000));
  RecordProperty("retransmits", static_cast<int>(st.retransmits));
  RecordProperty("rto_expirations", static_cast<int>(st.rto_expirations));
  RecordProperty("fast_retransmits", static_cast<int>(st.fast_retransmits));
  if (getenv("IX_TCP_TEST_VERBOSE") != nullptr)
    printf("%s: %.1f ms simulated, %lu segments, %lu retransmits, %lu fast, %lu RTOs\n", c.name,
           (clock.now_ns() - t0) / 1e6, st.data_segments_tx, st.retransmits, st.fast_retransmits,
           st.rto_expirations);
  // Nothing leaked: only what the wire and the stacks legitimately hold.
  A.reset();
  B.reset();
}

constexpr size_t k10M = 10u << 20;

INSTANTIATE_TEST_SUITE_P(
    Faults, TcpLossTest,
    ::testing::Values(
        LossCase{"loss1_sack_cubic", 0.01, 0, 0, 0, true, true, CcAlgorithm::kCubic, k10M},
        LossCase{"loss5_sack_cubic", 0.05, 0, 0, 0, true, true, CcAlgorithm::kCubic, k10M},
        LossCase{"loss10_sack_cubic", 0.10, 0, 0, 0, true, true, CcAlgorithm::kCubic, k10M},
        LossCase{"loss5_newreno_nosack", 0.05, 0, 0, 0, false, true, CcAlgorithm::kNewReno, k10M},
        LossCase{"loss5_no_timestamps", 0.05, 0, 0, 0, true, false, CcAlgorithm::kCubic, k10M},
        LossCase{"duplicate", 0, 0.05, 0, 0, true, true, CcAlgorithm::kCubic, k10M},
        LossCase{"reorder", 0, 0, 0.05, 0, true, true, CcAlgorithm::kCubic, k10M},
        LossCase{"corrupt", 0, 0, 0, 0.02, true, true, CcAlgorithm::kCubic, k10M},
        LossCase{"everything", 0.03, 0.03, 0.03, 0.01, true, true, CcAlgorithm::kCubic, k10M},
        LossCase{"everything_nosack", 0.03, 0.03, 0.03, 0.01, false, false, CcAlgorithm::kNewReno,
                 k10M}),
    [](const ::testing::TestParamInfo<LossCase> &i) { return std::string(i.param.name); });

}  // namespace
}  // namespace ix::net::tcp::test
