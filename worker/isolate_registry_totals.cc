// IsolateRegistry's totals over every live app (and, for counters and usage, the hosts already
// retired), for the worker's Pong and its drain.
#include "worker/isolate_registry.h"

namespace isolated::worker {

size_t IsolateRegistry::inFlight() const {
  size_t total = 0;
  for (const auto& [id, app] : apps_) {
    if (app->host) total += app->host->inFlight();
  }
  return total;
}

size_t IsolateRegistry::timersPending() const {
  size_t total = 0;
  for (const auto& [id, app] : apps_) {
    if (app->host) total += app->host->timersPending();
  }
  return total;
}

size_t IsolateRegistry::backgroundTasks() const {
  size_t total = 0;
  for (const auto& [id, app] : apps_) {
    if (app->host) total += app->host->backgroundTasks();
  }
  return total;
}

void IsolateRegistry::abandonBackground(const std::string& why) {
  for (auto& [id, app] : apps_) {
    if (app->host && app->host->backgroundTasks() > 0) app->host->abandonBackground(why);
  }
}

HeapStats IsolateRegistry::heapStats() {
  HeapStats total;
  bool sharedCounted = false;
  for (auto& [id, app] : apps_) {
    if (!app->host) continue;
    if (app->host->sharesIsolate()) {
      if (sharedCounted) continue;
      sharedCounted = true;
    }
    HeapStats stats = app->host->heapStats();
    total.usedBytes += stats.usedBytes;
    total.totalBytes += stats.totalBytes;
    total.limitBytes += stats.limitBytes;
    total.externalBytes += stats.externalBytes;
  }
  return total;
}

HostCounters IsolateRegistry::counters() const {
  HostCounters total = retiredCounters_;
  for (const auto& [id, app] : apps_) {
    if (app->host) total += app->host->counters();
  }
  return total;
}

uint64_t IsolateRegistry::droppedLogLines() const {
  uint64_t total = retiredDroppedLogLines_;
  for (const auto& [id, app] : apps_) {
    if (app->host) total += app->host->droppedLogLines();
  }
  return total;
}

std::vector<AppUsageReport> IsolateRegistry::takeUsage() {
  std::vector<AppUsageReport> reports;
  // Apps that neither ran JavaScript nor hit a limit are left out (the heap statistics are read
  // only for the others).
  auto add = [&reports](uint32_t id, const HostUsage& usage, IsolateHost* host) {
    if (usage.cpu.count() == 0 && usage.cpuLimitTerminations == 0 &&
        usage.memoryLimitTerminations == 0) {
      return;
    }
    AppUsageReport report;
    report.app = id;
    report.cpuMicros = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(usage.cpu).count());
    // A context's share of a shared isolate's heap is not measured: 0 there.
    report.heapUsedBytes =
        host != nullptr && !host->sharesIsolate() ? host->heapStats().usedBytes : 0;
    report.cpuLimitTerminations = usage.cpuLimitTerminations;
    report.memoryLimitTerminations = usage.memoryLimitTerminations;
    reports.push_back(report);
  };
  for (auto& [id, app] : apps_) {
    HostUsage usage = std::exchange(app->retiredUsage, HostUsage{});
    if (app->host) usage += app->host->takeUsage();
    add(id, usage, app->host.get());
  }
  // Usage of isolates evicted just before their app was forgotten.
  for (auto& [id, forgotten] : forgotten_)
    add(id, std::exchange(forgotten.usage, HostUsage{}), nullptr);
  return reports;
}

}  // namespace isolated::worker
