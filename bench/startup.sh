#!/usr/bin/env bash
# bench/startup.sh — what the V8 startup snapshots buy.
#
# Part 1, in-process (`isolated __bench-startup SCRIPT N`): the time to make a new context and a
# new isolate, each ready to serve (runtime installed, script evaluated or deserialised,
# torn down again), for
#   no-snapshot        the runtime and the script evaluated into each new context;
#   builtins-snapshot  the runtime deserialised from the snapshot compiled into the binary;
#   script-snapshot    the runtime and the script deserialised (when the script is safe to
#                      snapshot, as with --snapshot-script on);
# and V8's own empty context as the floor. Wall and process CPU time per context/isolate are
# printed; on a shared machine the CPU figure is the steadier one. The `1st-req` rows time an
# app's first request in a new context of a warm isolate, and `1st-req-i` in a new isolate:
# what a cold start, or a rebuild after a termination, costs that request against its CPU limit.
#
# Part 2, end to end: hello-world req/s with `wrk -t1 -c$CONNS` in --isolation context and
# --isolation isolate (a fresh context or isolate per request), with each snapshot variant:
#   script    the defaults (--snapshot-script on);
#   builtins  --snapshot-script off;
#   none      --builtins-snapshot off.
#
# Usage (from the repository root):  bash bench/startup.sh
# Environment:
#   ISOLATED_BIN   binary to test                        (default build/isolated)
#   SCRIPTS        scripts for part 1                    (default "examples/hello.js
#                                                         examples/service-worker.js")
#   ITERATIONS     contexts per variant in part 1        (default 1000; isolates: a tenth)
#   WORKERS        isolated --workers in part 2          (default 2)
#   CONNS          wrk connections                       (default 8)
#   DURATION       wrk seconds per run                   (default 5; 0 skips part 2)
#   WARMUP         warm-up seconds per run               (default 1)
#   STARTUP_TIMEOUT seconds to wait for a server         (default 30)
#   OUT            results file (Markdown)               (default bench/results/startup.md)

set -euo pipefail

ISOLATED_BIN="${ISOLATED_BIN:-build/isolated}"
SCRIPTS="${SCRIPTS:-examples/hello.js examples/service-worker.js}"
ITERATIONS="${ITERATIONS:-1000}"
WORKERS="${WORKERS:-2}"
CONNS="${CONNS:-8}"
DURATION="${DURATION:-5}"
WARMUP="${WARMUP:-1}"
STARTUP_TIMEOUT="${STARTUP_TIMEOUT:-30}"
OUT="${OUT:-bench/results/startup.md}"

# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init
require_isolated_bin
mkdir -p "$(dirname "${OUT}")"

{
  echo "# Start-up with and without the V8 startup snapshots"
  echo
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  echo "## New context / new isolate, in-process (isolated __bench-startup)"
  echo
  echo '```'
} >"${OUT}"

for script in ${SCRIPTS}; do
  log "__bench-startup ${script} ${ITERATIONS}"
  "${ISOLATED_BIN}" __bench-startup "${script}" "${ITERATIONS}" | tee -a "${OUT}"
done
echo '```' >>"${OUT}"

if ((DURATION == 0)); then
  log "DURATION=0: end-to-end runs skipped"
  log "results in ${OUT}"
  exit 0
fi
ensure_wrk

{
  echo
  echo "## Hello world req/s, a fresh context or isolate per request"
  echo
  echo "wrk -t1 -c${CONNS} -d${DURATION}s, --workers ${WORKERS}, examples/hello.js"
  echo
  echo "| mode | snapshot | req/s | p99 ms |"
  echo "|---|---|---:|---:|"
} >>"${OUT}"

port="$(free_ports 1)"
for mode in context isolate; do
  for variant in "script" "builtins --snapshot-script off" "none --builtins-snapshot off"; do
    read -r name flags <<<"${variant}"
    read -r -a flags <<<"${flags:-}"
    server_log="${TMP_DIR}/${mode}.${name}.log"
    log "serve --isolation ${mode}, snapshot: ${name}"
    spawn "${server_log}" "${ISOLATED_BIN}" serve examples/hello.js --listen "127.0.0.1:${port}" \
      --workers "${WORKERS}" --isolation "${mode}" --control-socket "${TMP_DIR}/ctl.sock" \
      "${flags[@]}"
    pid="${SPAWN_PID}"
    wait_log_ready "isolated/${mode}/${name}" "${pid}" "${server_log}"
    wrk -t1 -c"${CONNS}" -d"${WARMUP}s" "http://127.0.0.1:${port}/" >/dev/null 2>&1 || true
    out="$(wrk -t1 -c"${CONNS}" -d"${DURATION}s" --latency "http://127.0.0.1:${port}/")"
    rps="$(parse_rps "${out}" || echo "?")"
    p99="$(parse_p99 "${out}" || echo "?")"
    printf '| %s | %s | %s | %s |\n' "${mode}" "${name}" "${rps}" "${p99}" | tee -a "${OUT}"
    stop_server "${pid}"
  done
done
log "results in ${OUT}"
