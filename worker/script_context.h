// One V8 context with the runtime (worker/js/) and the user's script loaded into it: the runtime's
// entry points, the context's own microtask queue, a pre-compiled health probe, and the ids of
// the requests whose answers can only come from inside this context.
//
// The context starts either empty (the runtime is then evaluated into it) or as a copy of the
// runtime's context in the isolate's startup snapshot (see worker/startup_snapshot.h), which
// may hold the user's script too. Either way, the runtime's initContext() runs first, so state
// that must differ between contexts (performance.timeOrigin) is never the snapshot's.
//
// Rebuilding the script's state means destroying this object and creating a new one.
//
// Microtasks on termination (checked against libnode's V8 10.2): when TerminateExecution hits
// a call, the promise jobs queued before it stay queued and would run at the next checkpoint,
// in the abandoned state; when it hits a checkpoint, V8 drops the rest of that queue. So the
// context gets its own v8::MicrotaskQueue, and the destructor detaches the context
// (DetachGlobal, which also unhooks the queue: V8 then skips any job of this context) before
// the queue is freed. Nothing a terminated script queued can run afterwards, in the old
// context or the new one.
//
// Unhandled rejections: V8's promise reject callback (set on the isolate by every ScriptContext)
// finds the promise's ScriptContext through the context's embedder data and keeps the promise
// while it has no handler; runMicrotasks() hands those still unhandled after the checkpoint
// to the runtime's notifyRejection() (the global `unhandledrejection` event, then a log line).
//
// Lifetime: owned by IsolateHost and destroyed before its isolate. Threading: loop thread only.
#pragma once

#include <v8.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "worker/script_loader.h"

namespace isolated::worker {

// What the startup snapshot an isolate was created from holds.
enum class SnapshotContents {
  kNone,               // no snapshot: contexts start empty
  kBuiltins,           // the runtime, evaluated; the user's script is evaluated per context
  kBuiltinsAndScript,  // the runtime and the user's script, both evaluated
};

// The context the snapshot builders add (SnapshotCreator::AddContext), and the index of the
// runtime's entry points object in its data (SnapshotCreator::AddData).
constexpr size_t kRuntimeContextIndex = 0;
constexpr size_t kEntryPointsDataIndex = 0;

// Evaluates the runtime (worker/js/) in `context` (entered) with fresh native bindings; returns the
// entry points object it hands back. On failure an exception is pending in the caller's
// TryCatch.
v8::MaybeLocal<v8::Object> evaluateRuntime(v8::Isolate* isolate, v8::Local<v8::Context> context);

// Hands what loadScript() loaded to the runtime: a module's default export becomes the handler;
// a classic script must have added a fetch listener. `entryPoints` is evaluateRuntime's result.
std::optional<ScriptError> registerHandler(v8::Isolate* isolate, v8::Local<v8::Context> context,
                                           v8::Local<v8::Object> entryPoints,
                                           const LoadResult& loaded, const std::string& path);

// One binding of the script's environment, as received in Configure.
struct ScriptBinding {
  std::string name;
  std::string value;
  bool json = false;  // `value` is JSON text
  // A resource binding's kind: "kv", "database", "storage" (storage bindings) or "service"
  // (a service binding); empty for a variable or secret. The runtime builds the binding's
  // object (worker/js/storage_bindings.js); `value` is unused.
  std::string resource;
};

class ScriptContext {
 public:
  // Creates the context with its own microtask queue: empty, or the runtime's context from the
  // isolate's startup snapshot when `snapshot` is not kNone.
  ScriptContext(v8::Isolate* isolate, SnapshotContents snapshot);
  // Detaches the context from its queue, releases every handle, then frees the queue.
  ~ScriptContext();
  ScriptContext(const ScriptContext&) = delete;
  ScriptContext& operator=(const ScriptContext&) = delete;

  // Installs the runtime (unless installRuntime() did), gives it `env`, then evaluates the
  // script at `path` (a classic script sees every binding as a global) unless the snapshot holds
  // it already. Call once, inside a JsScope for global().
  std::optional<ScriptError> load(const std::string& path, SourceCache& sources,
                                  const std::vector<ScriptBinding>& env);
  // Only installs the runtime (the first half of load()), for hosts that load their own code,
  // such as `isolated test`, and for spare contexts that load their app later. Call once,
  // inside a JsScope for global().
  std::optional<ScriptError> installRuntime();

  // False when V8 could not deserialise the context from the snapshot; nothing else may be
  // called then.
  bool created() const { return !context_.IsEmpty(); }
  const v8::Global<v8::Context>& global() const { return context_; }
  // The runtime's entry points; valid after a successful load(), inside a JsScope.
  v8::Local<v8::Function> dispatchFunction() const { return dispatch_.Get(isolate_); }
  v8::Local<v8::Function> fireTimerFunction() const { return fireTimer_.Get(isolate_); }
  v8::Local<v8::Function> dispatchScheduledFunction() const {
    return dispatchScheduled_.Get(isolate_);
  }
  // abortRequest(id): aborts the signal of an incoming request the host cancelled.
  v8::Local<v8::Function> abortRequestFunction() const { return abortRequest_.Get(isolate_); }
  // warmUp(id, url, flatHeaders): one request through the runtime's dispatch to the runtime's
  // own handler (worker/runtime_warm_up.h); valid after installRuntime().
  v8::Local<v8::Function> warmUpFunction() const { return warmUp_.Get(isolate_); }
  // Runs the queued microtasks (promise jobs), then reports the promises they left rejected
  // with no handler (and runs what that queued). The single place they run after load.
  // Inside a JsScope for global().
  void runMicrotasks();
  // Runs the probe (`1 + 1`, compiled on the first call); true when it evaluated to 2.
  bool runProbe(v8::Local<v8::Context> context);

  // The requests in flight in this context, each answered at most once.
  void addRequest(uint64_t id) { requests_.insert(id); }
  bool hasRequest(uint64_t id) const { return requests_.contains(id); }
  // Removes `id`; false when it was not in flight (answered, cancelled or unknown).
  bool finishRequest(uint64_t id) { return requests_.erase(id) != 0; }
  size_t requestCount() const { return requests_.size(); }
  // Removes and returns every request in flight, in ascending order.
  std::vector<uint64_t> takeRequests();

  // waitUntil() work: promises the script asked to keep alive, counted per request id. They
  // live and die with this context.
  void beginWaitUntil(uint64_t id) {
    ++waitUntil_[id];
    ++waitUntilCount_;
  }
  // False when `id` had no pending work (the context was reset in between).
  bool endWaitUntil(uint64_t id);
  size_t waitUntilCount() const { return waitUntilCount_; }
  // Pending waitUntil() promises of request `id`.
  uint32_t waitUntilFor(uint64_t id) const {
    auto it = waitUntil_.find(id);
    return it == waitUntil_.end() ? 0 : it->second;
  }
  // Stops counting the pending work of `id` (abandoned); returns how much there was. Its
  // promises' later settlements are ignored (endWaitUntil returns false).
  uint32_t dropWaitUntil(uint64_t id);
  // Whether the context's microtask checkpoint is running (a promise job is on the stack).
  bool microtasksRunning() const { return microtasks_->IsRunningMicrotasks(); }

 private:
  static void onPromiseReject(v8::PromiseRejectMessage message);

  v8::Isolate* isolate_;
  SnapshotContents snapshot_;
  // First member after the plain ones, so it is destroyed last: the context must not outlive it
  // while attached.
  std::unique_ptr<v8::MicrotaskQueue> microtasks_;
  v8::Global<v8::Context> context_;
  v8::Global<v8::Object> entryPoints_;
  v8::Global<v8::Function> dispatch_;
  v8::Global<v8::Function> fireTimer_;
  v8::Global<v8::Function> dispatchScheduled_;
  v8::Global<v8::Function> abortRequest_;
  v8::Global<v8::Function> setEnv_;
  v8::Global<v8::Function> notifyRejection_;
  v8::Global<v8::Function> warmUp_;
  v8::Global<v8::Script> probe_;
  // Promises rejected with no handler yet, with their reasons, in rejection order.
  std::vector<std::pair<v8::Global<v8::Promise>, v8::Global<v8::Value>>> rejections_;
  std::unordered_set<uint64_t> requests_;
  std::unordered_map<uint64_t, uint32_t> waitUntil_;
  size_t waitUntilCount_ = 0;
};

}  // namespace isolated::worker
