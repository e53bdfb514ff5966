// Established data transfer over the loop wire: bulk transfers that must
// arrive intact, both directions, zero-copy send accounting (on_sent),
// send-buffer limits, receive-window flow control, coalescing and scatter
// gather.
#include <gtest/gtest.h>

#include "net/tcp/tcp.hh"
#include "tcp_fixture.hh"

namespace ix::net::tcp::test {
namespace {

TEST_F(TcpPairTest, BulkTransfer10MBArrivesIntact) {
  start();
  auto [ha, hb] = connect_pair();
  ASSERT_NE(hb, 0u);
  const Bytes data = pattern(10 << 20, 3);
  ASSERT_TRUE(transfer(*A, ha, data, *B, hb));
  EXPECT_EQ(B->app.conns[hb].received, data);
  ASSERT_TRUE(run_until([&] { return A->app.conns[ha].sent_acked == data.size(); }));
  EXPECT_EQ(A->tcp().stats().retransmits, 0u);
  EXPECT_EQ(A->stack->counters().total_drops(), 0u);
  EXPECT_EQ(B->stack->counters().total_drops(), 0u);
}

TEST_F(TcpPairTest, BothDirectionsAtOnce) {
  start();
  auto [ha, hb] = connect_pair();
  ASSERT_NE(hb, 0u);
  const Bytes ab = pattern(1 << 20, 4), ba = pattern(1 << 20, 5);
  size_t qa = 0, qb = 0;
  on_step = [&] {
    if (qa < ab.size()) {
      iovec v{const_cast<uint8_t *>(ab.data() + qa), ab.size() - qa};
      qa += static_cast<size_t>(A->tcp().sendv(ha, &v, 1));
    }
    if (qb < ba.size()) {
      iovec v{const_cast<uint8_t *>(ba.data() + qb), ba.size() - qb};
      qb += static_cast<size_t>(B->tcp().sendv(hb, &v, 1));
    }
  };
  ASSERT_TRUE(run_until([&] {
    return B->app.conns[hb].received.size() == ab.size() &&
           A->app.conns[ha].received.size() == ba.size();
  }));
  EXPECT_EQ(B->app.conns[hb].received, ab);
  EXPECT_EQ(A->app.conns[ha].received, ba);
}

TEST_F(TcpPairTest, SendvAcceptsWhatFitsTheSendBuffer) {
  TcpConfig a = default_tcp();
  a.snd_buf = 10'000;
  start({}, a, default_tcp());
  auto [ha, hb] = connect_pair();
  ASSERT_NE(hb, 0u);
  const Bytes data = pattern(25'000);
  iovec iov[2] = {{const_cast<uint8_t *>(data.data()), 6'000},
                  {const_cast<uint8_t *>(data.data() + 6'000), 19'000}};
  EXPECT_EQ(A->tcp().sendv(ha, iov, 2), 10'000);
  EXPECT_EQ(A->tcp().sendv(ha, iov, 2), 0);  // full until acknowledged
  ASSERT_TRUE(run_until([&] { return A->app.conns[ha].sent_acked == 10'000; }));
  iovec rest{const_cast<uint8_t *>(data.data() + 10'000), 15'000};
  EXPECT_EQ(A->tcp().sendv(ha, &rest, 1), 10'000);
  ASSERT_TRUE(run_until([&] { return A->app.conns[ha].sent_acked == 20'000; }));
  iovec last{const_cast<uint8_t *>(data.data() + 20'000), 5'000};
  EXPECT_EQ(A->tcp().sendv(ha, &last, 1), 5'000);
  ASSERT_TRUE(run_until([&] { return B->app.conns[hb].received.size() == data.size(); }));
  EXPECT_EQ(B->app.conns[hb].received, data);
  EXPECT_EQ(A->tcp().sendv(ha, nullptr, -1), IX_EINVAL);
}

TEST_F(TcpPairTest, ScatterGatherPiecesAreSentInOrder) {
  start();
  auto [ha, hb] = connect_pair();
  ASSERT_NE(hb, 0u);
  const Bytes data = pattern(9'000, 8);
  // Odd-sized pieces straddle segment boundaries and checksum word boundaries.
  std::vector<iovec> iov;
  size_t off = 0;
  for (size_t n : {1, 3, 1447, 2, 999, 4000, 0, 2548}) {
    iov.push_back({const_cast<uint8_t *>(data.data() + off), n});
    off += n;
  }
  ASSERT_EQ(off, data.size());
  EXPECT_EQ(A->tcp().sendv(ha, iov.data(), static_cast<int>(iov.size())), 9'000);
  ASSERT_TRUE(run_until([&] { return B->app.conns[hb].received.size() == data.size(); }));
  EXPECT_EQ(B->app.conns[hb].received, data);
  EXPECT_EQ(B->stack->counters().dropped(DropReason::kTcpBadChecksum), 0u);
}

TEST_F(TcpPairTest, ReceiverThatHoldsBuffersClosesTheWindow) {
  TcpConfig b = default_tcp();
  b.rcv_buf = 64 * 1024;
  start({}, default_tcp(), b);
  auto [ha, hb] = connect_pair();
  ASSERT_NE(hb, 0u);
  auto_consume = false;  // B never calls recv_done
  const Bytes data = pattern(1 << 20, 9);
  size_t queued = 0;
  on_step = [&] {
    if (queued < data.size()) {
      iovec v{const_cast<uint8_t *>(data.data() + queued), data.size() - queued};
      queued += static_cast<size_t>(A->tcp().sendv(ha, &v, 1));
    }
  };
  run_for(3'000'000'000ull);
  const size_t got = B->app.conns[hb].received.size();
  EXPECT_GE(got, 60u * 1024);
  EXPECT_LE(got, 64u * 1024 + 2048);  // no more than the window
  const uint32_t held_mbufs = B->pool.capacity() - B->pool.available();
  EXPECT_LT(held_mbufs, 100u);  // bounded by the window, not by what A offers
  EXPECT_GT(A->tcp().stats().window_probes, 0u);
  // Consuming reopens the window and the transfer completes.
  auto_consume = true;
  ASSERT_TRUE(run_until([&] { return B->app.conns[hb].received.size() == data.size(); },
                        120'000'000'000ull));
  EXPECT_EQ(B->app.conns[hb].received, data);
}

TEST_F(TcpPairTest, RecvDoneBeyondWhatWasReportedIsRejected) {
  start();
  auto [ha, hb] = connect_pair();
  ASSERT_NE(hb, 0u);
  auto_consume = false;
  const Bytes data = pattern(100);
  iovec v{const_cast<uint8_t *>(data.data()), data.size()};
  EXPECT_EQ(A->tcp().sendv(ha, &v, 1), 100);
  ASSERT_TRUE(run_until([&] { return B->app.conns[hb].received.size() == 100; }));
  EXPECT_EQ(B->tcp().recv_done(hb, 101), IX_EINVAL);
  EXPECT_EQ(B->tcp().recv_done(hb, 40), IX_OK);
  EXPECT_EQ(B->tcp().recv_done(hb, 60), IX_OK);
  EXPECT_EQ(B->tcp().recv_done(hb, 1), IX_EINVAL);
}

TEST_F(TcpPairTest, SmallMessagesWithCoalescingOffGoOutAtOnce) {
  start();
  auto [ha, hb] = connect_pair();
  ASSERT_NE(hb, 0u);
  const Bytes data = pattern(10);
  const uint64_t before = A->tcp().stats().data_segments_tx;
  for (int i = 0; i < 10; ++i) {
    iovec v{const_cast<uint8_t *>(data.data() + i), 1};
    EXPECT_EQ(A->tcp().sendv(ha, &v, 1), 1);
  }
  EXPECT_EQ(A->tcp().stats().data_segments_tx - before, 10u);
  ASSERT_TRUE(run_until([&] { return B->app.conns[hb].received.size() == 10; }));
  EXPECT_EQ(B->app.conns[hb].received, data);
  ASSERT_TRUE(run_until([&] { return A->app.conns[ha].sent_acked == 10; }));

  // With coalescing, small writes wait while one is in flight.
  EXPECT_EQ(A->tcp().set_coalescing(ha, true), IX_OK);
  const uint64_t before2 = A->tcp().stats().data_segments_tx;
  for (int i = 0; i < 10; ++i) {
    iovec v{const_cast<uint8_t *>(data.data() + i), 1};
    EXPECT_EQ(A->tcp().sendv(ha, &v, 1), 1);
  }
  EXPECT_EQ(A->tcp().stats().data_segments_tx - before2, 1u);
  ASSERT_TRUE(run_until([&] { return B->app.conns[hb].received.size() == 20; }));
  EXPECT_LE(A->tcp().stats().data_segments_tx - before2, 3u);
}

TEST_F(TcpPairTest, DelayedAckFiresForALoneSegment) {
  start();
  auto [ha, hb] = connect_pair();
  ASSERT_NE(hb, 0u);
  const uint64_t acks_before = B->tcp().stats().segments_tx;
  const Bytes data = pattern(10);
  iovec v{const_cast<uint8_t *>(data.data()), 10};
  EXPECT_EQ(A->tcp().sendv(ha, &v, 1), 10);
  // Deliver the segment: no ACK yet.
  advance(latency_ns);
  B->receive();
  EXPECT_EQ(B->tcp().stats().segments_tx, acks_before);
  advance(B->tcp().config().delack_ns + timing::TimerWheel::kGranularityNs * 2);
  EXPECT_EQ(B->tcp().stats().segments_tx, acks_before + 1);
}

}  // namespace
}  // namespace ix::net::tcp::test
