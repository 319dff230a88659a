// IsolateHost's isolate and context: making them (from a spare, the snapshot or the shared
// isolate), loading the script under the start-up limits, and replacing them after a limit breach
// or, with --isolation context|isolate, before each request.
#include "worker/isolate_host.h"

#include "worker/duration_text.h"
#include "worker/js_scope.h"
#include "worker/runtime_warm_up.h"

namespace isolated::worker {

std::shared_ptr<OwnedIsolate> IsolateHost::makeIsolate() {
  if (options_.sharedIsolate) return options_.sharedIsolate;
  auto isolate = std::make_shared<OwnedIsolate>(allocator_.get(), options_.heapLimitBytes,
                                                options_.snapshot, options_.platform);
  attachHost(isolate->get(), this);
  return isolate;
}

std::optional<ScriptError> IsolateHost::load() {
  return createContext();
}

std::optional<ScriptError> IsolateHost::createContext() {
  v8::Isolate* isolate = isolate_->get();
  // A shared isolate runs the JavaScript of many hosts, one turn at a time: the native
  // bindings find the host of the turn through the isolate's slot.
  attachHost(isolate, this);
  // A spare was warmed up when it was made. A context made here from the app's script snapshot
  // is warmed up after it loads, if it will serve many requests (with --isolation
  // context|isolate it serves one, which would pay the warm-up in full for nothing): its first
  // request took 15-19 ms of CPU on the 2-core VM, near the default limit on a loaded machine.
  // A context made from the built-ins snapshot without a spare (a cold start once the spares are
  // used up) is not: with 300 apps that cost 37 KB per app and a fifth more start-up time
  // (bench/tenants.sh), and its first request's URL module load is not charged anyway.
  const bool warmUp = !spareContext_ && options_.isolation == IsolationMode::kShared &&
                      isolate_->snapshotContents() == SnapshotContents::kBuiltinsAndScript;
  auto created = spareContext_
                     ? std::move(spareContext_)
                     : std::make_unique<ScriptContext>(isolate, isolate_->snapshotContents());
  if (!created->created()) {
    return ScriptError{options_.scriptPath, 0, "V8 cannot create a context from the snapshot"};
  }
  std::optional<ScriptError> error;
  {
    JsScope scope(isolate, created->global());
    CpuSlice slice(watchdog_, isolate, options_.startupCpuLimit);
    error = created->load(options_.scriptPath, sources_, bindings_);
    if (!error && warmUp) {
      // Its answer goes nowhere. It runs in the app's context, under the start-up limit: a top
      // level may have patched what the runtime touches (runtime_warm_up.h).
      WarmUpHost quiet;
      attachHost(isolate, &quiet);
      bool warm = warmUpContext(isolate, *created, WarmUpUrl::kSkip);
      attachHost(isolate, this);
      if (!warm) error = ScriptError{options_.scriptPath, 0, "the runtime's warm-up was stopped"};
    }
    bool fired = slice.finish();
    usage_.cpu += slice.used();
    if (fired) {
      isolate->CancelTerminateExecution();
      if (error) {
        error->message = "the script's top level exceeded the start-up CPU time limit of " +
                         millisText(options_.startupCpuLimit);
      }
    }
  }
  if (!error && isolate_->heapLimitHit()) {
    error = ScriptError{options_.scriptPath, 0,
                        "the script's top level exceeded the heap limit of " +
                            std::to_string(options_.heapLimitBytes >> 20) + " MB"};
  }
  if (error) return error;
  context_ = std::move(created);
  contextUsed_ = false;
  return std::nullopt;
}

void IsolateHost::rebuild(bool newIsolate) {
  auto started = std::chrono::steady_clock::now();
  if (size_t pending = backgroundTasks(); pending > 0) {
    writer_.log(2, std::to_string(pending) + " waitUntil() tasks were lost with the old state", 0);
  }
  // The timers' callbacks, fetch and body promises and every queued promise job belong to the
  // old context.
  forgetContextWork();
  streams_.clear();
  context_.reset();
  if (newIsolate) {
    isolate_.reset();
    isolate_ = makeIsolate();
  } else {
    // Collect the old context now rather than at some later GC: what the terminated script
    // retained (array buffers included) would otherwise keep the worker's RSS up and could
    // trigger the supervisor's memory recycling. Rebuilds are rare; a full GC here is cheap.
    v8::Isolate* isolate = isolate_->get();
    v8::Isolate::Scope isolateScope(isolate);
    isolate->ContextDisposedNotification();
    isolate->LowMemoryNotification();
  }
  ++counters_.rebuilds;
  if (auto error = createContext()) {
    writer_.log(3, "cannot rebuild the script's context, the app is unloaded: " + error->message,
                0);
    markFailed(*error);
    return;
  }
  double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  writer_.log(1,
              std::string(newIsolate ? "isolate rebuilt" : "script context rebuilt") + " in " +
                  std::to_string(static_cast<int>(ms + 0.5)) + " ms",
              0);
}

void IsolateHost::refreshForRequest() {
  forgetContextWork();
  // Requests the supervisor gave up on (wall limit) may still be parked in the old state: each
  // gets its one answer before that state goes.
  if (context_) {
    for (uint64_t id : context_->takeRequests()) {
      answerError(id, runtime_error::kContextReset,
                  "request discarded: the next request needs fresh state");
    }
  }
  streams_.clear();
  context_.reset();
  if (options_.isolation == IsolationMode::kIsolate && !sharesIsolate()) {
    isolate_.reset();
    isolate_ = makeIsolate();
  } else {
    v8::Isolate::Scope isolateScope(isolate_->get());
    isolate_->get()->ContextDisposedNotification();
  }
  if (auto error = createContext()) {
    writer_.log(
        3, "cannot load the script for the next request, the app is unloaded: " + error->message,
        0);
    markFailed(*error);
  }
}

void IsolateHost::markFailed(const ScriptError& error) {
  if (failed_) return;
  failed_ = true;
  if (onFailed_) onFailed_(error);
}

}  // namespace isolated::worker
