#!/usr/bin/env bash
# The README's second command: installs what is needed, builds, runs every test.
#
#   1. a build with AddressSanitizer and UndefinedBehaviorSanitizer, -Werror: all of ctest
#   2. a build without sanitizers: the secret-holding modules under valgrind
#      (sodium_malloc's guarded pages are invisible to ASan)
#
# Set TJ_JOBS to change parallelism (default: the number of cores).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
jobs=${TJ_JOBS:-$(nproc)}

"$here/tools/install-deps.sh"

echo "== build with ASan + UBSan (build-test/)"
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Debug -DTJ_ASAN=ON -DTJ_UBSAN=ON -DTJ_WERROR=ON >/dev/null
cmake --build build-test -j"$jobs"

echo "== ctest under ASan + UBSan"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
(cd build-test && ctest -j"$jobs" --output-on-failure --timeout 900)

echo "== optimized build without sanitizers, -Werror (catches -O2-only warnings), for valgrind (build-valgrind/)"
cmake -S . -B build-valgrind -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTJ_VALGRIND=ON -DTJ_WERROR=ON -DTJ_INTEROP=OFF >/dev/null
cmake --build build-valgrind -j"$jobs"

echo "== valgrind"
(cd build-valgrind && ctest -j"$jobs" -L valgrind --output-on-failure)
