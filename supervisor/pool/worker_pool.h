// The worker pool: the supervisor's worker processes and their lives. It spawns workers (with a
// restart backoff for those that die young), keeps the pool at its target size, recycles workers
// with their replacement ready first (memory, request count, reload, scale-down, the operator),
// checks their health and memory, autoscales, runs the single-script rolling reload, stops them
// at the end of a drain and reaps them.
//
// It does not route requests or handle what workers say: the Supervisor reads workers() to
// place requests, is every worker's WorkerEvents, and calls the note*() methods here for the
// pool's share of an event (a Hello, a Pong, a loss).
//
// Invariants:
// - A WorkerProcess is in workers() from its spawn until reaped() erases it; ids are never
//   reused.
// - The pool's size is its active workers (isActive) plus the spawns waiting out a backoff; it
//   is brought to target() by reconcile(), and never while the server is ending.
// - A retiring worker keeps serving until isServing() workers reach target(); only then does
//   it get Shutdown, so recycling loses no request.
// - A rolling reload retires one old worker at a time: the next only once a worker of the new
//   generation is ready.
//
// Single-threaded: everything runs on the supervisor's loop.
#pragma once

#include <event2/event.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/logger.h"
#include "common/serve_config.h"
#include "event/deadline_timer.h"
#include "event/dispatcher.h"
#include "ipc/messages.capnp.h"
#include "supervisor/pool/restart_backoff.h"
#include "supervisor/server_stage.h"
#include "supervisor/worker_process.h"

namespace isolated::supervisor {

// What the pool needs of the server it runs in (the Supervisor).
class PoolHost {
 public:
  virtual ServerStage stage() const = 0;
  // A worker could not be spawned while booting: the server cannot start.
  virtual void failBoot(const std::string& reason) = 0;
  // Whether a rolling reload may retire its next worker (not while a script snapshot is made).
  virtual bool reloadMayContinue() const = 0;

 protected:
  ~PoolHost() = default;
};

class WorkerPool {
 public:
  using Clock = std::chrono::steady_clock;
  using Workers = std::vector<std::unique_ptr<WorkerProcess>>;

  // What a worker slot has been through, carried from a worker to its replacement.
  struct SlotHistory {
    uint32_t restarts = 0;
    std::string lastExitReason;
  };

  // `workerCommand` is the whole argv of a worker; `events` receives every worker's messages.
  // Spawns nothing until reconcile().
  WorkerPool(event_base* base, event::Dispatcher& dispatcher, const isolated::Clock& clock,
             const ServeConfig& config, std::vector<std::string> workerCommand, Logger& logger,
             WorkerEvents& events, PoolHost& host);

  Workers& workers() { return workers_; }
  const Workers& workers() const { return workers_; }
  size_t count(bool (*predicate)(const WorkerProcess&)) const;
  WorkerProcess* find(uint32_t id);

  // Spawns (or schedules, when backing off) workers until the pool is at its target, and shuts
  // down retiring workers whose replacements serve.
  void reconcile();
  // Marks `worker` to be replaced (a reason from the restart reasons) and reconciles.
  void retire(WorkerProcess& worker, const std::string& reason);
  // retire() of serving worker `id`; false when there is no such worker.
  bool recycle(uint32_t id, const std::string& reason);
  // Sets the target (moving the autoscaling bounds to include it); the newest serving workers
  // beyond it retire.
  void scale(uint32_t workers);
  // Once a second, with the requests queued for a worker: the load is those and the requests
  // the workers hold, per serving worker.
  void autoscale(size_t queued);

  // The pool's share of a worker's events.
  // Hello: its memory is read and its readiness logged.
  void noteReady(WorkerProcess& worker, ipc::Hello::Reader hello);
  // After the server has handled a Hello: replaced workers drain, and a rolling reload moves on.
  void settleAfterReady(const WorkerProcess& worker);
  // Pong: its figures are kept; a failed probe counts toward --health-failures, and the worker
  // is killed when it reaches them.
  void notePong(WorkerProcess& worker, ipc::Pong::Reader pong);
  // The channel closed: a loss the pool did not ask for counts as a restart, and one of a
  // worker that died young as an early failure (backoff).
  void noteLoss(const WorkerProcess& worker);

  // Housekeeping, every tick: health pings and deadlines (a worker that does not say Hello in
  // time, or misses too many Pongs, is killed), retiring workers past their drain deadline,
  // memory (idle isolates evicted first, recycling after, killing over the hard threshold).
  void checkHealth(Clock::time_point now);
  void killOverdueDrains(Clock::time_point now);
  void checkMemory();
  // Once a second: forgets early failures after a quiet spell.
  void forgetQuietFailures();
  // Logs the pool's falling below its target (and its recovery) while serving.
  void updateDegraded();

  // The single-script reload: a new generation; every active worker is replaced, one at a time.
  void restartAll();
  void continueReload();
  bool reloadActive() const { return reloadActive_; }

  // A child exited: true when it was a worker (now erased).
  bool reaped(pid_t pid, int status);
  // The end of a drain: every worker gets Shutdown, and SIGKILL after `deadlineMs`.
  void stop(uint32_t deadlineMs);
  void killAll();
  bool empty() const { return workers_.empty(); }

  uint32_t target() const { return target_; }
  uint32_t minWorkers() const { return min_; }
  uint32_t maxWorkers() const { return max_; }
  bool degraded() const { return degraded_; }
  // Workers replaced, by reason.
  const std::map<std::string, uint64_t>& restarts() const { return restarts_; }
  const SlotHistory* slotHistory(uint32_t slot) const;
  // console lines dropped by workers that have exited (live workers report theirs in Pongs).
  uint64_t droppedLogLinesOfExited() const { return droppedLogLinesOfExited_; }

 private:
  // A failed spawn (EMFILE, EAGAIN) counts as an early failure and schedules its own retry.
  void spawn();
  // One spawn after the backoff delay for the current count of early failures.
  void scheduleSpawn();
  void onSpawnDue();
  // Worker-wide settings, the pool's first message to every worker.
  void sendConfigure(WorkerProcess& worker);
  uint32_t freeSlot() const;
  WorkerProcess* findByPid(pid_t pid);

  event_base* base_;
  const isolated::Clock& clock_;
  const ServeConfig& config_;
  std::vector<std::string> workerCommand_;
  Logger& logger_;
  WorkerEvents& events_;
  PoolHost& host_;
  // --max-requests jitter.
  std::mt19937_64 random_{std::random_device{}()};

  uint32_t nextWorkerId_ = 1;
  uint32_t target_;
  uint32_t min_;
  uint32_t max_;
  // The count of early failures and the spawns waiting out their delay, which count toward the
  // pool's size.
  RestartBackoff backoff_;
  bool degraded_ = false;
  // Rolling reload: the generation new workers belong to, and the old workers still to replace.
  uint64_t generation_ = 1;
  std::deque<uint32_t> reloadQueue_;
  bool reloadActive_ = false;
  // Autoscaling: consecutive seconds of high or low load.
  uint32_t busySeconds_ = 0;
  uint32_t idleSeconds_ = 0;
  std::map<std::string, uint64_t> restarts_;
  std::map<uint32_t, SlotHistory> slots_;
  uint64_t droppedLogLinesOfExited_ = 0;

  Workers workers_;
  // Fires when backoff_'s earliest waiting spawn is due.
  event::DeadlineTimer spawnTimer_;
  // Workers that do not exit by their Shutdown deadline are killed.
  event::Timer stopTimer_;
};

}  // namespace isolated::supervisor
