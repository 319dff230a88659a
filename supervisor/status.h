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
  std::string retiring;  // why it is being recycled, or empty
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
  // Outbound fetch(): in flight now, and finished ones by outcome (see FetchClient).
  uint64_t fetchesInFlight = 0;
  std::map<std::string, uint64_t> fetches;
  std::vector<WorkerStatus> workerList;
};

}  // namespace isolated::supervisor
