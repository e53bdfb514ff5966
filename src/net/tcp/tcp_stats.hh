// What one Tcp engine did (not drops: those are StackCounters' drop reasons).
#pragma once

#include <cstdint>

namespace ix::net::tcp {

#define IX_TCP_STATS(X)                                                                        \
  X(active_opens)   /* connect() calls that sent a SYN */                                      \
  X(passive_opens)  /* connections established from a listener */                              \
  X(established)    /* connections that reached ESTABLISHED */                                 \
  X(connect_failed) /* refused or timed out active opens */                                    \
  X(segments_rx)    /* valid segments processed */                                             \
  X(fast_path_rx)   /* ... of which taken by header prediction (tcp_fast_path.cc) */           \
  X(segments_tx)                                                                               \
  X(data_segments_tx) /* segments carrying payload (first transmissions) */                    \
  X(retransmits)      /* segments sent again (any cause) */                                    \
  X(fast_retransmits) /* recoveries entered on duplicate ACKs / SACK */                        \
  X(rto_expirations)                                                                           \
  X(rack_lost)        /* segments RACK judged lost (RFC 8985) */                               \
  X(lost_retransmits) /* retransmissions RACK judged lost in turn */                           \
  X(reorder_seen)     /* connections that saw a segment overtaken */                           \
  X(tlp_probes)       /* tail loss probes sent */                                              \
  X(tlp_recoveries)   /* losses the probe repaired (cwnd reduced once) */                      \
  X(dsacks_rx)        /* D-SACK blocks received (RFC 2883) */                                  \
  X(dsacks_tx)        /* D-SACK blocks sent for duplicates we got */                           \
  X(spurious_undos)   /* recoveries and RTOs undone as spurious (all causes) */                \
  X(dsack_undos)      /* ... because every retransmission was D-SACKed */                      \
  X(timestamp_undos)  /* ... because the ACK echoed an original (Eifel) */                     \
  X(frto_undos)       /* ... because originals were ACKed after an RTO */                      \
  X(reassembly_drops) /* out-of-order segments not kept (caps) */                              \
  X(ooo_pruned)       /* out-of-order segments freed as the pool ran low */                    \
  X(ooo_reclaims)     /* times the pool's holding limit made the engine free them */           \
  X(ooo_held_peak)    /* gauge: most out-of-order segments held at once */                     \
  X(ooo_cap)          /* gauge: the engine-wide cap on them */                                 \
  X(dupacks_rx)                                                                                \
  X(ooo_segments_rx) /* segments queued out of order */                                        \
  X(ooo_engine_full) /* out-of-order segments refused at the engine-wide cap */                \
  X(dup_segments_rx) /* segments whose data we already had */                                  \
  X(resets_rx)       /* RSTs that ended a connection */                                        \
  X(resets_tx)                                                                                 \
  X(moved_out)                 /* connections handed to another thread by a flow-group move */ \
  X(moved_in)                  /* connections taken over from another thread */                \
  X(moved_lost)                /* taken over but no slot or receiver here: reset */            \
  X(challenge_acks)            /* RFC 5961 */                                                  \
  X(challenge_acks_suppressed) /* over challenge_ack_limit (RFC 5961 7) */                     \
  X(oow_acks_suppressed)       /* out-of-window ACKs left unanswered (oow_ack_interval_ns) */  \
  X(syn_cookies_sent)                                                                          \
  X(syn_cookies_accepted)                                                                      \
  X(window_probes)  /* zero-window probes sent */                                              \
  X(window_updates) /* ACKs sent because recv_done opened the window */                        \
  X(keepalive_probes)                                                                          \
  X(time_wait_reused)       /* TIME_WAIT tuples taken over by a new SYN */                     \
  X(time_wait_evicted)      /* oldest TIME_WAIT freed for a new connection */                  \
  X(fin_wait2_timeouts)     /* closed connections whose peer never sent FIN */                 \
  X(persist_timeouts)       /* zero-window probes unanswered max_retransmits times */          \
  X(tx_alloc_retries)       /* sends retried after the pool ran dry */                         \
  X(windows_under_pressure) /* windows advertised with the pool under half free */             \
  X(conn_table_full)        /* connections refused for lack of a slot */                       \
  X(timeouts)               /* connections dropped after max_retransmits */                    \
  X(pmtu_lowered)           /* "fragmentation needed" believed: MSS lowered */                 \
  X(pmtu_no_conn)           /* ... about no synchronized connection */                         \
  X(pmtu_bad_seq)           /* ... quoting a sequence outside [SND.UNA, SND.MAX) */            \
  X(pmtu_too_small)         /* ... with an MTU below kMinPathMtu */                            \
  X(pmtu_not_lower)         /* ... that would not lower the MSS */

struct TcpStats {
#define IX_TCP_STAT_FIELD(name) uint64_t name = 0;
  IX_TCP_STATS(IX_TCP_STAT_FIELD)
#undef IX_TCP_STAT_FIELD

  template <class F>
  void for_each(F f) const {
#define IX_TCP_STAT_VISIT(name) f("tcp." #name, name);
    IX_TCP_STATS(IX_TCP_STAT_VISIT)
#undef IX_TCP_STAT_VISIT
  }
};

}  // namespace ix::net::tcp
