#!/usr/bin/env bash
# bench/tenants.sh — issue 10's targets: many apps on one server, each figure beside a
# single-app baseline measured in the same run.
#
# It generates $APPS apps of about 10 KB of JavaScript each (bench/tenants.py gen: constant
# tables, a few functions, a switch on the pathname; app I answers on host appI.test with
# "app=appI ..." on GET /), then runs these servers one at a time on loopback, each with
# `isolated serve --config FILE --workers $WORKERS`:
#
#   base     one app (app0): the baseline of every row.
#   tenants  $APPS apps, max_isolates large enough for all of them.
#     1 density   every app answers GET / with its own name (one keep-alive connection, in
#                 order); workers' total VmRSS (from /proc) once all are loaded, against the
#                 base server's. Per app = (RSS tenants - RSS base) / (apps loaded tenants -
#                 apps loaded base), apps with an isolate by `ctl apps --json`; per isolate
#                 the same over the isolates (`ctl workers --json`). (The server
#                 loads every app on its home worker before it logs "ready", so "before any
#                 app" is the base server: the same binary and pool with one app.)
#     3 zipf      wrk -c$CONNS with bench/wrk/tenants.lua choosing the Host header by Zipf(1.0)
#                 over the $APPS apps (all warm) vs the same script over 1 app on base.
#     2 cold      `ctl restart` of every worker, so the replacements hold no isolate; then for
#                 $COLD_APPS apps, on one keep-alive connection: the app's first request in
#                 its worker, then 3 more (their median is "warm"). Client-side times
#                 (bench/tenants.py cold). p50 and p99 of cold - warm. Base: the same for app0.
#   evict    $APPS apps, max_isolates = $SMALL_MAX_ISOLATES.
#     4 cycle     $CYCLE_CONNS connections (bench/tenants.py cycle) requesting app0, app1, ... in
#                 turn, $CYCLES times through the apps or until $CYCLE_SECONDS s: once the
#                 isolates loaded at boot are used, every request needs an isolate that was
#                 evicted. Failed requests, and the workers'
#                 peak total RSS (sampled every 0.2 s) against the bound that max_isolates
#                 implies: base RSS + workers x max_isolates x the per-isolate figure of row 1.
#   noisy    app0 (B) and app `noisy` (A: `for (;;) {}` in fetch, cpu_limit $NOISY_CPU_LIMIT ms).
#     5 noisy     B warmed up closed-loop for $WARMUP s (so that its handler is optimised before
#                 either window), then paced (wrk -c$PACED_CONNS, each connection waiting so that
#                 the total is about $PACED_RATE req/s) alone, then again while wrk -c$NOISY_CONNS
#                 keeps A spinning into its limit: B's failed requests and B's p99 with A / alone.
#
# Every server runs with memory_threshold = 8192 MB so that recycling stays out of the
# figures, and isolate_idle_timeout = 0 (no idle eviction) except where a row says otherwise.
# A server error (a failed request, a crash, a worker lost) is reported, not worked around:
# the row says "not met", and the server's log is kept under $OUT_DIR/tenants/.
#
# Usage (from anywhere in the repository):  bash bench/tenants.sh
#                                           QUICK=1 bash bench/tenants.sh   # 300 apps, shorter runs
# Environment (defaults in brackets):
#   ISOLATED_BIN        binary to test                              [build/isolated]
#   APPS                generated apps                              [1000; QUICK 300]
#   WORKERS             isolated --workers                          [2]
#   CONNS               wrk connections for the Zipf rows           [32]
#   DURATION            measured seconds per wrk run                [8; QUICK 2]
#   WARMUP              warm-up seconds before a measured wrk run   [2; QUICK 1]
#   COLD_APPS           apps measured in the cold-start row         [200; QUICK 60]
#   SMALL_MAX_ISOLATES  max_isolates of the eviction row            [100]
#   CYCLE_CONNS         connections of the eviction row             [4]
#   CYCLES              times the eviction row goes through the apps [2; QUICK 1]
#   CYCLE_SECONDS       time limit of the eviction row              [90; QUICK 12]
#   PACED_RATE          B's approximate rate, req/s                 [200]
#   PACED_CONNS         B's connections                             [4]
#   NOISY_CONNS         A's connections (each always busy)          [2]
#   NOISY_CPU_LIMIT     A's cpu_limit, ms                           [50]
#   STARTUP_TIMEOUT     seconds to wait for a server to be ready    [120]
#   OUT_DIR             where results go                            [bench/results]
#
# Output: a table on stdout and in $OUT_DIR/tenants.md, figures in $OUT_DIR/tenants.json, and
# wrk output, client output and server logs under $OUT_DIR/tenants/.

set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

QUICK="${QUICK:-0}"
if [[ "${QUICK}" == 1 ]]; then
  q_apps=300 q_duration=2 q_warmup=1 q_cold=60 q_cycles=1 q_cycle=12
else
  q_apps=1000 q_duration=8 q_warmup=2 q_cold=200 q_cycles=2 q_cycle=90
fi
ISOLATED_BIN="${ISOLATED_BIN:-build/isolated}"
APPS="${APPS:-${q_apps}}"
WORKERS="${WORKERS:-2}"
CONNS="${CONNS:-32}"
DURATION="${DURATION:-${q_duration}}"
WARMUP="${WARMUP:-${q_warmup}}"
COLD_APPS="${COLD_APPS:-${q_cold}}"
SMALL_MAX_ISOLATES="${SMALL_MAX_ISOLATES:-100}"
CYCLE_CONNS="${CYCLE_CONNS:-4}"
CYCLES="${CYCLES:-${q_cycles}}"
CYCLE_SECONDS="${CYCLE_SECONDS:-${q_cycle}}"
PACED_RATE="${PACED_RATE:-200}"
PACED_CONNS="${PACED_CONNS:-4}"
NOISY_CONNS="${NOISY_CONNS:-2}"
NOISY_CPU_LIMIT="${NOISY_CPU_LIMIT:-50}"
STARTUP_TIMEOUT="${STARTUP_TIMEOUT:-120}"
OUT_DIR="${OUT_DIR:-bench/results}"

CLIENT="bench/tenants.py"
WRK_LUA="bench/wrk/tenants.lua"
RAW_DIR="${OUT_DIR}/tenants"

# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init

((COLD_APPS <= APPS)) || COLD_APPS="${APPS}"
# The figures, by name; written to tenants.json at the end.
declare -A FIG=()
NOTES=()
note() {
  log "note: $*"
  NOTES+=("$*")
}

# --- the apps and their config files -------------------------------------------

# write_config FILE APP_COUNT MAX_ISOLATES IDLE_TIMEOUT: a config serving app0..app{N-1}
# (scripts in $TMP_DIR/apps, relative to the file); extra [[app]] tables may be appended.
write_config() {
  local file="$1" count="$2" max="$3" idle="$4" i
  {
    printf '[server]\nworkers = %s\nmax_isolates = %s\nisolate_idle_timeout = %s\n' \
      "${WORKERS}" "${max}" "${idle}"
    printf 'memory_threshold = 8192\ncontrol_socket = "%s.sock"\n' "${file%.toml}"
    for ((i = 0; i < count; i++)); do
      printf '\n[[app]]\nname = "app%d"\nscript = "apps/app%d.js"\nroutes = ["app%d.test/*"]\n' \
        "${i}" "${i}" "${i}"
    done
  } >"${file}"
}

# --- servers -------------------------------------------------------------------

# start_tenants NAME CONFIG: serve CONFIG on a free loopback port and wait for its "ready"
# line. Sets PORT, SOCK, SERVER_PID, SERVER_LOG and READY_MS (the server's own startup_ms).
# Returns 1 (after showing the log) if it does not come up.
start_tenants() {
  local name="$1" config="$2"
  PORT="$(free_ports 1)"
  SOCK="${config%.toml}.sock"
  SERVER_LOG="${TMP_DIR}/${name}.log"
  : >"${SERVER_LOG}"
  spawn "${SERVER_LOG}" "${BIN}" serve --config "${config}" --listen "127.0.0.1:${PORT}"
  SERVER_PID="${SPAWN_PID}"
  SERVER_NAME="${name}"
  if ! SOFT_READY=1 wait_log_ready "${name}" "${SERVER_PID}" "${SERVER_LOG}"; then
    stop_server "${SERVER_PID}"
    cp "${SERVER_LOG}" "${RAW_DIR}/${name}.log"
    return 1
  fi
  READY_MS="$(log_values "${SERVER_LOG}" ready startup_ms | head -n 1)"
  log "${name}: ready in ${READY_MS%.*} ms (port ${PORT})"
}

# finish_tenants: stop the current server, keep its log, and say whether it died on its own
# or lost a worker (a server bug, never expected here).
finish_tenants() {
  local alive=1 lost
  kill -0 "${SERVER_PID}" 2>/dev/null || alive=0
  stop_server "${SERVER_PID}"
  cp "${SERVER_LOG}" "${RAW_DIR}/${SERVER_NAME}.log"
  ((alive)) || note "${SERVER_NAME}: the server died during its run (log: ${RAW_DIR}/${SERVER_NAME}.log)"
  lost="$(grep -c 'msg="worker lost"' "${SERVER_LOG}" || true)"
  ((lost == 0)) || note "${SERVER_NAME}: ${lost} 'worker lost' lines in its log (${RAW_DIR}/${SERVER_NAME}.log)"
}

ctl() { "${BIN}" ctl --socket "${SOCK}" "$@"; }

# workers_json EXPR: a Python expression over `w` (each worker of `ctl workers --json`), one
# output line per worker.
workers_json() {
  ctl workers --json | python3 -c "import json, sys
for w in json.load(sys.stdin)['workers']: print($1)"
}

# total_rss_kb PID...: the sum of VmRSS over the pids, in kB (from /proc).
total_rss_kb() {
  local pid sum=0 v
  for pid in "$@"; do
    v="$(awk '$1 == "VmRSS:" { print $2 }' "/proc/${pid}/status" 2>/dev/null || true)"
    sum=$((sum + ${v:-0}))
  done
  echo "${sum}"
}

# cpu_ticks PID...: utime + stime summed over the pids, in clock ticks (from /proc).
cpu_ticks() {
  local pid sum=0 line rest
  local -a f
  for pid in "$@"; do
    read -r line 2>/dev/null <"/proc/${pid}/stat" || continue
    rest="${line##*) }"
    read -r -a f <<<"${rest}"
    sum=$((sum + f[11] + f[12]))
  done
  echo "${sum}"
}

# measure_zipf PREFIX APP_COUNT: the measured Zipf run (after a warm-up) on the current server.
# Sets FIG[PREFIX_rps], FIG[PREFIX_failed], FIG[PREFIX_p99_ms] and FIG[PREFIX_cpu_us] (CPU of
# the supervisor and its workers per request, from /proc: steadier than req/s on a shared
# machine, since time spent waiting for a core is not in it).
measure_zipf() {
  local prefix="$1" count="$2" out="${RAW_DIR}/$1.zipf.wrk.txt" pids before after requests
  run_wrk "${TMP_DIR}/warm.txt" "${WARMUP}" "${CONNS}" TENANTS_MODE=zipf TENANTS_APPS="${count}"
  mapfile -t pids < <(workers_json "w['pid']")
  pids+=("${SERVER_PID}")
  before="$(cpu_ticks "${pids[@]}")"
  run_wrk "${out}" "${DURATION}" "${CONNS}" TENANTS_MODE=zipf TENANTS_APPS="${count}"
  after="$(cpu_ticks "${pids[@]}")"
  FIG[${prefix}_rps]="$(parse_rps "$(cat "${out}")" || true)"
  FIG[${prefix}_failed]="$(wrk_failed "${out}")"
  FIG[${prefix}_p99_ms]="$(parse_p99 "$(cat "${out}")" || true)"
  requests="$(parse_requests "$(cat "${out}")" || echo 0)"
  FIG[${prefix}_cpu_us]="$(awk -v t="$((after - before))" -v n="${requests}" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { if (n > 0) printf "%.1f", t * 1e6 / hz / n }')"
}

# isolates_total: isolates held by all workers, from `ctl workers --json`.
isolates_total() { workers_json "w['isolates']" | awk '{ s += $1 } END { print s + 0 }'; }

# apps_loaded: apps with at least one isolate, from `ctl apps --json`.
apps_loaded() {
  ctl apps --json | python3 -c "import json, sys
print(sum(1 for a in json.load(sys.stdin)['apps'] if a['isolates'] > 0))"
}

# apps_total FIELD: the sum of FIELD over `ctl apps --json`.
apps_total() {
  ctl apps --json | python3 -c "import json, sys
print(sum(a.get('$1', 0) for a in json.load(sys.stdin)['apps']))"
}

# restart_all_workers: `ctl restart` each worker in turn, waiting until its replacement is
# ready and it is gone, so that afterwards no worker holds an isolate. Returns 1 on timeout.
restart_all_workers() {
  local id deadline ids
  mapfile -t ids < <(workers_json "w['id']")
  for id in "${ids[@]}"; do
    ctl restart "${id}" >/dev/null || return 1
    deadline=$(($(date +%s) + STARTUP_TIMEOUT))
    # Done when the old id is gone and $WORKERS workers are ready.
    until [[ "$(workers_json "f\"{w['id']} {w['state']}\"" | awk -v id="${id}" '
        $1 == id { old = 1 } $2 == "ready" { ready++ } END { print (old ? "old" : ready + 0) }')" \
      == "${WORKERS}" ]]; do
      (($(date +%s) <= deadline)) || return 1
      sleep 0.1
    done
  done
}

# --- wrk -------------------------------------------------------------------------

# run_wrk OUT SECONDS CONNS [KEY=VALUE...] -- [WRK_ARGS...]: wrk with bench/wrk/tenants.lua,
# the KEY=VALUE pairs in its environment, against the current server.
run_wrk() {
  local out="$1" seconds="$2" conns="$3"
  shift 3
  local envs=()
  while (($# > 0)) && [[ "$1" != -- ]]; do
    envs+=("$1")
    shift
  done
  (($# > 0)) && shift
  env "${envs[@]}" wrk -t1 -c"${conns}" -d"${seconds}s" --timeout 10s --latency -s "${WRK_LUA}" \
    "$@" "http://127.0.0.1:${PORT}/" >"${out}" 2>&1
}

# tenants_field FILE KEY: KEY= from the TENANTS line tenants.lua's done() printed.
tenants_field() {
  awk -v key="$2" '$1 == "TENANTS" { for (i = 2; i <= NF; i++) { split($i, kv, "=");
    if (kv[1] == key) { print kv[2]; found = 1 } } } END { exit !found }' "$1"
}

# wrk_failed FILE: non-2xx/3xx responses and socket errors.
wrk_failed() { parse_errors "$(cat "$1")"; }

# client_field FILE KEY: KEY= from the last line of bench/tenants.py output that has it.
client_field() {
  awk -v key="$2" '{ for (i = 1; i <= NF; i++) { split($i, kv, "=");
    if (kv[1] == key) v = kv[2] } } END { if (v != "") print v; else exit 1 }' "$1"
}

mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
us_to_ms() { awk -v v="$1" 'BEGIN { printf "%.2f", v / 1000 }'; }
# le A B: is A <= B (numbers)?
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 <= b + 0) }'; }

# --- the runs ----------------------------------------------------------------------

# base: one app. RSS, cold start of app0, Zipf over one app.
run_base() {
  log "base: 1 app, ${WORKERS} workers"
  write_config "${TMP_DIR}/base.toml" 1 "${APPS}" 0
  start_tenants base "${TMP_DIR}/base.toml" || {
    note "base: the server did not start"
    return 0
  }
  python3 "${CLIENT}" check "${PORT}" 1 >"${RAW_DIR}/base.check.txt"
  FIG[base_ok]="$(client_field "${RAW_DIR}/base.check.txt" ok)"
  sleep 0.5
  local pids
  mapfile -t pids < <(workers_json "w['pid']")
  FIG[base_rss_kb]="$(total_rss_kb "${pids[@]}")"
  FIG[base_isolates]="$(isolates_total)"
  FIG[base_apps_loaded]="$(apps_loaded)"
  log "base: workers' RSS $(mb "${FIG[base_rss_kb]}") MB with ${FIG[base_isolates]} isolate(s)"

  measure_zipf base 1
  log "base: ${FIG[base_rps]} req/s (wrk -c${CONNS}, 1 app), ${FIG[base_cpu_us]} µs CPU per request"

  if restart_all_workers; then
    python3 "${CLIENT}" cold "${PORT}" 0 1 3 >"${RAW_DIR}/base.cold.txt" || true
    FIG[base_cold_ms]="$(client_field "${RAW_DIR}/base.cold.txt" cold_p50_ms || true)"
    FIG[base_warm_ms]="$(client_field "${RAW_DIR}/base.cold.txt" warm_p50_ms || true)"
  else
    note "base: the workers' restart did not complete in ${STARTUP_TIMEOUT}s"
  fi
  finish_tenants
}

# tenants: $APPS apps, all loaded. Rows 1, 3 and 2.
run_tenants() {
  log "tenants: ${APPS} apps, ${WORKERS} workers, max_isolates ${APPS}"
  write_config "${TMP_DIR}/tenants.toml" "${APPS}" "${APPS}" 0
  start_tenants tenants "${TMP_DIR}/tenants.toml" || {
    note "tenants: the server did not start with ${APPS} apps"
    return 0
  }
  FIG[tenants_ready_ms]="${READY_MS}"
  local out="${RAW_DIR}/tenants.check.txt"
  python3 "${CLIENT}" check "${PORT}" "${APPS}" >"${out}"
  FIG[tenants_ok]="$(client_field "${out}" ok)"
  FIG[tenants_failed]="$(client_field "${out}" failed)"
  ((FIG[tenants_failed] == 0)) || note "tenants: ${FIG[tenants_failed]} apps answered wrongly: $(grep '^failure' "${out}" | head -n 3 | tr '\n' ' ')"
  sleep 0.5
  local pids
  mapfile -t pids < <(workers_json "w['pid']")
  FIG[tenants_rss_kb]="$(total_rss_kb "${pids[@]}")"
  FIG[tenants_isolates]="$(isolates_total)"
  FIG[tenants_apps_loaded]="$(apps_loaded)"
  FIG[tenants_per_worker]="$(workers_json "'%d isolates, %.0f MB' % (w['isolates'], w['rss_bytes'] / 1048576)" | paste -sd ';' -)"
  # The target is per app (an app may hold an isolate in more than one worker); the eviction
  # row's bound needs the figure per isolate.
  if [[ -n "${FIG[base_rss_kb]:-}" ]] && ((FIG[tenants_isolates] > ${FIG[base_isolates]:-0})); then
    FIG[mb_per_isolate]="$(awk -v a="${FIG[tenants_rss_kb]}" -v b="${FIG[base_rss_kb]}" \
      -v n="$((FIG[tenants_isolates] - FIG[base_isolates]))" 'BEGIN { printf "%.3f", (a - b) / 1024 / n }')"
  fi
  if [[ -n "${FIG[base_rss_kb]:-}" ]] && ((FIG[tenants_apps_loaded] > ${FIG[base_apps_loaded]:-0})); then
    FIG[mb_per_app]="$(awk -v a="${FIG[tenants_rss_kb]}" -v b="${FIG[base_rss_kb]}" \
      -v n="$((FIG[tenants_apps_loaded] - FIG[base_apps_loaded]))" 'BEGIN { printf "%.3f", (a - b) / 1024 / n }')"
  fi
  log "tenants: ${FIG[tenants_ok]}/${APPS} answered; workers' RSS $(mb "${FIG[tenants_rss_kb]}") MB with ${FIG[tenants_apps_loaded]} apps in ${FIG[tenants_isolates]} isolates (${FIG[tenants_per_worker]}) -> ${FIG[mb_per_app]:-?} MB per app, ${FIG[mb_per_isolate]:-?} MB per isolate"

  measure_zipf zipf "${APPS}"
  FIG[zipf_ratio]="$(ratio "${FIG[zipf_rps]}" "${FIG[base_rps]:-}")"
  FIG[zipf_cpu_ratio]="$(ratio "${FIG[zipf_cpu_us]}" "${FIG[base_cpu_us]:-}")"
  log "tenants: Zipf(1.0) over ${APPS} apps: ${FIG[zipf_rps]} req/s, ${FIG[zipf_failed]} failed (x${FIG[zipf_ratio]:-?} of one app), ${FIG[zipf_cpu_us]} µs CPU per request (x${FIG[zipf_cpu_ratio]:-?})"

  if restart_all_workers; then
    FIG[cold_isolates_before]="$(isolates_total)"
    local starts_before
    starts_before="$(apps_total cold_starts)"
    out="${RAW_DIR}/tenants.cold.txt"
    local cpu_pids cpu_before
    mapfile -t cpu_pids < <(workers_json "w['pid']")
    cpu_pids+=("${SERVER_PID}")
    cpu_before="$(cpu_ticks "${cpu_pids[@]}")"
    python3 "${CLIENT}" cold "${PORT}" 0 "${COLD_APPS}" 3 >"${out}" || true
    # Server CPU per app measured: its cold start and its 3 warm requests.
    FIG[cold_cpu_ms_per_app]="$(awk -v t="$(($(cpu_ticks "${cpu_pids[@]}") - cpu_before))" \
      -v n="${COLD_APPS}" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", t * 1000 / hz / n }')"
    FIG[cold_server_counted]="$(($(apps_total cold_starts) - starts_before))"
    for key in delta_p50_ms delta_p99_ms cold_p50_ms cold_p99_ms warm_p50_ms warm_p99_ms failed measured new_connections; do
      FIG[cold_${key}]="$(client_field "${out}" "${key}" || true)"
    done
    log "tenants: cold - warm over ${FIG[cold_measured]} apps: p50 ${FIG[cold_delta_p50_ms]} ms, p99 ${FIG[cold_delta_p99_ms]} ms (server counted ${FIG[cold_server_counted]} cold starts; ${FIG[cold_isolates_before]} isolates before)"
    ((FIG[cold_isolates_before] == 0)) || note "cold: ${FIG[cold_isolates_before]} isolates were already loaded after the workers' restart"
    [[ "${FIG[cold_new_connections]:-0}" == 0 ]] || note "cold: the client had to reconnect ${FIG[cold_new_connections]} times (the server closed the keep-alive connection)"
  else
    note "tenants: the workers' restart did not complete in ${STARTUP_TIMEOUT}s; no cold-start figures"
  fi
  finish_tenants
}

# evict: max_isolates = $SMALL_MAX_ISOLATES, requests cycling through every app. Row 4.
run_evict() {
  log "evict: ${APPS} apps, max_isolates ${SMALL_MAX_ISOLATES}"
  write_config "${TMP_DIR}/evict.toml" "${APPS}" "${SMALL_MAX_ISOLATES}" 0
  start_tenants evict "${TMP_DIR}/evict.toml" || {
    note "evict: the server did not start"
    return 0
  }
  local pids peak=0 rss samples=0 i
  mapfile -t pids < <(workers_json "w['pid']")
  FIG[evict_ready_rss_kb]="$(total_rss_kb "${pids[@]}")"
  FIG[evict_ready_isolates]="$(workers_json "w['isolates']" | paste -sd '+' -)"
  local evictions_before
  evictions_before="$(apps_total evictions)"
  local out="${RAW_DIR}/evict.cycle.txt" cpu_pids cpu_before
  cpu_pids=("${pids[@]}" "${SERVER_PID}")
  cpu_before="$(cpu_ticks "${cpu_pids[@]}")"
  spawn_helper "${out}" python3 "${CLIENT}" cycle "${PORT}" "${APPS}" "${CYCLE_CONNS}" \
    "$((APPS * CYCLES))" "${CYCLE_SECONDS}"
  local client_pid="${HELPER_PID}" rss_log="${RAW_DIR}/evict.rss.tsv"
  printf 'ms\trss_kb\n' >"${rss_log}"
  local t0
  t0="$(date +%s%N)"
  for ((i = 0; i < CYCLE_SECONDS * 5 + 50; i++)); do
    kill -0 "${client_pid}" 2>/dev/null || break
    rss="$(total_rss_kb "${pids[@]}")"
    ((rss > peak)) && peak="${rss}"
    printf '%d\t%d\n' "$((($(date +%s%N) - t0) / 1000000))" "${rss}" >>"${rss_log}"
    samples=$((samples + 1))
    sleep 0.2
  done
  # RSS halfway through: if the end is well above it, memory still grows with evictions.
  FIG[evict_mid_rss_kb]="$(awk -v n="${samples}" 'NR == int(n / 2) + 2 { print $2 }' "${rss_log}")"
  wait_helper "${client_pid}" || note "evict: the cycling client failed: $(tail -n 3 "${out}" | tr '\n' ' ')"
  local cpu_ticks_used=$(($(cpu_ticks "${cpu_pids[@]}") - cpu_before))
  rss="$(total_rss_kb "${pids[@]}")"
  ((rss > peak)) && peak="${rss}"
  FIG[evict_peak_rss_kb]="${peak}"
  FIG[evict_end_rss_kb]="${rss}"
  FIG[evict_samples]="${samples}"
  FIG[evict_requests]="$(client_field "${out}" requests || echo 0)"
  FIG[evict_failed]="$(client_field "${out}" failed || true)"
  FIG[evict_rps]="$(client_field "${out}" rps || true)"
  FIG[evict_p50_ms]="$(client_field "${out}" p50_ms || true)"
  FIG[evict_p99_ms]="$(client_field "${out}" p99_ms || true)"
  FIG[evict_cycles]="$(client_field "${out}" cycles || echo 0)"
  FIG[evict_cpu_ms]="$(awk -v t="${cpu_ticks_used}" -v n="${FIG[evict_requests]}" \
    -v hz="$(getconf CLK_TCK)" 'BEGIN { if (n > 0) printf "%.1f", t * 1000 / hz / n }')"
  ((${FIG[evict_failed]:-0} == 0)) || note "evict: failed requests: $(grep '^failure' "${out}" | head -n 3 | tr '\n' ' ')"
  le 1 "${FIG[evict_cycles]}" || note "evict: ${FIG[evict_requests]} requests in ${CYCLE_SECONDS}s did not go once through the ${APPS} apps; raise CYCLE_SECONDS"
  FIG[evict_evictions]="$(($(apps_total evictions) - evictions_before))"
  FIG[evict_isolates_end]="$(workers_json "w['isolates']" | paste -sd '+' -)"
  local now_pids
  mapfile -t now_pids < <(workers_json "w['pid']")
  [[ "${now_pids[*]}" == "${pids[*]}" ]] || note "evict: the workers changed during the run (${pids[*]} -> ${now_pids[*]}); RSS covers the first ones only"
  if [[ -n "${FIG[mb_per_isolate]:-}" && -n "${FIG[base_rss_kb]:-}" ]]; then
    FIG[evict_bound_kb]="$(awk -v b="${FIG[base_rss_kb]}" -v w="${WORKERS}" -v m="${SMALL_MAX_ISOLATES}" \
      -v p="${FIG[mb_per_isolate]}" 'BEGIN { printf "%.0f", b + w * m * p * 1024 }')"
  fi
  FIG[evict_target_bound_kb]="$(awk -v b="${FIG[base_rss_kb]:-0}" -v w="${WORKERS}" \
    -v m="${SMALL_MAX_ISOLATES}" 'BEGIN { printf "%.0f", b + w * m * 1024 }')"
  log "evict: ${FIG[evict_requests]} requests (${FIG[evict_rps]} req/s, p50 ${FIG[evict_p50_ms]} ms, p99 ${FIG[evict_p99_ms]} ms), ${FIG[evict_failed]} failed, ${FIG[evict_evictions]} evictions; RSS peak $(mb "${peak}") MB (bound $(mb "${FIG[evict_bound_kb]:-0}") MB), isolates now ${FIG[evict_isolates_end]}"
  finish_tenants
}

# noisy: B (app0) paced, alone and beside A spinning into its CPU limit. Row 5.
run_noisy() {
  log "noisy: B = app0 at ~${PACED_RATE} req/s; A = noisy, cpu_limit ${NOISY_CPU_LIMIT} ms, ${NOISY_CONNS} busy connections"
  local config="${TMP_DIR}/noisy.toml"
  write_config "${config}" 1 "${APPS}" 0
  printf 'export default {\n  fetch() {\n    for (;;) {}\n  },\n};\n' >"${TMP_DIR}/apps/noisy.js"
  printf '\n[[app]]\nname = "noisy"\nscript = "apps/noisy.js"\nroutes = ["noisy.test/*"]\ncpu_limit = %s\n' \
    "${NOISY_CPU_LIMIT}" >>"${config}"
  start_tenants noisy "${config}" || {
    note "noisy: the server did not start"
    return 0
  }
  local delay
  delay="$(awk -v c="${PACED_CONNS}" -v r="${PACED_RATE}" 'BEGIN { printf "%d", c * 1000 / r }')"
  local paced=(TENANTS_MODE=paced TENANTS_HOST=app0.test TENANTS_DELAY_MS="${delay}")
  # B's warm-up is closed-loop (tens of thousands of requests): V8 tiers B's handler up to
  # optimised code after a few thousand requests, and at the paced rate that would land inside
  # one of the two measured windows, so the ratio would compare a JIT compile with no
  # neighbour (docs/multi-tenancy.md, "The noisy neighbour's warm-up").
  wrk -t1 -c"${PACED_CONNS}" -d"${WARMUP}s" --timeout 10s -H "Host: app0.test" \
    "http://127.0.0.1:${PORT}/" >"${TMP_DIR}/warm.txt" 2>&1
  run_wrk "${RAW_DIR}/noisy.alone.wrk.txt" "${DURATION}" "${PACED_CONNS}" "${paced[@]}"
  local out="${RAW_DIR}/noisy.alone.wrk.txt"
  FIG[b_alone_p99_ms]="$(us_to_ms "$(tenants_field "${out}" p99_us)")"
  FIG[b_alone_p50_ms]="$(us_to_ms "$(tenants_field "${out}" p50_us)")"
  FIG[b_alone_requests]="$(tenants_field "${out}" requests)"
  FIG[b_alone_failed]="$(wrk_failed "${out}")"

  # The CPU-limit terminations of A, from the server's log: `ctl apps` has them only once a
  # health probe has reported them (every health_interval).
  local lines_before
  lines_before="$(wc -l <"${SERVER_LOG}")"
  spawn_helper "${RAW_DIR}/noisy.a.wrk.txt" wrk -t1 -c"${NOISY_CONNS}" -d"$((DURATION + 2))s" \
    --timeout 10s -H "Host: noisy.test" "http://127.0.0.1:${PORT}/"
  local a_pid="${HELPER_PID}"
  sleep 1
  run_wrk "${RAW_DIR}/noisy.b.wrk.txt" "${DURATION}" "${PACED_CONNS}" "${paced[@]}"
  wait_helper "${a_pid}" || true
  out="${RAW_DIR}/noisy.b.wrk.txt"
  FIG[b_noisy_p99_ms]="$(us_to_ms "$(tenants_field "${out}" p99_us)")"
  FIG[b_noisy_p50_ms]="$(us_to_ms "$(tenants_field "${out}" p50_us)")"
  FIG[b_noisy_requests]="$(tenants_field "${out}" requests)"
  FIG[b_noisy_failed]="$(wrk_failed "${out}")"
  FIG[b_p99_ratio]="$(ratio "${FIG[b_noisy_p99_ms]}" "${FIG[b_alone_p99_ms]}")"
  FIG[a_requests]="$(parse_requests "$(cat "${RAW_DIR}/noisy.a.wrk.txt")" || echo 0)"
  FIG[a_non2xx]="$(parse_non2xx "$(cat "${RAW_DIR}/noisy.a.wrk.txt")")"
  FIG[a_terminations]="$(tail -n +"$((lines_before + 1))" "${SERVER_LOG}" |
    grep 'app=noisy' | grep -c 'exceeded the CPU time limit' || true)"
  FIG[b_errors_logged]="$(tail -n +"$((lines_before + 1))" "${SERVER_LOG}" |
    grep 'app=app0' | grep -c 'level=error' || true)"
  FIG[noisy_placement]="$(ctl apps --json | python3 -c "import json, sys
print(' '.join('%s on %s' % (a['name'], a['workers']) for a in json.load(sys.stdin)['apps']))")"
  log "noisy: B p99 ${FIG[b_alone_p99_ms]} ms alone, ${FIG[b_noisy_p99_ms]} ms beside A (x${FIG[b_p99_ratio]}); B failed ${FIG[b_noisy_failed]}; A: ${FIG[a_requests]} requests, ${FIG[a_terminations]} CPU-limit terminations; ${FIG[noisy_placement]}"
  finish_tenants
}

# --- the report ----------------------------------------------------------------------

ROWS=()
# row TARGET BASELINE FIGURE MET: one line of the table (MET: 1, 0 or empty = not measured).
row() {
  local verdict="not measured"
  [[ "$4" == 1 ]] && verdict="met"
  [[ "$4" == 0 ]] && verdict="NOT MET"
  ROWS+=("| $1 | $2 | $3 | ${verdict} |")
}

# is CONDITION: 1 or 0 for the awk CONDITION over the FIG values passed as -v; empty if any
# is missing.
verdict() {
  local cond="$1"
  shift
  local v
  for v in "$@"; do [[ -n "${v#*=}" ]] || return 0; done
  local args=()
  for v in "$@"; do args+=(-v "${v}"); done
  awk "${args[@]}" "BEGIN { print (${cond}) ? 1 : 0 }"
}

report() {
  row "${APPS} apps on ${WORKERS} workers all answer their own name" "${FIG[base_ok]:-?}/1" \
    "${FIG[tenants_ok]:-?}/${APPS}" "$(verdict 'ok == n' ok="${FIG[tenants_ok]:-}" n="${APPS}")"
  row "memory per loaded app ≤ 1.0 MB" \
    "$(mb "${FIG[base_rss_kb]:-0}") MB, 1 app in ${FIG[base_isolates]:-?} isolate(s)" \
    "${FIG[mb_per_app]:-?} MB/app, ${FIG[mb_per_isolate]:-?} MB/isolate ($(mb "${FIG[tenants_rss_kb]:-0}") MB, ${FIG[tenants_apps_loaded]:-?} apps in ${FIG[tenants_isolates]:-?} isolates)" \
    "$(verdict 'm <= 1.0' m="${FIG[mb_per_app]:-}")"
  row "cold start adds ≤ 3 ms at p50 (same connection)" \
    "warm p50 ${FIG[cold_warm_p50_ms]:-?} ms; 1 app: cold ${FIG[base_cold_ms]:-?} / warm ${FIG[base_warm_ms]:-?} ms" \
    "+${FIG[cold_delta_p50_ms]:-?} ms (cold p50 ${FIG[cold_cold_p50_ms]:-?} ms, ${FIG[cold_measured]:-0} apps; server CPU ${FIG[cold_cpu_ms_per_app]:-?} ms per app for its cold + 3 warm requests)" \
    "$(verdict 'd <= 3 && f == 0' d="${FIG[cold_delta_p50_ms]:-}" f="${FIG[cold_failed]:-}")"
  row "cold start adds ≤ 10 ms at p99" "warm p99 ${FIG[cold_warm_p99_ms]:-?} ms" \
    "+${FIG[cold_delta_p99_ms]:-?} ms (cold p99 ${FIG[cold_cold_p99_ms]:-?} ms)" \
    "$(verdict 'd <= 10 && f == 0' d="${FIG[cold_delta_p99_ms]:-}" f="${FIG[cold_failed]:-}")"
  row "Zipf(1.0) over ${APPS} apps ≥ 0.8× one app's req/s" \
    "${FIG[base_rps]:-?} req/s, ${FIG[base_cpu_us]:-?} µs CPU/req" \
    "${FIG[zipf_rps]:-?} req/s = ${FIG[zipf_ratio]:-?}×, ${FIG[zipf_failed]:-?} failed; ${FIG[zipf_cpu_us]:-?} µs CPU/req = ${FIG[zipf_cpu_ratio]:-?}×" \
    "$(verdict 'r >= 0.8 && f == 0' r="${FIG[zipf_ratio]:-}" f="${FIG[zipf_failed]:-}")"
  row "max_isolates ${SMALL_MAX_ISOLATES}, cycling ${APPS} apps: no failed request" "-" \
    "${FIG[evict_failed]:-?} failed of ${FIG[evict_requests]:-?} (${FIG[evict_cycles]:-?} cycles, ${FIG[evict_evictions]:-?} evictions, server CPU ${FIG[evict_cpu_ms]:-?} ms per request)" \
    "$(verdict 'f == 0 && n > 0' f="${FIG[evict_failed]:-}" n="${FIG[evict_requests]:-}")"
  row "max_isolates ${SMALL_MAX_ISOLATES}: workers' RSS within the bound" \
    "$(mb "${FIG[base_rss_kb]:-0}") MB + ${WORKERS}×${SMALL_MAX_ISOLATES}×${FIG[mb_per_isolate]:-?} MB = $(mb "${FIG[evict_bound_kb]:-0}") MB" \
    "peak $(mb "${FIG[evict_peak_rss_kb]:-0}") MB; halfway $(mb "${FIG[evict_mid_rss_kb]:-0}") MB, end $(mb "${FIG[evict_end_rss_kb]:-0}") MB" \
    "$(verdict 'p <= b' p="${FIG[evict_peak_rss_kb]:-}" b="${FIG[evict_bound_kb]:-}")"
  row "noisy neighbour: B has 0 failed requests" "alone: ${FIG[b_alone_failed]:-?} of ${FIG[b_alone_requests]:-?}" \
    "${FIG[b_noisy_failed]:-?} of ${FIG[b_noisy_requests]:-?}" \
    "$(verdict 'f == 0 && n > 0' f="${FIG[b_noisy_failed]:-}" n="${FIG[b_noisy_requests]:-}")"
  row "noisy neighbour: B's p99 ≤ 2× alone" "${FIG[b_alone_p99_ms]:-?} ms" \
    "${FIG[b_noisy_p99_ms]:-?} ms = ${FIG[b_p99_ratio]:-?}×" \
    "$(verdict 'r <= 2' r="${FIG[b_p99_ratio]:-}")"

  local md="${OUT_DIR}/tenants.md" load
  load="$(cut -d' ' -f1-3 /proc/loadavg)"
  {
    printf '# bench/tenants.sh — %s, commit %s, %s cores, load average %s%s\n\n' \
      "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
      "$(nproc)" "${load}" "$([[ "${QUICK}" == 1 ]] && echo ', QUICK=1')"
    printf '| target | single-app baseline (same run) | figure | result |\n|---|---|---|---|\n'
    printf '%s\n' "${ROWS[@]}"
    if ((${#NOTES[@]} > 0)); then
      printf '\nNotes:\n'
      printf -- '- %s\n' "${NOTES[@]}"
    fi
    printf '\nDetails: per worker after loading: %s. Noisy run placement: %s. A: %s requests, %s non-2xx, %s CPU-limit terminations. B p50: %s ms alone, %s ms beside A. Eviction run: %s req/s, p50 %s ms, p99 %s ms, isolates per worker at ready %s (RSS %s MB) and at the end %s; bound at 1.0 MB per isolate: %s MB. Server ready with %s apps after %s ms.\n' \
      "${FIG[tenants_per_worker]:-?}" "${FIG[noisy_placement]:-?}" "${FIG[a_requests]:-?}" \
      "${FIG[a_non2xx]:-?}" "${FIG[a_terminations]:-?}" "${FIG[b_alone_p50_ms]:-?}" \
      "${FIG[b_noisy_p50_ms]:-?}" "${FIG[evict_rps]:-?}" "${FIG[evict_p50_ms]:-?}" "${FIG[evict_p99_ms]:-?}" \
      "${FIG[evict_ready_isolates]:-?}" "$(mb "${FIG[evict_ready_rss_kb]:-0}")" "${FIG[evict_isolates_end]:-?}" "$(mb "${FIG[evict_target_bound_kb]:-0}")" "${APPS}" \
      "${FIG[tenants_ready_ms]:-?}"
  } >"${md}"
  cat "${md}"

  local key first=1
  {
    printf '{\n'
    json_run_fields tenants
    printf '  "quick": %s,\n  "load_average": %s,\n' "$([[ "${QUICK}" == 1 ]] && echo true || echo false)" \
      "$(json_str "${load}")"
    printf '  "apps": %s,\n  "workers": %s,\n  "figures": {' "${APPS}" "${WORKERS}"
    for key in $(printf '%s\n' "${!FIG[@]}" | sort); do
      ((first)) || printf ','
      first=0
      if [[ "${FIG[${key}]}" =~ ^-?[0-9]+(\.[0-9]+)?$ ]]; then
        printf '\n    %s: %s' "$(json_str "${key}")" "${FIG[${key}]}"
      else
        printf '\n    %s: %s' "$(json_str "${key}")" "$(json_str "${FIG[${key}]}")"
      fi
    done
    printf '\n  },\n  "notes": ['
    first=1
    for key in "${NOTES[@]}"; do
      ((first)) || printf ','
      first=0
      printf '\n    %s' "$(json_str "${key}")"
    done
    printf '\n  ]\n}\n'
  } >"${OUT_DIR}/tenants.json"
  log "wrote ${md}, ${OUT_DIR}/tenants.json and ${RAW_DIR}/"
}

main() {
  ensure_wrk
  ensure_cmd python3 python3
  require_isolated_bin
  mkdir -p "${RAW_DIR}" "${TMP_DIR}/apps" "${TMP_DIR}/bin"
  # Sandboxed workers run as another user (nobody), who must reach the scripts and the binary:
  # mktemp made the directory private to us.
  chmod 755 "${TMP_DIR}" "${TMP_DIR}/apps" "${TMP_DIR}/bin"
  # A private copy: someone rebuilding build/ mid-run cannot mix binaries.
  copy_isolated_bin "${ISOLATED_BIN}" "${TMP_DIR}/bin"
  BIN="${TMP_DIR}/bin/isolated"
  python3 "${CLIENT}" gen "${TMP_DIR}/apps" "${APPS}" >"${RAW_DIR}/apps.txt"
  FIG[app_mean_bytes]="$(client_field "${RAW_DIR}/apps.txt" mean_bytes)"
  log "generated ${APPS} apps, $(cat "${RAW_DIR}/apps.txt"); load average $(cut -d' ' -f1-3 /proc/loadavg)"
  local started
  started="$(date +%s)"
  run_base
  run_tenants
  run_evict
  run_noisy
  FIG[run_seconds]="$(($(date +%s) - started))"
  report
}

main "$@"
