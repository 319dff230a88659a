// Prometheus text format 0.0.4: HELP and TYPE lines, then samples.
#include "supervisor/request_metrics.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace isolated::supervisor {

namespace {

const std::vector<double> kLatencyBounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                            0.25,   0.5,   1,      2.5,   5,    10,    30};

// The shortest text that reads back as `v`: "0.0005" rather than "0.00050000000000000001",
// which is what operators see in `le` labels. Counts (most samples) take the integer path.
std::string number(double v) {
  if (v == std::trunc(v) && std::fabs(v) < 0x1p53) return std::to_string(static_cast<int64_t>(v));
  char buf[64];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

// Label values escape backslash, quote and newline.
std::string escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void header(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void sample(std::string& out, const std::string& name, const std::string& labels, double value) {
  out += name;
  if (!labels.empty()) out += "{" + labels + "}";
  out += ' ';
  out += number(value);
  out += '\n';
}

// Per-app series: one label value per app, so the series count grows with the apps (about 30
// per app); --metrics-per-app off leaves only the server-wide ones.
void renderApps(std::string& out, const ServerStatus& status) {
  auto label = [](const AppStatus& app) { return "app=\"" + escape(app.name) + "\""; };
  header(out, "isolated_app_requests_total", "counter", "Requests answered per app, by class.");
  for (const auto& app : status.apps) {
    for (const auto& [cls, count] : app.responses) {
      sample(out, "isolated_app_requests_total", label(app) + ",code=\"" + cls + "\"",
             static_cast<double>(count));
    }
  }
  header(out, "isolated_app_request_duration_seconds", "histogram",
         "Time from a request's arrival to its answer, per app.");
  for (const auto& app : status.apps) {
    if (app.latency != nullptr) {
      app.latency->render(out, "isolated_app_request_duration_seconds", label(app));
    }
  }
  struct Counter {
    const char* name;
    const char* type;
    const char* help;
    double (*value)(const AppStatus&);
  };
  const Counter counters[] = {
      {"isolated_app_cpu_seconds_total", "counter",
       "CPU time of an app's JavaScript, as workers report it at each health check.",
       [](const AppStatus& a) { return a.cpuSeconds; }},
      {"isolated_app_isolates", "gauge", "Workers holding an isolate of the app.",
       [](const AppStatus& a) { return static_cast<double>(a.workers.size()); }},
      {"isolated_app_cold_starts_total", "counter", "Isolates created for a request.",
       [](const AppStatus& a) { return static_cast<double>(a.coldStarts); }},
      {"isolated_app_evictions_total", "counter", "Isolates evicted (idle, lru, memory).",
       [](const AppStatus& a) { return static_cast<double>(a.evictions); }},
      {"isolated_app_load_failures_total", "counter", "Versions or cold starts that failed.",
       [](const AppStatus& a) { return static_cast<double>(a.loadFailures); }},
      {"isolated_app_in_flight_requests", "gauge", "Requests of the app in workers.",
       [](const AppStatus& a) { return static_cast<double>(a.inFlight); }},
      {"isolated_app_queue_depth", "gauge", "Requests of the app in the supervisor's queue.",
       [](const AppStatus& a) { return static_cast<double>(a.queued); }},
      {"isolated_app_version", "gauge", "The app's live version.",
       [](const AppStatus& a) { return static_cast<double>(a.version); }},
  };
  for (const auto& counter : counters) {
    header(out, counter.name, counter.type, counter.help);
    for (const auto& app : status.apps)
      sample(out, counter.name, label(app), counter.value(app));
  }
}

std::string workerLabels(const WorkerStatus& w) {
  return "worker=\"" + std::to_string(w.id) + "\",slot=\"" + std::to_string(w.slot) + "\"";
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i])
    ++i;
  ++counts_[i];
  sum_ += value;
  ++count_;
}

void Histogram::render(std::string& out, const std::string& name, const std::string& labels) const {
  std::string prefix = labels.empty() ? "" : labels + ",";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    sample(out, name + "_bucket", prefix + "le=\"" + number(bounds_[i]) + "\"",
           static_cast<double>(cumulative));
  }
  sample(out, name + "_bucket", prefix + "le=\"+Inf\"", static_cast<double>(count_));
  sample(out, name + "_sum", labels, sum_);
  sample(out, name + "_count", labels, static_cast<double>(count_));
}

double Histogram::quantile(double q) const {
  if (count_ == 0) return 0;
  double rank = q * static_cast<double>(count_);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    uint64_t before = cumulative;
    cumulative += counts_[i];
    if (static_cast<double>(cumulative) < rank || counts_[i] == 0) continue;
    // The +Inf bucket has no upper bound: report the largest finite one.
    if (i == bounds_.size()) return bounds_.back();
    double lower = i == 0 ? 0 : bounds_[i - 1];
    double within = (rank - static_cast<double>(before)) / static_cast<double>(counts_[i]);
    return lower + (bounds_[i] - lower) * within;
  }
  return bounds_.back();
}

RequestMetrics::RequestMetrics() : duration_(kLatencyBounds), queueWait_(kLatencyBounds) {}

void RequestMetrics::recordResponse(int status, double seconds) {
  ++total_;
  int cls = status / 100;
  if (cls >= 1 && cls <= 5) ++classes_[static_cast<size_t>(cls)];
  duration_.observe(seconds);
}

void RequestMetrics::recordQueueWait(double seconds) {
  queueWait_.observe(seconds);
}

std::map<std::string, uint64_t> RequestMetrics::byClass() const {
  std::map<std::string, uint64_t> out;
  for (size_t c = 1; c <= 5; ++c)
    out[std::to_string(c) + "xx"] = classes_[c];
  return out;
}

std::string RequestMetrics::render(const ServerStatus& status) const {
  std::string out;
  header(out, "isolated_build_info", "gauge", "Version of the running isolated.");
  sample(out, "isolated_build_info", "version=\"" + escape(status.version) + "\"", 1);
  header(out, "isolated_uptime_seconds", "gauge", "Seconds since the supervisor started.");
  sample(out, "isolated_uptime_seconds", "", status.uptimeSec);

  header(out, "isolated_requests_total", "counter", "Requests answered, by status class.");
  for (const auto& [cls, count] : byClass()) {
    sample(out, "isolated_requests_total", "code=\"" + cls + "\"", static_cast<double>(count));
  }
  header(out, "isolated_request_duration_seconds", "histogram",
         "Time from a request's arrival to its answer.");
  duration_.render(out, "isolated_request_duration_seconds");
  header(out, "isolated_queue_wait_seconds", "histogram",
         "Time a request waited before it was sent to a worker.");
  queueWait_.render(out, "isolated_queue_wait_seconds");

  header(out, "isolated_queue_depth", "gauge", "Requests waiting in the supervisor queue.");
  sample(out, "isolated_queue_depth", "", static_cast<double>(status.queued));
  header(out, "isolated_in_flight_requests", "gauge", "Requests sent to workers, not answered.");
  sample(out, "isolated_in_flight_requests", "", static_cast<double>(status.inFlight));
  header(out, "isolated_pool_workers", "gauge", "Workers serving now.");
  sample(out, "isolated_pool_workers", "", status.workers);
  header(out, "isolated_pool_target_workers", "gauge", "Workers the pool aims to have.");
  sample(out, "isolated_pool_target_workers", "", status.target);

  header(out, "isolated_worker_in_flight", "gauge", "Requests a worker holds.");
  for (const auto& w : status.workerList) {
    sample(out, "isolated_worker_in_flight", workerLabels(w), w.inFlight);
  }
  header(out, "isolated_worker_utilisation_ratio", "gauge",
         "Requests a worker holds over the most it may hold.");
  for (const auto& w : status.workerList) {
    double ratio = w.capacity > 0 ? static_cast<double>(w.inFlight) / w.capacity : 0;
    sample(out, "isolated_worker_utilisation_ratio", workerLabels(w), ratio);
  }
  header(out, "isolated_worker_rss_bytes", "gauge", "Resident memory of a worker, from /proc.");
  for (const auto& w : status.workerList) {
    sample(out, "isolated_worker_rss_bytes", workerLabels(w), static_cast<double>(w.rssBytes));
  }
  header(out, "isolated_worker_heap_used_bytes", "gauge", "V8 heap used by a worker's isolate.");
  for (const auto& w : status.workerList) {
    sample(out, "isolated_worker_heap_used_bytes", workerLabels(w),
           static_cast<double>(w.heapUsedBytes));
  }
  header(out, "isolated_worker_heap_limit_bytes", "gauge", "V8 heap limit of a worker's isolate.");
  for (const auto& w : status.workerList) {
    sample(out, "isolated_worker_heap_limit_bytes", workerLabels(w),
           static_cast<double>(w.heapLimitBytes));
  }
  header(out, "isolated_worker_event_loop_lag_seconds", "gauge",
         "Worst event-loop delay a worker reported in its last health check.");
  for (const auto& w : status.workerList) {
    sample(out, "isolated_worker_event_loop_lag_seconds", workerLabels(w),
           w.eventLoopLagMs / 1000.0);
  }
  header(out, "isolated_worker_requests_served_total", "counter", "Requests a worker answered.");
  for (const auto& w : status.workerList) {
    sample(out, "isolated_worker_requests_served_total", workerLabels(w),
           static_cast<double>(w.requestsServed));
  }

  header(out, "isolated_worker_restarts_total", "counter", "Workers replaced, by reason.");
  for (const char* reason : {"crash", "memory", "memory-hard", "health", "start-timeout",
                             "max-requests", "reload", "scale-down", "manual"}) {
    auto it = status.restarts.find(reason);
    sample(out, "isolated_worker_restarts_total", std::string("reason=\"") + reason + "\"",
           it == status.restarts.end() ? 0 : static_cast<double>(it->second));
  }
  header(out, "isolated_limit_terminations_total", "counter",
         "Requests ended by a limit, by kind.");
  for (const char* kind : {"cpu-limit", "memory-limit", "wall-limit", "context-reset"}) {
    auto it = limits_.find(kind);
    sample(out, "isolated_limit_terminations_total", std::string("kind=\"") + kind + "\"",
           it == limits_.end() ? 0 : static_cast<double>(it->second));
  }
  header(out, "isolated_http_refused_total", "counter",
         "Requests the HTTP layer refused and answered itself (malformed, oversized, too slow), "
         "by status.");
  // Every status the layer answers with is reported, zero or not.
  std::map<int, uint64_t> refused = refused_;
  for (int status : {400, 408, 413, 414, 417, 431, 501, 505})
    refused.try_emplace(status, 0);
  for (const auto& [status, count] : refused) {
    sample(out, "isolated_http_refused_total", "status=\"" + std::to_string(status) + "\"",
           static_cast<double>(count));
  }
  header(out, "isolated_http_connections_open", "gauge",
         "Open client connections (summed over the I/O threads).");
  sample(out, "isolated_http_connections_open", "", static_cast<double>(status.connectionsOpen));
  header(out, "isolated_http_connections_accepted_total", "counter",
         "Client connections accepted (summed over the I/O threads).");
  sample(out, "isolated_http_connections_accepted_total", "",
         static_cast<double>(status.connectionsAccepted));
  header(out, "isolated_io_threads", "gauge",
         "Threads that own the client connections (--io-threads; 1: the main loop).");
  sample(out, "isolated_io_threads", "", status.ioThreads);
  header(out, "isolated_dropped_log_lines_total", "counter",
         "Log lines dropped because the log output was backed up.");
  sample(out, "isolated_dropped_log_lines_total", "", static_cast<double>(status.droppedLogLines));
  header(out, "isolated_request_records", "gauge",
         "Answered requests the supervisor keeps for their waitUntil() work, by record: recent "
         "(bounded), lingering (until --wait-until-timeout), subrequests (until the wall limit "
         "after their last fetch).");
  for (const auto& [record, count] : status.requestRecords) {
    sample(out, "isolated_request_records", "record=\"" + record + "\"",
           static_cast<double>(count));
  }
  header(out, "isolated_fetches_in_flight", "gauge", "Outbound fetch() calls in progress.");
  sample(out, "isolated_fetches_in_flight", "", static_cast<double>(status.fetchesInFlight));
  header(out, "isolated_fetches_total", "counter",
         "Finished outbound fetch() calls, by outcome: completed, failed, denied (--fetch-deny), "
         "refused, cancelled, aborted.");
  for (const auto& [outcome, count] : status.fetches) {
    sample(out, "isolated_fetches_total", "outcome=\"" + outcome + "\"",
           static_cast<double>(count));
  }
  header(out, "isolated_worker_isolates", "gauge", "App isolates alive in a worker.");
  for (const auto& w : status.workerList) {
    sample(out, "isolated_worker_isolates", workerLabels(w), w.isolates);
  }
  header(out, "isolated_worker_background", "gauge",
         "1 while a worker runs at background CPU priority (--background-heavy-apps).");
  for (const auto& w : status.workerList) {
    sample(out, "isolated_worker_background", workerLabels(w), w.background ? 1 : 0);
  }
  header(out, "isolated_apps", "gauge", "Apps the server serves.");
  sample(out, "isolated_apps", "", static_cast<double>(status.apps.size()));
  if (status.metricsPerApp) renderApps(out, status);
  return out;
}

}  // namespace isolated::supervisor
