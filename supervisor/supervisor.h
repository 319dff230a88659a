// The supervisor: owns the HTTP listener, the apps (AppRegistry: routes, deployments, per-app
// queues), the requests and the signal handling of one `isolated serve` run. It never runs
// JavaScript; it routes each request to its app, places it on one of the app's workers
// (Placement) and answers back, and drains on SIGTERM. The worker processes and their lives
// (spawning, recycling with the replacement ready first, health, memory, scaling, the rolling
// reload) are a WorkerPool's, which reads the server's stage through PoolHost; the apps'
// versions (deploys at runtime, reloads, the registry) are an AppLifecycle's, which reaches the
// pool and the queues through LifecycleHost. Both hosts are implemented here.
//
// Construction takes every dependency (event loop, config, logger, the worker command line), so
// tests can build one in-process. Single-threaded: everything runs on `base`'s loop.
//
// Request invariant: every accepted HTTP request is answered exactly once: by its worker's
// Response, or by the supervisor with 502 (worker lost), 503 (busy, queue timeout, shutdown) or
// 504 (wall-time limit). The request books (ids, requests in flight or reading their body,
// recent answers, subrequest counts) are a RequestTracker's; a request in flight leaves them only
// through its finish(), which calls releaseRequest() here once.
#pragma once

#include <event2/event.h>
#include <signal.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <variant>
#include <vector>

#include "common/bindings.h"
#include "common/clock.h"
#include "common/cron_schedule.h"
#include "common/event_handles.h"
#include "common/logger.h"
#include "common/serve_config.h"
#include "event/deadline_timer.h"
#include "event/dispatcher.h"
#include "supervisor/admin_server.h"
#include "supervisor/apps/app_lifecycle.h"
#include "supervisor/apps/app_registry.h"
#include "supervisor/apps/deploy_commands.h"
#include "supervisor/bindings/service_calls.h"
#include "supervisor/control_commands.h"
#include "supervisor/control_server.h"
#include "supervisor/cron_triggers.h"
#include "supervisor/fetch_client.h"
#include "supervisor/front/request_front.h"
#include "supervisor/http/http_limits.h"
#include "supervisor/http/http_request.h"
#include "supervisor/libevent_log.h"
#include "supervisor/pending_request.h"
#include "supervisor/pool/placement.h"
#include "supervisor/pool/worker_pool.h"
#include "supervisor/pool/worker_priorities.h"
#include "supervisor/request_metrics.h"
#include "supervisor/requests/request_queue.h"
#include "supervisor/requests/request_tracker.h"
#include "supervisor/script_snapshotter.h"
#include "supervisor/status.h"
#include "supervisor/storage/binding_service.h"
#include "supervisor/systemd_notifier.h"
#include "supervisor/watch/watch_reloads.h"
#include "supervisor/worker_process.h"

namespace isolated::supervisor {

class Supervisor : public front::FrontOwner,
                   public WorkerEvents,
                   public OperatorActions,
                   public AdminHandler,
                   private LifecycleHost,
                   private PoolHost,
                   private ServiceCallHost {
 public:
  using Clock = std::chrono::steady_clock;

  // `workerCommand` is the argv prefix that starts a worker (the binary and `__worker`); the
  // supervisor appends the script, limits and logging arguments. `snapshotCommand`, when not
  // empty, is the prefix that starts the script snapshot helper (the binary and
  // `__snapshot-script`; see ScriptSnapshotter), used when config.snapshotScript is on. Binds
  // the listener at once and throws std::runtime_error when it cannot.
  // Re-reads the config file for SIGHUP (with --config): the new config, or an error message.
  using ConfigReader = std::function<std::variant<ServeConfig, std::string>()>;

  Supervisor(event_base* base, const ServeConfig& config, std::vector<std::string> workerCommand,
             Logger& logger, std::vector<std::string> snapshotCommand = {},
             ConfigReader readConfig = {});
  ~Supervisor() override;

  // Spawns the pool and runs the loop until the server has stopped. Returns the exit code:
  // 0 after a drain, 1 when the pool could not start.
  int run();

  uint16_t port() const { return port_; }

  // OperatorActions (signals and the control socket; supervisor_control.cc).
  // Reload. With one script: a rolling reload, workers replaced one at a time by workers that
  // load the script again; the first replacement validates it; if it fails to load, the reload
  // is refused and the old workers keep serving. The --vars-file and --secrets-file are re-read
  // first; if they no longer load, the reload is refused. With --config: the file is read again
  // and only the difference applies (changed apps redeploy, new ones deploy, removed ones
  // undeploy); workers stay. Returns false (with `why`, when given) when a reload is already
  // running or not possible.
  bool beginReload(std::string* why = nullptr) override;
  size_t activeWorkers() const override { return pool_.count(isActive); }
  // Graceful recycle of one worker by id; false when there is no such serving worker.
  bool recycleWorker(uint32_t id, const std::string& reason) override;

  // Stops accepting and finishes what is in flight, like SIGTERM, but keeps running; resume()
  // accepts again. Both return a message for the operator, or nullopt when not possible.
  std::optional<std::string> pause() override;
  std::optional<std::string> resume() override;
  bool serving() const override { return phase_ == Phase::kServing; }
  // Sets the pool's target size (and moves the autoscaling bounds to include it).
  void scale(uint32_t workers) override;
  // Runs the script's scheduled handler once for `cron` (any valid expression), as if the
  // trigger had fired now: dispatched like a request (queue, limits, metrics). Returns an
  // error for the operator, or nullopt when it was dispatched or queued.
  // `app` may be empty on a single-script server.
  std::optional<std::string> triggerScheduled(const std::string& app,
                                              const std::string& cron) override;

  ServerStatus snapshot() const override;

  // AdminHandler and OperatorActions
  std::string metricsText() override;
  bool ready() override;

  // front::FrontOwner (supervisor_requests.cc)
  void onClientRequest(http::ClientRequest& request) override;
  void onRefused(int status, std::string_view why, const sockaddr_storage& peer) override;
  // The status and headers of the layer's own refusals (a RejectionShaper: any thread).
  static void shapeRejection(http::HttpRejection& rejection);

  // WorkerEvents
  void onWorkerReady(WorkerProcess& worker, ipc::Hello::Reader hello) override;
  void onWorkerLoadError(WorkerProcess& worker, ipc::LoadError::Reader error) override;
  void onWorkerAppLoaded(WorkerProcess& worker, ipc::AppLoaded::Reader loaded) override;
  void onWorkerAppEvicted(WorkerProcess& worker, ipc::AppEvicted::Reader evicted) override;
  void onWorkerResponse(WorkerProcess& worker, ipc::Response::Reader response) override;
  void onWorkerBodyChunk(WorkerProcess& worker, ipc::BodyChunk::Reader chunk) override;
  void onWorkerBodyCredit(WorkerProcess& worker, ipc::BodyCredit::Reader credit) override;
  void onWorkerLog(WorkerProcess& worker, ipc::Log::Reader log) override;
  void onWorkerPong(WorkerProcess& worker, ipc::Pong::Reader pong) override;
  void onWorkerLost(WorkerProcess& worker, const std::string& reason) override;
  void onWorkerFetchStart(WorkerProcess& worker, ipc::FetchStart::Reader start) override;
  void onWorkerFetchCredit(WorkerProcess& worker, ipc::FetchCredit::Reader credit) override;
  void onWorkerFetchAbort(WorkerProcess& worker, ipc::FetchAbort::Reader abort) override;
  void onWorkerFetchUpload(WorkerProcess& worker, ipc::FetchUpload::Reader upload) override;
  // Storage bindings (supervisor_bindings.cc).
  void onWorkerBindingCall(WorkerProcess& worker, ipc::BindingCall::Reader call) override;

 private:
  // kPaused: drained by the operator (ctl drain) but running; kDraining ends in kStopping.
  enum class Phase { kBooting, kServing, kPaused, kDraining, kStopping, kStopped };

  // LifecycleHost and PoolHost: the server's stage (stopping and stopped are kEnding).
  ServerStage stage() const override;
  // PoolHost: not while the script snapshot helper runs.
  bool reloadMayContinue() const override { return !snapshotter_ || !snapshotter_->busy(); }
  // LifecycleHost: what the apps' versions need of the pool and the queues.
  std::optional<uint32_t> validatorFor(const App& app) override;
  void preloadOn(uint32_t workerId, const Deployment& deployment) override;
  void preloadEverywhere(const Deployment& deployment) override;
  void restartWorkers() override;
  void versionSettled(bool serves) override;
  // A script snapshot helper has ended: the pool (at boot) or the reload may go on.
  void onScriptSnapshotDone();

  // Requests.
  friend class ClientLink;
  // RequestTracker::finish() calls releaseRequest().
  friend class requests::RequestTracker;
  // Bodies up to this size (by Content-Length) are read whole before admission and travel
  // inside RequestStart; larger and chunked ones stream.
  static constexpr uint64_t kInlineBodyBytes = 64u << 10;
  // Routing and admission of an HTTP request whose head (and inline body) is complete.
  void routeRequest(PendingRequest&& request);
  // The layer's callbacks for request `id` (through its ClientLink).
  void onClientBody(uint64_t id, std::string_view data);
  void onClientBodyEnd(uint64_t id);
  void onClientWritable(uint64_t id);
  void onClientGone(uint64_t id, http::GoneReason reason);
  // The only ways a request is answered: both record metrics and the access log.
  // A request whose streamed response has begun can no longer get an error status: its client
  // connection is closed instead, so the client sees a truncated body.
  void replyError(PendingRequest& request, int status, std::string_view kind,
                  std::string_view message, int retryAfterSec = 0) override;
  void replyFromWorker(PendingRequest& request, const WorkerProcess& worker,
                       ipc::Response::Reader response);
  void recordAnswer(const PendingRequest& request, int status, uint32_t workerId) override;
  std::string newRequestId() override;
  // Admission of a request routed to `app` (HTTP or scheduled): dispatched now, queued in the
  // app's queue, or answered 503 (the app's or the server's bound is reached).
  void admit(PendingRequest&& request) override;
  // Requests one worker holds at once, and requests of one app deployment on one worker:
  // context/isolate isolation holds one at a time per app, since a fresh state per request
  // would be shared otherwise.
  uint32_t workerCapacity() const { return config_.workerQueueSize; }
  static uint32_t appCapacity(const Deployment& deployment, uint32_t workerCapacity);
  bool tryAssign(PendingRequest& request);
  void sendToWorker(WorkerProcess& worker, PendingRequest& request);
  // Sends LoadApp for `deployment` unless the worker has it already.
  void defineApp(WorkerProcess& worker, const Deployment& deployment, bool preload);
  // Sends UnloadApp for `deployment` to every worker that has it (defined or forgotten).
  void unloadEverywhere(uint32_t deployment) override;
  // After the worker evicted `deployment`'s isolate: ForgetApp, unless a request for it is
  // outstanding there (ipc/protocol.h rule 21).
  void forget(WorkerProcess& worker, uint32_t deployment);
  WorkerProcess* findWorker(uint32_t id) override;
  // Streams: relaying the response body, credited back to the worker as the client takes it.
  void startStreamedResponse(PendingRequest& request, ipc::Response::Reader response);
  void creditResponse(PendingRequest& request);
  // The answer has ended (or the client is gone): the layer's request is no longer ours.
  static void release(PendingRequest& request);
  // The client of queued request `id` left: the request leaves the queue unanswered.
  void dropQueued(uint64_t id);
  // The address requests without a Host header are given in their URL (HOST:PORT).
  const std::string& listenAddress() const { return listenAddress_; }
  // Ends request `id` in flight (through requests_.finish(), the only way one ends).
  void finishRequest(uint64_t id, requests::RequestEnding ending) override {
    requests_.finish(id, ending, *this);
  }
  // RequestTracker's owner: gives back what a request that ended held. Its app's count always.
  // Answered or cancelled: its worker's slot, then the queue may move and a drain may end;
  // answered, it counts toward --max-requests; cancelled, the worker gets RequestCancel and the
  // request's fetches fail with "fetch() cancelled: " + cancelReason (ipc/protocol.h rule 12).
  // Worker lost or forced stop: the caller clears the worker accounting whole and pumps once.
  void releaseRequest(const requests::FinishedRequest& done);
  // Dispatches queued requests, taking apps in turn so that one app's full queue never holds
  // another's back.
  void pumpQueue();
  // queueTimer_'s callback: queued requests past --queue-timeout get 503, at their deadline.
  void expireQueue();
  // Answers every queued request of `app` with `status` and `kind`.
  void failQueue(App& app, int status, std::string_view kind, const std::string& message) override;
  // wallTimer_'s callback: requests in flight past their wall limit get 504, at their deadline.
  void expireInFlight();
  // Takes `request` in flight (requests_.start()) with its wall deadline on wallTimer_.
  PendingRequest& startInFlight(PendingRequest&& request) override;
  // How long a worker counts as used by an app after that app's last request was sent to it
  // (WorkerProcess::appLastSent): long enough that a light app between two requests still owns
  // its worker, short enough that a worker an app has left becomes a spare within a second.
  static constexpr auto kNeighbourWindow = std::chrono::seconds(1);
  // Drops appLastSent entries past kNeighbourWindow with nothing outstanding.
  void forgetIdleNeighbours(Clock::time_point now);

  // A Scheduled event for `app` (a cron trigger that fired, or `ctl trigger-cron`).
  void dispatchScheduled(App& app, const std::string& cron, double scheduledTimeMs);
  // `command` with the arguments every worker gets from the config (logging, snapshots).
  static std::vector<std::string> workerArguments(std::vector<std::string> command,
                                                  const ServeConfig& config);
  // The single-script server's app (only with one app and no --config or --registry).
  App* singleApp() { return lifecycle_->singleApp(); }
  void maybeFinishBoot();
  // Outbound fetch (supervisor_fetch.cc). Fetches started per parent request are counted by
  // requests_ for --max-subrequests; a count outlives its request (waitUntil work may still
  // fetch) until no fetch of it can still be running: the parent is answered and its last fetch
  // started more than the fetch timeout ago (pruneSubrequests).
  void sendFetchMessage(uint32_t workerId, capnp::MessageBuilder& message) override;
  void pruneSubrequests(Clock::time_point now);
  // Whether request `parentId` is (or was: waitUntil() work) held by worker `workerId` for
  // deployment `deployment`: the check every fetch and binding call of a worker passes.
  bool holdsRequest(uint32_t workerId, uint32_t deployment, uint64_t parentId) const {
    return requests_.holds(workerId, deployment, parentId);
  }

  // Storage bindings (supervisor_bindings.cc).
  // Registers the deployment's storage bindings (opening their backends); an error message
  // when one cannot be opened.
  std::optional<std::string> registerBindings(const Deployment& deployment) override;
  // The names and kinds of the deployment's storage and service bindings, into its LoadApp.
  static void describeBindings(const Deployment& deployment, ipc::LoadApp::Builder load);

  // ServiceCallHost (services_'s view of this server; supervisor_fetch.cc).
  const std::vector<ServiceBindingSpec>* serviceBindingsOf(uint32_t deployment) override;
  App* serviceTarget(const std::string& name) override;
  void refuseFetch(uint32_t workerId, uint64_t fetchId, const std::string& message) override;
  void abandonQueued(App& app, uint64_t id) override;

  // Lifecycle.
  void onSignal(int signal);
  void reapChildren();
  void housekeeping();
  void beginDrain();
  void checkDrained();
  void stopWorkers();
  void forceStop(const std::string& why);
  void finishIfStopped();
  // LifecycleHost and PoolHost.
  void failBoot(const std::string& reason) override;

  event_base* base_;
  const ServeConfig& config_;
  Logger& logger_;
  LibeventLogRoute libeventLog_;
  event::Dispatcher dispatcher_;
  // Deadlines (docs/architecture.md, "Deadlines") are read through clock_.
  SystemClock systemClock_;
  const isolated::Clock& clock_ = systemClock_;
  http::HttpLimits httpLimits_;
  // The request path's listeners and connections (supervisor/front/): on this loop, or on
  // --io-threads threads that relay each request to it.
  std::unique_ptr<front::RequestFront> front_;
  // Set while the destructor closes the server: the layer's "gone" calls are ignored then.
  bool destroying_ = false;
  uint16_t port_ = 0;
  std::string listenAddress_;
  ConfigReader readConfig_;
  AppRegistry apps_;
  // Apps spread into spare workers, not onto their neighbours' (issue 13).
  Placement placement_{Placement::kDefaultSpreadThreshold, SpreadPolicy::kOntoIdle};
  // --background-heavy-apps: workers only heavy apps use yield the CPU to the others' (issue 13).
  WorkerPriorities priorities_{config_.backgroundHeavyApps, placement_.spreadThreshold(), logger_};
  // Request ids the client did not send.
  std::mt19937_64 random_;

  Phase phase_ = Phase::kBooting;
  int exitCode_ = 0;
  Clock::time_point startedAt_;
  uint64_t housekeepingTicks_ = 0;
  RequestMetrics metrics_;
  SystemdNotifier notifier_;
  // The control socket's commands, and the socket (after them: closed first).
  std::unique_ptr<ControlCommands> controlCommands_;
  std::unique_ptr<ControlServer> control_;
  std::unique_ptr<AdminServer> admin_;
  // Null when --snapshot-script is off.
  std::unique_ptr<ScriptSnapshotter> snapshotter_;

  // The workers (made with the command the constructor completes).
  WorkerPool pool_;
  // After pool_: declared later, destroyed first, it never sends to a destroyed worker.
  std::unique_ptr<FetchClient> fetch_;
  // Storage bindings of every app; made with the first deployment that has one (no threads
  // otherwise). After pool_ for the same reason as fetch_.
  std::unique_ptr<storage::BindingService> storage_;
  // Calls through service bindings (the depth of service requests is remembered by requests_,
  // so that waitUntil() work of a callee is still counted toward the depth). After pool_ for
  // the same reason as fetch_; it keeps references to requests_, metrics_ and logger_ and uses
  // none of them while constructed or destroyed.
  ServiceCalls services_{*this, requests_, metrics_, logger_};
  // Scratch space for placement, reused.
  std::vector<PlacementCandidate> candidates_;
  std::vector<PlacementRank> ranks_;
  // Request ids, requests in flight and reading their inline body, the recent answers (so that
  // lines their waitUntil() work logs after the answer still carry the client-visible id, and
  // fetches it starts are checked against the worker and deployment that held the request),
  // subrequest counts and service depths.
  requests::RequestTracker requests_;
  // Scratch space for an answer's headers, reused.
  std::vector<http::HttpHeader> answerHeaders_;
  // Requests admitted and waiting for a worker: every app's queue, the apps' turns, and the
  // total that --queue-size bounds.
  requests::RequestQueue queue_;
  // Queues `request` in its app's queue, with its queue deadline on queueTimer_.
  void enqueue(App& app, PendingRequest&& request);
  // One timer for the earliest wall deadline of the requests in flight (kept by requests_) and
  // one for the earliest queue deadline (the front of each waiting app's queue, which is its
  // earliest).
  event::DeadlineTimer wallTimer_{dispatcher_, clock_, [this] { expireInFlight(); }};
  event::DeadlineTimer queueTimer_{dispatcher_, clock_, [this] { expireQueue(); }};
  std::vector<uint64_t> expiredScratch_;

  CronTriggers cron_{dispatcher_, apps_, logger_,
                     [this](App& app, const std::string& cron, double scheduledTimeMs) {
                       dispatchScheduled(app, cron, scheduledTimeMs);
                     }};
  // The apps' versions (deploys, reloads, the registry) and the operator's deploy commands.
  // Made once the script snapshotter is; destroyed before everything above.
  std::unique_ptr<AppLifecycle> lifecycle_;
  std::unique_ptr<DeployCommands> deployCommands_;
  Clock::time_point drainStartedAt_;

  std::vector<std::unique_ptr<event::SignalEvent>> signalEvents_;
  event::PeriodicTimer housekeepingTimer_{dispatcher_, [this] { housekeeping(); }};
  event::Timer drainTimer_{dispatcher_, [this] { forceStop("drain timeout"); }};
  // --watch: the apps' files, and the reloads their changes make.
  std::unique_ptr<watch::WatchReloads> watch_;
};

}  // namespace isolated::supervisor
