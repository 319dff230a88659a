// Field names follow docs/control-protocol.md; change both together.
#include "supervisor/status_json.h"

namespace isolated::supervisor {

nlohmann::json toJson(const WorkerStatus& w) {
  return {
      {"id", w.id},
      {"slot", w.slot},
      {"pid", w.pid},
      {"state", w.state},
      {"uptime_s", w.uptimeSec},
      {"requests_served", w.requestsServed},
      {"in_flight", w.inFlight},
      {"rss_bytes", w.rssBytes},
      {"heap_used_bytes", w.heapUsedBytes},
      {"heap_limit_bytes", w.heapLimitBytes},
      {"health", w.health},
      {"event_loop_lag_ms", w.eventLoopLagMs},
      {"restarts", w.restarts},
      {"last_exit_reason", w.lastExitReason},
      {"cpu_limit_terminations", w.cpuLimitTerminations},
      {"memory_limit_terminations", w.memoryLimitTerminations},
      {"retiring", w.retiring},
      {"isolates", w.isolates},
      {"apps", w.apps},
      {"background", w.background},
  };
}

nlohmann::json toJson(const AppStatus& a) {
  return {
      {"name", a.name},
      {"state", a.state},
      {"version", a.version},
      {"script", a.script},
      {"isolation", a.isolation},
      {"routes", a.routes},
      {"workers", a.workers},
      {"isolates", a.workers.size()},
      {"requests", a.requests},
      {"responses", a.responses},
      {"errors_5xx", a.errors5xx},
      {"in_flight", a.inFlight},
      {"queued", a.queued},
      {"cold_starts", a.coldStarts},
      {"evictions", a.evictions},
      {"load_failures", a.loadFailures},
      {"limit_terminations", a.limitTerminations},
      {"cpu_ms", a.cpuSeconds * 1000},
      {"p50_ms", a.p50Ms},
      {"p99_ms", a.p99Ms},
      {"max_concurrent", a.maxConcurrent},
      {"last_error", a.lastError},
  };
}

nlohmann::json toJson(const ServerStatus& s) {
  nlohmann::json out = {
      {"version", s.version},
      {"pid", s.pid},
      {"uptime_s", s.uptimeSec},
      {"script", s.script},
      {"isolation", s.isolation},
      {"state", s.state},
      {"listen", s.listen},
      {"workers", s.workers},
      {"target", s.target},
      {"min_workers", s.minWorkers},
      {"max_workers", s.maxWorkers},
      {"requests_total", s.requestsTotal},
      {"responses", s.responses},
      {"in_flight", s.inFlight},
      {"queued", s.queued},
      {"restarts", s.restarts},
      {"limit_terminations", s.limitTerminations},
      {"dropped_log_lines", s.droppedLogLines},
      {"io_threads", s.ioThreads},
      {"connections_open", s.connectionsOpen},
      {"connections_accepted", s.connectionsAccepted},
      {"fetches_in_flight", s.fetchesInFlight},
      {"fetches", s.fetches},
      {"request_records", s.requestRecords},
      {"config", s.config},
      {"apps", s.apps.size()},
  };
  if (!s.registry.empty()) {
    out["registry"] = s.registry;
    out["registry_reachable"] = s.registryReachable;
    out["registry_listening"] = s.registryListening;
  }
  return out;
}

}  // namespace isolated::supervisor
