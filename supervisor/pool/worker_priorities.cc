// WorkerPriorities (worker_priorities.h).
#include "supervisor/pool/worker_priorities.h"

#include <cerrno>
#include <string>

#include "common/process_priority.h"
#include "common/syscall.h"

namespace isolated::supervisor {

WorkerPriorities::WorkerPriorities(bool enabled, uint32_t heavyThreshold, Logger& logger)
    : active_(enabled), heavyThreshold_(heavyThreshold), logger_(logger) {
  if (active_ && !canRestoreNormalPriority()) {
    active_ = false;
    logger_.warn(
        "background priority for heavy apps is off: the supervisor could lower a worker to "
        "SCHED_IDLE but not raise it back (it needs CAP_SYS_NICE or RLIMIT_NICE 20)",
        {{"flag", "--background-heavy-apps"}});
  }
}

void WorkerPriorities::observe(AppRegistry& apps, Clock::time_point now) {
  std::erase_if(heavySeen_, [&](const auto& entry) { return now - entry.second > kHeavyMemory; });
  for (const auto& [name, app] : apps.apps()) {
    if (app->live && (app->outstanding() >= heavyThreshold_ || app->noisy(now)))
      heavySeen_[app->live->id] = now;
  }
}

bool WorkerPriorities::lightUsesStorage(std::span<const std::unique_ptr<WorkerProcess>> workers,
                                        const storage::BindingService& storage) const {
  for (const auto& worker : workers) {
    for (const auto& [deployment, sentAt] : worker->appLastSent) {
      if (!heavySeen_.contains(deployment) && storage.hasBindings(deployment)) return true;
    }
  }
  return false;
}

void WorkerPriorities::refused(const std::string& what) {
  active_ = false;
  logger_.warn("background priority for heavy apps turned off: not permitted", {{"for", what}});
}

void WorkerPriorities::applyToStorage(storage::BindingService& storage, bool background) {
  if ((storageLowered_ == &storage) == background) return;
  int error = storage.setBackground(background);
  if (error == EPERM) {
    if (background) storage.setBackground(false);
    storageLowered_ = nullptr;
    refused("storage threads");
    return;
  }
  if (error != 0) {
    logger_.warn("could not change the storage threads' CPU priority",
                 {{"error", errnoText(error)}});
    return;
  }
  storageLowered_ = background ? &storage : nullptr;
  logger_.debug(background ? "storage threads to background priority"
                           : "storage threads to normal priority");
}

void WorkerPriorities::update(std::span<const std::unique_ptr<WorkerProcess>> workers,
                              AppRegistry& apps, storage::BindingService* storage,
                              Clock::time_point now) {
  if (!active_) return;
  observe(apps, now);
  loads_.assign(workers.size(), WorkerLoad{});
  for (size_t i = 0; i < workers.size(); ++i) {
    const WorkerProcess& worker = *workers[i];
    if (!isAlive(worker)) continue;
    WorkerLoad& load = loads_[i];
    load.onlyHeavy = true;
    // appLastSent lists every app with a request outstanding here or sent one lately.
    for (const auto& [deployment, sentAt] : worker.appLastSent) {
      load.inUse = true;
      load.onlyHeavy = load.onlyHeavy && heavySeen_.contains(deployment);
    }
  }
  planBackground(loads_);
  bool anyBackground = false;
  for (size_t i = 0; i < workers.size(); ++i) {
    WorkerProcess& worker = *workers[i];
    // A worker whose Pong is late gets the CPU to answer with (worker_priorities.h).
    const bool lower = loads_[i].background && worker.healthMisses == 0;
    anyBackground = anyBackground || (isAlive(worker) && lower);
    if (!isAlive(worker) || lower == worker.background) continue;
    int error = setProcessBackground(worker.pid(), lower);
    if (error == ESRCH) continue;  // exiting: its loss is reported through its channel
    if (error == EPERM) {
      // Not expected after the privilege check (a seccomp filter or security module can still
      // refuse). Threads lowered before the refusal are raised again where that is allowed;
      // then the feature stops.
      if (lower) setProcessBackground(worker.pid(), false);
      refused("worker " + std::to_string(worker.id()));
      return;
    }
    if (error != 0) {
      logger_.warn("could not change a worker's CPU priority",
                   {{"worker", worker.id()}, {"error", errnoText(error)}});
      continue;
    }
    worker.background = lower;
    logger_.debug(worker.background ? "worker to background priority" : "worker to normal priority",
                  {{"worker", worker.id()}, {"pid", worker.pid()}});
  }
  if (storage != nullptr)
    applyToStorage(*storage, anyBackground && !lightUsesStorage(workers, *storage));
}

}  // namespace isolated::supervisor
