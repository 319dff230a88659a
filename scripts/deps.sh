#!/usr/bin/env bash
# Installs what building and testing isolated needs on Debian 12, as root. Idempotent: a package
# already present is not reinstalled, and apt-get update runs only when something is missing.
# V8 itself (Debian's libnode) is located, or fetched into the build tree, by cmake/FindV8.cmake.
set -euo pipefail

packages=(
  build-essential cmake pkg-config ca-certificates curl
  capnproto libcapnp-dev libevent-dev libcxxopts-dev libgtest-dev libcurl4-openssl-dev
  libssl-dev zlib1g-dev nlohmann-json3-dev libsystemd-dev libtomlplusplus-dev
  # ICU's converters for TextDecoder's legacy encodings (the same ICU libnode links).
  libicu-dev
  # The HTTP/1.1 layer (supervisor/http/) parses with llhttp, whose C sources node-llhttp ships;
  # its benchmark drives wrk.
  node-llhttp wrk
  # The worker sandbox's seccomp filter (clang and libclang-rt-14-dev for -DISOLATED_FUZZ=ON
  # are installed by hand: docs/fuzzing.md).
  libseccomp-dev
  # Storage backends: SQLite, and PostgreSQL's client library; the tests start a real
  # PostgreSQL server of their own.
  libsqlite3-dev libpq-dev postgresql
  # Tests parse /metrics with the Prometheus client library's own text parser.
  python3 python3-prometheus-client
  # Runtime dependencies of libnode108, needed when V8 comes from a private prefix.
  libbrotli1 libc-ares2 libicu72 libnghttp2-14 libuv1
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "deps.sh: missing packages: ${missing[*]} (run as root to install them)" >&2
    exit 1
  fi
  echo "deps.sh: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The runtime's JavaScript is bundled at build time with esbuild from npm. Any node >= 18 with
# npm will do; Debian's own is installed only where none is present (a nodejs from another
# repository, such as NodeSource's, already brings npm and would conflict with Debian's).
if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "deps.sh: node and npm are missing (run as root to install them)" >&2
    exit 1
  fi
  echo "deps.sh: installing nodejs npm" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi

# libnode-dev installs cleanly only when no foreign nodejs conflicts with it. Try it; where apt
# refuses, FindV8.cmake downloads the .debs into the build tree instead.
if ! dpkg-query -W -f='${Status}' libnode-dev 2>/dev/null | grep -q "install ok installed"; then
  if [ "$(id -u)" -eq 0 ] && apt-get install -y -qq --no-install-recommends -s libnode-dev >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libnode-dev >/dev/null
  else
    echo "deps.sh: libnode-dev is not installable here; the build will use a private copy" >&2
  fi
fi
