// The settings of one `isolated serve` run, as parsed from flags and environment variables by
// cli/serve_options. Plain data: the supervisor reads it, nothing mutates it after start-up.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/app_config.h"
#include "common/bindings.h"
#include "common/cidr_set.h"
#include "common/isolation_mode.h"
#include "common/logger.h"
#include "common/sandbox_plan.h"

namespace isolated {

struct ServeConfig {
  // The apps served, at least one. `isolated serve SCRIPT` makes exactly one, named after the
  // script's file (without extension), with the route "*/*" and the top-level bindings, crons
  // and limits; `--config FILE` makes one per [[app]] table.
  std::vector<AppConfig> apps;
  // The config file (--config), absolute; SIGHUP re-reads it and applies the difference. Empty
  // for a single-script server, whose SIGHUP re-reads the script and its binding files.
  std::string configPath;
  // The text `apps` were read from (with --config): `ctl deploy --save` writes the file only
  // while it still holds this text, so an operator's unread edit is never overwritten.
  std::string configText;
  // Isolates one worker keeps (--max-isolates): beyond it the least recently used idle one is
  // evicted. An isolate idle for isolateIdleTimeoutSec is evicted too (0: never).
  uint32_t maxIsolates = 1000;
  uint32_t isolateIdleTimeoutSec = 300;
  // How long a request's waitUntil() work may run after its response before the worker
  // cancels it (--wait-until-timeout); a draining worker never waits longer for it.
  uint32_t waitUntilTimeoutSec = 30;
  // Metrics labelled by app (--metrics-per-app); off keeps one series per metric for servers
  // with very many apps (see docs/multi-tenancy.md on cardinality).
  bool metricsPerApp = true;
  // Apps as contexts of one isolate per worker (--shared-isolate): density over isolation
  // between tenants (docs/multi-tenancy.md, "Inside a worker").
  bool sharedIsolate = false;

  // The app registry (--registry, docs/registry.md): a postgres:// URL whose tables hold apps
  // that every server sharing it serves; empty: none. The key file (--registry-key) seals and
  // opens the apps' secrets. With a registry, `apps` also holds the registry's apps (merged at
  // start-up by supervisor/registry/registry_boot.h; AppConfig::registryVersion is not 0).
  std::string registryUrl;
  std::string registryKeyFile;

  // Single-script servers only (kept for status output): the script's absolute path and the
  // name it is known by (its file name). Empty with --config.
  std::string scriptPath;
  std::string scriptName;

  std::string listenHost = "127.0.0.1";
  uint16_t listenPort = 8080;

  uint32_t workers = 2;
  // Seconds that SIGTERM waits for requests in flight before stopping the workers anyway.
  uint32_t drainTimeoutSec = 30;

  // Outstanding requests one worker may hold (WORKER_TASK_QUEUE_SIZE). A worker runs one
  // isolate and hands every request it holds to it at once, so this is also how many requests
  // interleave in one isolate (--max-concurrent-per-isolate is the same knob).
  uint32_t workerQueueSize = 100;
  // Requests the supervisor holds when every worker is full or none is ready, and how long one
  // may wait there before the client gets 503.
  uint32_t queueSize = 1000;
  uint32_t queueTimeoutMs = 10000;

  uint32_t maxBodyBytes = 32u << 20;
  uint32_t maxHeaderBytes = 16384;
  uint32_t maxUrlBytes = 8192;
  // Slow and idle clients (supervisor/http/): from a connection's first byte (or accept) to the
  // end of a head, between requests on a kept-alive connection, and the longest wait for body
  // bytes the worker has room for or for the client to take answer bytes; then 408 or a close.
  uint32_t headerTimeoutMs = 10000;
  uint32_t idleTimeoutMs = 60000;
  uint32_t bodyTimeoutMs = 30000;
  // Open client connections; accepting pauses at the cap. 0: derived at start-up from
  // RLIMIT_NOFILE (see supervisor/descriptor_budget.h).
  uint32_t maxConnections = 0;
  // Threads that own the client connections (accept, parse, write answers), each with its own
  // SO_REUSEPORT listener; 1: the supervisor's own loop does it (supervisor/front/).
  uint32_t ioThreads = 1;

  // Health: a Ping every interval; a Pong later than the timeout, or a failed probe, is a miss;
  // `healthFailures` misses in a row make the worker unhealthy and it is replaced.
  uint32_t healthIntervalMs = 30000;
  uint32_t healthTimeoutMs = 5000;
  uint32_t healthFailures = 3;

  // Per-request limits, enforced in the worker (CPU, heap) and by the supervisor (wall time).
  uint32_t cpuLimitMs = 50;
  uint32_t wallLimitMs = 30000;
  uint32_t heapLimitMb = 128;

  // Worker RSS thresholds in MB: above soft, a graceful recycle (replacement first); above
  // hard, an immediate kill. 0 for hard means 1.5 x soft.
  uint32_t memoryThresholdMb = 256;
  uint32_t memoryHardThresholdMb = 0;
  uint32_t effectiveHardThresholdMb() const {
    return memoryHardThresholdMb != 0 ? memoryHardThresholdMb : memoryThresholdMb * 3 / 2;
  }

  // Recycle a worker after this many requests (0: never), plus a random 0..jitter more so that
  // workers do not all recycle at once.
  uint32_t maxRequests = 0;
  uint32_t maxRequestsJitter = 0;

  // Restart backoff for workers that fail right after start: base doubling up to max.
  uint32_t restartBackoffBaseMs = 100;
  uint32_t restartBackoffMaxMs = 10000;
  // A worker that has not said Hello this long after its spawn is killed, logged and replaced
  // (with backoff): it is neither pinged nor sent requests before Hello.
  uint32_t workerStartTimeoutMs = 30000;
  // `--watch`: reload when a served script, one of its imports, a vars or secrets file or the
  // config file changes (as SIGHUP does; supervisor/watch/).
  bool watch = false;

  // Pool bounds for autoscaling; both equal to `workers` when scaling is off. The pool grows by
  // one after `scaleUpAfterSec` seconds of high load and shrinks by one after
  // `scaleDownAfterSec` seconds of low load.
  uint32_t minWorkers = 0;
  uint32_t maxWorkers = 0;
  uint32_t scaleUpAfterSec = 3;
  uint32_t scaleDownAfterSec = 30;

  // Operations: the control socket (always on), the optional admin HTTP listener (metrics and
  // probes; adminPort < 0 when off), request ids and the access log.
  std::string controlSocketPath;
  std::string adminHost;
  int adminPort = -1;
  std::string requestIdHeader = "x-request-id";
  bool accessLog = false;

  IsolationMode isolation = IsolationMode::kShared;
  // Startup snapshots (docs/architecture.md): the runtime's built-ins, compiled into the binary,
  // and the user's script evaluated on top of them, made at pool start and on reload by a helper
  // process when safe. Off: measurements, or a V8 that misbehaves with them.
  bool builtinsSnapshot = true;
  bool snapshotScript = true;
  // Workers that only heavy apps use run at SCHED_IDLE while a light app is in use
  // (supervisor/pool/worker_priorities.h).
  bool backgroundHeavyApps = true;

  // Single-script servers: the flags' variables, secrets and crons, as parsed; the parser copies
  // them into apps[0], which is what the supervisor reads. Unused with --config.
  BindingSources bindings;
  std::vector<std::string> crons;
  // Outbound fetch(): address ranges refused (checked on the address actually connected to),
  // a CA file that replaces the system store (empty: system store), the connect timeout, and
  // the fetches one incoming request may make.
  CidrSet fetchDeny;
  std::string fetchCaFile;
  uint32_t fetchConnectTimeoutMs = 10000;
  uint32_t maxSubrequests = 50;

  LogLevel logLevel = LogLevel::kInfo;
  LogFormat logFormat = LogFormat::kText;

  // The worker sandbox (docs/sandbox.md): on by default. As root, workers become `sandboxUser`
  // (empty: nobody) and `sandboxGroup` (empty: that user's group); as non-root both stay empty.
  bool sandbox = true;
  std::string sandboxUser;
  std::string sandboxGroup;
  // Not a flag: resolved from the three above at start-up by sandbox::prepareWorkerSandbox.
  SandboxPlan workerSandbox;
};

}  // namespace isolated
