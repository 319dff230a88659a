#!/usr/bin/env bash
# bench/suite.sh — the benchmark suite: `isolated` in each isolation mode, a
# Node.js http cluster and workerd, side by side in one run, on three handlers.
#
#   1 throughput  for each handler (bench/handlers/hello.js, echo.js, timer.js) and
#                 each server: wrk -t1 -c$CONNS -d$DURATION --latency (after a
#                 warm-up) -> req/s, p50, p99, p99.9 (bench/wrk/suite.lua); then
#                 h2load --h1 at a fixed rate of 50% of that server's measured
#                 peak -> p50/p99 at that rate. Also per server: time to the first
#                 200, idle RSS per worker process, CPU per request (supervisor and
#                 workers separately for isolated). $ROUNDS rounds, the server
#                 order reversed every other round; the report keeps each
#                 server's best round by req/s (interference from other work on
#                 the machine only ever slows a server down) and lists the rest.
#   2 startup     $STARTUP_RUNS starts of each server with hello.js: spawn -> first
#                 200 (curl poll), and each isolated worker's spawn_to_ready_ms;
#                 with and without the V8 snapshot when the binary has such a flag
#                 (this one: script snapshot, built-ins only, none).
#   3 memory      isolated --workers 1 --worker-queue-size $MEM_CONNS, timer.js held
#                 with /hold?ms=$HOLD_MS by wrk -c$MEM_CONNS: worker RSS while the
#                 requests are in flight (in-flight count from /metrics), reported
#                 as (loaded - idle) per 1000 requests in flight.
#   4 supervisor  perf record -g on the supervisor during a wrk run (or callgrind
#                 when perf cannot sample), and strace -c for system calls per
#                 request.
#
# Servers run one at a time (never two at once) on loopback; wrk and h2load are
# separate processes on the same cores. The figures worth comparing across runs
# are the ratios between servers measured in the same run (machines are shared
# and noisy): shared/isolate, shared/workerd, shared/node-cluster.
#
# Output: a table on stdout; bench/results/suite.json, suite.md and suite.svg
# (bench/render.py); raw tool output and server logs under bench/results/suite/.
#
# Usage (from anywhere in the repository):  bash bench/suite.sh
# Environment (defaults in brackets; QUICK=1 shortens the runs for a smoke test):
#   ISOLATED_BIN     binary to test                            [build/isolated]
#   WORKERS          isolated --workers                        [2]
#   NODE_CLUSTER     node cluster workers                      [2]
#   CONNS            connections for wrk and h2load            [32]
#   DURATION         measured seconds per wrk run              [8; QUICK 2]
#   WARMUP           warm-up seconds before each wrk run       [2; QUICK 1]
#   ROUNDS           rounds of phase 1 (best req/s is kept)    [2; QUICK 1]
#   RATE_DURATION    seconds of each fixed-rate h2load run     [$DURATION]
#   RATE_FRACTION    fixed rate as a fraction of measured peak [0.5]
#   STARTUP_RUNS     starts per server in phase 2              [5; QUICK 2]
#   MEM_CONNS        requests held in flight in phase 3        [1000]
#   HOLD_MS          how long each of them is held             [2000]
#   PROFILE_SECONDS  perf / strace window in phase 4           [5; QUICK 2]
#   PROFILER         auto, perf, callgrind, both or none       [auto]
#   HANDLERS         handlers to run                           [hello echo timer]
#   MODES            isolation modes (when supported)          [shared context isolate]
#   IO_THREADS       --io-threads values for isolated; values above 1 add a server
#                    isolated/MODE@ioN in the first mode, and every isolated row reports
#                    the busiest thread's CPU per request and the ceiling it projects  [1 2]
#   SERVERS          which of: isolated node-cluster workerd   [all three]
#   STARTUP_TIMEOUT  seconds to wait for a server              [30]
#   OUT_DIR          where results go                          [bench/results]

set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

QUICK="${QUICK:-0}"
if [[ "${QUICK}" == 1 ]]; then
  q_duration=2 q_warmup=1 q_startup_runs=2 q_profile=2 q_rounds=1
else
  q_duration=8 q_warmup=2 q_startup_runs=5 q_profile=5 q_rounds=2
fi
ISOLATED_BIN="${ISOLATED_BIN:-build/isolated}"
WORKERS="${WORKERS:-2}"
NODE_CLUSTER="${NODE_CLUSTER:-2}"
CONNS="${CONNS:-32}"
DURATION="${DURATION:-${q_duration}}"
WARMUP="${WARMUP:-${q_warmup}}"
ROUNDS="${ROUNDS:-${q_rounds}}"
RATE_DURATION="${RATE_DURATION:-${DURATION}}"
RATE_FRACTION="${RATE_FRACTION:-0.5}"
STARTUP_RUNS="${STARTUP_RUNS:-${q_startup_runs}}"
MEM_CONNS="${MEM_CONNS:-1000}"
HOLD_MS="${HOLD_MS:-2000}"
PROFILE_SECONDS="${PROFILE_SECONDS:-${q_profile}}"
PROFILER="${PROFILER:-auto}"
HANDLERS="${HANDLERS:-hello echo timer}"
SERVERS="${SERVERS:-isolated node-cluster workerd}"
STARTUP_TIMEOUT="${STARTUP_TIMEOUT:-30}"
OUT_DIR="${OUT_DIR:-bench/results}"

WRK_LUA="bench/wrk/suite.lua"
ECHO_BODY="bench/handlers/echo-body.json"
NODE_SERVER="bench/handlers/node-http.js"
WORKERD_PKG_DIR="bench/workerd"
WORKERD_CACHE="bench/.cache/workerd"
RAW_DIR="${OUT_DIR}/suite"

# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init

RECORDS="${TMP_DIR}/records.tsv"
: >"${RECORDS}"
CLK_TCK="$(getconf CLK_TCK)"
# A server that fails to come up is skipped with a note, not fatal (lib.sh).
SOFT_READY=1

# --- records: what render.py turns into suite.json / .md / .svg ----------------

# record KIND KEY=VALUE...: one result line (tab-separated, so values may hold spaces).
record() {
  local IFS=$'\t'
  printf '%s\n' "$*" >>"${RECORDS}"
}

# note TEXT: say it now and keep it in the results.
note() {
  log "note: $*"
  record note "text=$*"
}

# --- servers -------------------------------------------------------------------

# server_url HANDLER PORT [PATH]
server_url() { printf 'http://127.0.0.1:%s%s' "$2" "${3:-/}"; }

# request_args HANDLER: curl arguments that make a valid request for HANDLER.
request_args() {
  if [[ "$1" == echo ]]; then
    printf '%s\n' -H 'content-type: application/json' --data-binary "@${ECHO_BODY}"
  fi
}

# start_server LABEL HANDLER PORT [EXTRA_FLAGS...]: start LABEL (isolated/MODE,
# node-cluster or workerd) serving bench/handlers/HANDLER.js and wait for its
# first 200. Sets SERVER_PID, SERVER_LOG and STARTUP_MS. EXTRA_FLAGS go to
# isolated only; ISOLATED_WORKERS overrides --workers. Returns 1 (after showing
# the log) if the server does not come up.
start_server() {
  local label="$1" handler="$2" port="$3"
  shift 3
  RUN_SEQ=$((${RUN_SEQ:-0} + 1))
  SERVER_LOG="${TMP_DIR}/${RUN_SEQ}.${label//\//-}.${handler}.log"
  : >"${SERVER_LOG}"
  case "${label}" in
    isolated/*)
      local args=(serve "bench/handlers/${handler}.js" --listen "127.0.0.1:${port}"
        --workers "${ISOLATED_WORKERS:-${WORKERS}}")
      ((HAVE_ISOLATION)) && args+=(--isolation "$(isolation_of "${label}")")
      [[ "${label}" == *@io* ]] && args+=(--io-threads "${label##*@io}")
      ((HAVE_CONTROL_SOCKET)) && args+=(--control-socket "${TMP_DIR}/ctl.${RUN_SEQ}.sock")
      spawn "${SERVER_LOG}" "${BIN}" "${args[@]}" "$@"
      ;;
    node-cluster)
      spawn "${SERVER_LOG}" env NODE_CLUSTER="${NODE_CLUSTER}" node "${NODE_SERVER}" "${handler}" "${port}"
      ;;
    workerd)
      local dir="${TMP_DIR}/workerd.${RUN_SEQ}"
      mkdir -p "${dir}"
      cp "bench/handlers/${handler}.js" "${dir}/worker.js"
      sed "s/@LISTEN@/127.0.0.1:${port}/" "${WORKERD_PKG_DIR}/config.capnp.in" >"${dir}/config.capnp"
      spawn "${SERVER_LOG}" "${WORKERD_BIN}" serve "${dir}/config.capnp"
      ;;
    *) die "unknown server ${label}" ;;
  esac
  SERVER_PID="${SPAWN_PID}"
  local curl_args
  mapfile -t curl_args < <(request_args "${handler}")
  if ! wait_http_ready "${label}" "${SERVER_PID}" "${SERVER_LOG}" "$(server_url "${handler}" "${port}")" \
    "${curl_args[@]}"; then
    stop_server "${SERVER_PID}"
    return 1
  fi
}

# finish_server NAME [KEEP]: stop the current server; keep its log as
# RAW_DIR/NAME.log unless KEEP is 0.
finish_server() {
  local alive=1
  kill -0 "${SERVER_PID}" 2>/dev/null || alive=0
  stop_server "${SERVER_PID}"
  [[ "${2:-1}" == 0 ]] || cp "${SERVER_LOG}" "${RAW_DIR}/$1.log"
  ((alive)) || note "$1: the server died during its run (log: $(tail -n 5 "${SERVER_LOG}" | tr '\n' ' '))"
}

# worker_pids LABEL: pids of the processes that run JavaScript for the current server.
worker_pids() {
  case "$1" in
    isolated/*) log_values "${SERVER_LOG}" "worker ready" pid ;;
    node-cluster) log_values "${SERVER_LOG}" "worker ready" worker_pid ;;
    workerd) echo "${SERVER_PID}" ;;
  esac
}

# wait_workers LABEL N: wait (up to STARTUP_TIMEOUT) until N workers logged ready.
wait_workers() {
  local label="$1" n="$2" deadline
  deadline=$(($(date +%s) + STARTUP_TIMEOUT))
  while (($(worker_pids "${label}" | wc -l) < n)); do
    (($(date +%s) <= deadline)) || return 1
    sleep 0.01
  done
}

# rss_kb PID: VmRSS in kB (empty if the process is gone).
rss_kb() {
  awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status" 2>/dev/null || true
}

# mean_rss_kb PID...: mean VmRSS over the pids, in kB.
mean_rss_kb() {
  local pid sum=0 n=0 v
  for pid in "$@"; do
    v="$(rss_kb "${pid}")"
    [[ -n "${v}" ]] || continue
    sum=$((sum + v))
    n=$((n + 1))
  done
  ((n > 0)) && echo $((sum / n))
  return 0
}

# group_cpu SID -> "LEADER TOTAL": utime+stime in clock ticks of the session
# leader (the supervisor) and summed over every live process of its session.
group_cpu() {
  local sid="$1" pid line rest leader=0 total=0 t
  local -a f
  for pid in $(ps -o pid= -s "${sid}" 2>/dev/null); do
    read -r line 2>/dev/null <"/proc/${pid}/stat" || continue
    rest="${line##*) }"
    read -r -a f <<<"${rest}"
    t=$((f[11] + f[12]))
    total=$((total + t))
    [[ "${pid}" == "${sid}" ]] && leader="${t}"
  done
  echo "${leader} ${total}"
}

# isolation_of LABEL -> the --isolation mode of isolated/MODE[@ioN].
isolation_of() {
  local mode="${1#isolated/}"
  echo "${mode%@io*}"
}

# thread_cpu PID -> "MAIN IO_MAX": utime+stime in clock ticks of the supervisor's main thread
# and of its busiest I/O thread (threads named "io"; 0 without --io-threads).
thread_cpu() {
  local pid="$1" task line rest comm main=0 iomax=0 t
  local -a f
  for task in /proc/"${pid}"/task/*; do
    read -r line 2>/dev/null <"${task}/stat" || continue
    comm="${line#*(}"
    comm="${comm%%)*}"
    rest="${line##*) }"
    read -r -a f <<<"${rest}"
    t=$((f[11] + f[12]))
    if [[ "${task##*/}" == "${pid}" ]]; then
      main="${t}"
    elif [[ "${comm}" == io ]] && ((t > iomax)); then
      iomax="${t}"
    fi
  done
  echo "${main} ${iomax}"
}

# us_per_req TICKS REQUESTS -> microseconds of CPU per request, 2 decimals.
us_per_req() {
  awk -v t="$1" -v n="$2" -v hz="${CLK_TCK}" 'BEGIN { if (n > 0) printf "%.2f", t * 1e6 / hz / n }'
}

# metric NAME PORT -> sum of the samples of NAME on the admin listener's /metrics.
metric() {
  curl -s --max-time 2 "http://127.0.0.1:$2/metrics" |
    awk -v name="$1" '$1 == name || index($1, name "{") == 1 { s += $2; found = 1 }
      END { if (found) printf "%.0f\n", s }'
}

# --- load generators -----------------------------------------------------------

# run_wrk OUT HANDLER URL SECONDS CONNS [EXTRA...]: wrk with the suite Lua script.
run_wrk() {
  local out="$1" handler="$2" url="$3" seconds="$4" conns="$5"
  shift 5
  local body=""
  [[ "${handler}" == echo ]] && body="${ECHO_BODY}"
  WRK_BODY_FILE="${body}" wrk -t1 -c"${conns}" -d"${seconds}s" --latency -s "${WRK_LUA}" "$@" \
    "${url}" >"${out}" 2>&1
}

# suite_field FILE KEY: KEY= from the SUITE line run_wrk's Lua script printed.
suite_field() {
  awk -v key="$2" '$1 == "SUITE" { for (i = 2; i <= NF; i++) { split($i, kv, "=");
    if (kv[1] == key) { print kv[2]; found = 1 } } } END { exit !found }' "$1"
}

# us_to_ms MICROSECONDS
us_to_ms() { awk -v v="$1" 'BEGIN { printf "%.3f", v / 1000 }'; }

# run_h2load OUT HANDLER URL RATE: fixed-rate run, $CONNS connections, each paced
# at RATE/CONNS requests a second (h2load --rps is per connection). Per-request
# latencies go to OUT.log.
run_h2load() {
  local out="$1" handler="$2" url="$3" rate="$4" per_conn
  per_conn="$(awk -v r="${rate}" -v c="${CONNS}" 'BEGIN { printf "%.3f", r / c }')"
  local args=(--h1 -c "${CONNS}" -D "${RATE_DURATION}" --rps="${per_conn}" --log-file="${out}.log")
  [[ "${handler}" == echo ]] && args+=(-d "${ECHO_BODY}" -H 'content-type: application/json')
  rm -f "${out}.log"
  h2load "${args[@]}" "${url}" >"${out}" 2>&1
}

# h2load_percentiles LOGFILE -> "p50_ms p99_ms p999_ms count" from its per-request log
# (columns: start time us, status, latency us).
h2load_percentiles() {
  sort -n -k3,3 "$1" | awk '{ v[n++] = $3 }
    function at(p,   i) { i = int(p * n + 0.999999) - 1; if (i < 0) i = 0; return v[i] / 1000 }
    END { if (n == 0) exit 1; printf "%.3f %.3f %.3f %d\n", at(0.50), at(0.99), at(0.999), n }'
}

# --- phase 1: throughput and latency -------------------------------------------

bench_throughput() {
  local label="$1" handler="$2" port="$3" round="$4" name
  name="${label//\//-}.${handler}.r${round}"
  log "throughput (round ${round}/${ROUNDS}): ${label} ${handler}.js"
  if ! start_server "${label}" "${handler}" "${port}"; then
    note "${label} did not start with ${handler}.js: skipped (log above)"
    return 0
  fi
  local startup="${STARTUP_MS}" nworkers=1 pids
  case "${label}" in
    isolated/*) nworkers="${WORKERS}" ;;
    node-cluster) nworkers="${NODE_CLUSTER}" ;;
  esac
  wait_workers "${label}" "${nworkers}" || note "${label}: not every worker logged ready"
  sleep 0.3
  mapfile -t pids < <(worker_pids "${label}")
  local idle_rss
  idle_rss="$(mean_rss_kb "${pids[@]}")"

  local url
  url="$(server_url "${handler}" "${port}")"
  run_wrk "${TMP_DIR}/warmup.txt" "${handler}" "${url}" "${WARMUP}" "${CONNS}" ||
    note "${label} ${handler}: wrk warm-up failed: $(tail -n 3 "${TMP_DIR}/warmup.txt")"

  local cpu0 cpu1 a0 t0 a1 t1 th0 th1 out="${RAW_DIR}/${name}.wrk.txt"
  cpu0="$(group_cpu "${SERVER_PID}")"
  [[ "${label}" == isolated/* ]] && th0="$(thread_cpu "${SERVER_PID}")"
  if ! run_wrk "${out}" "${handler}" "${url}" "${DURATION}" "${CONNS}" || ! suite_field "${out}" requests >/dev/null; then
    note "${label} ${handler}: wrk failed: $(tail -n 3 "${out}")"
    finish_server "${name}"
    return 0
  fi
  cpu1="$(group_cpu "${SERVER_PID}")"
  [[ "${label}" == isolated/* ]] && th1="$(thread_cpu "${SERVER_PID}")"
  local requests rps sup_ticks total_ticks
  requests="$(suite_field "${out}" requests)"
  rps="$(parse_rps "$(cat "${out}")")"
  read -r a0 t0 <<<"${cpu0}"
  read -r a1 t1 <<<"${cpu1}"
  sup_ticks=$((a1 - a0))
  total_ticks=$((t1 - t0))
  local cpu_fields=("cpu_us_per_req=$(us_per_req "${total_ticks}" "${requests}")")
  if [[ "${label}" == isolated/* ]]; then
    cpu_fields+=("cpu_us_per_req_supervisor=$(us_per_req "${sup_ticks}" "${requests}")"
      "cpu_us_per_req_workers=$(us_per_req $((total_ticks - sup_ticks)) "${requests}")")
    # Per thread: the main loop, and the busiest I/O thread. The supervisor's ceiling is set by
    # whichever thread is busiest per request: 1 / its µs per request.
    local m0 i0 m1 i1 main_us io_us
    read -r m0 i0 <<<"${th0}"
    read -r m1 i1 <<<"${th1}"
    main_us="$(us_per_req $((m1 - m0)) "${requests}")"
    io_us="$(us_per_req $((i1 - i0)) "${requests}")"
    cpu_fields+=("cpu_us_per_req_main_thread=${main_us}" "cpu_us_per_req_io_thread_max=${io_us}"
      "ceiling_rps=$(awk -v a="${main_us}" -v b="${io_us}" 'BEGIN { m = a > b ? a : b; if (m > 0) printf "%.0f", 1e6 / m }')")
  fi
  record throughput "handler=${handler}" "server=${label}" "round=${round}" "workers=${nworkers}" \
    "requests=${requests}" "rps=${rps}" \
    "p50_ms=$(us_to_ms "$(suite_field "${out}" p50_us)")" \
    "p99_ms=$(us_to_ms "$(suite_field "${out}" p99_us)")" \
    "p999_ms=$(us_to_ms "$(suite_field "${out}" p999_us)")" \
    "max_ms=$(us_to_ms "$(suite_field "${out}" max_us)")" \
    "err_connect=$(suite_field "${out}" err_connect)" "err_read=$(suite_field "${out}" err_read)" \
    "err_write=$(suite_field "${out}" err_write)" "err_status=$(suite_field "${out}" err_status)" \
    "err_timeout=$(suite_field "${out}" err_timeout)" \
    "startup_ms=${startup}" "idle_rss_kb=${idle_rss}" "${cpu_fields[@]}"
  log "  ${label} ${handler}: $(printf '%.0f' "${rps}") req/s, p99 $(us_to_ms "$(suite_field "${out}" p99_us)") ms"

  # Fixed rate: RATE_FRACTION of this server's own peak.
  local rate h2out="${RAW_DIR}/${name}.h2load.txt" pct
  rate="$(awk -v r="${rps}" -v f="${RATE_FRACTION}" 'BEGIN { printf "%d", r * f }')"
  if ((rate < CONNS)); then
    note "${label} ${handler}: peak too low for a fixed-rate run"
  elif run_h2load "${h2out}" "${handler}" "${url}" "${rate}" &&
    pct="$(h2load_percentiles "${h2out}.log")"; then
    local p50 p99 p999 n achieved ok
    read -r p50 p99 p999 n <<<"${pct}"
    achieved="$(awk '$1 == "finished" { gsub(",", "", $4); print $4 }' "${h2out}")"
    ok="$(awk '$1 == "status" && $2 == "codes:" { print $3 }' "${h2out}")"
    record fixed_rate "handler=${handler}" "server=${label}" "round=${round}" "target_rps=${rate}" \
      "achieved_rps=${achieved}" "requests=${n}" "non2xx_or_failed=$((n - ${ok:-0}))" \
      "p50_ms=${p50}" "p99_ms=${p99}" "p999_ms=${p999}"
    log "  ${label} ${handler}: at ${rate} req/s: p50 ${p50} ms, p99 ${p99} ms (achieved ${achieved})"
    gzip -f "${h2out}.log"
  else
    note "${label} ${handler}: h2load fixed-rate run failed: $(tail -n 3 "${h2out}")"
  fi
  finish_server "${name}"
}

# --- phase 2: start-up ---------------------------------------------------------

# bench_startup LABEL VARIANT [EXTRA_FLAGS...]
bench_startup() {
  local label="$1" variant="$2" port="$3"
  shift 3
  local firsts=() spawns=() i n=1 v
  [[ "${label}" == isolated/* ]] && n="${WORKERS}"
  [[ "${label}" == node-cluster ]] && n="${NODE_CLUSTER}"
  for ((i = 1; i <= STARTUP_RUNS; i++)); do
    if ! start_server "${label}" hello "${port}" "$@"; then
      note "startup: ${label} (${variant}) did not start: skipped"
      return 0
    fi
    firsts+=("${STARTUP_MS}")
    if [[ "${label}" == isolated/* ]]; then
      wait_log_ready "${label}" "${SERVER_PID}" "${SERVER_LOG}" || true
      while read -r v; do spawns+=("${v}"); done < <(log_values "${SERVER_LOG}" "worker ready" spawn_to_ready_ms)
    fi
    finish_server "startup.${label//\//-}.${variant}.${i}" 0
  done
  local s
  s="$(stats "${firsts[@]}")"
  log "startup: ${label} (${variant}): first 200 min/median/max ${s// / \/ } ms"
  record startup "server=${label}" "variant=${variant}" "runs=${STARTUP_RUNS}" \
    "first_200_ms=${firsts[*]}" "spawn_to_ready_ms=${spawns[*]}"
}

# snapshot_variants: print "VARIANT FLAGS..." lines for phase 2 from --help.
snapshot_variants() {
  local off on line
  # This binary's own pair: the script snapshot (default), the built-ins alone, none at all.
  if grep -qE -- '--builtins-snapshot on\|off' <<<"${HELP}" &&
    grep -qE -- '--snapshot-script on\|off' <<<"${HELP}"; then
    echo "snapshot"
    echo "builtins-only --snapshot-script off"
    echo "no-snapshot --builtins-snapshot off"
    return 0
  fi
  off="$(grep -oE -- '--no-snapshot[a-z-]*' <<<"${HELP}" | head -n1 || true)"
  if [[ -n "${off}" ]]; then
    echo "snapshot"
    echo "no-snapshot ${off}"
    return 0
  fi
  on="$(grep -oE -- '--snapshot[a-z-]*' <<<"${HELP}" | head -n1 || true)"
  [[ -n "${on}" ]] || return 0
  line="$(grep -E -- "${on}( |$)" <<<"${HELP}" | head -n1)"
  if grep -qE -- "${on} +(on\|off|true\|false)" <<<"${line}"; then
    echo "snapshot ${on} on"
    echo "no-snapshot ${on} off"
  elif grep -qE -- "${on} +[A-Z]" <<<"${line}"; then
    return 0 # takes an argument whose meaning this script cannot guess
  else
    echo "default"
    echo "snapshot ${on}"
  fi
}

# --- phase 3: memory per request in flight -------------------------------------

bench_memory() {
  local mode="$1" port="$2" admin="$3" label="isolated/$1"
  local flags=(--worker-queue-size "${MEM_CONNS}")
  ((HAVE_ADMIN)) && flags+=(--admin-listen "127.0.0.1:${admin}")
  # Keep memory recycling out of the way: the point is to see the growth.
  grep -q -- '--memory-threshold' <<<"${HELP}" && flags+=(--memory-threshold 8192)
  log "memory: ${label}, ${MEM_CONNS} requests held ${HOLD_MS} ms each"
  if ! ISOLATED_WORKERS=1 start_server "${label}" timer "${port}" "${flags[@]}"; then
    note "memory: ${label} did not start: skipped"
    return 0
  fi
  wait_workers "${label}" 1 || true
  local worker
  worker="$(worker_pids "${label}" | head -n1)"
  local i
  for ((i = 0; i < 20; i++)); do
    curl -s -o /dev/null "$(server_url timer "${port}" "/hold?ms=0")" || true
  done
  sleep 0.5
  local idle
  idle="$(rss_kb "${worker}")"

  local hold_s seconds out="${RAW_DIR}/memory.${mode}.wrk.txt"
  hold_s=$(((HOLD_MS + 999) / 1000))
  seconds=$((hold_s * 2 + 1))
  spawn_helper "${TMP_DIR}/memory.wrk.txt" wrk -t1 -c"${MEM_CONNS}" -d"${seconds}s" \
    --timeout "$((hold_s + 20))s" -s "${WRK_LUA}" "$(server_url timer "${port}" "/hold?ms=${HOLD_MS}")"
  local wrk_pid="${HELPER_PID}" best_in=-1 best_rss=0 in rss peak=0
  while kill -0 "${wrk_pid}" 2>/dev/null; do
    sleep 0.1
    rss="$(rss_kb "${worker}")"
    [[ -n "${rss}" ]] || break
    ((rss > peak)) && peak="${rss}"
    if ((HAVE_ADMIN)); then in="$(metric isolated_in_flight_requests "${admin}")"; else in="${MEM_CONNS}"; fi
    [[ -n "${in}" ]] || continue
    if ((in > best_in || (in == best_in && rss > best_rss))); then
      best_in="${in}"
      best_rss="${rss}"
    fi
  done
  wait_helper "${wrk_pid}" || true
  cp "${TMP_DIR}/memory.wrk.txt" "${out}"
  local still=1
  kill -0 "${worker}" 2>/dev/null || still=0
  ((still)) || note "memory: ${label}: the worker was replaced during the run; figures are void"
  ((HAVE_ADMIN)) || note "memory: no admin listener in this build; in-flight count assumed to be ${MEM_CONNS}"
  local per=""
  # Scaling a handful of requests up to 1000 would only magnify noise. `context` and `isolate`
  # run one request at a time per worker (the rest wait in the supervisor's queue), so they have
  # no such figure.
  if ((best_in >= 10)); then
    per="$(awk -v l="${best_rss}" -v i="${idle}" -v n="${best_in}" \
      'BEGIN { printf "%.1f", (l - i) / 1024 * 1000 / n }')"
  else
    note "memory: ${label}: at most ${best_in} request(s) in flight in the worker (this mode runs one at a time; the rest queue in the supervisor): no per-1000 figure"
  fi
  record memory "server=${label}" "idle_rss_kb=${idle}" "loaded_rss_kb=${best_rss}" \
    "peak_rss_kb=${peak}" "in_flight=${best_in}" "mb_per_1000_in_flight=${per}" \
    "requests=$(suite_field "${out}" requests || echo 0)" \
    "errors=$(($(suite_field "${out}" err_status || echo 0) + $(suite_field "${out}" err_timeout || echo 0) + $(suite_field "${out}" err_connect || echo 0) + $(suite_field "${out}" err_read || echo 0)))" \
    "worker_survived=${still}"
  log "  ${label}: idle ${idle} kB, ${best_rss} kB with ${best_in} in flight -> ${per} MB per 1000"
  finish_server "memory.${mode}"
}

# --- phase 4: where the supervisor's time goes ----------------------------------

# perf_usable: can perf sample a process here (software clock, no PMU needed)?
perf_usable() {
  command -v perf >/dev/null 2>&1 || return 1
  perf record -q -e cpu-clock -o "${TMP_DIR}/perf-probe.data" -- true >/dev/null 2>&1
}

# requests_served PORT: requests the supervisor answered so far (admin /metrics).
requests_served() { metric isolated_requests_total "$1"; }

bench_profile() {
  local mode="$1" port="$2" admin="$3" label="isolated/$1"
  local profiler="${PROFILER}"
  if [[ "${profiler}" == auto ]]; then
    if perf_usable; then
      profiler=perf
    elif command -v valgrind >/dev/null 2>&1; then
      profiler=callgrind
    else
      profiler=none
    fi
  fi
  if [[ "${profiler}" == perf || "${profiler}" == both ]] && ! perf stat -e instructions true 2>&1 | grep -q '[0-9] *instructions'; then
    note "hardware performance counters are not available here: perf samples the cpu-clock software event"
  fi
  local flags=()
  ((HAVE_ADMIN)) && flags+=(--admin-listen "127.0.0.1:${admin}")

  if [[ "${profiler}" == perf || "${profiler}" == both ]]; then
    log "profile: perf record -g on the ${label} supervisor, ${PROFILE_SECONDS}s of wrk"
    if start_server "${label}" hello "${port}" "${flags[@]}"; then
      local url before after data="${TMP_DIR}/perf.data"
      url="$(server_url hello "${port}")"
      run_wrk "${TMP_DIR}/warmup.txt" hello "${url}" 1 "${CONNS}" || true
      spawn_helper "${TMP_DIR}/profile.wrk.txt" wrk -t1 -c"${CONNS}" -d"$((PROFILE_SECONDS + 2))s" "${url}"
      local wrk_pid="${HELPER_PID}"
      sleep 0.5
      before="$(requests_served "${admin}")"
      perf record -q -e cpu-clock -F 1999 -g -p "${SERVER_PID}" -o "${data}" -- sleep "${PROFILE_SECONDS}" \
        >"${TMP_DIR}/perf-record.txt" 2>&1 || true
      after="$(requests_served "${admin}")"
      wait_helper "${wrk_pid}" || true
      if [[ -s "${data}" ]]; then
        perf report -i "${data}" --stdio --no-children --sort dso,sym --percent-limit 0.3 \
          >"${RAW_DIR}/perf.txt" 2>/dev/null || true
        perf report -i "${data}" --stdio --no-children --sort dso,sym -g none --percent-limit 0.3 \
          >"${TMP_DIR}/perf-flat.txt" 2>/dev/null || true
        perf report -i "${data}" --stdio --no-children --sort dso -g none \
          >"${TMP_DIR}/perf-dso.txt" 2>/dev/null || true
        record profile "profiler=perf" "server=${label}" "window_s=${PROFILE_SECONDS}" \
          "requests=$((${after:-0} - ${before:-0}))" "report=${RAW_DIR}/perf.txt"
        awk -F'  +' '/^ +[0-9.]+%/ && n < 60 { sub(/^ +/, ""); split($0, a, /  +/);
            sym = a[3]; sub(/^\[[^]]*\] /, "", sym);
            printf "perf_sym\tprofiler=perf\trank=%d\tpct=%s\tdso=%s\tsym=%s\n", ++n, a[1] + 0, a[2], sym }' \
          "${TMP_DIR}/perf-flat.txt" >>"${RECORDS}"
        awk '/^ +[0-9.]+%/ && n < 12 { n++; pct = $1 + 0; $1 = ""; sub(/^ /, "");
            printf "perf_dso\tprofiler=perf\tpct=%s\tdso=%s\n", pct, $0 }' "${TMP_DIR}/perf-dso.txt" >>"${RECORDS}"
      else
        note "perf record produced no samples: $(tail -n 3 "${TMP_DIR}/perf-record.txt")"
      fi
      finish_server "profile.perf"
    fi
  fi
  if [[ "${profiler}" == callgrind || "${profiler}" == both ]]; then
    bench_callgrind "${label}" "${port}" "${flags[@]}"
  fi
  if [[ "${profiler}" == none && "${PROFILER}" == none ]]; then
    note "PROFILER=none: no per-function profile"
  elif [[ "${profiler}" == none ]]; then
    note "no profiler available (perf cannot sample, valgrind missing): no per-function profile"
  fi

  if command -v strace >/dev/null 2>&1 && ((HAVE_ADMIN)); then
    log "profile: strace -c -f on the ${label} supervisor, ${PROFILE_SECONDS}s of wrk"
    if start_server "${label}" hello "${port}" "${flags[@]}"; then
      local url before after
      url="$(server_url hello "${port}")"
      run_wrk "${TMP_DIR}/warmup.txt" hello "${url}" 1 "${CONNS}" || true
      spawn_helper "${TMP_DIR}/strace.wrk.txt" wrk -t1 -c"${CONNS}" -d"$((PROFILE_SECONDS + 2))s" "${url}"
      local wrk_pid="${HELPER_PID}"
      sleep 0.5
      before="$(requests_served "${admin}")"
      timeout -s INT "${PROFILE_SECONDS}" strace -c -f -p "${SERVER_PID}" -o "${RAW_DIR}/strace.txt" \
        >/dev/null 2>&1 || true
      after="$(requests_served "${admin}")"
      wait_helper "${wrk_pid}" || true
      local served=$((${after:-0} - ${before:-0}))
      record syscalls_window "server=${label}" "window_s=${PROFILE_SECONDS}" "requests=${served}"
      awk -v n="${served}" '
        $1 ~ /^-+$/ { sep++; next }
        sep == 1 && NF >= 5 { calls = $4; errs = (NF == 6) ? $5 : 0;
          printf "syscall\tname=%s\tcalls=%s\terrors=%s\tper_request=%.4f\n", $NF, calls, errs, (n > 0 ? calls / n : 0) }' \
        "${RAW_DIR}/strace.txt" | sort -t= -k3,3 -g -r | head -n 15 >>"${RECORDS}" || true
      finish_server "profile.strace"
    fi
  elif ! command -v strace >/dev/null 2>&1; then
    note "strace not installed: no system call counts"
  else
    note "no admin listener in this build: no system call counts per request"
  fi
}

# bench_callgrind LABEL PORT [FLAGS...]: the supervisor under valgrind
# --tool=callgrind (workers run natively: --trace-children=no), instrumentation
# switched on only once it is ready (callgrind_control -i on), a fixed number of
# requests with h2load -n, then the top functions by instructions (Ir).
bench_callgrind() {
  local label="$1" port="$2"
  shift 2
  local requests=$((PROFILE_SECONDS * 4000)) out="${TMP_DIR}/callgrind.out"
  log "profile: callgrind on the ${label} supervisor, ${requests} requests"
  local args=(serve bench/handlers/hello.js --listen "127.0.0.1:${port}" --workers "${WORKERS}")
  ((HAVE_ISOLATION)) && args+=(--isolation "$(isolation_of "${label}")")
  ((HAVE_CONTROL_SOCKET)) && args+=(--control-socket "${TMP_DIR}/ctl.callgrind.sock")
  SERVER_LOG="${TMP_DIR}/callgrind.log"
  : >"${SERVER_LOG}"
  spawn "${SERVER_LOG}" valgrind --tool=callgrind --trace-children=no --instr-atstart=no \
    --callgrind-out-file="${out}" "${BIN}" "${args[@]}" "$@"
  SERVER_PID="${SPAWN_PID}"
  local saved_timeout="${STARTUP_TIMEOUT}"
  STARTUP_TIMEOUT=$((STARTUP_TIMEOUT * 4))
  if ! wait_http_ready "${label} (callgrind)" "${SERVER_PID}" "${SERVER_LOG}" "$(server_url hello "${port}")"; then
    STARTUP_TIMEOUT="${saved_timeout}"
    stop_server "${SERVER_PID}"
    note "callgrind: the supervisor did not start under valgrind"
    return 0
  fi
  STARTUP_TIMEOUT="${saved_timeout}"
  local instr=1
  callgrind_control -i on "${SERVER_PID}" >/dev/null 2>&1 || instr=0
  ((instr)) || note "callgrind_control -i on failed: the profile includes start-up"
  h2load --h1 -c "${CONNS}" -n "${requests}" "$(server_url hello "${port}")" >"${RAW_DIR}/callgrind.h2load.txt" 2>&1 || true
  local saved_stop="${STOP_TIMEOUT}"
  STOP_TIMEOUT=120
  finish_server "profile.callgrind"
  STOP_TIMEOUT="${saved_stop}"
  if [[ -s "${out}" ]]; then
    callgrind_annotate --inclusive=no "${out}" >"${RAW_DIR}/callgrind.txt" 2>/dev/null || true
    callgrind_annotate --inclusive=yes "${out}" >"${RAW_DIR}/callgrind.inclusive.txt" 2>/dev/null || true
    local total
    total="$(awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }' "${RAW_DIR}/callgrind.txt")"
    record profile "profiler=callgrind" "server=${label}" "requests=${requests}" \
      "instructions_per_request=$(awk -v t="${total:-0}" -v n="${requests}" 'BEGIN { printf "%.0f", t / n }')" \
      "report=${RAW_DIR}/callgrind.txt"
    # Lines: "1,234,567 (12.34%)  file:function [object]".
    awk '/PROGRAM TOTALS/ { next }
      /^ *[0-9,]+ +\( *[0-9.]+%\)/ && n < 40 {
        match($0, /\( *[0-9.]+%\)/)
        pct = substr($0, RSTART + 1, RLENGTH - 3); gsub(/ /, "", pct)
        rest = substr($0, RSTART + RLENGTH); sub(/^ +/, "", rest)
        obj = ""; if (match(rest, / \[[^]]*\]$/)) { obj = substr(rest, RSTART + 2, RLENGTH - 3); rest = substr(rest, 1, RSTART - 1) }
        sub(/^.*\//, "", obj); sub(/^[^:]*:/, "", rest)
        printf "perf_sym\tprofiler=callgrind\trank=%d\tpct=%s\tdso=%s\tsym=%s\n", ++n, pct, obj, rest }' \
      "${RAW_DIR}/callgrind.txt" >>"${RECORDS}"
  else
    note "callgrind wrote no profile"
  fi
}

# --- workerd -------------------------------------------------------------------

# install_workerd: npm ci the pinned workerd into bench/.cache/workerd (once per
# lock file). Sets WORKERD_BIN, or returns 1 after a note.
install_workerd() {
  local arch
  case "$(uname -m)" in
    x86_64) arch=linux-64 ;;
    aarch64) arch=linux-arm64 ;;
    *) note "workerd skipped: no npm build for $(uname -m)"; return 1 ;;
  esac
  command -v npm >/dev/null 2>&1 || { note "workerd skipped: npm not installed"; return 1; }
  WORKERD_BIN="${WORKERD_CACHE}/node_modules/@cloudflare/workerd-${arch}/bin/workerd"
  if [[ ! -x "${WORKERD_BIN}" ]] || ! cmp -s "${WORKERD_PKG_DIR}/package-lock.json" "${WORKERD_CACHE}/package-lock.json"; then
    log "installing workerd ($(sed -n 's/.*"workerd": "\(.*\)".*/\1/p' "${WORKERD_PKG_DIR}/package.json")) into ${WORKERD_CACHE}"
    mkdir -p "${WORKERD_CACHE}"
    cp "${WORKERD_PKG_DIR}/package.json" "${WORKERD_PKG_DIR}/package-lock.json" "${WORKERD_CACHE}/"
    if ! npm ci --prefix "${WORKERD_CACHE}" --no-audit --no-fund >"${TMP_DIR}/npm.txt" 2>&1; then
      rm -f "${WORKERD_CACHE}/package-lock.json"
      note "workerd skipped: npm ci failed: $(tail -n 2 "${TMP_DIR}/npm.txt" | tr '\n' ' ')"
      return 1
    fi
  fi
  if ! WORKERD_VERSION="$("${WORKERD_BIN}" --version 2>&1)"; then
    note "workerd skipped: ${WORKERD_BIN} does not run: ${WORKERD_VERSION}"
    return 1
  fi
  WORKERD_VERSION="npm $(sed -n 's/.*"workerd": "\(.*\)".*/\1/p' "${WORKERD_PKG_DIR}/package.json") (${WORKERD_VERSION#workerd })"
}

# --- main ----------------------------------------------------------------------

main() {
  local knob
  for knob in WORKERS NODE_CLUSTER CONNS DURATION WARMUP ROUNDS RATE_DURATION STARTUP_RUNS MEM_CONNS HOLD_MS \
    PROFILE_SECONDS STARTUP_TIMEOUT; do
    [[ "${!knob}" =~ ^[1-9][0-9]*$ ]] || die "${knob} must be a positive whole number (got '${!knob}')"
  done
  require_isolated_bin
  ensure_cmd wrk wrk
  ensure_cmd h2load nghttp2-client
  ensure_cmd curl curl
  ensure_cmd python3 python3
  mkdir -p "${RAW_DIR}"
  rm -f "${RAW_DIR}"/*

  # Run a private copy: other people rebuilding build/ mid-run cannot mix
  # binaries (workers re-exec the supervisor's own executable).
  mkdir -p "${TMP_DIR}/bin"
  copy_isolated_bin "${ISOLATED_BIN}" "${TMP_DIR}/bin"
  BIN="${TMP_DIR}/bin/isolated"
  HELP="$("${BIN}" serve --help 2>&1 || true)"

  HAVE_ISOLATION=0 HAVE_CONTROL_SOCKET=0 HAVE_ADMIN=0
  grep -q -- '--control-socket' <<<"${HELP}" && HAVE_CONTROL_SOCKET=1
  grep -q -- '--admin-listen' <<<"${HELP}" && HAVE_ADMIN=1
  local modes
  if grep -q -- '--isolation' <<<"${HELP}"; then
    HAVE_ISOLATION=1
    read -r -a modes <<<"${MODES:-shared context isolate}"
  else
    modes=(shared)
    note "isolation modes not available in this build: only the default (shared) mode runs"
  fi

  local labels=() want s
  for want in ${SERVERS}; do
    case "${want}" in
      isolated)
        for s in "${modes[@]}"; do labels+=("isolated/${s}"); done
        for s in ${IO_THREADS:-1 2}; do
          ((s > 1)) && labels+=("isolated/${modes[0]}@io${s}")
        done
        ;;
      node-cluster)
        if command -v node >/dev/null 2>&1; then labels+=(node-cluster); else note "node not installed: node-cluster skipped"; fi
        ;;
      workerd) if install_workerd; then labels+=(workerd); fi ;;
      *) die "unknown server '${want}' in SERVERS" ;;
    esac
  done

  local ports
  mapfile -t ports < <(free_ports 2)
  ((${#ports[@]} == 2)) || die "could not find free loopback ports"
  local port="${ports[0]}" admin="${ports[1]}"

  record meta "timestamp=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    "commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo +dirty)" \
    "cores=$(nproc)" "cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)" \
    "kernel=$(uname -r)" "wrk=$(wrk --version 2>&1 | head -n1 | awk '{ print $2 }')" \
    "h2load=$(h2load --version 2>&1 | awk '{ print $2 }')" \
    "node=$(command -v node >/dev/null 2>&1 && node --version || echo none)" \
    "workerd=${WORKERD_VERSION:-none}" "isolated_bin=${ISOLATED_BIN}" \
    "workers=${WORKERS}" "node_cluster=${NODE_CLUSTER}" "conns=${CONNS}" "duration_s=${DURATION}" \
    "warmup_s=${WARMUP}" "rounds=${ROUNDS}" "rate_duration_s=${RATE_DURATION}" "rate_fraction=${RATE_FRACTION}" \
    "startup_runs=${STARTUP_RUNS}" "mem_conns=${MEM_CONNS}" "hold_ms=${HOLD_MS}" "quick=${QUICK}" \
    "isolation_flag=${HAVE_ISOLATION}" "modes=${modes[*]}" "servers=${labels[*]}" "handlers=${HANDLERS}"
  log "cores: $(nproc); servers: ${labels[*]}; handlers: ${HANDLERS}; wrk -t1 -c${CONNS} -d${DURATION}s"

  # 1. throughput and latency
  local handler label round order i
  for handler in ${HANDLERS}; do
    [[ -f "bench/handlers/${handler}.js" ]] || die "no handler bench/handlers/${handler}.js"
  done
  for ((round = 1; round <= ROUNDS; round++)); do
    order=("${labels[@]}")
    if ((round % 2 == 0)); then
      order=()
      for ((i = ${#labels[@]} - 1; i >= 0; i--)); do order+=("${labels[i]}"); done
    fi
    for handler in ${HANDLERS}; do
      for label in "${order[@]}"; do
        bench_throughput "${label}" "${handler}" "${port}" "${round}"
      done
    done
  done

  # 2. start-up
  local variants=() variant vname vflags
  mapfile -t variants < <(snapshot_variants)
  if ((${#variants[@]} == 0)); then
    variants=("default")
    note "no snapshot flag in this build: start-up with/without snapshot is n/a"
  fi
  for label in "${labels[@]}"; do
    if [[ "${label}" == isolated/* ]]; then
      for variant in "${variants[@]}"; do
        read -r vname vflags <<<"${variant}"
        read -r -a vflags <<<"${vflags:-}"
        bench_startup "${label}" "${vname}" "${port}" "${vflags[@]}"
      done
    else
      bench_startup "${label}" default "${port}"
    fi
  done

  # 3. memory per 1000 requests in flight
  for s in "${modes[@]}"; do
    if [[ " ${labels[*]} " == *" isolated/${s} "* ]]; then
      bench_memory "${s}" "${port}" "${admin}"
    fi
  done

  # 4. supervisor profile, in the first mode (the default, shared)
  if [[ " ${labels[*]} " == *" isolated/${modes[0]} "* ]]; then
    bench_profile "${modes[0]}" "${port}" "${admin}"
  fi

  cp "${RECORDS}" "${RAW_DIR}/records.tsv"
  python3 bench/render.py "${RECORDS}" "${OUT_DIR}"
}

main "$@"
