// Request counters and latency histograms kept by the supervisor, and the Prometheus text
// exposition of them together with a status snapshot's gauges.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "supervisor/status.h"

namespace isolated::supervisor {

// A cumulative histogram with fixed upper bounds (seconds), as Prometheus defines it.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);
  // Appends `name_bucket`, `name_sum` and `name_count` lines, each with `labels` (may be empty)
  // besides `le`.
  void render(std::string& out, const std::string& name, const std::string& labels = "") const;
  // The q-quantile (0..1) estimated as Prometheus's histogram_quantile does: linear within the
  // bucket that holds it. 0 with no observations.
  double quantile(double q) const;
  uint64_t count() const { return count_; }

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative; the last is +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

class RequestMetrics {
 public:
  RequestMetrics();

  // One answered request: its status and time from arrival to answer.
  void recordResponse(int status, double seconds);
  // Time a request waited before it was sent to a worker.
  void recordQueueWait(double seconds);
  // A request ended by a limit: cpu-limit, memory-limit, wall-limit, context-reset.
  void recordLimit(const std::string& kind) { ++limits_[kind]; }
  // A request the HTTP layer refused and answered itself (400, 408, 413, 414, 417, 431, 501,
  // 505): it never reached routing, so it is not among the responses above.
  void recordRefused(int status) { ++refused_[status]; }

  uint64_t total() const { return total_; }
  std::map<std::string, uint64_t> byClass() const;
  const std::map<std::string, uint64_t>& limits() const { return limits_; }

  // The whole exposition: these counters and histograms plus `status`'s gauges.
  std::string render(const ServerStatus& status) const;

 private:
  uint64_t total_ = 0;
  std::array<uint64_t, 6> classes_{};  // index status/100, 0 unused
  std::map<std::string, uint64_t> limits_;
  std::map<int, uint64_t> refused_;
  Histogram duration_;
  Histogram queueWait_;
};

}  // namespace isolated::supervisor
