#!/usr/bin/env bash
# bench/recycle.sh — what replacing workers costs `isolated`: rolling reloads,
# --max-requests recycling, and kill -9 of workers, idle and under load.
#
# Each phase starts its own `isolated serve examples/hello.js --workers $WORKERS`
# (never two servers at once), waits for its msg="ready" log line, and reads the
# supervisor's logfmt log afterwards to count what happened.
#
#   0  baseline: the same wrk run with no churn at all. The req/s of A, B and D are
#      also given as a ratio to it ("vs base"): shared machines are noisy, and
#      the ratio is the figure worth comparing across runs and commits.
#   A  reload every second: wrk -t1 -c$CONNS -d${DURATION}s --latency while SIGHUP
#      goes to the supervisor every $RELOAD_EVERY s. Each SIGHUP is a rolling
#      reload (every worker replaced, one at a time, the replacement ready before
#      the old one drains), so NO request should fail.
#   B  max-requests recycling: the same wrk run against a server started with
#      --max-requests $MAX_REQUESTS. NO request should fail.
#   C  death to ready replacement, idle: kill -9 the oldest live worker
#      $RESPAWN_KILLS times, each time waiting for the replacement's "worker ready".
#      The figure is the gap between the supervisor's "worker lost" line and the
#      replacement's "worker ready" line (log timestamps, 1 ms resolution), plus
#      the replacement's own spawn_to_ready_ms. Run twice: with the defaults, and
#      with --restart-backoff-base 1 --restart-backoff-max 1. Why twice: the
#      supervisor counts a worker that dies less than 1 s after it was spawned as
#      an early failure and delays the next spawn (100 ms, doubling per early
#      failure in a row). Every worker in this phase is young, so with the
#      defaults the figure is mostly that backoff; the second run pins it to 1 ms
#      and so shows detection + spawn + script load.
#   D  kill -9 under load: the wrk run again while the oldest live worker gets
#      kill -9 every $KILL_EVERY s. Failures are expected here, but only requests
#      in flight on the killed worker (the supervisor answers them 502): the
#      report gives failed per kill, and the supervisor's own count
#      (failed_requests= on its "worker lost" lines) to compare with wrk's.
#
# Failed requests = wrk "Non-2xx or 3xx responses" + socket errors (connect,
# read, write, timeout). There is no warm-up: churn is the point of every phase.
#
# Usage (from the repository root):  bash bench/recycle.sh
# Environment:
#   ISOLATED_BIN     binary to test                       (default build/isolated)
#   ISOLATED_SCRIPT  handler to serve                     (default examples/hello.js)
#   WORKERS          isolated --workers                   (default 2)
#   CONNS            wrk connections                      (default 32)
#   DURATION         wrk seconds in phases A, B and D     (default 10)
#   RELOAD_EVERY     seconds between SIGHUPs in phase A   (default 1)
#   MAX_REQUESTS     --max-requests in phase B            (default 2000)
#   RESPAWN_KILLS    kills per run in phase C             (default 5)
#   KILL_EVERY       seconds between kills in phase D     (default 2)
#   STARTUP_TIMEOUT  seconds to wait for ready/respawn    (default 30)
#   OUT              JSON results file                    (default bench/results/recycle.json)

set -euo pipefail

ISOLATED_BIN="${ISOLATED_BIN:-build/isolated}"
ISOLATED_SCRIPT="${ISOLATED_SCRIPT:-examples/hello.js}"
WORKERS="${WORKERS:-2}"
CONNS="${CONNS:-32}"
DURATION="${DURATION:-10}"
RELOAD_EVERY="${RELOAD_EVERY:-1}"
MAX_REQUESTS="${MAX_REQUESTS:-2000}"
RESPAWN_KILLS="${RESPAWN_KILLS:-5}"
KILL_EVERY="${KILL_EVERY:-2}"
STARTUP_TIMEOUT="${STARTUP_TIMEOUT:-30}"
OUT="${OUT:-bench/results/recycle.json}"

# Results: "<phase>.<figure>" -> value. Phases: baseline, reload, max_requests,
# kill_load, respawn_default, respawn_pinned.
declare -A R=()

# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init

# --- servers -----------------------------------------------------------------

# start_isolated PHASE PORT [EXTRA_FLAGS...]: start a server logging to
# $TMP_DIR/PHASE.log and wait until it is ready. Sets SERVER_PID and SERVER_LOG.
start_isolated() {
  local phase="$1" port="$2"
  shift 2
  SERVER_LOG="${TMP_DIR}/${phase}.log"
  : >"${SERVER_LOG}"
  log "${phase}: starting isolated --workers ${WORKERS}${*:+ $*} on 127.0.0.1:${port}"
  spawn "${SERVER_LOG}" "${ISOLATED_BIN}" serve "${ISOLATED_SCRIPT}" \
    --listen "127.0.0.1:${port}" --workers "${WORKERS}" "$@"
  SERVER_PID="${SPAWN_PID}"
  wait_log_ready "${phase}" "${SERVER_PID}" "${SERVER_LOG}"
  # Signals go to this pid: make sure it is the supervisor itself, not a wrapper.
  [[ "$(ps -o comm= -p "${SERVER_PID}" 2>/dev/null || true)" == isolated* ]] ||
    die "pid ${SERVER_PID} is not the isolated supervisor"
}

# finish_server PHASE: check the supervisor survived, stop it, keep its log.
finish_server() {
  local phase="$1"
  if ! kill -0 "${SERVER_PID}" 2>/dev/null; then
    log "${phase}: the supervisor died; its log:"
    cat "${SERVER_LOG}" >&2
    exit 1
  fi
  stop_server "${SERVER_PID}"
  mkdir -p "$(dirname "${OUT}")"
  cp "${SERVER_LOG}" "${OUT%.json}.${phase}.log"
}

# --- the supervisor's logfmt log -----------------------------------------------

# count_lines LOG MSG [REASON]: lines with msg="MSG" (and reason=REASON).
count_lines() {
  awk -v msg="$2" -v reason="${3:-}" "${LOGFMT_AWK}"'
    is(msg) && (reason == "" || field("reason") == reason) { n++ }
    END { print n + 0 }' "$1"
}

# live_workers LOG: pids of workers that logged "worker ready" and since then
# neither exited, got lost nor started retiring, oldest first.
live_workers() {
  awk "${LOGFMT_AWK}"'
    is("worker ready") { order[n++] = field("pid") }
    is("worker exited") || is("worker lost") || is("recycling worker") || is("worker draining") {
      gone[field("pid")] = 1
    }
    END { for (i = 0; i < n; i++) if (!(order[i] in gone)) print order[i] }' "$1"
}

# kill_oldest_worker: kill -9 the oldest live worker of $SERVER_PID. Sets
# VICTIM (empty if there was none). Only pids in the server's process group are
# touched, so a recycled pid can never hit an unrelated process.
kill_oldest_worker() {
  local pid pgid
  VICTIM=""
  while read -r pid; do
    pgid="$(ps -o pgid= -p "${pid}" 2>/dev/null | tr -d ' ')" || continue
    [[ "${pgid}" == "${SERVER_PID}" ]] || continue
    if kill -KILL "${pid}" 2>/dev/null; then
      VICTIM="${pid}"
      return 0
    fi
  done < <(live_workers "${SERVER_LOG}")
}

# warn_lines LOG: the log's warn/error lines (at most 30), to show with a failure.
warn_lines() {
  grep -E 'level=(warn|error)' "$1" | head -n 30 || true
}

# --- wrk and its output ------------------------------------------------------

# load_with PHASE ACTION EVERY_S: run wrk against the current server and, while
# it runs, call ACTION every EVERY_S seconds (at EVERY_S, 2*EVERY_S, ... while
# before the end of the run). Sets ACTIONS (how many ACTION reported done by
# returning 0) and records the wrk figures under PHASE in R.
load_with() {
  local phase="$1" action="$2" every="$3" url out_file
  url="http://127.0.0.1:${PORT}/"
  out_file="${TMP_DIR}/${phase}.wrk.txt"
  log "${phase}: wrk -t1 -c${CONNS} -d${DURATION}s${action:+, ${action} every ${every}s}"
  spawn_helper "${out_file}" wrk -t1 -c"${CONNS}" -d"${DURATION}s" --latency "${url}"
  local wrk_pid="${HELPER_PID}"
  local start now k=1 end
  start="$(date +%s%N)"
  end=$((start + DURATION * 1000000000))
  ACTIONS=0
  while kill -0 "${wrk_pid}" 2>/dev/null; do
    if [[ -n "${action}" ]]; then
      now="$(date +%s%N)"
      local due=$((start + k * every * 1000000000))
      if ((due < end && now >= due)); then
        if "${action}"; then ACTIONS=$((ACTIONS + 1)); fi
        k=$((k + 1))
      fi
    fi
    sleep 0.01
  done
  local status=0
  wait_helper "${wrk_pid}" || status=$?
  local out
  out="$(cat "${out_file}")"
  ((status == 0)) || { printf '%s\n' "${out}" >&2; die "${phase}: wrk exited with status ${status}"; }
  mkdir -p "$(dirname "${OUT}")"
  cp "${out_file}" "${OUT%.json}.${phase}.wrk.txt"

  local v
  v="$(parse_requests "${out}")" || { printf '%s\n' "${out}" >&2; die "no request count in wrk output"; }
  R["${phase}.requests"]="${v}"
  v="$(parse_rps "${out}")" || { printf '%s\n' "${out}" >&2; die "no Requests/sec in wrk output"; }
  R["${phase}.rps"]="${v}"
  v="$(parse_p99 "${out}")" || { printf '%s\n' "${out}" >&2; die "no 99% latency in wrk output"; }
  R["${phase}.p99_ms"]="${v}"
  local non2xx socket
  non2xx="$(parse_non2xx "${out}")"
  socket="$(parse_socket_errors "${out}")"
  R["${phase}.non2xx"]="${non2xx}"
  R["${phase}.socket_errors"]="${socket}"
  R["${phase}.failed"]=$((non2xx + socket))
}

# Actions for load_with.
send_sighup() { kill -HUP "${SERVER_PID}"; }
kill_worker() {
  kill_oldest_worker
  [[ -n "${VICTIM}" ]] || { log "no live worker to kill"; return 1; }
}

# --- phases ------------------------------------------------------------------

phase_baseline() {
  start_isolated baseline "${PORT}"
  load_with baseline "" 0
  R[baseline.workers_lost]="$(count_lines "${SERVER_LOG}" "worker lost")"
  finish_server baseline
  report_unexpected_failures baseline
}

phase_reload() {
  start_isolated reload "${PORT}"
  load_with reload send_sighup "${RELOAD_EVERY}"
  R[reload.sighups]="${ACTIONS}"
  sleep 0.5 # let the last reload finish
  R[reload.reloads]="$(count_lines "${SERVER_LOG}" "reload complete")"
  R[reload.reloads_ignored]="$(count_lines "${SERVER_LOG}" "reload ignored")"
  R[reload.recycled]="$(count_lines "${SERVER_LOG}" "recycling worker" reload)"
  R[reload.workers_lost]="$(count_lines "${SERVER_LOG}" "worker lost")"
  finish_server reload
  report_unexpected_failures reload
}

phase_max_requests() {
  start_isolated max_requests "${PORT}" --max-requests "${MAX_REQUESTS}"
  load_with max_requests "" 0
  sleep 0.5
  R[max_requests.recycled]="$(count_lines "${SERVER_LOG}" "recycling worker" max-requests)"
  R[max_requests.workers_lost]="$(count_lines "${SERVER_LOG}" "worker lost")"
  finish_server max_requests
  report_unexpected_failures max_requests
}

# report_unexpected_failures PHASE: phases A and B must not fail a request.
report_unexpected_failures() {
  local phase="$1" failed lost
  failed="${R[${phase}.failed]}"
  lost="${R[${phase}.workers_lost]}"
  if ((failed > 0 || lost > 0)); then
    log "UNEXPECTED in ${phase}: ${R[${phase}.failed]} failed requests" \
      "(non-2xx ${R[${phase}.non2xx]}, socket errors ${R[${phase}.socket_errors]})," \
      "${R[${phase}.workers_lost]} workers lost; warn/error lines of its log:"
    warn_lines "${OUT%.json}.${phase}.log" >&2
    log "(full log: ${OUT%.json}.${phase}.log, wrk output: ${OUT%.json}.${phase}.wrk.txt)"
  fi
}

# phase_respawn PHASE [EXTRA_FLAGS...]: idle server, RESPAWN_KILLS kill -9s.
phase_respawn() {
  local phase="$1"
  shift
  start_isolated "${phase}" "${PORT}" "$@"
  local i before deadline result gap spawn backoff
  local gaps=() spawns=() backoffs=()
  for ((i = 1; i <= RESPAWN_KILLS; i++)); do
    sleep 0.2 # idle between kills
    before="$(wc -l <"${SERVER_LOG}")"
    kill_oldest_worker
    [[ -n "${VICTIM}" ]] || die "${phase}: no live worker to kill; log: $(cat "${SERVER_LOG}")"
    deadline=$(($(date +%s) + STARTUP_TIMEOUT))
    # The replacement is the first worker to become ready after the kill; the
    # gap runs from the supervisor's "worker lost" line for the victim (or its
    # "worker exited" line if it logged no loss).
    while :; do
      result="$(tail -n +"$((before + 1))" "${SERVER_LOG}" | awk -v victim="${VICTIM}" "${LOGFMT_AWK}"'
        (is("worker lost") || is("worker exited")) && field("pid") == victim && lost == "" {
          lost = ts_ms()
        }
        is("worker restart backed off") && backoff == "" { backoff = field("delay_ms") }
        is("worker ready") && ready == "" { ready = ts_ms(); spawn = field("spawn_to_ready_ms") }
        END {
          if (lost == "" || ready == "") exit 1
          printf "%.0f %.1f %s\n", ready - lost, spawn, (backoff == "" ? 0 : backoff)
        }')" && break
      kill -0 "${SERVER_PID}" 2>/dev/null || die "${phase}: the supervisor died; log: $(cat "${SERVER_LOG}")"
      (($(date +%s) <= deadline)) || die "${phase}: no replacement after ${STARTUP_TIMEOUT}s; log: $(cat "${SERVER_LOG}")"
      sleep 0.01
    done
    read -r gap spawn backoff <<<"${result}"
    log "${phase}: kill ${i}: pid ${VICTIM}; ready replacement after ${gap} ms" \
      "(spawn_to_ready ${spawn} ms, backoff ${backoff} ms)"
    gaps+=("${gap}")
    spawns+=("${spawn}")
    backoffs+=("${backoff}")
  done
  R["${phase}.kills"]="${RESPAWN_KILLS}"
  R["${phase}.gaps"]="${gaps[*]}"
  R["${phase}.spawns"]="${spawns[*]}"
  R["${phase}.backoffs"]="${backoffs[*]}"
  R["${phase}.gap_stats"]="$(stats "${gaps[@]}")"
  R["${phase}.spawn_stats"]="$(stats "${spawns[@]}")"
  finish_server "${phase}"
}

phase_kill_load() {
  start_isolated kill_load "${PORT}"
  load_with kill_load kill_worker "${KILL_EVERY}"
  R[kill_load.kills]="${ACTIONS}"
  sleep 0.5
  R[kill_load.lost]="$(count_lines "${SERVER_LOG}" "worker lost")"
  R[kill_load.supervisor_502]="$(awk "${LOGFMT_AWK}"'
    is("worker lost") { n += field("failed_requests") } END { print n + 0 }' "${SERVER_LOG}")"
  R[kill_load.backoffs]="$(awk "${LOGFMT_AWK}"'
    is("worker restart backed off") { s = s (s == "" ? "" : " ") field("delay_ms") } END { print s }' \
    "${SERVER_LOG}")"
  R[kill_load.failed_per_kill]="$(awk -v f="${R[kill_load.failed]}" -v k="${ACTIONS}" \
    'BEGIN { if (k > 0) printf "%.1f", f / k }')"
  finish_server kill_load
}

# --- main --------------------------------------------------------------------

# respawn_json PHASE FLAGS: one phase C object.
respawn_json() {
  local p="$1" flags="$2" gmin gmed gmax smin smed smax
  read -r gmin gmed gmax <<<"${R[${p}.gap_stats]}"
  read -r smin smed smax <<<"${R[${p}.spawn_stats]}"
  printf '{"flags": %s, "kills": %s,\n' "$(json_str "${flags}")" "${R[${p}.kills]}"
  printf '    "death_to_ready_ms": {"min": %s, "median": %s, "max": %s, "samples": %s},\n' \
    "${gmin}" "${gmed}" "${gmax}" "$(json_list "${R[${p}.gaps]}")"
  printf '    "spawn_to_ready_ms": {"min": %s, "median": %s, "max": %s, "samples": %s},\n' \
    "${smin}" "${smed}" "${smax}" "$(json_list "${R[${p}.spawns]}")"
  printf '    "restart_backoff_ms": %s}' "$(json_list "${R[${p}.backoffs]}")"
}

# vs_base PHASE -> its req/s divided by the baseline's, 2 decimals.
vs_base() {
  awk -v a="${R[${1}.rps]}" -v b="${R[baseline.rps]}" 'BEGIN { if (b + 0 != 0) printf "%.2f", a / b }'
}

# load_json PHASE: the wrk figures of one loaded phase, as JSON members.
load_json() {
  local p="$1"
  printf '"requests": %s, "failed": %s, "non2xx": %s, "socket_errors": %s, "rps": %s, "p99_ms": %s' \
    "${R[${p}.requests]}" "${R[${p}.failed]}" "${R[${p}.non2xx]}" "${R[${p}.socket_errors]}" \
    "${R[${p}.rps]}" "${R[${p}.p99_ms]}"
  [[ "${p}" == baseline ]] || printf ', "rps_vs_baseline": %s' "$(json_num "$(vs_base "${p}")")"
}

# table_row LABEL PHASE EVENTS: one line of the loaded-phases table.
table_row() {
  local p="$2" ratio=""
  [[ "$2" == baseline ]] || ratio="$(vs_base "${p}")"
  printf '%-22s %8s %7s %8.0f %8s %8.3f  %s\n' "$1" "${R[${p}.requests]}" "${R[${p}.failed]}" \
    "${R[${p}.rps]}" "${ratio:--}" "${R[${p}.p99_ms]}" "$3"
}

main() {
  [[ -f bench/hello.sh ]] || die "run from the repository root: bash bench/recycle.sh"
  local knob
  for knob in WORKERS CONNS DURATION RELOAD_EVERY MAX_REQUESTS RESPAWN_KILLS KILL_EVERY STARTUP_TIMEOUT; do
    [[ "${!knob}" =~ ^[1-9][0-9]*$ ]] || die "${knob} must be a positive whole number (got '${!knob}')"
  done
  ensure_wrk
  require_isolated_bin
  [[ -f "${ISOLATED_SCRIPT}" ]] || die "handler script ${ISOLATED_SCRIPT} not found"

  PORT="$(free_ports 1)"
  [[ -n "${PORT}" ]] || die "could not find a free loopback port"
  log "cores: $(nproc), wrk: $(wrk --version 2>&1 | head -n1 | awk '{print $2}'), workers: ${WORKERS}"

  local pinned_flags="--restart-backoff-base 1 --restart-backoff-max 1"
  phase_baseline
  phase_reload
  phase_max_requests
  phase_respawn respawn_default
  # shellcheck disable=SC2086 # the flags are meant to split into words
  phase_respawn respawn_pinned ${pinned_flags}
  phase_kill_load

  # --- report ---
  echo
  printf '%-22s %8s %7s %8s %8s %8s  %s\n' phase served failed 'req/s' 'vs base' 'p99 ms' events
  table_row "0 baseline (no churn)" baseline ""
  table_row "A reload every ${RELOAD_EVERY}s" reload \
    "${R[reload.sighups]} SIGHUPs, ${R[reload.reloads]} reloads done, ${R[reload.recycled]} workers recycled"
  table_row "B max-requests ${MAX_REQUESTS}" max_requests "${R[max_requests.recycled]} workers recycled"
  table_row "D kill -9 every ${KILL_EVERY}s" kill_load \
    "${R[kill_load.kills]} kills, ${R[kill_load.failed_per_kill]:-n/a} failed/kill (supervisor 502s: ${R[kill_load.supervisor_502]}), backoffs ms: ${R[kill_load.backoffs]:-none}"
  echo
  echo "C worker death -> ready replacement, idle, ${RESPAWN_KILLS} kill -9s (ms, min / median / max):"
  printf '  %-32s %-24s %-24s %s\n' '' 'death -> ready' 'spawn_to_ready' 'backoffs ms'
  local p label a b c x y z
  for p in respawn_default respawn_pinned; do
    if [[ "${p}" == respawn_default ]]; then label="defaults"; else label="backoff pinned to 1 ms"; fi
    read -r a b c <<<"${R[${p}.gap_stats]}"
    read -r x y z <<<"${R[${p}.spawn_stats]}"
    printf '  %-32s %-24s %-24s %s\n' "${label}" "${a} / ${b} / ${c}" "${x} / ${y} / ${z}" \
      "${R[${p}.backoffs]}"
  done
  echo
  echo "A and B should fail nothing; D's failures should be only the killed workers' in-flight requests."
  echo "A worker that dies <1 s after its spawn delays the next spawn (restart backoff): see C defaults."
  echo "isolated --workers ${WORKERS}; wrk -t1 -c${CONNS} -d${DURATION}s; $(nproc) cores"

  mkdir -p "$(dirname "${OUT}")"
  {
    printf '{\n'
    json_run_fields recycle
    printf '  "wrk": {"threads": 1, "connections": %s, "duration_s": %s},\n' "${CONNS}" "${DURATION}"
    printf '  "isolated": {"bin": %s, "script": %s, "workers": %s},\n' \
      "$(json_str "${ISOLATED_BIN}")" "$(json_str "${ISOLATED_SCRIPT}")" "${WORKERS}"
    printf '  "baseline": {%s, "workers_lost": %s},\n' "$(load_json baseline)" "${R[baseline.workers_lost]}"
    printf '  "reload": {"every_s": %s, %s,\n' "${RELOAD_EVERY}" "$(load_json reload)"
    printf '    "sighups": %s, "reloads_completed": %s, "reloads_ignored": %s, "workers_recycled": %s, "workers_lost": %s},\n' \
      "${R[reload.sighups]}" "${R[reload.reloads]}" "${R[reload.reloads_ignored]}" \
      "${R[reload.recycled]}" "${R[reload.workers_lost]}"
    printf '  "max_requests": {"max_requests": %s, %s,\n' "${MAX_REQUESTS}" "$(load_json max_requests)"
    printf '    "workers_recycled": %s, "workers_lost": %s},\n' \
      "${R[max_requests.recycled]}" "${R[max_requests.workers_lost]}"
    printf '  "respawn": {\n'
    printf '    "defaults": %s,\n' "$(respawn_json respawn_default "")"
    printf '    "backoff_pinned": %s\n' "$(respawn_json respawn_pinned "${pinned_flags}")"
    printf '  },\n'
    printf '  "kill_under_load": {"every_s": %s, %s,\n' "${KILL_EVERY}" "$(load_json kill_load)"
    printf '    "kills": %s, "failed_per_kill": %s, "supervisor_502s": %s, "restart_backoff_ms": %s}\n' \
      "${R[kill_load.kills]}" "$(json_num "${R[kill_load.failed_per_kill]}")" \
      "${R[kill_load.supervisor_502]}" "$(json_list "${R[kill_load.backoffs]}")"
    printf '}\n'
  } >"${OUT}"
  log "wrote ${OUT}"
}

main "$@"
