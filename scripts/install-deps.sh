#!/usr/bin/env bash
# Installs the Debian 12 packages IX needs to build, test and run its demo.
# Idempotent: does nothing when every package is already installed.
set -euo pipefail

packages=(
  build-essential cmake pkg-config g++ clang libclang-rt-14-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  libxdp-dev libbpf-dev xdp-tools
  iproute2 ethtool iputils-ping procps
  python3 python3-scapy tcpdump tshark libssl-dev liburing-dev
  libdpdk-dev dpdk
  memcached libmemcached-tools python3-pymemcache nutcracker netpipe-tcp wrk curl
  python3-matplotlib valgrind
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}; run as root (sudo $0)" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; the tests run as root.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
# Debian starts a memcached service on install; tests and benchmarks start
# their own memcached inside namespaces, so the system one is not wanted.
if pgrep -x memcached >/dev/null && command -v service >/dev/null; then
  service memcached stop >/dev/null 2>&1 || true
fi
