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
  python3-matplotlib valgrind perl
)

# memcached's own test suite (tests/integration/memcached_upstream_test.sh):
# the t/ directory of the source of the memcached package installed here,
# from Debian's source archive (apt checks it against the signed index).
SUITE_DIR=/var/cache/ix/memcached-suite
fetch_memcached_suite() {
  [ -f "$SUITE_DIR/t/lib/MemcachedTest.pm" ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: memcached's test suite is missing at $SUITE_DIR; run as root (sudo $0)" >&2
    exit 1
  fi
  echo "install-deps: fetching memcached's source for its test suite"
  local list=/etc/apt/sources.list.d/ix-memcached-src.sources
  cat >"$list" <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  apt-get update -qq
  local version tmp
  version=$(dpkg-query -W -f='${Version}' memcached)
  tmp=$(mktemp -d)
  chown _apt "$tmp" 2>/dev/null || true  # apt downloads as its own user
  (cd "$tmp" && apt-get source --download-only -qq "memcached=$version" >/dev/null)
  tar -xf "$tmp"/memcached_*.orig.tar.* -C "$tmp"
  mkdir -p "$(dirname "$SUITE_DIR")"
  rm -rf "$SUITE_DIR"
  mv "$tmp"/memcached-*/ "$SUITE_DIR"
  rm -rf "$tmp"
}

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  fetch_memcached_suite
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
fetch_memcached_suite
