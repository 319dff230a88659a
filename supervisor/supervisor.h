// The supervisor: owns the HTTP listener, the worker pool, the request queue and the signal
// handling of one `isolated serve` run. It never runs JavaScript; it moves requests to workers
// and answers back, replaces workers that die or stop answering pings, and drains on SIGTERM.
//
// Construction takes every dependency (event loop, config, logger, the worker command line), so
// tests can build one in-process. Single-threaded: everything runs on `base`'s loop.
//
// Request invariant: every accepted HTTP request is answered exactly once: by its worker's
// Response, or by the supervisor with 502 (worker lost), 503 (busy, queue timeout, shutdown).
#pragma once

#include <event2/event.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/event_handles.h"
#include "common/logger.h"
#include "common/serve_config.h"
#include "supervisor/dispatcher.h"
#include "supervisor/http_listener.h"
#include "supervisor/worker_process.h"

namespace isolated::supervisor {

class Supervisor : public RequestHandler, public WorkerEvents {
 public:
  using Clock = std::chrono::steady_clock;

  // `workerCommand` is the argv prefix that starts a worker (the binary and `__worker`); the
  // supervisor appends the script and logging arguments. Binds the listener at once and throws
  // std::runtime_error when it cannot.
  Supervisor(event_base* base, const ServeConfig& config, std::vector<std::string> workerCommand,
             Logger& logger);
  ~Supervisor() override;

  // Spawns the pool and runs the loop until the server has stopped. Returns the exit code:
  // 0 after a drain, 1 when the pool could not start.
  int run();

  uint16_t port() const { return listener_.port(); }

  // RequestHandler
  void onHttpRequest(evhttp_request* request) override;

  // WorkerEvents
  void onWorkerReady(WorkerProcess& worker, ipc::Hello::Reader hello) override;
  void onWorkerLoadError(WorkerProcess& worker, ipc::LoadError::Reader error) override;
  void onWorkerResponse(WorkerProcess& worker, ipc::Response::Reader response) override;
  void onWorkerLog(WorkerProcess& worker, ipc::Log::Reader log) override;
  void onWorkerLost(WorkerProcess& worker, const std::string& reason) override;

 private:
  enum class Phase { kBooting, kServing, kDraining, kStopping, kStopped };

  struct PendingRequest {
    evhttp_request* http;
    uint64_t id;
    Clock::time_point arrived;
    uint32_t workerId = 0;  // 0 while queued in the supervisor
  };

  // Worker pool.
  void spawnWorker();
  void scheduleReplacement(bool crashedEarly);
  WorkerProcess* findWorker(uint32_t id);
  WorkerProcess* findWorkerByPid(pid_t pid);
  size_t liveWorkerCount() const;

  // Requests.
  bool tryAssign(PendingRequest& request);
  void sendToWorker(WorkerProcess& worker, PendingRequest& request);
  void pumpQueue();
  void expireQueue(Clock::time_point now);

  // Lifecycle.
  void onSignal(int signal);
  void reapChildren();
  void housekeeping();
  void beginDrain();
  void checkDrained();
  void stopWorkers();
  void forceStop(const std::string& why);
  void finishIfStopped();
  void failBoot(const std::string& reason);

  event_base* base_;
  const ServeConfig& config_;
  std::vector<std::string> workerCommand_;
  Logger& logger_;
  HttpListener listener_;
  Dispatcher dispatcher_;

  Phase phase_ = Phase::kBooting;
  int exitCode_ = 0;
  Clock::time_point startedAt_;
  uint32_t nextWorkerId_ = 1;
  uint64_t nextRequestId_ = 1;
  // Consecutive workers that died before serving; drives the restart backoff.
  uint32_t earlyFailures_ = 0;
  std::optional<std::string> bootLoadError_;

  std::vector<std::unique_ptr<WorkerProcess>> workers_;
  std::vector<DispatchCandidate> candidates_;  // scratch space for dispatch, reused
  std::unordered_map<uint64_t, PendingRequest> inFlight_;
  std::deque<PendingRequest> queue_;

  std::vector<EventPtr> signalEvents_;
  EventPtr housekeepingTimer_;
  EventPtr drainTimer_;
  EventPtr stopTimer_;
  std::vector<EventPtr> spawnTimers_;
};

}  // namespace isolated::supervisor
