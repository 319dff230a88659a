#!/usr/bin/env bash
# The whole test suite a second time, built with AddressSanitizer and UndefinedBehaviorSanitizer
# (docs/fuzzing.md), then the HTTP layer's suite with ThreadSanitizer. The README's test command runs it after the normal build's suite, so CI
# runs both. Any sanitizer report aborts the process that made it, which fails its test.
#
#   scripts/sanitized-tests.sh [BUILD_DIR]     (default build-asan)
#
# ISOLATED_SANITIZED_JOBS sets ctest's parallelism (default 2, the CI machine's cores).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-asan}
jobs=${ISOLATED_SANITIZED_JOBS:-2}

# detect_leaks=0: V8's and libevent's process-lifetime allocations are never freed, so leak
# checking would fail every test at exit. abort_on_error=1: a report ends the process with
# SIGABRT, which a test's own checks see as a crash. The same options reach every server and
# worker a test starts, through the environment.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

started=$(date +%s)
# -O1 -g1, as the sanitizers' own documentation suggests: reports keep file:line stacks, and the
# uncached build takes about half the time of -O2 -g (worker/isolate_host.cc: 19 s against 36 s),
# which keeps the whole test command inside CI's 30-minute budget.
flags="-O1 -g1 -DNDEBUG"
cmake -B "$build" -DISOLATED_SANITIZE=address,undefined -DISOLATED_WERROR=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$flags" \
  -DCMAKE_C_FLAGS_RELWITHDEBINFO="$flags"
cmake --build "$build" -j2
built=$(date +%s)
# --timeout: the sanitizers slow every process two to five times; no test may hang past it.
ctest --test-dir "$build" --output-on-failure -j"$jobs" --timeout 600
tested=$(date +%s)

# ThreadSanitizer on the code that runs on more than one thread in one process: the HTTP layer's
# suite, with the threaded front (--io-threads) in-process. Only that target is built (no V8), so
# this adds a minute or two; the rest of the process is single-threaded or a separate process.
tsan=${build}-tsan
cmake -B "$tsan" -DISOLATED_SANITIZE=thread -DISOLATED_WERROR=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$flags" \
  -DCMAKE_C_FLAGS_RELWITHDEBINFO="$flags"
cmake --build "$tsan" -j2 --target http_tests
TSAN_OPTIONS=halt_on_error=1 "$tsan/tests/http_tests"
echo "sanitized-tests: build $((built - started)) s, tests $((tested - built)) s," \
  "thread sanitizer $(($(date +%s) - tested)) s"
