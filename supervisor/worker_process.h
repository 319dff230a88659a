// The supervisor's handle on one worker: its process, its channel, its lifecycle state and the
// ids of the requests it holds. Protocol order (ipc/protocol.h) is enforced here; a violation
// closes the channel and reports the worker lost.
//
// Lifetime: owned by the Supervisor. Events are delivered from the event loop; a WorkerEvents
// implementation must not destroy the WorkerProcess from inside a callback.
#pragma once

#include <event2/event.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "ipc/channel.h"
#include "ipc/messages.capnp.h"
#include "supervisor/child_process.h"

namespace isolated::supervisor {

enum class WorkerState {
  kStarting,  // spawned, no Hello yet
  kReady,     // serving
  kStopping,  // sent Shutdown (drain or recycle); no new requests
  kLost,      // channel closed; waiting to be reaped
};
const char* workerStateName(WorkerState state);

class WorkerProcess;

class WorkerEvents {
 public:
  virtual ~WorkerEvents() = default;
  virtual void onWorkerReady(WorkerProcess& worker, ipc::Hello::Reader hello) = 0;
  // An app deployment failed to load (a preload or a cold start); `defined` holds its id.
  virtual void onWorkerLoadError(WorkerProcess& worker, ipc::LoadError::Reader error) = 0;
  // An app deployment's isolate was created, or discarded; `isolates` is already updated.
  virtual void onWorkerAppLoaded(WorkerProcess& worker, ipc::AppLoaded::Reader loaded) = 0;
  virtual void onWorkerAppEvicted(WorkerProcess& worker, ipc::AppEvicted::Reader evicted) = 0;
  virtual void onWorkerResponse(WorkerProcess& worker, ipc::Response::Reader response) = 0;
  virtual void onWorkerBodyChunk(WorkerProcess& worker, ipc::BodyChunk::Reader chunk) = 0;
  virtual void onWorkerBodyCredit(WorkerProcess& worker, ipc::BodyCredit::Reader credit) = 0;
  virtual void onWorkerLog(WorkerProcess& worker, ipc::Log::Reader log) = 0;
  virtual void onWorkerPong(WorkerProcess& worker, ipc::Pong::Reader pong) = 0;
  // Outbound fetch() messages (after Hello only).
  virtual void onWorkerFetchStart(WorkerProcess& worker, ipc::FetchStart::Reader start) = 0;
  virtual void onWorkerFetchCredit(WorkerProcess& worker, ipc::FetchCredit::Reader credit) = 0;
  virtual void onWorkerFetchAbort(WorkerProcess& worker, ipc::FetchAbort::Reader abort) = 0;
  virtual void onWorkerFetchUpload(WorkerProcess& worker, ipc::FetchUpload::Reader upload) = 0;
  // A storage binding call (after Hello only). Hosts without storage answer nothing.
  virtual void onWorkerBindingCall(WorkerProcess& /*worker*/, ipc::BindingCall::Reader /*call*/) {}
  // The channel closed or broke; `state()` is kLost from here on.
  virtual void onWorkerLost(WorkerProcess& worker, const std::string& reason) = 0;
};

class WorkerProcess : public ipc::ChannelHandler {
 public:
  using Clock = std::chrono::steady_clock;

  // Spawns `argv` with a fresh socketpair. Throws SyscallError when the OS refuses.
  // `sandbox`, if given, must outlive the spawn only (ChildProcess::spawn).
  WorkerProcess(uint32_t id, event_base* base, const std::vector<std::string>& argv,
                const ipc::FrameLimits& limits, WorkerEvents& events,
                const SandboxPlan* sandbox = nullptr);

  uint32_t id() const { return id_; }
  pid_t pid() const { return process_.pid(); }
  WorkerState state() const { return state_; }
  bool accepting() const { return state_ == WorkerState::kReady; }
  Clock::time_point spawnedAt() const { return spawnedAt_; }
  // When its Hello arrived; empty while it is starting, and for a worker lost before Hello.
  std::optional<Clock::time_point> readyAt() const { return readyAt_; }

  // Requests sent and not yet answered.
  std::unordered_set<uint64_t>& outstanding() { return outstanding_; }
  uint32_t outstandingCount() const { return static_cast<uint32_t>(outstanding_.size()); }

  void send(capnp::MessageBuilder& message) { channel_->send(message); }
  // Sends Ping(seq) unless one is already unanswered. Returns whether a ping went out.
  bool ping();
  // When the oldest unanswered ping was sent, if any.
  std::optional<Clock::time_point> pingOutstandingSince() const { return pingSentAt_; }
  // When the last ping was sent (the spawn time before the first one).
  Clock::time_point lastPingAt() const { return lastPingAt_; }
  // Sends Shutdown and stops taking requests.
  void shutdown(uint32_t deadlineMs);
  // Whether Shutdown was sent: an exit after it is expected, not a crash.
  bool shutdownSent() const { return shutdownSent_; }
  // Kills the process (SIGKILL) and closes the channel; the reaper still has to collect it.
  void kill(const std::string& reason);

  ChildProcess& process() { return process_; }

  // Recycling: a retiring worker keeps serving until its replacement is ready, then gets
  // Shutdown. `retireReason` says why (memory, max-requests, reload, scale-down).
  bool retiring() const { return !retireReason_.empty(); }
  const std::string& retireReason() const { return retireReason_; }
  void markRetiring(std::string reason) { retireReason_ = std::move(reason); }
  void clearRetiring() { retireReason_.clear(); }
  // When Shutdown was sent; the worker is killed if it has not exited by its deadline.
  std::optional<Clock::time_point> stoppingSince() const { return stoppingSince_; }

  // Bookkeeping the supervisor updates and reports.
  uint64_t requestsServed = 0;
  uint64_t requestLimit = 0;  // recycle after this many (0: never)
  uint64_t rssBytes = 0;      // read from /proc by the supervisor
  uint32_t healthMisses = 0;
  Clock::time_point lastMissAt;
  // Script generation the worker was started with; a reload starts a new one.
  uint64_t generation = 0;
  // Its place in the pool, inherited by its replacement (see docs/control-protocol.md).
  uint32_t slot = 0;
  uint64_t droppedLogLines = 0;
  // Why the supervisor killed it (health, memory-hard, start-timeout), for restart accounting;
  // empty for a crash.
  std::string lossCause;
  // Apps (deployment ids): those sent LoadApp and not UnloadApp or ForgetApp (the supervisor
  // sends LoadApp before a deployment's first request on this channel), those sent ForgetApp
  // and not defined again (UnloadApp still goes to them: the worker keeps a few bytes of each),
  // those with an isolate alive as the worker last reported, and requests outstanding per
  // deployment.
  std::unordered_set<uint32_t> defined;
  std::unordered_set<uint32_t> forgotten;
  std::unordered_set<uint32_t> isolates;
  std::unordered_map<uint32_t, uint32_t> appOutstanding;
  // Deployments sent a request on this worker recently: when the last one was sent. Entries are
  // dropped by housekeeping once older than Supervisor::kNeighbourWindow with nothing
  // outstanding, so it holds every deployment in appOutstanding. Placement keeps other apps'
  // extra homes off a worker that lists an app (SpreadPolicy::kOntoIdle).
  std::unordered_map<uint32_t, Clock::time_point> appLastSent;
  // At background CPU priority (SCHED_IDLE; only WorkerPriorities changes it).
  bool background = false;
  // Outstanding requests of apps that were noisy when sent (App::noisyUntil).
  uint32_t noisyOutstanding = 0;
  // When EvictIdle was last sent (memory pressure).
  std::optional<Clock::time_point> evictSentAt;
  // From the last Pong.
  uint32_t isolatesLoaded = 0;
  uint64_t heapUsedBytes = 0;
  uint64_t heapLimitBytes = 0;
  double eventLoopLagMs = 0;
  bool probeOk = true;
  uint64_t cpuLimitTerminations = 0;
  uint64_t memoryLimitTerminations = 0;

  // ChannelHandler
  void onMessage(ipc::Envelope::Reader message) override;
  void onClosed(const std::string& reason) override;

 private:
  void protocolViolation(const std::string& what);

  uint32_t id_;
  WorkerEvents& events_;
  ChildProcess process_;
  std::unique_ptr<ipc::Channel> channel_;
  WorkerState state_ = WorkerState::kStarting;
  bool shutdownSent_ = false;
  Clock::time_point spawnedAt_;
  std::optional<Clock::time_point> readyAt_;
  std::unordered_set<uint64_t> outstanding_;
  uint64_t pingSeq_ = 0;
  std::optional<Clock::time_point> pingSentAt_;
  Clock::time_point lastPingAt_;
  std::string retireReason_;
  std::optional<Clock::time_point> stoppingSince_;
};

// The states the pool counts by.
// Serving: ready, taking requests and not being recycled.
inline bool isServing(const WorkerProcess& w) {
  return w.accepting() && !w.retiring();
}
// Active: starting or serving; what counts toward the pool's target.
inline bool isActive(const WorkerProcess& w) {
  return (w.state() == WorkerState::kStarting || w.state() == WorkerState::kReady) && !w.retiring();
}
// Alive: anything but lost (a lost worker waits only to be reaped).
inline bool isAlive(const WorkerProcess& w) {
  return w.state() != WorkerState::kLost;
}

}  // namespace isolated::supervisor
