// tc classifiers (direct-action) that drop IPv4 TCP segments at random, to
// put the TCP engine through loss on an otherwise perfect veth. Other frames
// (ARP in particular) pass, so loss never turns into an unreachable host.
//
// Build: clang -O2 -g -target bpf -DDROP_PER_MILLE=20 -c random_drop.bpf.c
// Attach: tc filter add dev IF ingress bpf da obj random_drop.bpf.o sec tc_ingress
//         tc filter add dev IF egress  bpf da obj random_drop.bpf.o sec tc_egress
//
// The two directions differ in how a drop is reported, and that matters:
// - ingress returns TC_ACT_SHOT: the frame is gone before the local stack sees
//   it, exactly like loss on the wire; the clsact qdisc counts it as "dropped".
// - egress returns TC_ACT_STOLEN: TC_ACT_SHOT there makes dev_queue_xmit
//   return NET_XMIT_DROP, so the local TCP sender learns of the drop at once
//   and sends the segment again as if it had never left (no loss recovery at
//   all). STOLEN reports success to the sender, so the segment is lost silently
//   and the receiver must notice the gap. It is not counted by the qdisc; the
//   sender's retransmission counters show it.

// The libbpf headers use the kernel's __u32/__u64 types, so linux/ comes first.
// clang-format off
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
// clang-format on

#ifndef DROP_PER_MILLE
#error "define DROP_PER_MILLE (0..1000), the share of TCP segments to drop"
#endif
#if DROP_PER_MILLE < 0 || DROP_PER_MILLE > 1000
#error "DROP_PER_MILLE must be 0..1000"
#endif

// Offset of the protocol byte in an IPv4 header that follows an Ethernet header.
#define IPV4_PROTOCOL_OFFSET (ETH_HLEN + 9)

static __always_inline int chosen_for_drop(struct __sk_buff *skb) {
  if (skb->protocol != bpf_htons(ETH_P_IP)) return 0;
  __u8 proto = 0;
  if (bpf_skb_load_bytes(skb, IPV4_PROTOCOL_OFFSET, &proto, sizeof(proto)) < 0) return 0;
  if (proto != IPPROTO_TCP) return 0;
  // 2^32 is not a multiple of 1000; the resulting bias is below 1e-6.
  return bpf_get_prandom_u32() % 1000 < DROP_PER_MILLE;
}

SEC("tc_ingress")
int random_drop_ingress(struct __sk_buff *skb) {
  return chosen_for_drop(skb) ? TC_ACT_SHOT : TC_ACT_OK;
}

SEC("tc_egress")
int random_drop_egress(struct __sk_buff *skb) {
  return chosen_for_drop(skb) ? TC_ACT_STOLEN : TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
