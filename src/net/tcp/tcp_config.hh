// Per-stack TCP settings (one Tcp engine per elastic thread).
#pragma once

#include <array>
#include <cstdint>

#include "net/tcp/congestion_control.hh"

namespace ix::net::tcp {

struct TcpConfig {
  // Connection slots, TIME_WAIT included (at most ConnTable::kMaxSlots,
  // 2^24). Slots are made in blocks as they are first needed, so the limit
  // costs only the hash buckets up front (4 bytes per connection); see
  // conn_table.hh and the memory figures at Tcb (tcb.hh).
  uint32_t max_connections = 262144;
  uint32_t syn_backlog = 1024;  // half-open (SYN_RECEIVED) passive connections
  // The secrets behind initial sequence numbers (RFC 6528) and SYN cookies.
  // All zero: each engine draws its own. The runtime gives every elastic
  // thread the same ones, so a connection whose flow group moves to another
  // thread mid-handshake (a cookie answered there) is still recognised.
  std::array<uint8_t, 16> isn_key{};
  std::array<uint8_t, 16> cookie_key{};
  bool syn_cookies = true;  // answer SYNs statelessly once the backlog is full
  CcAlgorithm cc = CcAlgorithm::kCubic;
  uint32_t rcv_buf = 256 * 1024;  // bytes held for the application before the window closes
  uint32_t snd_buf = 256 * 1024;  // application bytes referenced (unacknowledged) per connection
  // Delayed ACK timeout. Every second full-sized segment is acknowledged at
  // once, so this only matters for odd segments; 500 us keeps request/response
  // latency low where the 40 ms of general-purpose stacks would stall.
  uint64_t delack_ns = 500'000;
  uint8_t wscale = 7;  // our window scale shift (RFC 7323); 0 = do not offer
  bool timestamps = true;
  bool sack = true;
  uint64_t time_wait_ns = 60'000'000'000ull;  // 2 MSL
  // A connection the application has closed waits this long in FIN_WAIT_2
  // for the peer's FIN (Linux's tcp_fin_timeout); 0 waits for ever. An
  // orphaned half-close must not hold a slot for as long as the peer likes.
  uint64_t fin_wait2_ns = 60'000'000'000ull;
  // Challenge ACKs (RFC 5961 7) per second for the whole engine; more are
  // counted and not sent, so blind attacks cannot make us a reflector.
  uint32_t challenge_ack_limit = 1000;
  // Out-of-window segments without data or FIN (ACKs) are answered at most
  // once per interval per connection, as Linux's tcp_invalid_ratelimit
  // (500 ms): two ends that disagree about the window would otherwise ACK
  // each other's ACKs for ever, and a blind sender gets one reflected per
  // segment. Out-of-window data (a duplicate) and probes (keep-alive,
  // zero-window: one below RCV.NXT) are always answered.
  uint64_t oow_ack_interval_ns = 500'000'000;
  uint32_t syn_retries = 6;  // SYN transmissions before connect fails
  uint32_t synack_retries = 5;
  uint32_t max_retransmits = 15;  // RTOs in a row before the connection is dropped
  uint64_t min_rto_ns = 200'000'000;
  uint64_t initial_rto_ns = 1'000'000'000;
  // Keep-alive, when enabled per connection (set_keepalive): first probe after
  // this much idle time, then every interval, dead after `probes` unanswered.
  uint64_t keepalive_idle_ns = 7'200'000'000'000ull;
  uint64_t keepalive_interval_ns = 75'000'000'000ull;
  uint32_t keepalive_probes = 9;
  uint32_t max_listeners = 256;
  // RACK-TLP (RFC 8985) on SACK connections: losses found by time, lost
  // retransmissions found without an RTO, and a probe of the flight's tail
  // after 2 SRTT instead of a silent wait for the RTO.
  bool rack = true;
  bool tlp = true;
  // The peer's worst-case delayed ACK, added to the probe timeout when one
  // segment is in flight (RFC 8985 7.2 WCDelAckT; Linux adds its RTO floor).
  uint64_t tlp_max_ack_delay_ns = 200'000'000;
  // Added to 2 SRTT when more segments are out. On a fast path the ACK's
  // timing jitters by more than the RTT itself (interrupt moderation, a
  // peer's scheduling, delayed ACKs of an odd last segment), and a probe
  // before it is only a duplicate; Linux adds its TCP_TIMEOUT_MIN (2 ms).
  uint64_t tlp_slack_ns = 2'000'000;
  // Out-of-order segments held per connection; 0: enough for a receive
  // window of segments of 1 KiB or more (rcv_buf / 1024 + 16). Fewer than a
  // window's worth turns one loss into many: the segments behind the gap
  // that do not fit are dropped and must be sent again.
  uint32_t ooo_max_segments = 0;
  // Out-of-order segments held by all connections of the engine together
  // (each keeps a whole packet buffer, however few bytes it carries); 0:
  // a quarter of the buffer pool. Without it ~130 peers sending 1-byte
  // segments above RCV.NXT could hold every buffer, and reception (ACKs
  // included) would stop for every connection of the core.
  uint32_t ooo_max_segments_total = 0;
  uint32_t recv_queue_segments = 512;  // in-order segments held for the application
  uint32_t send_queue_chunks =
      256;  // iovec pieces referenced per connection (at least snd_buf / 1 KiB)
  // Connections from which a burst of segments or commands first fetches
  // its control blocks into the cache together (Tcp::prefetch_segments):
  // 1,024 blocks are 1.1 MiB, past a core's L2 (0.5-2 MiB); below that
  // they are in cache already and prefetching is pure cost. 0: always.
  uint32_t prefetch_min_conns = 1024;
  // Header prediction (tcp_fast_path.cc): the expected next segment of a
  // connection at rest taken in one pass. Off only to compare the paths.
  bool header_prediction = true;
  uint16_t ephemeral_lo = 49152;
  uint16_t ephemeral_hi = 65535;
};

}  // namespace ix::net::tcp
