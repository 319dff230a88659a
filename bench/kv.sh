#!/usr/bin/env bash
# bench/kv.sh — KV get throughput through the whole path, beside a hello-world baseline.
#
# What it measures, one server at a time, in the same run:
#   * hello: `isolated serve bench/handlers/hello.js` (the baseline);
#   * kv-get: `isolated serve bench/handlers/kv-get.js --kv KV=sqlite:TMP/kv.sqlite`, where
#     every request does `await env.KV.get('k')` of a 100-byte value: worker -> supervisor
#     (BindingCall) -> a storage thread (SQLite, WAL) -> the loop -> worker (BindingResult).
# Each under `wrk -t1 -c$CONNS -d${DURATION}s --latency` after a warm-up. One KV get per
# request, so kv-get's req/s is its KV ops/s. The kv/hello ratio is the figure to compare
# across runs (absolute numbers move with the machine's load).
#
# Usage (from the repository root):  bash bench/kv.sh
# Environment: ISOLATED_BIN (build/isolated), WORKERS (2), CONNS (32), DURATION (8),
#   WARMUP (2), STARTUP_TIMEOUT (30), OUT (bench/results/kv.json)

set -euo pipefail

ISOLATED_BIN="${ISOLATED_BIN:-build/isolated}"
WORKERS="${WORKERS:-2}"
CONNS="${CONNS:-32}"
DURATION="${DURATION:-8}"
WARMUP="${WARMUP:-2}"
STARTUP_TIMEOUT="${STARTUP_TIMEOUT:-30}"
OUT="${OUT:-bench/results/kv.json}"

declare -A RPS=() P99=() ERRORS=()
ROWS=()

# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init

# bench_one NAME PORT SCRIPT [ISOLATED ARGS...]: start, (seed), measure, stop, record.
bench_one() {
  local name="$1" port="$2" script="$3" log="${TMP_DIR}/$1.log"
  shift 3
  log "starting ${name} on 127.0.0.1:${port}"
  spawn "${log}" "${ISOLATED_BIN}" serve "${script}" --listen "127.0.0.1:${port}" \
    --workers "${WORKERS}" --log-level warn --control-socket "${TMP_DIR}/${name}.sock" "$@"
  local pid="${SPAWN_PID}"
  if [[ "${name}" == kv-get ]]; then
    # Not ready to answer 200 until seeded: wait for the listener, then seed.
    local i
    for ((i = 0; i < STARTUP_TIMEOUT * 100; i++)); do
      curl -sf -X POST "http://127.0.0.1:${port}/" >/dev/null 2>&1 && break
      kill -0 "${pid}" 2>/dev/null || die "${name} exited: $(cat "${log}")"
      sleep 0.01
    done
  fi
  wait_http_ready "${name}" "${pid}" "${log}" "http://127.0.0.1:${port}/"
  local out
  wrk -t1 -c32 -d"${WARMUP}s" "http://127.0.0.1:${port}/" >/dev/null 2>&1 || die "wrk warm-up failed"
  out="$(wrk -t1 -c"${CONNS}" -d"${DURATION}s" --latency "http://127.0.0.1:${port}/" 2>&1)" ||
    die "wrk failed against ${name}"
  kill -0 "${pid}" 2>/dev/null || die "${name} died during the benchmark: $(cat "${log}")"
  RPS["${name}"]="$(parse_rps "${out}")"
  P99["${name}"]="$(parse_p99 "${out}")"
  ERRORS["${name}"]="$(parse_errors "${out}")"
  ROWS+=("${name}")
  ((ERRORS["${name}"] == 0)) || log "warning: ${name}: ${ERRORS[${name}]} errors"
  stop_server "${pid}"
}

main() {
  [[ -f bench/handlers/kv-get.js ]] || die "run from the repository root: bash bench/kv.sh"
  ensure_wrk
  require_isolated_bin
  local ports
  mapfile -t ports < <(free_ports 2)
  log "cores: $(nproc), load average: $(cut -d' ' -f1-3 /proc/loadavg)"
  bench_one hello "${ports[0]}" bench/handlers/hello.js
  bench_one kv-get "${ports[1]}" bench/handlers/kv-get.js --kv "KV=sqlite:${TMP_DIR}/kv.sqlite"
  local r
  r="$(ratio "${RPS[kv-get]}" "${RPS[hello]}")"
  echo
  printf '%-8s %12s %10s %8s\n' server 'req/s' 'p99 ms' errors
  local name
  for name in "${ROWS[@]}"; do
    printf '%-8s %12.0f %10.3f %8s\n' "${name}" "${RPS[${name}]}" "${P99[${name}]}" "${ERRORS[${name}]}"
  done
  echo "kv-get/hello req/s ratio ${r}; --workers ${WORKERS}; wrk -t1 -c${CONNS} -d${DURATION}s;" \
    "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
  mkdir -p "$(dirname "${OUT}")"
  {
    printf '{\n'
    json_run_fields kv
    printf '  "wrk": {"threads": 1, "connections": %s, "duration_s": %s},\n' "${CONNS}" "${DURATION}"
    printf '  "workers": %s,\n  "results": [\n' "${WORKERS}"
    printf '    {"server": "hello", "rps": %s, "p99_ms": %s, "errors": %s},\n' \
      "${RPS[hello]}" "${P99[hello]}" "${ERRORS[hello]}"
    printf '    {"server": "kv-get", "rps": %s, "p99_ms": %s, "errors": %s}\n' \
      "${RPS[kv-get]}" "${P99[kv-get]}" "${ERRORS[kv-get]}"
    printf '  ],\n  "ratio_kv_to_hello": %s\n}\n' "$(json_num "${r}")"
  } >"${OUT}"
  log "wrote ${OUT}"
}

main "$@"
