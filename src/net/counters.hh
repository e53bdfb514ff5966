// Per-stack counters: what the protocols did, and every packet they dropped,
// by reason. One instance per elastic thread, written only by that thread.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ix::net {

// Every reason the stack drops a packet. Each dropped packet is counted under
// exactly one reason: the first check it fails.
#define IX_NET_DROP_REASONS(X)                                                            \
  X(kEthRunt, "eth_runt")                  /* shorter than an Ethernet header */          \
  X(kEthSegmented, "eth_segmented")        /* received frame is a chain */                \
  X(kEthNotForUs, "eth_not_for_us")        /* other unicast or multicast MAC */           \
  X(kEthSrcMulticast, "eth_src_multicast") /* source MAC has the group bit */             \
  X(kEthVlan, "eth_vlan")                  /* 802.1Q/802.1ad tagged: unsupported */       \
  X(kEthUnknownType, "eth_unknown_type")   /* EtherType neither IPv4 nor ARP */           \
  X(kArpTruncated, "arp_truncated")                                                       \
  X(kArpBadHwType, "arp_bad_hw_type")       /* htype != Ethernet */                       \
  X(kArpBadProtoType, "arp_bad_proto_type") /* ptype != IPv4 */                           \
  X(kArpBadAddrLen, "arp_bad_addr_len")     /* hlen != 6 or plen != 4 */                  \
  X(kArpBadOp, "arp_bad_op")                /* neither request nor reply */               \
  X(kArpBadSender, "arp_bad_sender")        /* group MAC or non-unicast IP */             \
  X(kArpAddrConflict, "arp_addr_conflict")  /* someone else claims our address */         \
  X(kArpNotForUs, "arp_not_for_us")         /* not about us, sender not cached */         \
  X(kArpHoldFull, "arp_hold_full")          /* too many packets awaiting a reply */       \
  X(kArpUnresolved, "arp_unresolved")       /* no reply after all retries */              \
  X(kArpTableFull, "arp_table_full")        /* no entry for a new next hop */             \
  X(kIpv4Truncated, "ipv4_truncated")       /* header or total length past frame */       \
  X(kIpv4BadVersion, "ipv4_bad_version")                                                  \
  X(kIpv4BadIhl, "ipv4_bad_ihl")                  /* IHL < 5 */                           \
  X(kIpv4BadTotalLength, "ipv4_bad_total_length") /* total length < header */             \
  X(kIpv4BadChecksum, "ipv4_bad_checksum")                                                \
  X(kIpv4Options, "ipv4_options")      /* IP options: unsupported */                      \
  X(kIpv4Fragment, "ipv4_fragment")    /* no reassembly */                                \
  X(kIpv4BadSource, "ipv4_bad_source") /* martian source address */                       \
  X(kIpv4NotForUs, "ipv4_not_for_us")  /* we do not forward */                            \
  X(kIpv4TtlZero, "ipv4_ttl_zero")                                                        \
  X(kIpv4UnknownProtocol, "ipv4_unknown_protocol")                                        \
  X(kIpv4NoRoute, "ipv4_no_route") /* off-link and no gateway */                          \
  X(kIcmpTruncated, "icmp_truncated")                                                     \
  X(kIcmpBadChecksum, "icmp_bad_checksum")                                                \
  X(kIcmpUnsupportedType, "icmp_unsupported_type")                                        \
  X(kIcmpEchoBroadcast, "icmp_echo_broadcast")    /* we do not answer broadcast pings */  \
  X(kIcmpQuoteTruncated, "icmp_quote_truncated")  /* quote < IP header + 8 bytes */       \
  X(kIcmpQuoteBadHeader, "icmp_quote_bad_header") /* quoted: not IPv4, IHL < 5 */         \
  X(kIcmpQuoteNotOurs, "icmp_quote_not_ours")     /* quoted source not our address */     \
  X(kIcmpQuoteNotTcp, "icmp_quote_not_tcp")       /* path MTU is for TCP only */          \
  X(kUdpTruncated, "udp_truncated")               /* shorter than a UDP header */         \
  X(kUdpBadLength, "udp_bad_length")              /* length field < 8 or past datagram */ \
  X(kUdpBadChecksum, "udp_bad_checksum")                                                  \
  X(kUdpNoPort, "udp_no_port")      /* no receiver bound to the port */                   \
  X(kUdpPoolLow, "udp_pool_low")    /* only the RX reserve left: not held for the app */  \
  X(kNoMbuf, "no_mbuf")             /* a frame to send found the pool empty */            \
  X(kTcpTruncated, "tcp_truncated") /* shorter than a TCP header */                       \
  X(kTcpBadChecksum, "tcp_bad_checksum")                                                  \
  X(kTcpBadHeaderLen, "tcp_bad_header_len")     /* data offset < 5 or past the end */     \
  X(kTcpBadOptions, "tcp_bad_options")          /* malformed option list */               \
  X(kTcpBadAddress, "tcp_bad_address")          /* broadcast/multicast or port 0 */       \
  X(kTcpBadFlags, "tcp_bad_flags")              /* SYN with RST or FIN */                 \
  X(kTcpNoConnection, "tcp_no_connection")      /* closed port (answered with RST) */     \
  X(kTcpListenIgnored, "tcp_listen_ignored")    /* RST or stray segment to a listener */  \
  X(kTcpSynSentIgnored, "tcp_syn_sent_ignored") /* unusable reply to our SYN */           \
  X(kTcpOutOfWindow, "tcp_out_of_window")       /* not acceptable (ACK sent) */           \
  X(kTcpPaws, "tcp_paws")                       /* old timestamp (RFC 7323) */            \
  X(kTcpRstIgnored, "tcp_rst_ignored")          /* RST not at RCV.NXT (RFC 5961) */       \
  X(kTcpSynChallenged, "tcp_syn_challenged")    /* SYN on a synchronized connection */    \
  X(kTcpNoAck, "tcp_no_ack")                    /* ACK bit missing */                     \
  X(kTcpBadAck, "tcp_bad_ack")                  /* acknowledges what we never sent */     \
  X(kTcpDataAfterFin, "tcp_data_after_fin")     /* data past the peer's FIN */            \
  X(kTcpRecvQueueFull, "tcp_recv_queue_full")   /* too many segments held for the app */  \
  X(kTcpPoolLow, "tcp_pool_low") /* only the RX reserve left: ACK taken, data not held */ \
  X(kTcpReassemblyFull, "tcp_reassembly_full") /* out-of-order queue full/duplicate */    \
  X(kTcpSynBacklogFull, "tcp_syn_backlog_full")                                           \
  X(kTcpConnTableFull, "tcp_conn_table_full")                                             \
  X(kTcpBadCookie, "tcp_bad_cookie") /* handshake ACK with an invalid cookie */

enum class DropReason : uint8_t {
#define IX_NET_DROP_ENUM(id, name) id,
  IX_NET_DROP_REASONS(IX_NET_DROP_ENUM)
#undef IX_NET_DROP_ENUM
      kCount
};

// "ipv4_bad_checksum" etc.; "unknown" for values out of range.
const char *drop_reason_name(DropReason r);

// Protocol counters (not drops).
#define IX_NET_COUNTERS(X)                                                \
  X(rx_frames) /* frames given to input() */                              \
  X(tx_frames) /* frames handed to the FrameSink */                       \
  X(arp_requests_rx)                                                      \
  X(arp_replies_rx)                                                       \
  X(arp_requests_tx) /* including retries and gratuitous ARP */           \
  X(arp_replies_tx)                                                       \
  X(arp_gratuitous_tx)                                                    \
  X(arp_held)          /* packets parked while their next hop resolved */ \
  X(arp_resolved)      /* pending entries completed by a reply */         \
  X(arp_expired)       /* entries removed after arp_timeout_ns */         \
  X(arp_evicted)       /* entries pushed out by a full table */           \
  X(arp_learn_skipped) /* sender not cached because the table was full */ \
  X(ipv4_rx)           /* valid datagrams for us */                       \
  X(ipv4_tx)                                                              \
  X(icmp_echo_rx)                                                         \
  X(icmp_echo_tx)                                                         \
  X(icmp_unreach_tx)                                                      \
  X(icmp_rate_limited)   /* errors suppressed by the token bucket */      \
  X(icmp_frag_needed_rx) /* "fragmentation needed" for TCP */             \
  X(udp_rx)              /* datagrams delivered to a receiver */          \
  X(udp_tx)                                                               \
  X(tcp_rx) /* segments that passed validation */                         \
  X(tcp_tx)

struct StackCounters {
#define IX_NET_COUNTER_FIELD(name) uint64_t name = 0;
  IX_NET_COUNTERS(IX_NET_COUNTER_FIELD)
#undef IX_NET_COUNTER_FIELD
  uint64_t drops[static_cast<size_t>(DropReason::kCount)] = {};

  void drop(DropReason r) { ++drops[static_cast<size_t>(r)]; }
  uint64_t dropped(DropReason r) const {
    return static_cast<size_t>(r) < static_cast<size_t>(DropReason::kCount)
               ? drops[static_cast<size_t>(r)]
               : 0;
  }
  uint64_t total_drops() const {
    uint64_t t = 0;
    for (uint64_t d : drops) t += d;
    return t;
  }

  // f(const char *name, uint64_t value) for every protocol counter, then for
  // every drop reason as "drop.<reason>".
  template <class F>
  void for_each(F f) const {
#define IX_NET_COUNTER_VISIT(name) f(#name, name);
    IX_NET_COUNTERS(IX_NET_COUNTER_VISIT)
#undef IX_NET_COUNTER_VISIT
#define IX_NET_DROP_VISIT(id, name) f("drop." name, drops[static_cast<size_t>(DropReason::id)]);
    IX_NET_DROP_REASONS(IX_NET_DROP_VISIT)
#undef IX_NET_DROP_VISIT
  }
};

}  // namespace ix::net
