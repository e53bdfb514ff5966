#!/usr/bin/env bash
# Test host for the dataplane: two network namespaces joined by a veth pair.
#
#   scripts/netns.sh up NAME [--queues N] [--ix-addr A/P] [--peer-addr B/P]
#   scripts/netns.sh down NAME        (idempotent; safe in traps)
#   scripts/netns.sh status NAME
#
# `up` and `status` print shell assignments for `eval`:
#   IX_NS IX_IF IX_MAC IX_ADDR PEER_NS PEER_IF PEER_MAC PEER_ADDR QUEUES
#
# ${NAME}-ix holds interface ix0, which the dataplane drives through AF_XDP:
# it is up but has NO kernel IP address (the dataplane owns the address
# IX_ADDR; giving it to the kernel too would make the kernel answer ARP and
# send RSTs for the same address). ${NAME}-peer holds peer0 with PEER_ADDR,
# where the ordinary Linux stack plays the client or server.
#
# Facts about veth + XDP that this layout relies on (kernel 6.x, found by
# experiment and in veth.c):
# - Native (driver mode) XDP on a veth requires its RX queue count to be at
#   least the peer's TX queue count, so both ends get the same count.
# - A flow lands on the ix0 RX queue that peer0's TX queue selection picked
#   (socket hash of the flow), so several UDP source ports spread over queues.
# - AF_XDP on veth is copy mode only (veth has no zero-copy support); TX from
#   an AF_XDP socket in copy mode builds an skb and goes through veth_xmit,
#   and RX works once ix0 has an XDP program: the peer needs neither GRO nor
#   an XDP program of its own for AF_XDP traffic in either direction. (The
#   peer only needs NAPI, i.e. GRO on or an XDP program, to receive frames
#   that an XDP program on ix0 sends with XDP_TX/XDP_REDIRECT.)
# - Generic (skb mode) XDP on veth sees every frame on RX queue 0, whatever
#   TX queue the peer used; only native mode spreads flows over queues.
# - `ip netns exec` remounts /sys, so no bpffs is at /sys/fs/bpf inside the
#   namespace; libxdp then attaches its AF_XDP program directly (without its
#   multi-program dispatcher), which is fine for a single AF_XDP user, and
#   removes it when the last socket closes. A SIGKILLed process leaves it
#   attached: `ip -n NAME-ix link set ix0 xdp off` (or `down`) clears it.
# - Checksum offload is off on both ends (`ethtool -K IF tx off`): otherwise
#   the kernel hands veth packets with partial (unfinished) checksums, which
#   a dataplane reading raw frames would see as corrupt.
# - IPv6 is disabled in both namespaces so no router solicitations or DAD
#   frames show up in the dataplane's RX counters.
set -euo pipefail

usage() {
  cat >&2 <<'EOF'
usage: netns.sh up NAME [--queues N] [--ix-addr A/P] [--peer-addr B/P]
       netns.sh down NAME
       netns.sh status NAME
EOF
  exit 2
}

die() {
  echo "netns.sh: $*" >&2
  exit 1
}

require_root() {
  [[ "$(id -u)" -eq 0 ]] || die "must run as root (it creates network namespaces and veth pairs); try: sudo $0 $*"
}

readonly IX_IF=ix0
readonly PEER_IF=peer0

ns_exists() { ip netns list | awk '{print $1}' | grep -qx -- "$1"; }

mac_of() { ip -n "$1" -o link show dev "$2" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p'; }

print_vars() {
  local name=$1 queues=$2 ix_addr=$3 peer_addr=$4
  echo "IX_NS=${name}-ix IX_IF=${IX_IF} IX_MAC=$(mac_of "${name}-ix" "$IX_IF") IX_ADDR=${ix_addr}" \
    "PEER_NS=${name}-peer PEER_IF=${PEER_IF} PEER_MAC=$(mac_of "${name}-peer" "$PEER_IF")" \
    "PEER_ADDR=${peer_addr} QUEUES=${queues}"
}

cmd_down() {
  local name=$1
  # Deleting a namespace destroys the veth end inside it and with it the peer.
  for ns in "${name}-ix" "${name}-peer"; do
    if ns_exists "$ns"; then ip netns del "$ns" || true; fi
  done
}

quiet_ns_sysctls() {
  local ns=$1
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
  ip -n "$ns" link set lo up
}

cmd_up() {
  local name=$1
  shift
  local queues=2 ix_addr=10.77.0.2/24 peer_addr=10.77.0.1/24
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --queues) queues=${2:?--queues needs a number}; shift 2 ;;
      --ix-addr) ix_addr=${2:?--ix-addr needs A/P}; shift 2 ;;
      --peer-addr) peer_addr=${2:?--peer-addr needs B/P}; shift 2 ;;
      *) usage ;;
    esac
  done
  [[ "$queues" =~ ^[0-9]+$ && "$queues" -ge 1 && "$queues" -le 64 ]] ||
    die "--queues must be 1..64, got '$queues'"
  for a in "$ix_addr" "$peer_addr"; do
    [[ "$a" =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+/[0-9]+$ ]] || die "address '$a' is not A.B.C.D/P"
  done
  if ns_exists "${name}-ix" || ns_exists "${name}-peer"; then
    die "namespaces for '$name' already exist; run: $0 down $name"
  fi

  # Undo a half-built setup if any step fails.
  trap 'cmd_down "$name"' ERR
  ip netns add "${name}-ix"
  ip netns add "${name}-peer"
  quiet_ns_sysctls "${name}-ix"
  quiet_ns_sysctls "${name}-peer"
  # Created directly inside the namespaces, so concurrent runs with different
  # NAMEs never clash on interface names in the root namespace.
  ip -n "${name}-ix" link add "$IX_IF" numrxqueues "$queues" numtxqueues "$queues" type veth \
    peer name "$PEER_IF" netns "${name}-peer" numrxqueues "$queues" numtxqueues "$queues"
  ip netns exec "${name}-ix" ethtool -K "$IX_IF" tx off >/dev/null
  ip netns exec "${name}-peer" ethtool -K "$PEER_IF" tx off >/dev/null
  ip -n "${name}-peer" addr add "$peer_addr" dev "$PEER_IF"
  ip -n "${name}-ix" link set "$IX_IF" up
  ip -n "${name}-peer" link set "$PEER_IF" up
  trap - ERR
  print_vars "$name" "$queues" "$ix_addr" "$peer_addr"
}

cmd_status() {
  local name=$1
  ns_exists "${name}-ix" && ns_exists "${name}-peer" || die "no namespaces for '$name'"
  local queues peer_addr
  # `ip netns exec` remounts /sys, so this sees ix0's own queue directories.
  queues=$(ip netns exec "${name}-ix" sh -c "ls -d /sys/class/net/${IX_IF}/queues/rx-* | wc -l")
  peer_addr=$(ip -n "${name}-peer" -o -4 addr show dev "$PEER_IF" | awk '{print $4}' | head -n1)
  # The IX address lives only in the dataplane; status cannot know it.
  print_vars "$name" "$queues" "unknown" "${peer_addr:-none}"
  ip -n "${name}-ix" -d link show dev "$IX_IF" >&2
  ip -n "${name}-peer" -d link show dev "$PEER_IF" >&2
}

[[ $# -ge 2 ]] || usage
action=$1
name=$2
shift 2
[[ "$name" =~ ^[A-Za-z0-9_.-]{1,40}$ ]] || die "NAME must be 1-40 characters of [A-Za-z0-9_.-], got '$name'"
require_root "$action" "$name"
case "$action" in
  up) cmd_up "$name" "$@" ;;
  down) cmd_down "$name" ;;
  status) cmd_status "$name" ;;
  *) usage ;;
esac
