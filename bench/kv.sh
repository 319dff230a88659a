#!/usr/bin/env bash
# bench/kv.sh — KV get throughput through the whole path, beside a hello-world baseline.
#
# What it measures, one server at a time, in the same run:
#   * hello: `isolated serve bench/handlers/hello.js` (the baseline);
#   * kv-get: `isolated serve bench/handlers/kv-get.js --kv KV=sqlite:TMP/kv.sqlite`, where
#     every request does `await env.KV.get('k')` of a 100-byte value: worker -> supervisor
#     (BindingCall) -> a storage thread (SQLite, WAL) -> the loop -> worker (BindingResult).
#   * neighbours: one server (--config) of two apps, `kv` (kv-get.js, its own KV binding) and
#     `hello` (hello.js), routed by host: hello's p99 alone, then again while a second wrk
#     hammers kv (-c$CONNS) — issue 13's target is within 2x. hello is measured two ways:
#     paced (about $PACED_RATE req/s over $PACED_CONNS connections, bench/wrk/tenants.lua's
#     paced mode, as bench/tenants.sh's noisy neighbour) — the target figure, since a latency
#     objective is about a tenant's ordinary traffic — and closed-loop (wrk -c$HELLO_CONNS as
#     fast as it can), where hello itself wants the whole machine and so also measures how the
#     two cores are shared between two saturating clients (shown, not the target).
# Each under `wrk -t1 -c$CONNS -d${DURATION}s --latency` after a warm-up. One KV get per
# request, so kv-get's req/s is its KV ops/s. The kv/hello ratio is the figure to compare
# across runs (absolute numbers move with the machine's load).
#
# Usage (from the repository root):  bash bench/kv.sh      QUICK=1 bash bench/kv.sh (short runs)
# Environment: ISOLATED_BIN (build/isolated), WORKERS (2), CONNS (32), HELLO_CONNS (4),
#   PACED_RATE (1000), PACED_CONNS (4), DURATION (8; QUICK 3), WARMUP (2; QUICK 1), STARTUP_TIMEOUT (30), OUT (bench/results/kv.json)

set -euo pipefail

ISOLATED_BIN="${ISOLATED_BIN:-build/isolated}"
WORKERS="${WORKERS:-2}"
CONNS="${CONNS:-32}"
HELLO_CONNS="${HELLO_CONNS:-4}"
PACED_RATE="${PACED_RATE:-1000}"
PACED_CONNS="${PACED_CONNS:-4}"
QUICK="${QUICK:-0}"
if [[ "${QUICK}" == 1 ]]; then
  DURATION="${DURATION:-3}"
  WARMUP="${WARMUP:-1}"
fi
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

# record_row NAME WRK_OUTPUT: req/s, p99 and errors of one wrk run, as row NAME.
record_row() {
  RPS["$1"]="$(parse_rps "$2")"
  P99["$1"]="$(parse_p99 "$2")"
  ERRORS["$1"]="$(parse_errors "$2")"
  ROWS+=("$1")
}

# bench_neighbours PORT: the two-app server; hello's p99 alone and beside a KV hammer.
bench_neighbours() {
  local port="$1" log="${TMP_DIR}/neighbours.log" config="${TMP_DIR}/neighbours.toml"
  cat >"${config}" <<TOML
[[app]]
name = "kv"
script = "$(pwd)/bench/handlers/kv-get.js"
routes = ["kv.bench/*"]
kv = { KV = "sqlite:neighbours-kv.sqlite" }

[[app]]
name = "hello"
script = "$(pwd)/bench/handlers/hello.js"
routes = ["hello.bench/*"]
TOML
  log "starting neighbours on 127.0.0.1:${port}"
  spawn "${log}" "${ISOLATED_BIN}" serve --config "${config}" --listen "127.0.0.1:${port}" \
    --workers "${WORKERS}" --log-level warn --control-socket "${TMP_DIR}/neighbours.sock"
  local pid="${SPAWN_PID}" url="http://127.0.0.1:${port}/" i
  for ((i = 0; i < STARTUP_TIMEOUT * 100; i++)); do
    curl -sf -X POST -H 'Host: kv.bench' "${url}" >/dev/null 2>&1 && break
    kill -0 "${pid}" 2>/dev/null || die "neighbours exited: $(cat "${log}")"
    sleep 0.01
  done
  wait_http_ready neighbours "${pid}" "${log}" "${url}" -H 'Host: hello.bench'
  wrk -t1 -c"${HELLO_CONNS}" -d"${WARMUP}s" -H 'Host: hello.bench' "${url}" >/dev/null 2>&1 ||
    die "wrk warm-up failed"
  local delay paced
  delay="$(awk -v c="${PACED_CONNS}" -v r="${PACED_RATE}" 'BEGIN { printf "%d", c * 1000 / r }')"
  paced=(env TENANTS_MODE=paced TENANTS_HOST=hello.bench TENANTS_DELAY_MS="${delay}" wrk -t1
    -c"${PACED_CONNS}" -d"${DURATION}s" --latency -s bench/wrk/tenants.lua "${url}")
  local solo busy hammer paced_solo paced_busy
  solo="$(wrk -t1 -c"${HELLO_CONNS}" -d"${DURATION}s" --latency -H 'Host: hello.bench' "${url}" 2>&1)" ||
    die "wrk failed (hello alone)"
  paced_solo="$("${paced[@]}" 2>&1)" || die "wrk failed (hello paced, alone)"
  # The hammer runs a second longer on each side, so hello is measured under it throughout.
  wrk -t1 -c"${CONNS}" -d"$((2 * DURATION + 2))s" --latency -H 'Host: kv.bench' "${url}" \
    >"${TMP_DIR}/hammer.out" 2>&1 &
  local hammer_pid=$!
  sleep 1
  busy="$(wrk -t1 -c"${HELLO_CONNS}" -d"${DURATION}s" --latency -H 'Host: hello.bench' "${url}" 2>&1)" ||
    die "wrk failed (hello beside kv)"
  paced_busy="$("${paced[@]}" 2>&1)" || die "wrk failed (hello paced, beside kv)"
  wait "${hammer_pid}" || die "wrk failed (kv hammer)"
  hammer="$(cat "${TMP_DIR}/hammer.out")"
  kill -0 "${pid}" 2>/dev/null || die "neighbours died during the benchmark: $(cat "${log}")"
  record_row hello-solo "${solo}"
  record_row kv-hammer "${hammer}"
  record_row hello-beside-kv "${busy}"
  record_row hello-paced-solo "${paced_solo}"
  record_row hello-paced-beside-kv "${paced_busy}"
  stop_server "${pid}"
}

main() {
  [[ -f bench/handlers/kv-get.js ]] || die "run from the repository root: bash bench/kv.sh"
  ensure_wrk
  require_isolated_bin
  local ports
  mapfile -t ports < <(free_ports 3)
  log "cores: $(nproc), load average: $(cut -d' ' -f1-3 /proc/loadavg)"
  bench_one hello "${ports[0]}" bench/handlers/hello.js
  bench_one kv-get "${ports[1]}" bench/handlers/kv-get.js --kv "KV=sqlite:${TMP_DIR}/kv.sqlite"
  bench_neighbours "${ports[2]}"
  local r p closed
  r="$(ratio "${RPS[kv-get]}" "${RPS[hello]}")"
  p="$(ratio "${P99[hello-paced-beside-kv]}" "${P99[hello-paced-solo]}")"
  closed="$(ratio "${P99[hello-beside-kv]}" "${P99[hello-solo]}")"
  echo
  printf '%-22s %12s %10s %8s\n' server 'req/s' 'p99 ms' errors
  local name
  for name in "${ROWS[@]}"; do
    printf '%-22s %12.0f %10.3f %8s\n' "${name}" "${RPS[${name}]}" "${P99[${name}]}" "${ERRORS[${name}]}"
  done
  echo "kv-get/hello req/s ratio ${r}; hello p99 beside kv / alone: paced ${p} (target <= 2)," \
    "closed-loop ${closed}; --workers ${WORKERS}; wrk -t1 -c${CONNS} -d${DURATION}s" \
    "(hello: paced ~${PACED_RATE} req/s over ${PACED_CONNS}, closed-loop -c${HELLO_CONNS});" \
    "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
  mkdir -p "$(dirname "${OUT}")"
  {
    printf '{\n'
    json_run_fields kv
    printf '  "wrk": {"threads": 1, "connections": %s, "duration_s": %s},\n' "${CONNS}" "${DURATION}"
    printf '  "workers": %s,\n  "results": [\n' "${WORKERS}"
    printf '    {"server": "hello", "rps": %s, "p99_ms": %s, "errors": %s},\n' \
      "${RPS[hello]}" "${P99[hello]}" "${ERRORS[hello]}"
    local last="${ROWS[-1]}"
    for name in "${ROWS[@]:1}"; do
      printf '    {"server": "%s", "rps": %s, "p99_ms": %s, "errors": %s}%s\n' "${name}" \
        "${RPS[${name}]}" "${P99[${name}]}" "${ERRORS[${name}]}" "$([[ ${name} == "${last}" ]] || echo ,)"
    done
    printf '  ],\n  "ratio_kv_to_hello": %s,\n' "$(json_num "${r}")"
    printf '  "hello_p99_beside_kv_over_alone": %s,\n' "$(json_num "${p}")"
    printf '  "hello_closed_loop_p99_beside_kv_over_alone": %s\n}\n' "$(json_num "${closed}")"
  } >"${OUT}"
  log "wrote ${OUT}"
}

main "$@"
