# shellcheck shell=bash
# bench/lib.sh — helpers shared by the benchmark scripts (hello.sh, recycle.sh,
# suite.sh). Sourced, never run. The sourcing script sets `set -euo pipefail`
# and calls bench_init before starting anything.
#
# Process model: every server is started by `spawn` in its own session (so it
# leads its own process group and its workers/cluster children go with it), and
# every background load generator or profiler by `spawn_helper`. bench_init
# installs an EXIT trap that stops all of them and removes $TMP_DIR, whatever
# way the script ends (error, Ctrl-C, SIGTERM).

# --- the binary -----------------------------------------------------------------

# copy_isolated_bin SRC DIR: copies the isolated binary SRC to DIR/isolated, with the shared
# libraries its RUNPATH finds beside it: a build tree's private libnode (cmake/FindV8.cmake) is
# in _deps/, named relative to the binary ($ORIGIN, CMAKE_BUILD_RPATH_USE_ORIGIN).
copy_isolated_bin() {
  local src="$1" dir="$2" home
  cp "${src}" "${dir}/isolated"
  home="$(dirname "${src}")"
  if [[ -d "${home}/_deps" ]]; then
    (cd "${home}" && find _deps -name '*.so*' ! -type d -exec cp -a --parents {} "${dir}" \;)
  fi
}

# --- logging -----------------------------------------------------------------

log() { printf '[bench] %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# --- process management ------------------------------------------------------

# bench_init: make $TMP_DIR, the pid lists, and the cleanup traps.
bench_init() {
  TMP_DIR="$(mktemp -d "${TMPDIR:-/tmp}/isolated-bench.XXXXXX")"
  # Run as root, the sandbox starts workers as another user (nobody), who must reach the
  # private copy of the binary and the scripts kept here: mktemp made the directory 0700.
  chmod 755 "${TMP_DIR}"
  SERVER_PIDS=()
  HELPER_PIDS=()
  # Seconds stop_server waits after SIGTERM before SIGKILL (valgrind needs longer).
  STOP_TIMEOUT="${STOP_TIMEOUT:-5}"
  trap bench_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

bench_cleanup() {
  local status=$?
  trap - EXIT INT TERM
  set +e
  local pid
  for pid in "${HELPER_PIDS[@]}"; do
    kill -TERM "${pid}" 2>/dev/null
    wait "${pid}" 2>/dev/null
  done
  for pid in "${SERVER_PIDS[@]}"; do
    stop_server "${pid}"
  done
  rm -rf -- "${TMP_DIR}"
  exit "${status}"
}

# without_pid PID LIST...: print LIST minus PID, one per line.
without_pid() {
  local pid="$1" p
  shift
  for p in "$@"; do
    [[ "${p}" == "${pid}" ]] || printf '%s\n' "${p}"
  done
}

# stop_server PID: SIGTERM its process group (setsid gave it its own, so its
# workers go too), escalate to SIGKILL after $STOP_TIMEOUT s, then reap it.
stop_server() {
  local pid="$1" i
  kill -TERM -- "-${pid}" 2>/dev/null || kill -TERM "${pid}" 2>/dev/null || true
  for ((i = 0; i < STOP_TIMEOUT * 20; i++)); do
    kill -0 "${pid}" 2>/dev/null || break
    sleep 0.05
  done
  if kill -0 "${pid}" 2>/dev/null; then
    log "pid ${pid} ignored SIGTERM; sending SIGKILL"
    kill -KILL -- "-${pid}" 2>/dev/null || kill -KILL "${pid}" 2>/dev/null || true
  fi
  wait "${pid}" 2>/dev/null || true
  mapfile -t SERVER_PIDS < <(without_pid "${pid}" "${SERVER_PIDS[@]}")
}

# spawn LOG CMD...: start CMD in the background in its own session (process
# group), stdout and stderr appended to LOG. Sets SPAWN_NS (just before
# spawning) and SPAWN_PID, and remembers the pid for cleanup. setsid does not
# fork here (a background job is never a group leader), so SPAWN_PID is CMD's.
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

# spawn_helper OUT CMD...: start a load generator or profiler in the background,
# stdout and stderr to OUT. Sets HELPER_PID; wait for it with wait_helper.
spawn_helper() {
  local out="$1"
  shift
  "$@" >"${out}" 2>&1 &
  HELPER_PID=$!
  HELPER_PIDS+=("${HELPER_PID}")
}

# wait_helper PID: wait for a helper; returns its exit status.
wait_helper() {
  local pid="$1" status=0
  wait "${pid}" || status=$?
  mapfile -t HELPER_PIDS < <(without_pid "${pid}" "${HELPER_PIDS[@]}")
  return "${status}"
}

# server_failed NAME LOG WHY: show the log of a server that did not come up, then
# exit 1 (or, with SOFT_READY=1, return so that the wait_* caller can return 1).
server_failed() {
  log "$1 $3; its log:"
  tail -n 40 "$2" >&2
  [[ "${SOFT_READY:-0}" == 1 ]] || exit 1
}

# wait_log_ready NAME PID LOG [PATTERN]: block until LOG has PATTERN (default
# msg="ready"). Prints the log and exits 1 (see server_failed) on timeout or if
# the server dies.
wait_log_ready() {
  local name="$1" pid="$2" log="$3" pattern="${4:-msg=\"ready\"}" deadline
  deadline=$(($(date +%s) + STARTUP_TIMEOUT))
  until grep -q -- "${pattern}" "${log}"; do
    kill -0 "${pid}" 2>/dev/null || {
      server_failed "${name}" "${log}" "exited before becoming ready"
      return 1
    }
    (($(date +%s) <= deadline)) || {
      server_failed "${name}" "${log}" "not ready after ${STARTUP_TIMEOUT}s"
      return 1
    }
    sleep 0.01
  done
}

# wait_http_ready NAME PID LOG URL [CURL_ARGS...]: block until URL answers 200
# (polled with curl every ~5 ms; without curl, until LOG has msg="ready").
# Sets STARTUP_MS, measured from SPAWN_NS. Prints the log and exits 1 (see
# server_failed) on timeout or if the server dies.
wait_http_ready() {
  local name="$1" pid="$2" log="$3" url="$4"
  shift 4
  local deadline=$((SPAWN_NS + STARTUP_TIMEOUT * 1000000000)) code now
  while :; do
    if command -v curl >/dev/null 2>&1; then
      code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$@" "${url}" || true)"
      [[ "${code}" == "200" ]] && break
    elif grep -q 'msg="ready"' "${log}"; then
      break
    fi
    now="$(date +%s%N)"
    kill -0 "${pid}" 2>/dev/null || {
      server_failed "${name}" "${log}" "exited before becoming ready"
      return 1
    }
    ((now <= deadline)) || {
      server_failed "${name}" "${log}" "not ready after ${STARTUP_TIMEOUT}s"
      return 1
    }
    sleep 0.005
  done
  now="$(date +%s%N)"
  # shellcheck disable=SC2034 # a result for the caller
  STARTUP_MS="$(awk -v ns="$((now - SPAWN_NS))" 'BEGIN { printf "%.1f", ns / 1e6 }')"
}

# expect_log_line NAME LOG [PATTERN]: warn unless LOG shows PATTERN (default
# msg="ready") within a second; the ready line is part of the runtime's contract.
expect_log_line() {
  local name="$1" log="$2" pattern="${3:-msg=\"ready\"}" i
  for ((i = 0; i < 100; i++)); do
    grep -q -- "${pattern}" "${log}" && return 0
    sleep 0.01
  done
  log "warning: ${name} serves requests but never logged ${pattern}"
}

# --- the supervisor's logfmt log ---------------------------------------------

# awk functions for reading logfmt lines (plain POSIX awk: mawk will do).
#   field(key)  value of key= on the current line, quotes stripped ("" if absent)
#   is(msg)     whether the current line's msg is exactly msg
#   ts_ms()     the line's ts=2026-11-27T10:18:52.785Z as milliseconds since the epoch
# shellcheck disable=SC2016 # awk code: its $0 and $i are awk's, not the shell's
LOGFMT_AWK='
function field(key,   s) {
  if (!match($0, "(^| )" key "=(\"[^\"]*\"|[^ ]*)")) return ""
  s = substr($0, RSTART, RLENGTH)
  sub(/^ /, "", s); s = substr(s, length(key) + 2)
  gsub(/"/, "", s)
  return s
}
function is(msg) { return index($0, "msg=\"" msg "\"") > 0 }
function ts_ms(   t, p, y, m, d, era, yoe, doy, doe, days) {
  t = field("ts")
  if (split(t, p, /[-T:Z]/) < 6) return -1
  y = p[1] + 0; m = p[2] + 0; d = p[3] + 0
  y -= (m <= 2)                      # days_from_civil (H. Hinnant)
  era = int((y >= 0 ? y : y - 399) / 400)
  yoe = y - era * 400
  doy = int((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1
  doe = yoe * 365 + int(yoe / 4) - int(yoe / 100) + doy
  days = era * 146097 + doe - 719468
  return ((days * 24 + p[4]) * 60 + p[5]) * 60000 + p[6] * 1000
}
'

# log_values LOG MSG KEY: KEY= of every line with msg="MSG", one per line.
log_values() {
  awk -v msg="$2" -v key="$3" "${LOGFMT_AWK}"'is(msg) { print field(key) }' "$1"
}

# --- wrk and its output ------------------------------------------------------

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

# parse_requests WRK_OUTPUT -> total requests completed ("N requests in 10.00s")
parse_requests() {
  awk '$2 == "requests" && $3 == "in" { print $1; found = 1 } END { exit !found }' <<<"$1"
}

# parse_non2xx WRK_OUTPUT -> "Non-2xx or 3xx responses" (0 if absent)
parse_non2xx() {
  awk '/Non-2xx or 3xx responses:/ { n += $NF } END { print n + 0 }' <<<"$1"
}

# parse_socket_errors WRK_OUTPUT -> connect + read + write + timeout
parse_socket_errors() {
  awk '/Socket errors:/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) n += $i }
    END { print n + 0 }' <<<"$1"
}

# parse_errors WRK_OUTPUT -> non-2xx/3xx responses + socket errors
parse_errors() {
  echo $(($(parse_non2xx "$1") + $(parse_socket_errors "$1")))
}

# --- setup -------------------------------------------------------------------

# ensure_cmd CMD PACKAGE: install the Debian PACKAGE with apt-get if CMD is missing.
ensure_cmd() {
  local cmd="$1" pkg="$2"
  command -v "${cmd}" >/dev/null 2>&1 && return 0
  log "installing ${pkg} (for ${cmd})"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get install -y "${pkg}" || { apt-get update && apt-get install -y "${pkg}"; }; } >&2 ||
    die "could not install ${cmd} (apt-get install -y ${pkg})"
}

ensure_wrk() { ensure_cmd wrk wrk; }

# require_isolated_bin: exit with build instructions unless $ISOLATED_BIN runs.
require_isolated_bin() {
  [[ -x "${ISOLATED_BIN}" ]] && return 0
  log "isolated binary not found at ${ISOLATED_BIN}; build it first:"
  log "    cmake -B build && cmake --build build -j"
  log "(or point ISOLATED_BIN at an existing binary)"
  exit 1
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

# --- numbers and JSON --------------------------------------------------------

# ratio A B -> A/B with 2 decimals, or empty if either is missing/zero.
ratio() {
  [[ -n "$1" && -n "$2" ]] || return 0
  awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 != 0) printf "%.2f", a / b }'
}

# stats VALUES... -> "min median max" (empty if no values)
stats() {
  (($# > 0)) || return 0
  printf '%s\n' "$@" | sort -g | awk '
    { v[n++] = $1 }
    END {
      med = (n % 2) ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2
      printf "%.1f %.1f %.1f\n", v[0], med, v[n - 1]
    }'
}

json_str() {
  local s="${1//\\/\\\\}"
  printf '"%s"' "${s//\"/\\\"}"
}

# The fields every results file starts with: benchmark name, time, commit and core count, each
# line ending with a comma (the caller's fields follow).
json_run_fields() {
  printf '  "benchmark": %s,\n' "$(json_str "$1")"
  printf '  "timestamp": %s,\n' "$(json_str "$(date -u +%Y-%m-%dT%H:%M:%SZ)")"
  printf '  "commit": %s,\n' "$(json_str "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)")"
  printf '  "cores": %s,\n' "$(nproc)"
}
json_num() { if [[ -n "$1" ]]; then printf '%s' "$1"; else printf 'null'; fi; }
# json_list "V1 V2 ..." -> [V1, V2, ...]
json_list() {
  local s="$1"
  printf '[%s]' "${s// /, }"
}
