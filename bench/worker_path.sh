#!/usr/bin/env bash
# bench/worker_path.sh — the worker's CPU per request on the request path (decode the
# RequestStart, build Request and Headers, call the handler, encode the response), for a plain
# hello world (bench/handlers/hello_plain.js) and one that routes with `new URL(request.url)`
# (hello_url.js), beside a baseline binary in the same run.
#
# For each binary and handler: `isolated serve --workers $WORKERS`, a warm-up, then
# `wrk -t1 -c$CONNS -d$DURATION` on GET /api/items/7?id=7; CPU (utime+stime from /proc, every
# process of the server's session) is read before and after the measured run, and divided by
# the requests wrk completed: worker µs/request (every process but the supervisor) and
# supervisor µs/request. $ROUNDS rounds, binaries alternating; each figure is the lowest of its
# rounds (interference from other work on the machine only ever adds CPU). The URL column is
# what `new URL(request.url)` adds: URL handler minus plain handler, per binary.
#
# Usage: bash bench/worker_path.sh [BASELINE_BIN]     (about a minute with a baseline)
# Environment (defaults in brackets):
#   ISOLATED_BIN     binary under test                         [build/isolated]
#   WORKERS          isolated --workers                        [2]
#   CONNS            wrk connections                           [32]
#   DURATION         measured seconds per run                  [5]
#   WARMUP           warm-up seconds before each run           [1]
#   ROUNDS           rounds                                    [2]
#   STARTUP_TIMEOUT  seconds to wait for a server              [30]

set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

ISOLATED_BIN="${ISOLATED_BIN:-build/isolated}"
BASELINE_BIN="${1:-}"
WORKERS="${WORKERS:-2}"
CONNS="${CONNS:-32}"
DURATION="${DURATION:-5}"
WARMUP="${WARMUP:-1}"
ROUNDS="${ROUNDS:-2}"
STARTUP_TIMEOUT="${STARTUP_TIMEOUT:-30}"
HANDLERS=(hello_plain hello_url)
TARGET="/api/items/7?id=7"

# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init
CLK_TCK="$(getconf CLK_TCK)"
command -v wrk >/dev/null || die "wrk is needed (apt-get install wrk)"
[[ -x "${ISOLATED_BIN}" ]] || die "no binary at ${ISOLATED_BIN} (build first)"
BINS=("${ISOLATED_BIN}")
if [[ -n "${BASELINE_BIN}" ]]; then
  [[ -x "${BASELINE_BIN}" ]] || die "no baseline binary at ${BASELINE_BIN}"
  BINS+=("${BASELINE_BIN}")
fi

# session_cpu SID -> "SUPERVISOR WORKERS": utime+stime in clock ticks of the session leader
# (the supervisor) and of every other live process of its session (the workers).
session_cpu() {
  local sid="$1" pid line rest leader=0 others=0 t
  local -a f
  for pid in $(ps -o pid= -s "${sid}" 2>/dev/null); do
    read -r line 2>/dev/null <"/proc/${pid}/stat" || continue
    rest="${line##*) }"
    read -r -a f <<<"${rest}"
    t=$((f[11] + f[12]))
    if [[ "${pid}" == "${sid}" ]]; then leader="${t}"; else others=$((others + t)); fi
  done
  echo "${leader} ${others}"
}

# wrk_requests FILE -> the number of requests wrk completed ("N requests in ...").
wrk_requests() { awk '/requests in/ { print $1 }' "$1"; }

declare -A BEST_WORKER=() BEST_SUPERVISOR=() BEST_RPS=()

# measure BIN_INDEX HANDLER: one server, one measured run; keeps the lowest figures.
measure() {
  local index="$1" handler="$2" bin="${BINS[$1]}" port log out before after requests
  port="$(free_ports 1)"
  log="${TMP_DIR}/${index}.${handler}.log"
  out="${TMP_DIR}/${index}.${handler}.wrk"
  : >"${log}"
  # A control socket of its own: the default path may be taken by another server.
  spawn "${log}" "${bin}" serve "bench/handlers/${handler}.js" --listen "127.0.0.1:${port}" \
    --workers "${WORKERS}" --control-socket "${TMP_DIR}/ctl.${port}.sock"
  local pid="${SPAWN_PID}" url="http://127.0.0.1:${port}${TARGET}"
  wait_http_ready "${handler}" "${pid}" "${log}" "${url}"
  wrk -t1 -c"${CONNS}" -d"${WARMUP}s" "${url}" >/dev/null 2>&1 || true
  read -r -a before <<<"$(session_cpu "${pid}")"
  wrk -t1 -c"${CONNS}" -d"${DURATION}s" "${url}" >"${out}" 2>&1 || true
  read -r -a after <<<"$(session_cpu "${pid}")"
  stop_server "${pid}"
  requests="$(wrk_requests "${out}")"
  [[ -n "${requests}" && "${requests}" -gt 0 ]] || die "wrk completed no requests: $(cat "${out}")"
  local worker supervisor rps key="${index}.${handler}"
  worker="$(awk -v t="$((after[1] - before[1]))" -v n="${requests}" -v hz="${CLK_TCK}" \
    'BEGIN { printf "%.2f", t * 1e6 / hz / n }')"
  supervisor="$(awk -v t="$((after[0] - before[0]))" -v n="${requests}" -v hz="${CLK_TCK}" \
    'BEGIN { printf "%.2f", t * 1e6 / hz / n }')"
  rps="$(awk -v n="${requests}" -v d="${DURATION}" 'BEGIN { printf "%.0f", n / d }')"
  log "$(basename "${bin}") ${handler}: worker ${worker} µs/req, supervisor ${supervisor} µs/req, ${rps} req/s"
  if [[ -z "${BEST_WORKER[${key}]:-}" ]] ||
    awk -v a="${worker}" -v b="${BEST_WORKER[${key}]}" 'BEGIN { exit !(a < b) }'; then
    BEST_WORKER[${key}]="${worker}"
  fi
  if [[ -z "${BEST_SUPERVISOR[${key}]:-}" ]] ||
    awk -v a="${supervisor}" -v b="${BEST_SUPERVISOR[${key}]}" 'BEGIN { exit !(a < b) }'; then
    BEST_SUPERVISOR[${key}]="${supervisor}"
  fi
  if [[ -z "${BEST_RPS[${key}]:-}" ]] || ((rps > BEST_RPS[${key}])); then
    BEST_RPS[${key}]="${rps}"
  fi
}

for ((round = 0; round < ROUNDS; round++)); do
  for ((i = 0; i < ${#BINS[@]}; i++)); do
    # Alternate the order each round, so neither binary always runs first.
    index=$(((round % 2 == 0) ? i : ${#BINS[@]} - 1 - i))
    for handler in "${HANDLERS[@]}"; do measure "${index}" "${handler}"; done
  done
done

printf '\n%-28s %14s %14s %14s %14s %12s %10s\n' binary "worker plain" "worker url" \
  "url adds" "supervisor" "req/s plain" "req/s url"
for ((i = 0; i < ${#BINS[@]}; i++)); do
  plain="${BEST_WORKER[${i}.hello_plain]}"
  url="${BEST_WORKER[${i}.hello_url]}"
  printf '%-28s %11s µs %11s µs %11s µs %11s µs %12s %10s\n' "${BINS[$i]}" "${plain}" "${url}" \
    "$(awk -v a="${url}" -v b="${plain}" 'BEGIN { printf "%.2f", a - b }')" \
    "${BEST_SUPERVISOR[${i}.hello_plain]}" "${BEST_RPS[${i}.hello_plain]}" \
    "${BEST_RPS[${i}.hello_url]}"
done
