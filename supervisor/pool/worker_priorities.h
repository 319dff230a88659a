// WorkerPriorities: --background-heavy-apps. Every housekeeping tick it reads which apps use
// which worker and which of them are heavy, plans (background_plan.h) and moves the workers
// whose answer changed to background (SCHED_IDLE) or back to normal priority
// (common/process_priority.h). docs/multi-tenancy.md, "Background priority".
//
// An app (a deployment) is heavy while it has at least `heavyThreshold` requests in flight or
// queued (the placement's spread threshold: more than one worker's share) or is noisy (it recently
// ran into its CPU limit, App::noisy), and for kHeavyMemory after a tick last saw it so: a
// closed-loop client's requests in flight dip below any threshold now and then, and a worker should
// not flap between priorities with them.
//
// Invariant: WorkerProcess::background is true exactly for the workers this class has moved to
// SCHED_IDLE and not back. Nothing is lowered unless the supervisor may raise it again
// (canRestoreNormalPriority()); without that privilege the feature logs once and stays off.
// A worker that ends takes its priority with it; its replacement starts at normal priority.
// A worker that has missed a health check (its Pong is late) is never lowered, and a lowered
// one goes back to normal at the next tick: if normal-priority work kept every core busy, a
// lowered worker would get no CPU to answer with, and starving it must not get it replaced.
//
// The supervisor's storage threads (BindingService) go to the background with the workers when
// no light app in use has a storage binding: then only heavy apps' calls wait for them, and
// the light apps' workers and the supervisor's loop take the cores first.
//
// Threading: the supervisor's loop.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "common/logger.h"
#include "supervisor/apps/app_registry.h"
#include "supervisor/pool/background_plan.h"
#include "supervisor/storage/binding_service.h"
#include "supervisor/worker_process.h"

namespace isolated::supervisor {

class WorkerPriorities {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr auto kHeavyMemory = std::chrono::seconds(1);

  // `enabled`: the flag. Checks the privilege once, here.
  WorkerPriorities(bool enabled, uint32_t heavyThreshold, Logger& logger);

  // Plans from the workers' current use and applies the changes, to `storage` too (null while
  // no app has a storage binding).
  void update(std::span<const std::unique_ptr<WorkerProcess>> workers, AppRegistry& apps,
              storage::BindingService* storage, Clock::time_point now);

  // On and permitted.
  bool active() const { return active_; }

 private:
  // Notes which deployments are heavy now, and forgets those past kHeavyMemory.
  void observe(AppRegistry& apps, Clock::time_point now);
  // Whether a light deployment in use has a storage binding.
  bool lightUsesStorage(std::span<const std::unique_ptr<WorkerProcess>> workers,
                        const storage::BindingService& storage) const;
  void applyToStorage(storage::BindingService& storage, bool background);
  // Turns the feature off for good after a refusal (EPERM), with one warning.
  void refused(const std::string& what);

  bool active_;
  uint32_t heavyThreshold_;
  Logger& logger_;
  // The storage service last lowered (its threads are at SCHED_IDLE), or null.
  storage::BindingService* storageLowered_ = nullptr;
  // Scratch space, reused: one entry per worker of the last update.
  std::vector<WorkerLoad> loads_;
  // Heavy deployments: when a tick last saw each one heavy.
  std::unordered_map<uint32_t, Clock::time_point> heavySeen_;
};

}  // namespace isolated::supervisor
