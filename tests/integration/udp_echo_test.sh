#!/usr/bin/env bash
# The dataplane on AF_XDP over veth, answering a Linux peer in another
# namespace: ARP resolution, 100 pings with no loss, and UDP echo of every
# datagram size 1..1472 with the payload verified. Run with one elastic
# thread on one queue, then with two threads on two queues.
source "$(dirname "$0")/lib.sh"

run_case() {
  local threads=$1 cpus=$2
  ix_setup ixu$$ "$threads"
  ix_start ix-udp-echo --cpu "$cpus" --port 7
  local ix_ip=${IX_ADDR%/*}

  peer ip neigh show "$ix_ip" | grep -qi "$IX_MAC" || fail "peer did not resolve $ix_ip to $IX_MAC by ARP"
  pass "[$threads thread(s)] ARP: $ix_ip is at $IX_MAC"

  local out
  out=$(peer ping -c 100 -i 0.01 -W 1 "$ix_ip") || true
  echo "$out" | grep -q " 0% packet loss" || fail "ping lost packets: $(echo "$out" | tail -2)"
  pass "[$threads thread(s)] 100 pings, 0% loss: $(echo "$out" | tail -1)"

  peer "$BUILD/udp-ping" --dst "$ix_ip:7" sizes --from 1 --to 1472 || fail "UDP echo sizes 1..1472"
  pass "[$threads thread(s)] UDP echo of sizes 1..1472 verified"
  # Several source ports so that flows spread over the queues.
  for sport in 5001 5002 5003 5004; do
    peer "$BUILD/udp-ping" --dst "$ix_ip:7" --sport $sport latency --count 200 --size 64 >/dev/null ||
      fail "UDP echo from port $sport"
  done
  pass "[$threads thread(s)] UDP echo from 4 source ports"

  # Counters are readable while the dataplane runs (SIGUSR1 prints them).
  kill -USR1 "$IX_PID"; sleep 0.3
  grep -q "counters (SIGUSR1)" "$WORK/ix.log" && grep -q "^thread [0-9]*: rx [1-9]" "$WORK/ix.log" ||
    fail "no live counters after SIGUSR1"
  pass "[$threads thread(s)] live counters on SIGUSR1"

  ix_stop
  [ "$(stat icmp_echo_rx)" -ge 100 ] || fail "icmp_echo_rx $(stat icmp_echo_rx) < 100"
  [ "$(stat udp_rx)" -ge 2272 ] || fail "udp_rx $(stat udp_rx) < 2272"
  local csum; csum=$(( $(stat drop.udp_bad_checksum) + $(stat drop.ipv4_bad_checksum) ))
  [ "$csum" -eq 0 ] || fail "$csum frames had bad checksums (peer checksum offload?)"
  pass "[$threads thread(s)] counters: icmp_echo_rx $(stat icmp_echo_rx) udp_rx $(stat udp_rx) drops $(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(v for t in d["threads"] for k,v in t["net"].items() if k.startswith("drop.")))' "$IX_STATS")"
  "$ROOT/scripts/netns.sh" down "$NS_NAME" >/dev/null
  NS_NAME=
}

run_case 1 0
if [ "$(nproc)" -ge 2 ]; then run_case 2 0,1; else run_case 2 -1,-1; fi
echo "udp_echo_test: all passed"
