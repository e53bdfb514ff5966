#!/usr/bin/env bash
# Runs every test of IX: unit tests (in-process wire, manual clock),
# integration tests against the Linux stack in network namespaces (root),
# the unit tests again under ASan+UBSan, the multi-thread ones under
# ThreadSanitizer, and each fuzz target briefly.
# Ends with ctest's summary line. Usage: scripts/test.sh [extra ctest args]
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

scripts/install-deps.sh

cmake -S . -B build-asan -DIX_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-asan -j"$jobs" --target ix_unit_tests ix_xdp_tests

cmake -S . -B build-tsan -DIX_TSAN=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-tsan -j"$jobs" --target ix_threaded_tests

cmake -S . -B build-fuzz -DIX_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build build-fuzz -j"$jobs" --target ix_fuzz_targets

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DIX_ASAN_UNIT_TESTS="$PWD/build-asan/tests/ix_unit_tests" \
  -DIX_ASAN_XDP_TESTS="$PWD/build-asan/tests/ix_xdp_tests" \
  -DIX_TSAN_UNIT_TESTS="$PWD/build-tsan/tests/ix_threaded_tests" \
  -DIX_FUZZ_BUILD_DIR="$PWD/build-fuzz" >/dev/null
cmake --build build -j"$jobs"

# One test per CPU at a time: the integration tests are RUN_SERIAL (they
# take the machine's namespaces and CPUs to themselves); the unit, sanitizer
# and fuzz tests are independent processes and share the CPUs.
ctest --test-dir build --output-on-failure -j"$jobs" "$@"
