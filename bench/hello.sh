#!/usr/bin/env bash
# bench/hello.sh — "hello world" HTTP throughput/latency of `isolated` vs Node.js.
#
# What it measures, for each server in turn (never two at once):
#   * startup: wall time from spawning the server to the first HTTP 200 it serves
#     (polled with curl every ~5 ms, so resolution is roughly 5–10 ms);
#   * req/s and p99 latency under `wrk -t1 -c$CONNS -d${DURATION}s --latency`,
#     after a 2 s warm-up, against GET / on loopback.
# Servers: `isolated serve examples/hello.js --workers $WORKERS`, a single-process
# Node http server (bench/handlers/node-http.js hello) and the same under `cluster`.
#
# Why the headline figures are ratios (isolated/node, isolated/node-cluster):
# these machines are shared and noisy, and wrk competes with the servers for the
# same cores, so absolute req/s swing a lot between runs and hosts. Servers that
# are measured side by side in the same run see the same conditions, so their
# ratio is the number worth comparing across runs and commits.
#
# Usage (from the repository root):  bash bench/hello.sh
# Environment:
#   ISOLATED_BIN     binary to test              (default build/isolated)
#   ISOLATED_SCRIPT  handler to serve            (default examples/hello.js)
#   WORKERS          isolated --workers          (default 2)
#   NODE_CLUSTER     node cluster worker count   (default 2; 0 = skip that row)
#   CONNS            wrk connections             (default 32)
#   DURATION         wrk seconds per server      (default 8)
#   WARMUP           warm-up seconds             (default 2)
#   STARTUP_TIMEOUT  seconds to wait for ready   (default 30)
#   OUT              JSON results file           (default bench/results/hello.json)

set -euo pipefail

ISOLATED_BIN="${ISOLATED_BIN:-build/isolated}"
ISOLATED_SCRIPT="${ISOLATED_SCRIPT:-examples/hello.js}"
WORKERS="${WORKERS:-2}"
NODE_CLUSTER="${NODE_CLUSTER:-2}"
CONNS="${CONNS:-32}"
DURATION="${DURATION:-8}"
WARMUP="${WARMUP:-2}"
STARTUP_TIMEOUT="${STARTUP_TIMEOUT:-30}"
OUT="${OUT:-bench/results/hello.json}"
# The suite's Node.js port of the handlers; `hello` answers like examples/hello.js.
NODE_SCRIPT="bench/handlers/node-http.js"

# Results, filled in by bench_server: name -> figure.
declare -A RPS=() P99=() STARTUP=() ERRORS=()
ROWS=()

# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init

# --- servers -----------------------------------------------------------------

# wait_ready NAME PID LOG PORT: block until the server answers GET / with 200.
# Sets STARTUP_MS, measured from spawn.
wait_ready() {
  wait_http_ready "$1" "$2" "$3" "http://127.0.0.1:$4/"
  expect_log_line "$1" "$3"
}

start_isolated() {
  local port="$1" log="${TMP_DIR}/isolated.log"
  spawn "${log}" "${ISOLATED_BIN}" serve "${ISOLATED_SCRIPT}" \
    --listen "127.0.0.1:${port}" --workers "${WORKERS}"
  wait_ready isolated "${SPAWN_PID}" "${log}" "${port}"
}

# start_node NAME PORT CLUSTER_WORKERS (0 = single process)
start_node() {
  local name="$1" port="$2" workers="$3" log="${TMP_DIR}/$1.log"
  if ((workers > 0)); then
    spawn "${log}" env NODE_CLUSTER="${workers}" node "${NODE_SCRIPT}" hello "${port}"
  else
    spawn "${log}" env -u NODE_CLUSTER node "${NODE_SCRIPT}" hello "${port}"
  fi
  wait_ready "${name}" "${SPAWN_PID}" "${log}" "${port}"
}

# --- wrk and its output ------------------------------------------------------

# run_wrk URL: warm up, then print the measured run's full wrk output.
run_wrk() {
  local url="$1" out
  if ! out="$(wrk -t1 -c32 -d"${WARMUP}s" "${url}" 2>&1)"; then
    log "wrk warm-up failed:"
    printf '%s\n' "${out}" >&2
    return 1
  fi
  wrk -t1 -c"${CONNS}" -d"${DURATION}s" --latency "${url}" 2>&1
}

# bench_server NAME PORT START_FN [ARGS...]: start, measure, stop, record.
bench_server() {
  local name="$1" port="$2"
  shift 2
  log "starting ${name} on 127.0.0.1:${port}"
  "$@"
  local pid="${SPAWN_PID}"
  log "${name}: first 200 after ${STARTUP_MS} ms; wrk ${WARMUP}s warm-up + ${DURATION}s x ${CONNS} conns"
  local out
  if ! out="$(run_wrk "http://127.0.0.1:${port}/")"; then
    printf '%s\n' "${out}" >&2
    die "wrk failed against ${name}"
  fi
  kill -0 "${pid}" 2>/dev/null || die "${name} died during the benchmark; log: $(cat "${TMP_DIR}/${name}.log")"
  mkdir -p "$(dirname "${OUT}")"
  printf '%s\n' "${out}" >"${OUT%.json}.${name}.wrk.txt"
  local rps p99
  rps="$(parse_rps "${out}")" || { printf '%s\n' "${out}" >&2; die "no Requests/sec in wrk output"; }
  p99="$(parse_p99 "${out}")" || { printf '%s\n' "${out}" >&2; die "no 99% latency in wrk output"; }
  RPS["${name}"]="${rps}"
  P99["${name}"]="${p99}"
  STARTUP["${name}"]="${STARTUP_MS}"
  ERRORS["${name}"]="$(parse_errors "${out}")"
  ROWS+=("${name}")
  if ((ERRORS["${name}"] > 0)); then
    log "warning: ${name}: ${ERRORS[${name}]} non-2xx responses / socket errors"
  fi
  stop_server "${pid}"
}

# --- main --------------------------------------------------------------------

main() {
  [[ -f "${NODE_SCRIPT}" ]] || die "run from the repository root: bash bench/hello.sh"
  ensure_wrk

  require_isolated_bin
  [[ -f "${ISOLATED_SCRIPT}" ]] || die "handler script ${ISOLATED_SCRIPT} not found"

  local have_node=1
  if ! command -v node >/dev/null 2>&1; then
    log "node not found on PATH: skipping the Node.js baseline (install nodejs to get ratios)"
    have_node=0
  fi

  local ports
  mapfile -t ports < <(free_ports 3)
  ((${#ports[@]} == 3)) || die "could not find free loopback ports"

  log "cores: $(nproc), wrk: $(wrk --version 2>&1 | head -n1 | awk '{print $2}'), node: $(
    command -v node >/dev/null 2>&1 && node --version || echo none)"

  bench_server isolated "${ports[0]}" start_isolated "${ports[0]}"
  if ((have_node)); then
    bench_server node "${ports[1]}" start_node node "${ports[1]}" 0
    if ((NODE_CLUSTER > 0)); then
      bench_server node-cluster "${ports[2]}" start_node node-cluster "${ports[2]}" "${NODE_CLUSTER}"
    fi
  fi

  # --- report ---
  local r_node r_cluster l_node l_cluster name
  r_node="$(ratio "${RPS[isolated]}" "${RPS[node]:-}")"
  r_cluster="$(ratio "${RPS[isolated]}" "${RPS[node-cluster]:-}")"
  l_node="$(ratio "${P99[isolated]}" "${P99[node]:-}")"
  l_cluster="$(ratio "${P99[isolated]}" "${P99[node-cluster]:-}")"

  echo
  printf '%-14s %12s %10s %12s\n' server 'req/s' 'p99 ms' 'startup ms'
  for name in "${ROWS[@]}"; do
    printf '%-14s %12.0f %10.3f %12s\n' "${name}" "${RPS[${name}]}" "${P99[${name}]}" "${STARTUP[${name}]}"
  done
  echo
  echo "isolated/node          req/s ratio ${r_node:-n/a}   p99 ratio ${l_node:-n/a}"
  echo "isolated/node-cluster  req/s ratio ${r_cluster:-n/a}   p99 ratio ${l_cluster:-n/a}"
  echo "(req/s ratio > 1: isolated is faster; p99 ratio < 1: isolated has lower tail latency)"
  echo "isolated: --workers ${WORKERS}; node-cluster: ${NODE_CLUSTER} workers; wrk -t1 -c${CONNS} -d${DURATION}s; $(nproc) cores"

  mkdir -p "$(dirname "${OUT}")"
  {
    printf '{\n'
    json_run_fields hello
    printf '  "wrk": {"threads": 1, "connections": %s, "duration_s": %s, "warmup_s": %s},\n' \
      "${CONNS}" "${DURATION}" "${WARMUP}"
    printf '  "isolated": {"bin": %s, "script": %s, "workers": %s},\n' \
      "$(json_str "${ISOLATED_BIN}")" "$(json_str "${ISOLATED_SCRIPT}")" "${WORKERS}"
    printf '  "results": [\n'
    local i=0 workers
    for name in "${ROWS[@]}"; do
      case "${name}" in
        isolated) workers="${WORKERS}" ;;
        node) workers=1 ;;
        node-cluster) workers="${NODE_CLUSTER}" ;;
      esac
      if ((i > 0)); then printf ',\n'; fi
      i=$((i + 1))
      printf '    {"server": %s, "workers": %s, "rps": %s, "p99_ms": %s, "startup_ms": %s, "errors": %s}' \
        "$(json_str "${name}")" "${workers}" "${RPS[${name}]}" "${P99[${name}]}" \
        "${STARTUP[${name}]}" "${ERRORS[${name}]}"
    done
    printf '\n  ],\n'
    printf '  "ratios": {\n'
    printf '    "isolated/node": {"rps": %s, "p99": %s},\n' "$(json_num "${r_node}")" "$(json_num "${l_node}")"
    printf '    "isolated/node-cluster": {"rps": %s, "p99": %s}\n' "$(json_num "${r_cluster}")" "$(json_num "${l_cluster}")"
    printf '  }\n}\n'
  } >"${OUT}"
  log "wrote ${OUT}"
}

main "$@"
