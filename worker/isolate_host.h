// The JavaScript host of one app deployment in a worker: one persistent isolate with one script
// context, serving every request of that app and interleaving those that await timers. The
// IsolateRegistry owns one per live app; apps share nothing here but the worker's CPU watchdog
// and its channel. It enforces the
// per-request limits and replaces what a limit breach leaves behind:
//
//  - CPU: every entry into JavaScript (a dispatch, a timer, a probe) is one *turn*: the call
//    plus the microtask checkpoint after it, under one CpuSlice of --cpu-limit-ms. A turn the
//    watchdog terminates answers the request that was running 503 `cpu-limit`. In `shared`
//    isolation that is all, when the watchdog could stop the JavaScript inside the script's
//    own code, outside a microtask checkpoint (the host's StopSiteGate defers the stop up to
//    kStopDeferral to find such a point): the request's work ends
//    (timers, fetches, waitUntil), the context and the other requests in it carry on.
//    Otherwise (the stop landed in the runtime's code, or in a checkpoint, where V8 drops every
//    queued promise job, other requests' too; and always in context/isolate isolation) the
//    context is rebuilt (runtime and script loaded again).
//  - Heap: when the isolate nears its heap limit its JavaScript is terminated; the running
//    request gets 503 `memory-limit` and the whole isolate is replaced with a fresh one.
//  - A rebuild discards every other request in flight in the context: one that has not begun
//    its response, started a fetch or streamed its request body is run again in the new
//    context (once); the others get 503 `context-reset` at once.
//
// A request's lifetime (docs/limits.md): it ends when it is answered and its waitUntil() work
// has settled, or --wait-until-timeout after its answer (the work is then abandoned). Its
// timers, intervals and outbound fetches end with it; a timer or fetch it starts later is
// refused. Timers set by the script's top level (request 0) live as long as the context.
//
// The running request is the turn's own (dispatch), the one a timer was set for, or, for a
// promise job, the request whose id V8 carried into it as continuation-preserved embedder data.
// When none is known, or it has already been answered, every request in flight gets
// `context-reset`.
//
// Threading: everything here runs on the worker's event-loop thread; the CpuWatchdog's thread
// only ever calls TerminateExecution.
// Invariant: each dispatched request id gets at most one Response through the Outbox, and
// exactly one unless it was cancelled: the handler's answer, a runtime error, or a limit reply.
// Scheduled events (cron) are requests too: same ids, same limits, one Response each.
//
// waitUntil(): promises a handler registers stay alive after its Response. The host counts
// them per context (backgroundTasks()); a shutting-down worker waits for them. With
// --isolation context|isolate the state they need must survive: a request that arrives while
// they are pending is held back until they settle, or until waitUntilTimeout after the
// Response, when the work is cancelled (the state is refreshed) and that is logged.
#pragma once

#include <event2/event.h>
#include <v8.h>

#include "common/event_handles.h"
#include "common/isolation_mode.h"

#include <capnp/message.h>
#include <kj/function.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "ipc/messages.capnp.h"
#include "worker/binding_calls.h"
#include "worker/body_streams.h"
#include "worker/cpu_watchdog.h"
#include "worker/outbound_fetches.h"
#include "worker/outbox.h"
#include "worker/owned_isolate.h"
#include "worker/response_writer.h"
#include "worker/runtime_host.h"
#include "worker/script_context.h"
#include "worker/script_loader.h"
#include "worker/spare_isolate.h"
#include "worker/startup_snapshot.h"
#include "worker/stop_site_gate.h"
#include "worker/timer_queue.h"
#include "worker/wait_until_deadlines.h"

namespace isolated::worker {

// The default of --wait-until-timeout: how long a request's waitUntil() work may run after its
// Response (and, with --isolation context|isolate, delay a fresh context), as Cloudflare
// Workers allows after a response.
constexpr std::chrono::seconds kWaitUntilGrace{30};

struct HostOptions {
  // The app deployment (LoadApp.app) whose script this host runs; named in its Log messages.
  uint32_t app = 0;
  std::string scriptPath;
  // The app's script files and V8 code caches, and its fetch id sequence: owned by the app's
  // definition so they outlive the host (evictions, rebuilds). Not owned; must outlive it.
  SourceCache* sources = nullptr;
  FetchIdSequence* fetchIds = nullptr;
  // The app's storage binding call ids (BindingCall.callId), kept like fetchIds.
  FetchIdSequence* callIds = nullptr;
  size_t heapLimitBytes = 128u << 20;
  // CPU time one turn of JavaScript may use.
  std::chrono::milliseconds cpuLimit{50};
  // How long a request's waitUntil() work may run after its answer (--wait-until-timeout).
  std::chrono::milliseconds waitUntilTimeout{kWaitUntilGrace};
  // CPU time for loading the runtime and evaluating the script's top level, at start-up and
  // on every rebuild. Compilation is charged too, hence the larger budget.
  std::chrono::milliseconds startupCpuLimit{2000};
  // Console lines are dropped (and counted) while more than this is queued for the supervisor.
  size_t logBacklogBytes = 1u << 20;
  // context/isolate: every request after the first runs in a freshly loaded context (or
  // isolate). The supervisor sends such a worker one request at a time.
  IsolationMode isolation = IsolationMode::kShared;
  // Every isolate (the first, rebuilds, and one per request in `isolate` mode) is created from
  // this snapshot, and every context from its runtime context. Null: no snapshot, the runtime
  // and the script are evaluated into each new context. Not owned; must outlive the host.
  StartupSnapshot* snapshot = nullptr;
  // V8's default platform, told of every isolate the host disposes (see OwnedIsolate).
  v8::Platform* platform = nullptr;
  // The worker's shared isolate (--shared-isolate): the host then makes only its context in it,
  // never an isolate of its own; `snapshot` and `heapLimitBytes` are the shared isolate's. A
  // heap-limit breach there fails the host (the failure callback), and its owner replaces the
  // shared isolate with every app in it. `isolate` isolation acts as `context`.
  std::shared_ptr<OwnedIsolate> sharedIsolate;
  // A blank isolate made ahead (worker/spare_isolate.h) with `snapshot` and `heapLimitBytes`:
  // the host's first isolate and context, instead of making them. Rebuilds make their own.
  std::unique_ptr<SpareIsolate> spare;
};

struct HeapStats {
  uint64_t usedBytes = 0;
  uint64_t totalBytes = 0;
  uint64_t limitBytes = 0;
  uint64_t externalBytes = 0;
};

// Reported in Pong's AppUsage, per app; reset by takeUsage().
struct HostUsage {
  std::chrono::nanoseconds cpu{0};  // charged to the app's turns (CpuSlice::used)
  uint32_t cpuLimitTerminations = 0;
  uint32_t memoryLimitTerminations = 0;
};

// Reported in Pong.
struct HostCounters {
  uint64_t requestsServed = 0;  // RequestStarts dispatched, whatever their outcome
  uint64_t cpuLimitTerminations = 0;
  uint64_t memoryLimitTerminations = 0;
  uint64_t rebuilds = 0;  // contexts and isolates rebuilt
};

inline HostUsage& operator+=(HostUsage& into, const HostUsage& more) {
  into.cpu += more.cpu;
  into.cpuLimitTerminations += more.cpuLimitTerminations;
  into.memoryLimitTerminations += more.memoryLimitTerminations;
  return into;
}

inline HostCounters& operator+=(HostCounters& into, const HostCounters& more) {
  into.requestsServed += more.requestsServed;
  into.cpuLimitTerminations += more.cpuLimitTerminations;
  into.memoryLimitTerminations += more.memoryLimitTerminations;
  into.rebuilds += more.rebuilds;
  return into;
}

class IsolateHost final : public RuntimeHost {
 public:
  // `watchdog` must outlive the host; it measures the thread this host runs on.
  IsolateHost(event_base* base, Outbox& outbox, CpuWatchdog& watchdog, HostOptions options);
  ~IsolateHost();
  IsolateHost(const IsolateHost&) = delete;
  IsolateHost& operator=(const IsolateHost&) = delete;

  // Called (from the event loop) when the last pending waitUntil() promise has settled.
  void setBackgroundIdleCallback(std::function<void()> callback) {
    backgroundIdle_ = std::move(callback);
  }
  // Called (from the event loop or from inside a turn) when the host can no longer load its
  // script (a rebuild failed); the owner must then destroy it, but not from inside the call.
  void setFailureCallback(std::function<void(const ScriptError&)> callback) {
    onFailed_ = std::move(callback);
  }
  // The script's environment (from LoadApp); set before load(), kept for every rebuild.
  void setBindings(std::vector<ScriptBinding> bindings) { bindings_ = std::move(bindings); }
  // Installs the runtime and evaluates the script. Returns the error when it cannot be loaded.
  std::optional<ScriptError> load();

  // Runs the script's fetch handler for one request. The response goes out through the Outbox,
  // now or when the handler's promise settles.
  void dispatch(ipc::RequestStart::Reader request);
  // Runs the script's scheduled handler; answered through the Outbox like a request.
  void dispatchScheduled(ipc::Scheduled::Reader event);
  // Call before dispatch(): with --isolation context|isolate and waitUntil() work pending, the
  // request (a RequestStart or Scheduled envelope) waits, a copy of it is kept, and true is
  // returned; it is dispatched once the work settles or its grace time ends.
  bool holdIfBackground(ipc::Envelope::Reader envelope);
  // Forgets `id`: no Response will be sent for it, whatever its handler does later. A request
  // still in flight then has its Request's signal aborted (an AbortError), in a turn of its own.
  void cancel(uint64_t id);
  // FetchHead, FetchBody or FetchFailed from the supervisor: settles the fetch's promises in a
  // turn run in the name of the request that started it. Ignored for fetches the current
  // context does not hold.
  void onFetchMessage(ipc::Envelope::Reader message);
  // BindingResult from the supervisor: settles the call's promise in a turn run in the name of
  // the request that made it; ignored for calls the current context does not hold.
  void onBindingResult(ipc::BindingResult::Reader result);
  // Streamed bodies from the supervisor: a request-body chunk, response-body credit. False
  // when the message breaks the protocol (more than the window).
  bool bodyChunk(ipc::BodyChunk::Reader chunk);
  void bodyCredit(ipc::BodyCredit::Reader credit);
  // Runs a tiny pre-compiled script under the CPU limit: true when the isolate still executes
  // JavaScript and gets the right answer.
  bool probe();
  // Runs the foreground tasks V8 has posted for the isolate (see LoopNotifyingPlatform) as one
  // turn; `platform` is V8's default platform, which owns the task queues.
  void runPlatformTasks(v8::Platform& platform);

  size_t inFlight() const { return (context_ ? context_->requestCount() : 0) + held_.size(); }
  // Pending waitUntil() promises in the current context.
  size_t backgroundTasks() const { return context_ ? context_->waitUntilCount() : 0; }
  // Timers (and intervals) pending in the current context.
  size_t timersPending() const { return timers_.size(); }
  // Logs and abandons the pending waitUntil() work (a shutdown deadline has come).
  void abandonBackground(const std::string& why);
  // Answers every request the host holds (in flight or held back) with runtime error `kind`;
  // before the host is destroyed with requests still in it.
  void failAll(std::string_view kind, const std::string& detail);
  HeapStats heapStats();
  // Gives back what an idle isolate's heap can spare: a full, compacting GC that also shrinks
  // the young generation to its minimum and uncommits its other half (V8's
  // LowMemoryNotification). A few ms of CPU; nothing in the context changes. Does nothing for a
  // context of the shared isolate (the registry never asks). Not while JavaScript runs.
  void releaseMemory();
  const HostCounters& counters() const { return counters_; }
  // What the app used since the last call.
  HostUsage takeUsage() { return std::exchange(usage_, HostUsage{}); }
  uint64_t droppedLogLines() const { return writer_.droppedLogLines(); }
  // The isolate (it changes when a heap-limit breach replaces it, and per request in `isolate`
  // isolation).
  v8::Isolate* isolate() const { return isolate_ ? isolate_->get() : nullptr; }
  // Whether the host's context lives in the worker's shared isolate.
  bool sharesIsolate() const { return options_.sharedIsolate != nullptr; }
  // True once a rebuild failed to load the script again. The host then answers every request
  // 503 `app-failed` and has called the failure callback.
  bool failed() const { return failed_; }

 private:
  // How a turn ended, read before its scopes close.
  struct TurnEnd {
    bool terminated = false;
    bool watchdogFired = false;
    uint64_t runningRequest = 0;
    StopSiteGate::Site site = StopSiteGate::Site::kNone;
  };
  // What a turn runs in the context: a call into JavaScript, before the microtask checkpoint.
  using TurnBody = kj::FunctionParam<void(v8::Local<v8::Context>, v8::TryCatch&)>;

  // A CPU stop in the script's own code (shared isolation): only the running request fails.
  void containTermination(uint64_t running);
  // Whether request `id` still lives: in flight, waitUntil() work pending, or answered so
  // recently that the end of its work has not been processed yet.
  bool requestAlive(uint64_t id) const;
  // The request was answered (or cancelled): its work ends now, or once its waitUntil() work
  // settles or times out.
  void requestAnswered(uint64_t id);
  // Ends what request `id` still has going: timers, intervals, outbound fetches.
  void endRequestWork(uint64_t id);
  void processEndedRequests();
  // Forgets the request bookkeeping of the context about to be discarded, and ends what that
  // context had going: its timers, outbound fetches and binding calls.
  void forgetContextWork();
  // shared isolation: the waitUntil() work of these answered requests has run out of time.
  void onWaitUntilExpired(const std::vector<uint64_t>& ids);
  // Runs the requests a rebuild took from the old context again, in the new one.
  void replay(std::vector<std::unique_ptr<capnp::MallocMessageBuilder>> requests);
  // `firstRun`: false when a rebuild runs the request again (it is then neither counted again
  // nor kept for another run).
  void dispatchRequest(ipc::RequestStart::Reader request, bool firstRun);

  // Runs `body(context, tryCatch)` and then the microtask checkpoint as one turn in the current
  // context, with `requestId` (0: none) as the embedder data that names the request, and
  // handles whatever limit the turn hit.
  void runTurn(uint64_t requestId, TurnBody body);
  void endTurn(const TurnEnd& end);
  // Answers every request in flight in the current context: `running` with `kind`, the rest
  // with `context-reset`, and logs why: `limit` was exceeded, with `consequence`.
  // Requests that can run again (see above) are not answered but returned.
  std::vector<std::unique_ptr<capnp::MallocMessageBuilder>> abandonRequests(
      uint64_t running, std::string_view kind, const std::string& limit,
      const std::string& consequence, bool allowReplay = true);
  // Replaces the context (and, with `newIsolate`, the isolate) with a freshly loaded one.
  void rebuild(bool newIsolate);
  // A new isolate from the snapshot (if any), with this host attached.
  std::shared_ptr<OwnedIsolate> makeIsolate();
  // --isolation context|isolate: fresh state for the next request, with no GC and no log line
  // (it happens on every request).
  void refreshForRequest();
  // After the runtime's dispatch entry point returned `result` for `id`: when it threw (not a
  // termination) and `id` is still unanswered, answers it 500 `script-threw`.
  void failIfThrew(uint64_t id, v8::MaybeLocal<v8::Value> result, v8::Local<v8::Context> context,
                   v8::TryCatch& tryCatch);
  std::optional<ScriptError> createContext();
  void markFailed(const ScriptError& error);

  // Common start of a request or scheduled event: refreshes state if the isolation mode asks
  // for it, and registers `id`. False when the request cannot run (it has been answered).
  // `counted`: false for a request run again after a rebuild (it was counted the first time).
  bool beginRequest(uint64_t id, bool counted = true);
  void releaseHeld();
  void onGraceExpired();
  void armGraceIfBackground();

  void fireTimer(uint64_t timerId, uint64_t requestId, const v8::Global<v8::Value>& record);
  // RuntimeHost, for NativeBindings: answers for ids no longer in flight are dropped.
  void respond(uint64_t id, uint16_t status, v8::Local<v8::String> headerText,
               v8::Local<v8::Value> body) override;
  void fail(uint64_t id, const std::string& kind, const std::string& detail) override;
  void log(int level, const std::string& message, uint64_t requestId) override;
  uint64_t addTimer(double delayMs, bool repeat, uint64_t requestId,
                    v8::Local<v8::Value> record) override;
  void cancelTimer(uint64_t id) override { timers_.cancel(id); }
  void waitUntilBegin(uint64_t id) override;
  void waitUntilEnd(uint64_t id) override;
  void runtimeWorkBegin() override { watchdog_.beginRuntimeWork(); }
  void runtimeWorkEnd() override { watchdog_.endRuntimeWork(); }
  OutboundFetches* fetches() override { return &fetches_; }
  BindingCalls* bindingCalls() override { return &bindingCalls_; }
  bool startResponse(uint64_t id, uint16_t status, v8::Local<v8::String> headerText) override;
  void readBody(uint64_t id, v8::Local<v8::Promise::Resolver> done) override;
  void readBodyAll(uint64_t id, bool asText, v8::Local<v8::Promise::Resolver> done) override;
  void writeBody(uint64_t id, v8::Local<v8::Value> bytes,
                 v8::Local<v8::Promise::Resolver> done) override;
  void endBody(uint64_t id, bool aborted) override;
  // A runtime error for `id`: its Response, or, when its streamed response has begun, the
  // aborted end of that body.
  void answerError(uint64_t id, std::string_view kind, const std::string& detail);
  // Runs a turn that settles the body promises of `id` that can now settle.
  void settleBodies(uint64_t id);
  // The request is complete: forget it and its streams.
  void complete(uint64_t id);

  event_base* base_;
  ResponseWriter writer_;
  CpuWatchdog& watchdog_;
  HostOptions options_;
  SourceCache& sources_;
  TimerQueue timers_;
  // The current context's fetches; cleared (and aborted) whenever the context goes.
  OutboundFetches fetches_;
  // The current context's storage binding calls; cleared with fetches_.
  BindingCalls bindingCalls_;
  // Holds promise resolvers of context_: cleared before context_ is replaced.
  BodyStreams streams_;
  // shared isolation: the deadlines of answered requests with waitUntil() work.
  WaitUntilDeadlines waitUntilDeadlines_;
  std::unique_ptr<v8::ArrayBuffer::Allocator> allocator_;
  // A spare's allocator, kept as long as the spare's isolate may live (declared before it).
  std::unique_ptr<v8::ArrayBuffer::Allocator> spareAllocator_;
  // Declared in this order so that the context goes before its isolate, and the isolate
  // before the allocator its array buffers use.
  // Owned alone, or shared with the other hosts of a --shared-isolate worker.
  std::shared_ptr<OwnedIsolate> isolate_;
  std::unique_ptr<ScriptContext> context_;
  // Decides where the watchdog may stop a turn of context_ (declared after it: reads it).
  StopSiteGate stopGate_{context_};
  // The spare's context until createContext() takes it.
  std::unique_ptr<ScriptContext> spareContext_;
  HostCounters counters_;
  HostUsage usage_;
  // Whether the current context has served a request since it was loaded.
  bool contextUsed_ = false;
  std::vector<ScriptBinding> bindings_;
  // Requests held back while waitUntil() work keeps the used state alive (context/isolate
  // modes; the supervisor sends those one at a time, so this holds at most a few).
  std::deque<std::unique_ptr<capnp::MallocMessageBuilder>> held_;
  // Releases held_ from the event loop: never from inside JavaScript, whose context a
  // refresh would destroy.
  EventPtr releaseEvent_;
  std::function<void()> backgroundIdle_;
  // waitUntilTimeout after a Response with waitUntil() work pending (context/isolate modes).
  EventPtr graceTimer_;
  bool failed_ = false;
  std::function<void(const ScriptError&)> onFailed_;

  // The timer whose callback the current turn runs (0: none).
  uint64_t firingTimer_ = 0;
  // Requests stopped for their CPU time in the current context: promise jobs they queued before
  // the stop still run (V8 cannot drop them alone), but nothing they do is seen: no log line,
  // timer, fetch or answer. Cleared with the context.
  std::unordered_set<uint64_t> killed_;
  // shared isolation: a copy of each request in flight that could run again after a rebuild
  // (its body arrived whole), until it begins its response or starts a fetch. Made when the
  // request's first turn ends unanswered (a rebuild within that turn cannot replay it anyway).
  std::unordered_map<uint64_t, std::unique_ptr<capnp::MallocMessageBuilder>> replayable_;
  // Answered requests whose work is to end at the next loop iteration (never from inside
  // JavaScript: a fetch or stream may be on the stack).
  std::vector<uint64_t> endedRequests_;
  EventPtr endEvent_;
};

}  // namespace isolated::worker
