// A point-in-time view of the server and its workers, for the control socket, metrics and
// probes. Plain data, built by Supervisor::snapshot() on the event loop.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace isolated::supervisor {

struct WorkerStatus {
  uint32_t id = 0;
  uint32_t slot = 0;
  pid_t pid = 0;
  std::string state;  // starting, ready, draining, unhealthy, lost
  double uptimeSec = 0;
  uint64_t requestsServed = 0;
  uint32_t inFlight = 0;
  uint32_t capacity = 0;
  uint64_t rssBytes = 0;
  uint64_t heapUsedBytes = 0;
  uint64_t heapLimitBytes = 0;
  std::string health;  // ok, pending, late, probe-failed
  double eventLoopLagMs = 0;
  uint32_t restarts = 0;
  std::string lastExitReason;
  uint64_t cpuLimitTerminations = 0;
  uint64_t memoryLimitTerminations = 0;
  std::string retiring;     // why it is being recycled, or empty
  uint32_t isolates = 0;    // app isolates alive in it, as it last reported
  uint32_t apps = 0;        // app deployments it holds (LoadApp, not unloaded or forgotten)
  bool background = false;  // at background CPU priority (--background-heavy-apps)
};

struct AppStatus {
  std::string name;
  std::string state;  // serving, loading (first version), failed, deploying (a new version)
  uint64_t version = 0;
  std::string script;
  std::string isolation;
  std::vector<std::string> routes;
  std::vector<uint32_t> workers;  // workers with an isolate of the live version
  uint64_t requests = 0;
  std::map<std::string, uint64_t> responses;  // "2xx" -> count
  uint64_t errors5xx = 0;
  uint64_t inFlight = 0;
  uint64_t queued = 0;
  uint64_t coldStarts = 0;
  uint64_t evictions = 0;
  uint64_t loadFailures = 0;
  uint64_t limitTerminations = 0;
  double cpuSeconds = 0;
  double p50Ms = 0;
  double p99Ms = 0;
  uint32_t maxConcurrent = 0;
  std::string lastError;
  // The app's latency histogram, rendered as metrics (request_metrics.cc).
  const class Histogram* latency = nullptr;
};

struct ServerStatus {
  std::string version;
  pid_t pid = 0;
  double uptimeSec = 0;
  std::string script;
  std::string isolation = "shared";
  std::string state;  // starting, serving, degraded, draining, stopping
  std::string listen;
  uint32_t workers = 0;  // serving now
  uint32_t target = 0;
  uint32_t minWorkers = 0;
  uint32_t maxWorkers = 0;
  uint64_t requestsTotal = 0;
  std::map<std::string, uint64_t> responses;  // "2xx" -> count
  uint64_t inFlight = 0;
  uint64_t queued = 0;
  std::map<std::string, uint64_t> restarts;           // reason -> count
  std::map<std::string, uint64_t> limitTerminations;  // kind -> count
  uint64_t droppedLogLines = 0;
  // The request path's front: --io-threads, and client connections open and accepted in all.
  uint32_t ioThreads = 1;
  uint64_t connectionsOpen = 0;
  uint64_t connectionsAccepted = 0;
  // Outbound fetch(): in flight now, and finished ones by outcome (see FetchClient).
  uint64_t fetchesInFlight = 0;
  std::map<std::string, uint64_t> fetches;
  // What the supervisor keeps of requests after their answer, for their waitUntil() work, by
  // record (RequestTracker): "recent" (the last answers, bounded), "lingering" (answered with
  // waitUntil() work pending, until --wait-until-timeout), "subrequests" (requests that
  // fetched, until the wall limit after their last fetch).
  std::map<std::string, uint64_t> requestRecords;
  std::vector<WorkerStatus> workerList;
  std::vector<AppStatus> apps;
  // Single-script servers: "" with --config.
  std::string config;
  // The app registry (docs/registry.md): "host/database", "" without one; whether its last
  // operation succeeded, and whether this server is listening for its notifications.
  std::string registry;
  bool registryReachable = false;
  bool registryListening = false;
  bool metricsPerApp = true;
};

}  // namespace isolated::supervisor
