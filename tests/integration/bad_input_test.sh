#!/usr/bin/env bash
# Malformed frames from the Linux side (scapy, raw AF_PACKET): every one is
# dropped and counted under its reason, and the dataplane still answers
# ping and UDP echo afterwards.
source "$(dirname "$0")/lib.sh"

ix_setup ixb$$ 1
ix_start ix-udp-echo --cpu 0 --port 7
ix_ip=${IX_ADDR%/*}
count=5
sent=$(peer /usr/bin/python3 "$ROOT/tests/integration/bad_frames.py" --iface "$PEER_IF" \
  --dst-mac "$IX_MAC" --src-mac "$PEER_MAC" --dst-ip "$ix_ip" --src-ip "${PEER_ADDR%/*}" --count $count) ||
  fail "could not send the malformed frames"
echo "sent: $sent"

# Still alive and answering.
peer ping -c 10 -i 0.05 -W 1 "$ix_ip" | grep -q " 0% packet loss" || fail "no ping answer after bad input"
peer "$BUILD/udp-ping" --dst "$ix_ip:7" sizes --from 1 --to 64 >/dev/null || fail "no UDP echo after bad input"
pass "dataplane answers ping and UDP echo after the malformed frames"
ix_stop

python3 - "$IX_STATS" "$sent" <<'PY' || fail "drop counters do not match what was sent"
import json, sys
stats = json.load(open(sys.argv[1]))
sent = json.loads(sys.argv[2])
got = {}
for t in stats["threads"]:
    for k, v in t["net"].items():
        if k.startswith("drop."):
            got[k[5:]] = got.get(k[5:], 0) + v
bad = 0
for reason, n in sorted(sent.items()):
    ok = got.get(reason, 0) == n
    print(f"  {reason:24} sent {n:3}  counted {got.get(reason, 0):3}  {'ok' if ok else 'MISMATCH'}")
    bad += not ok
extra = {k: v for k, v in got.items() if v and k not in sent}
if extra:
    print("  drops for reasons not sent:", extra)
    bad += 1
sys.exit(1 if bad else 0)
PY
pass "every malformed frame dropped and counted under its reason"
