#!/usr/bin/env bash
# bench/hello.sh — "hello world" HTTP throughput/latency of `isolated` vs Node.js.
#
# What it measures, for each server in turn (never two at once):
#   * startup: wall time from spawning the server to the first HTTP 200 it serves
#     (polled with curl every ~5 ms, so resolution is roughly 5–10 ms);
#   * req/s and p99 latency under `wrk -t1 -c$CONNS -d${DURATION}s --latency`,
#     after a 2 s warm-up, against GET / on loopback.
# Servers: `isolated serve examples/hello.js --workers $WORKERS`, a single-process
# Node http server (bench/node-hello.js) and the same under `cluster`.
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
NODE_SCRIPT="bench/node-hello.js"

TMP_DIR="$(mktemp -d "${TMPDIR:-/tmp}/isolated-bench.XXXXXX")"
SERVER_PIDS=()

# Results, filled in by bench_server: name -> figure.
declare -A RPS=() P99=() STARTUP=() ERRORS=()
ROWS=()

log() { printf '[bench] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- process management ------------------------------------------------------

# Stop one server: SIGTERM its process group (setsid gave it its own, so
# cluster/worker children go too), escalate to SIGKILL after 5 s, then reap it.
stop_server() {
  local pid="$1" i
  kill -TERM -- "-${pid}" 2>/dev/null || kill -TERM "${pid}" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 "${pid}" 2>/dev/null || break
    sleep 0.05
  done
  if kill -0 "${pid}" 2>/dev/null; then
    log "pid ${pid} ignored SIGTERM; sending SIGKILL"
    kill -KILL -- "-${pid}" 2>/dev/null || kill -KILL "${pid}" 2>/dev/null || true
  fi
  wait "${pid}" 2>/dev/null || true
  local keep=() p
  for p in "${SERVER_PIDS[@]}"; do
    [[ "${p}" == "${pid}" ]] || keep+=("${p}")
  done
  SERVER_PIDS=("${keep[@]}")
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  set +e
  local pid
  for pid in "${SERVER_PIDS[@]}"; do
    stop_server "${pid}"
  done
  rm -rf -- "${TMP_DIR}"
  exit "${status}"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Start "$@" in the background in its own session (process group), stdout and
# stderr appended to $log. Sets SPAWN_NS (just before spawning) and SPAWN_PID.
spawn() {
  local log="$1"
  shift
  SPAWN_NS="$(date +%s%N)"
  if command -v setsid >/dev/null 2>&1; then
    setsid "$@" >>"${log}" 2>&1 &
  else
    "$@" >>"${log}" 2>&1 &
  fi
  SPAWN_PID=$!
  SERVER_PIDS+=("${SPAWN_PID}")
}

# wait_ready NAME PID LOG PORT: block until the server answers GET / with 200
# (or, without curl, until its log has msg="ready"). Sets STARTUP_MS, measured
# from SPAWN_NS. Prints the log and exits 1 on timeout or if the server dies.
wait_ready() {
  local name="$1" pid="$2" log="$3" port="$4"
  local deadline=$((SPAWN_NS + STARTUP_TIMEOUT * 1000000000)) code now
  while :; do
    if command -v curl >/dev/null 2>&1; then
      code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:${port}/" || true)"
      [[ "${code}" == "200" ]] && break
    elif grep -q 'msg="ready"' "${log}"; then
      break
    fi
    now="$(date +%s%N)"
    if ! kill -0 "${pid}" 2>/dev/null; then
      log "${name} exited before becoming ready; its log:"
      cat "${log}" >&2
      exit 1
    fi
    if ((now > deadline)); then
      log "${name} not ready after ${STARTUP_TIMEOUT}s; its log:"
      cat "${log}" >&2
      exit 1
    fi
    sleep 0.005
  done
  now="$(date +%s%N)"
  STARTUP_MS="$(awk -v ns="$((now - SPAWN_NS))" 'BEGIN { printf "%.1f", ns / 1e6 }')"
  # The log line is part of the runtime's contract; give it a moment to appear.
  local i
  for ((i = 0; i < 100; i++)); do
    grep -q 'msg="ready"' "${log}" && return 0
    sleep 0.01
  done
  log "warning: ${name} serves requests but never logged msg=\"ready\""
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
    spawn "${log}" env NODE_CLUSTER="${workers}" node "${NODE_SCRIPT}" "${port}"
  else
    spawn "${log}" env -u NODE_CLUSTER node "${NODE_SCRIPT}" "${port}"
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

# to_ms VALUE: a wrk duration such as 512.00us, 1.23ms, 2.00s or 1.00m -> ms.
to_ms() {
  awk -v v="$1" 'BEGIN {
    if (!match(v, /^[0-9.]+/)) exit 1
    n = substr(v, 1, RLENGTH); u = substr(v, RLENGTH + 1)
    if (u == "us") f = 0.001; else if (u == "ms") f = 1; else if (u == "s") f = 1000
    else if (u == "m") f = 60000; else if (u == "h") f = 3600000; else exit 1
    printf "%.3f", n * f
  }'
}

# parse_rps WRK_OUTPUT -> requests/sec, e.g. 41234.56
parse_rps() {
  awk '$1 == "Requests/sec:" { print $2; found = 1 } END { exit !found }' <<<"$1"
}

# parse_p99 WRK_OUTPUT -> 99th percentile latency in ms
parse_p99() {
  local raw
  raw="$(awk '$1 == "99%" { print $2; found = 1 } END { exit !found }' <<<"$1")" || return 1
  to_ms "${raw}"
}

# parse_errors WRK_OUTPUT -> non-2xx/3xx responses + socket errors
parse_errors() {
  awk '
    /Non-2xx or 3xx responses:/ { n += $NF }
    /Socket errors:/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) n += $i }
    END { print n + 0 }' <<<"$1"
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

# --- setup helpers -----------------------------------------------------------

ensure_wrk() {
  command -v wrk >/dev/null 2>&1 && return 0
  log "installing wrk"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y wrk >&2 || { apt-get update >&2 && apt-get install -y wrk >&2; } ||
    die "could not install wrk (apt-get install -y wrk)"
}

# free_ports N: print N distinct free loopback TCP ports, one per line.
free_ports() {
  local n="$1"
  if command -v python3 >/dev/null 2>&1; then
    python3 - "${n}" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
for s in socks:
    print(s.getsockname()[1])
EOF
    return
  fi
  # Fallback: probe random high ports; a refused connection means nobody listens.
  local -A seen=()
  local port count=0
  while ((count < n)); do
    port=$((20000 + RANDOM % 40000))
    [[ -n "${seen[${port}]:-}" ]] && continue
    if ! (exec 3<>"/dev/tcp/127.0.0.1/${port}") 2>/dev/null; then
      seen["${port}"]=1
      echo "${port}"
      count=$((count + 1))
    fi
  done
}

# ratio A B -> A/B with 2 decimals, or empty if either is missing/zero.
ratio() {
  [[ -n "$1" && -n "$2" ]] || return 0
  awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 != 0) printf "%.2f", a / b }'
}

json_str() {
  local s="${1//\\/\\\\}"
  printf '"%s"' "${s//\"/\\\"}"
}
json_num() { if [[ -n "$1" ]]; then printf '%s' "$1"; else printf 'null'; fi; }

# --- main --------------------------------------------------------------------

main() {
  [[ -f "${NODE_SCRIPT}" ]] || die "run from the repository root: bash bench/hello.sh"
  ensure_wrk

  if [[ ! -x "${ISOLATED_BIN}" ]]; then
    log "isolated binary not found at ${ISOLATED_BIN}; build it first:"
    log "    cmake -B build && cmake --build build -j"
    log "(or point ISOLATED_BIN at an existing binary)"
    exit 1
  fi
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
    printf '  "benchmark": "hello",\n'
    printf '  "timestamp": %s,\n' "$(json_str "$(date -u +%Y-%m-%dT%H:%M:%SZ)")"
    printf '  "commit": %s,\n' "$(json_str "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)")"
    printf '  "cores": %s,\n' "$(nproc)"
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
