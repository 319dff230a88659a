#!/usr/bin/env bash
# The HTTP/1.1 layer (supervisor/http/) against evhttp, both serving a static reply from one
# process, under the same wrk load in the same run: requests/s and CPU microseconds per request
# from /proc (utime+stime of the server). Figures are recorded in docs/http-layer.md.
#   bench/http_layer.sh [BUILD_DIR] [SECONDS] [ROUNDS]
set -euo pipefail
build="${1:-build}"
seconds="${2:-5}"
rounds="${3:-2}"
binary="${build}/http_layer_bench"
[ -x "${binary}" ] || { echo "http_layer.sh: build ${binary} first (cmake --build ${build} --target http_layer_bench)" >&2; exit 1; }
command -v wrk >/dev/null || { echo "http_layer.sh: wrk is missing (apt-get install wrk)" >&2; exit 1; }
ticks_per_second="$(getconf CLK_TCK)"

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

measure() {
  local mode="$1" port pid out before after requests
  out="$(mktemp)"
  "${binary}" "${mode}" >"${out}" &
  pid=$!
  for _ in $(seq 1 100); do [ -s "${out}" ] && break; sleep 0.05; done
  port="$(head -1 "${out}")"
  wrk -t1 -c32 -d1s "http://127.0.0.1:${port}/" >/dev/null  # warm-up
  before="$(cpu_ticks "${pid}")"
  wrk -t1 -c32 -d"${seconds}s" "http://127.0.0.1:${port}/" >"${out}.wrk"
  after="$(cpu_ticks "${pid}")"
  kill "${pid}"
  wait "${pid}" 2>/dev/null || true
  requests="$(awk '/requests in/ { print $1 }' "${out}.wrk")"
  awk -v m="${mode}" -v r="${requests}" -v t=$((after - before)) -v hz="${ticks_per_second}" \
      -v s="${seconds}" 'BEGIN { printf "%-7s %9.0f req/s %7.2f us CPU/request\n", m, r / s, t * 1e6 / hz / r }'
  rm -f "${out}" "${out}.wrk"
}

echo "wrk -t1 -c32 -d${seconds}s, static 14-byte reply, ${rounds} rounds, $(nproc) cores"
for _ in $(seq 1 "${rounds}"); do
  measure layer
  measure evhttp
done
