// One V8 context with worker/runtime.js and the user's script loaded into it: the runtime's
// entry points, the context's own microtask queue, a pre-compiled health probe, and the ids of
// the requests whose answers can only come from inside this context.
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
// Lifetime: owned by IsolateHost and destroyed before its isolate. Threading: loop thread only.
#pragma once

#include <v8.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "worker/script_loader.h"

namespace isolated::worker {

// One binding of the script's environment, as received in Configure.
struct ScriptBinding {
  std::string name;
  std::string value;
  bool json = false;  // `value` is JSON text
};

class ScriptContext {
 public:
  // Creates an empty context with its own microtask queue.
  explicit ScriptContext(v8::Isolate* isolate);
  // Detaches the context from its queue, releases every handle, then frees the queue.
  ~ScriptContext();
  ScriptContext(const ScriptContext&) = delete;
  ScriptContext& operator=(const ScriptContext&) = delete;

  // Installs the runtime with `native` as its bindings, gives it `env`, then evaluates the
  // script at `path` (a classic script sees every binding as a global). Call once, inside a
  // JsScope for global().
  std::optional<ScriptError> load(v8::Local<v8::Object> native, const std::string& path,
                                  SourceCache& sources, const std::vector<ScriptBinding>& env);
  // Only installs the runtime (the first half of load()), for hosts that load their own code,
  // such as `isolated test`. Call once, inside a JsScope for global().
  std::optional<ScriptError> installRuntime(v8::Local<v8::Object> native);

  const v8::Global<v8::Context>& global() const { return context_; }
  // The runtime's entry points; valid after a successful load(), inside a JsScope.
  v8::Local<v8::Function> dispatchFunction() const { return dispatch_.Get(isolate_); }
  v8::Local<v8::Function> fireTimerFunction() const { return fireTimer_.Get(isolate_); }
  v8::Local<v8::Function> dispatchScheduledFunction() const {
    return dispatchScheduled_.Get(isolate_);
  }
  // Runs the queued microtasks (promise jobs). The single place they run after load.
  void runMicrotasks() { microtasks_->PerformCheckpoint(isolate_); }
  // Runs the pre-compiled probe (`1 + 1`); true when it evaluated to 2.
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

 private:
  v8::Isolate* isolate_;
  // First member, so it is destroyed last: the context must not outlive it while attached.
  std::unique_ptr<v8::MicrotaskQueue> microtasks_;
  v8::Global<v8::Context> context_;
  v8::Global<v8::Function> dispatch_;
  v8::Global<v8::Function> fireTimer_;
  v8::Global<v8::Function> dispatchScheduled_;
  v8::Global<v8::Function> setEnv_;
  v8::Global<v8::Function> setModuleHandler_;
  v8::Global<v8::Function> hasFetchListener_;
  v8::Global<v8::Script> probe_;
  std::unordered_set<uint64_t> requests_;
  std::unordered_map<uint64_t, uint32_t> waitUntil_;
  size_t waitUntilCount_ = 0;
};

}  // namespace isolated::worker
