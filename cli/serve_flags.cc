// The flag table of `isolated serve` (cli/serve_flags.h): names, variables, help and defaults.
#include "cli/serve_flags.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>

namespace isolated::serve_detail {

namespace {

// /run/isolated as root; otherwise the user's runtime directory, or a private one under /tmp.
std::string defaultControlSocket() {
  if (geteuid() == 0) return "/run/isolated/isolated.sock";
  if (const char* runtime = std::getenv("XDG_RUNTIME_DIR"); runtime != nullptr && *runtime) {
    return std::string(runtime) + "/isolated.sock";
  }
  return "/tmp/isolated-" + std::to_string(geteuid()) + "/isolated.sock";
}

constexpr std::string_view kNumberFlags[] = {"workers",
                                             "drain-timeout",
                                             "worker-queue-size",
                                             "queue-size",
                                             "queue-timeout",
                                             "max-body-size",
                                             "max-header-size",
                                             "max-url-size",
                                             "header-timeout",
                                             "idle-timeout",
                                             "body-timeout",
                                             "max-connections",
                                             "io-threads",
                                             "health-interval",
                                             "health-timeout",
                                             "health-failures",
                                             "cpu-limit",
                                             "wall-limit",
                                             "heap-limit",
                                             "memory-threshold",
                                             "memory-hard-threshold",
                                             "max-requests",
                                             "max-requests-jitter",
                                             "restart-backoff-base",
                                             "restart-backoff-max",
                                             "worker-start-timeout",
                                             "min-workers",
                                             "max-workers",
                                             "scale-up-after",
                                             "scale-down-after",
                                             "fetch-connect-timeout",
                                             "max-subrequests",
                                             "max-concurrent-per-isolate",
                                             "max-isolates",
                                             "isolate-idle-timeout",
                                             "wait-until-timeout"};
constexpr std::string_view kSwitchFlags[] = {
    "access-log",     "snapshot-script", "builtins-snapshot",    "metrics-per-app",
    "shared-isolate", "watch",           "background-heavy-apps"};
constexpr std::string_view kPathFlags[] = {"control-socket", "fetch-ca-file", "vars-file",
                                           "secrets-file", "registry-key"};

template <size_t N>
bool among(const std::string_view (&list)[N], std::string_view name) {
  return std::find(std::begin(list), std::end(list), name) != std::end(list);
}

SettingKind kindOf(std::string_view flag) {
  if (among(kNumberFlags, flag)) return SettingKind::kNumber;
  if (among(kSwitchFlags, flag)) return SettingKind::kSwitch;
  if (among(kPathFlags, flag)) return SettingKind::kPath;
  if (flag == "fetch-deny") return SettingKind::kTextList;
  return SettingKind::kText;
}

}  // namespace

// One literal, so that the help lists the flags in this order.
std::vector<FlagSpec> flagSpecs(unsigned cpuCount) {
  std::vector<FlagSpec> specs{
      {"listen", "ISOLATED_LISTEN", "HOST:PORT", "Address for the HTTP listener (port 0 picks one)",
       "127.0.0.1:8080"},
      {"workers", "PERSISTENT_WORKER_POOL_SIZE", "N", "Worker processes (plain number)",
       std::to_string(std::min(kMaxWorkers, std::max(1u, cpuCount) * 2))},
      {"drain-timeout", "ISOLATED_DRAIN_TIMEOUT", "S",
       "Seconds SIGTERM waits for requests in flight", "30"},
      {"worker-queue-size", "WORKER_TASK_QUEUE_SIZE", "N",
       "Outstanding requests one worker may hold (plain number)", "100"},
      {"queue-size", "ISOLATED_QUEUE_SIZE", "N",
       "Requests the supervisor holds when every worker is full (plain number)", "1000"},
      {"queue-timeout", "ISOLATED_QUEUE_TIMEOUT_MS", "MS",
       "Milliseconds a request may wait in the supervisor queue before 503", "10000"},
      {"max-body-size", "ISOLATED_MAX_BODY_SIZE_MB", "MB",
       "Largest request body in megabytes (413 above it)", "32"},
      {"max-header-size", "ISOLATED_MAX_HEADER_SIZE", "BYTES",
       "Largest request head in bytes: request line and headers (431 above it)", "16384"},
      {"max-url-size", "ISOLATED_MAX_URL_SIZE", "BYTES",
       "Longest request target in bytes (414 above it)", "8192"},
      {"header-timeout", "ISOLATED_HEADER_TIMEOUT", "S",
       "Seconds a client may take to send a request head (408 and close after it)", "10"},
      {"idle-timeout", "ISOLATED_IDLE_TIMEOUT", "S",
       "Seconds a kept-alive connection may stay idle between requests", "60"},
      {"body-timeout", "ISOLATED_BODY_TIMEOUT", "S",
       "Seconds a client may stall while sending a body or reading an answer", "30"},
      {"max-connections", "ISOLATED_MAX_CONNECTIONS", "N",
       "Open client connections; accepting pauses at the cap (plain number, 0: derived from the "
       "open-file limit)",
       "0"},
      {"io-threads", "ISOLATED_IO_THREADS", "N",
       "Threads that accept, parse and answer client connections (each with its own "
       "SO_REUSEPORT listener); the main thread keeps dispatch, workers and control",
       "1"},
      {"health-interval", "WORKER_HEALTH_CHECK_INTERVAL_MS", "MS",
       "Milliseconds between health pings to each worker", "30000"},
      {"health-timeout", "ISOLATED_HEALTH_TIMEOUT_MS", "MS",
       "Milliseconds a worker may take to answer a ping before it is replaced", "5000"},
      {"health-failures", "ISOLATED_HEALTH_FAILURES", "N",
       "Missed or failed health checks in a row before a worker is replaced (plain number)", "3"},
      {"cpu-limit", "ISOLATED_CPU_LIMIT_MS", "MS",
       "CPU milliseconds one uninterrupted run of a handler may use (503 cpu-limit)", "50"},
      {"wall-limit", "ISOLATED_WALL_LIMIT_MS", "MS",
       "Milliseconds a request may take in all (504 wall-limit)", "30000"},
      {"heap-limit", "ISOLATED_HEAP_LIMIT_MB", "MB",
       "V8 heap limit per isolate in megabytes (503 memory-limit)", "128"},
      {"memory-threshold", "WORKER_RESTART_MEMORY_THRESHOLD_MB", "MB",
       "Worker RSS in megabytes above which it is gracefully recycled", "256"},
      {"memory-hard-threshold", "ISOLATED_MEMORY_HARD_THRESHOLD_MB", "MB",
       "Worker RSS in megabytes above which it is killed at once (0: 1.5 x --memory-threshold)",
       "0"},
      {"max-requests", "ISOLATED_MAX_REQUESTS", "N",
       "Recycle a worker after this many requests (plain number, 0: never)", "0"},
      {"max-requests-jitter", "ISOLATED_MAX_REQUESTS_JITTER", "N",
       "Up to this many more requests, chosen at random per worker (plain number)", "0"},
      {"restart-backoff-base", "ISOLATED_RESTART_BACKOFF_BASE_MS", "MS",
       "First delay before restarting a worker that failed right after start", "100"},
      {"restart-backoff-max", "ISOLATED_RESTART_BACKOFF_MAX_MS", "MS",
       "Longest delay between restarts of failing workers", "10000"},
      {"worker-start-timeout", "ISOLATED_WORKER_START_TIMEOUT_MS", "MS",
       "Milliseconds a new worker may take to say Hello before it is killed and replaced", "30000"},
      {"watch", "ISOLATED_WATCH", "on|off",
       "Reload when the script, one of its imports, a vars or secrets file or the --config file "
       "changes (a rolling reload, as SIGHUP)",
       "off"},
      {"min-workers", "ISOLATED_MIN_WORKERS", "N",
       "Fewest workers when autoscaling (plain number, 0: same as --workers)", "0"},
      {"max-workers", "ISOLATED_MAX_WORKERS", "N",
       "Most workers when autoscaling (plain number, 0: same as --workers)", "0"},
      {"scale-up-after", "ISOLATED_SCALE_UP_AFTER_S", "S",
       "Seconds of high load before the pool grows by one worker", "3"},
      {"scale-down-after", "ISOLATED_SCALE_DOWN_AFTER_S", "S",
       "Seconds of low load before the pool shrinks by one worker", "30"},
      {"control-socket", "ISOLATED_CONTROL_SOCKET", "PATH",
       "Unix socket for `isolated ctl` (mode 0600)", defaultControlSocket()},
      {"admin-listen", "ISOLATED_ADMIN_LISTEN", "HOST:PORT",
       "Address for /metrics, /healthz and /readyz (off when empty)", ""},
      {"request-id-header", "ISOLATED_REQUEST_ID_HEADER", "NAME",
       "Header that carries a request id in and out (one is generated when absent)",
       "x-request-id"},
      {"access-log", "ISOLATED_ACCESS_LOG", "on|off", "Log one line per request", "off"},
      {"isolation", "ISOLATED_ISOLATION", "MODE",
       "shared (one context per worker), context (fresh context per request) or isolate (fresh "
       "isolate per request)",
       "shared"},
      {"fetch-deny", "ISOLATED_FETCH_DENY", "CIDR[,CIDR...]",
       "Address ranges fetch() may not connect to, IPv4 or IPv6, or `private` for every "
       "non-public range (for example private,203.0.113.0/24)",
       ""},
      {"fetch-ca-file", "ISOLATED_FETCH_CA_FILE", "PATH",
       "PEM file of CAs that fetch() trusts instead of the system store", ""},
      {"fetch-connect-timeout", "ISOLATED_FETCH_CONNECT_TIMEOUT_MS", "MS",
       "Milliseconds fetch() may take to connect", "10000"},
      {"max-subrequests", "ISOLATED_MAX_SUBREQUESTS", "N",
       "fetch() calls one incoming request may make (plain number)", "50"},
      {"snapshot-script", "ISOLATED_SNAPSHOT_SCRIPT", "on|off",
       "Snapshot the script's top level at pool start (and on reload) so that new contexts and "
       "isolates start from it; scripts for which that is not safe are evaluated per context",
       "on"},
      {"background-heavy-apps", "ISOLATED_BACKGROUND_HEAVY_APPS", "on|off",
       "While a light app is in use, run workers that only heavy apps use (a worker's share of "
       "requests in flight, or a recent CPU-limit hit) at idle CPU priority, so that light "
       "apps' requests take the CPU first (needs CAP_SYS_NICE with a sandboxed --user)",
       "on"},
      {"builtins-snapshot", "ISOLATED_BUILTINS_SNAPSHOT", "on|off",
       "Start isolates and contexts from the runtime's built-in V8 snapshot (off: evaluate the "
       "runtime in every new context; for measurements)",
       "on"},
      {"log-level", "ISOLATED_LOG_LEVEL", "LEVEL", "debug, info, warn or error", "info"},
      {"log-format", "ISOLATED_LOG_FORMAT", "FORMAT", "text (logfmt) or json", "text"},
      {"max-concurrent-per-isolate", "ISOLATED_MAX_CONCURRENT_PER_ISOLATE", "N",
       "Requests that may interleave in one isolate; the same knob as --worker-queue-size "
       "(plain number, empty: that flag's value)",
       ""},
      {"vars-file", "ISOLATED_VARS_FILE", "FILE",
       "JSON object of variables for the script's env (re-read on reload)", ""},
      {"secrets-file", "ISOLATED_SECRETS_FILE", "FILE",
       "JSON object of string secrets for the script's env (re-read on reload)", ""},
      {"max-isolates", "ISOLATED_MAX_ISOLATES", "N",
       "Isolates one worker keeps; beyond it the least recently used idle one is evicted (plain "
       "number)",
       "1000"},
      {"isolate-idle-timeout", "ISOLATED_ISOLATE_IDLE_TIMEOUT_S", "S",
       "Seconds an isolate may stay idle before it is evicted (0: never)", "300"},
      {"wait-until-timeout", "ISOLATED_WAIT_UNTIL_TIMEOUT_S", "S",
       "Seconds a request's ctx.waitUntil() work may run after its response before it is "
       "cancelled with the request's timers and fetches (a draining worker waits no longer)",
       "30"},
      {"metrics-per-app", "ISOLATED_METRICS_PER_APP", "on|off",
       "Label metrics by app (off: one series per metric, for servers with very many apps)", "on"},
      {"shared-isolate", "ISOLATED_SHARED_ISOLATE", "on|off",
       "Host each worker's apps as contexts of one isolate: about 0.3 MB and 1 ms per app instead "
       "of 2 MB and 10 ms, but one heap and heap limit for them all (docs/multi-tenancy.md)",
       "off"},
      // The app registry (docs/registry.md).
      {"registry", "ISOLATED_REGISTRY", "URL",
       "A postgres:// URL whose tables hold apps shared by every server given it: `ctl deploy` "
       "writes there and every server applies it (empty: none)",
       ""},
      {"registry-key", "ISOLATED_REGISTRY_KEY", "FILE",
       "32-byte key file (or 64 hex digits), not readable by other users, that seals the "
       "registry's secrets",
       ""},
      // The worker sandbox (docs/sandbox.md).
      {"sandbox", "ISOLATED_SANDBOX", "on|off",
       "Run workers without privileges, capabilities, network or namespaces of their own, under "
       "a seccomp allow-list (off: for debugging only)",
       "on"},
      {"user", "ISOLATED_USER", "NAME",
       "User the workers run as when the server starts as root (empty: nobody)", ""},
      {"group", "ISOLATED_GROUP", "NAME",
       "Group the workers run as when the server starts as root (empty: the user's group)", ""},
  };
  for (auto& spec : specs)
    spec.kind = kindOf(spec.name);
  return specs;
}

std::vector<ServerKey> serverKeysOf(const std::vector<FlagSpec>& specs) {
  std::vector<ServerKey> keys;
  for (const auto& spec : specs) {
    if (!among(kSingleScriptFlags, spec.name)) keys.push_back(ServerKey{spec.name, spec.kind});
  }
  return keys;
}

}  // namespace isolated::serve_detail
