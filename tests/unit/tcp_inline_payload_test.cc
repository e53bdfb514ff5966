// Small payloads travel in the header's buffer (kInlinePayloadMax): one
// buffer per segment, the bytes copied from the application's send queue,
// across iovec pieces, and again from the queue when the segment is sent a
// second time. Larger payloads still reference the application's memory.
#include <gtest/gtest.h>

#include <vector>

#include "net/tcp/tcp.hh"
#include "tcp_fixture.hh"

namespace ix::net::tcp::test {
namespace {

class TcpInlinePayloadTest : public TcpPairTest {
 protected:
  void SetUp() override {
    start({}, default_tcp(), default_tcp(), 1024);
    auto [x, y] = connect_pair();
    ha = x;
    hb = y;
    ASSERT_NE(hb, 0u);
    // The buffers of every data segment A builds, and their payload bytes.
    A->sink.tap = [this](const mem::Mbuf &m) {
      const uint32_t hlen = kTcpL3Offset + (m.data()[kTcpL3Offset + 12] >> 4) * 4u;
      if (m.pkt_len <= hlen) return;
      unsigned bufs = 0;
      for (const mem::Mbuf *s = &m; s != nullptr; s = s->next) ++bufs;
      sent.push_back({bufs, m.pkt_len - hlen});
    };
  }
  // Queues the pieces as one send and runs until B has them all.
  bool send(const std::vector<Bytes> &pieces) {
    std::vector<iovec> iov;
    size_t total = 0;
    for (const Bytes &p : pieces) {
      iov.push_back({const_cast<uint8_t *>(p.data()), p.size()});
      total += p.size();
    }
    const size_t before = B->app.conns[hb].received.size();
    if (A->tcp().sendv(ha, iov.data(), static_cast<int>(iov.size())) != static_cast<int64_t>(total))
      return false;
    return run_until([&] { return B->app.conns[hb].received.size() == before + total; });
  }
  struct Sent {
    unsigned buffers;
    uint32_t payload;
  };
  std::vector<Sent> sent;
  ConnHandle ha = 0, hb = 0;
};

TEST_F(TcpInlinePayloadTest, ASmallPayloadTravelsInTheHeadersBuffer) {
  const Bytes msg = pattern(100, 1);
  ASSERT_TRUE(send({msg}));
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].payload, 100u);
  EXPECT_EQ(sent[0].buffers, 1u);
  EXPECT_EQ(B->app.conns[hb].received, msg);
}

TEST_F(TcpInlinePayloadTest, PiecesOfSeveralIovecsAreCopiedInOrder) {
  const Bytes a = pattern(30, 2), b = pattern(1, 3), c = pattern(kInlinePayloadMax - 31, 4);
  ASSERT_TRUE(send({a, b, c}));
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].payload, kInlinePayloadMax);
  EXPECT_EQ(sent[0].buffers, 1u);
  Bytes all = a;
  all.insert(all.end(), b.begin(), b.end());
  all.insert(all.end(), c.begin(), c.end());
  EXPECT_EQ(B->app.conns[hb].received, all);
}

TEST_F(TcpInlinePayloadTest, ALargerPayloadReferencesTheApplicationsMemory) {
  const Bytes msg = pattern(kInlinePayloadMax + 1, 5);
  ASSERT_TRUE(send({msg}));
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].buffers, 2u);
  EXPECT_EQ(B->app.conns[hb].received, msg);
}

TEST_F(TcpInlinePayloadTest, ARetransmissionCopiesTheSameBytesAgain) {
  int seen = 0;
  A->port.set_tx_filter([&](std::span<const uint8_t> f) {
    const bool data = f.size() > kTcpL3Offset + 20u + 12u;  // options: timestamps
    return !(data && ++seen == 1);                          // the first copy is lost
  });
  const Bytes msg = pattern(200, 6);
  ASSERT_TRUE(send({msg}));
  ASSERT_EQ(sent.size(), 2u) << "the original and one retransmission";
  for (const Sent &s : sent) {
    EXPECT_EQ(s.payload, 200u);
    EXPECT_EQ(s.buffers, 1u);
  }
  EXPECT_EQ(B->app.conns[hb].received, msg);
  EXPECT_EQ(A->tcp().stats().retransmits, 1u);
}

}  // namespace
}  // namespace ix::net::tcp::test
