// IsolateHost's turns: every entry into JavaScript runs under one CpuSlice and ends in
// endTurn(), which reads what limit the turn hit and what that costs the requests in flight
// (only the running one, or the whole context or isolate with replays of the requests that can
// run again).
#include "worker/isolate_host.h"

#include <algorithm>

#include "worker/duration_text.h"
#include "worker/js_scope.h"

namespace isolated::worker {

namespace {

v8::Local<v8::Value> requestIdValue(v8::Isolate* isolate, uint64_t id) {
  if (id == 0) return v8::Undefined(isolate);
  return v8::Number::New(isolate, static_cast<double>(id));
}

uint64_t requestIdOf(v8::Local<v8::Value> value) {
  return value->IsNumber() ? static_cast<uint64_t>(value.As<v8::Number>()->Value()) : 0;
}

}  // namespace

void IsolateHost::runTurn(uint64_t requestId, TurnBody body) {
  v8::Isolate* isolate = isolate_->get();
  attachHost(isolate, this);
  TurnEnd end;
  end.runningRequest = requestId;
  {
    JsScope scope(isolate, context_->global());
    v8::Local<v8::Context> context = scope.context();
    v8::TryCatch tryCatch(isolate);
    stopGate_.beginTurn();
    CpuSlice slice(watchdog_, isolate, options_.cpuLimit, &stopGate_);
    // The request id travels with every promise job the JavaScript creates from here, so that
    // console lines after an await still name their request, and so that a termination inside
    // a job can be charged to the right request.
    context->SetContinuationPreservedEmbedderData(requestIdValue(isolate, requestId));
    body(context, tryCatch);
    if (!tryCatch.HasTerminated()) {
      tryCatch.Reset();
      context->SetContinuationPreservedEmbedderData(v8::Undefined(isolate));
      context_->runMicrotasks();
    }
    end.terminated = tryCatch.HasTerminated();
    if (end.terminated) {
      // V8 10.2 leaves the embedder data of the job it terminated in place (checked: a promise
      // job's own data, not its predecessor's), or the turn's own if the call was terminated.
      end.runningRequest = requestIdOf(context->GetContinuationPreservedEmbedderData());
    }
    context->SetContinuationPreservedEmbedderData(v8::Undefined(isolate));
    end.watchdogFired = slice.finish();
    end.site = stopGate_.site();
    usage_.cpu += slice.used();
  }
  endTurn(end);
}

void IsolateHost::endTurn(const TurnEnd& end) {
  if (isolate_->heapLimitHit()) {
    // Whether or not the termination took effect before the turn ended, the heap is at its
    // limit: only a new isolate gives it back.
    ++counters_.memoryLimitTerminations;
    ++usage_.memoryLimitTerminations;
    if (sharesIsolate()) {
      // The owner replaces the shared isolate, with every app in it.
      abandonRequests(end.runningRequest, runtime_error::kMemoryLimit,
                      "the shared isolate's heap limit of " +
                          std::to_string(options_.heapLimitBytes >> 20) + " MB",
                      "the shared isolate is replaced", /*allowReplay=*/false);
      timers_.clear();
      markFailed(ScriptError{options_.scriptPath, 0, "the shared isolate reached its heap limit"});
      return;
    }
    auto again = abandonRequests(
        end.runningRequest, runtime_error::kMemoryLimit,
        "the heap limit of " + std::to_string(options_.heapLimitBytes >> 20) + " MB",
        "the isolate was replaced");
    rebuild(/*newIsolate=*/true);
    replay(std::move(again));
  } else if (end.terminated) {
    // The watchdog is the only other source of termination.
    ++counters_.cpuLimitTerminations;
    ++usage_.cpuLimitTerminations;
    isolate_->get()->CancelTerminateExecution();
    if (options_.isolation == IsolationMode::kShared && end.site == StopSiteGate::Site::kScript) {
      containTermination(end.runningRequest);
      return;
    }
    auto again = abandonRequests(
        end.runningRequest, runtime_error::kCpuLimit,
        "the CPU time limit of " + millisText(options_.cpuLimit),
        std::string("the script's context was rebuilt (stopped inside ") +
            (end.site == StopSiteGate::Site::kMicrotasks ? "a promise job" : "the runtime") + ")");
    rebuild(/*newIsolate=*/false);
    replay(std::move(again));
  } else if (end.watchdogFired) {
    // The budget ran out just as the JavaScript returned: the turn completed, but the pending
    // termination would hit the next one.
    isolate_->get()->CancelTerminateExecution();
  }
}

void IsolateHost::containTermination(uint64_t running) {
  std::string limit = "the CPU time limit of " + millisText(options_.cpuLimit);
  if (running != 0 && context_->hasRequest(running)) {
    answerError(
        running, runtime_error::kCpuLimit,
        "the script exceeded " + limit + "; only this request was stopped, the context is kept");
    context_->finishRequest(running);
    streams_.close(running);
    replayable_.erase(running);
  } else {
    writer_.log(2,
                (running == 0 ? std::string("JavaScript not run for any request")
                              : "request " + std::to_string(running) + " (no longer in flight)") +
                    " exceeded " + limit + "; it was stopped, the context is kept",
                running);
  }
  if (running == 0) {
    // A timer of the script's top level: an interval that ran out of time would do it again.
    if (firingTimer_ != 0) timers_.cancel(firingTimer_);
    return;
  }
  // Everything the request still had going ends with it, and whatever the promise jobs it
  // queued before the stop do is ignored (they run with the next checkpoint).
  killed_.insert(running);
  context_->dropWaitUntil(running);
  endRequestWork(running);
  if (context_->waitUntilCount() == 0) event_active(releaseEvent_.get(), EV_TIMEOUT, 0);
  // Its Request's signal aborts and the runtime forgets it, in a turn charged to it; that
  // turn's checkpoint runs (and so drops) the jobs it had queued.
  runTurn(running, [&](v8::Local<v8::Context> context, v8::TryCatch&) {
    v8::Isolate* isolate = context->GetIsolate();
    v8::Local<v8::Value> arg = v8::Number::New(isolate, static_cast<double>(running));
    // abortRequest() catches what listeners throw; only a termination gets out (endTurn).
    v8::Local<v8::Value> ignored;
    if (!context_->abortRequestFunction()
             ->Call(context, v8::Undefined(isolate), 1, &arg)
             .ToLocal(&ignored)) {
      return;
    }
  });
}

std::vector<std::unique_ptr<capnp::MallocMessageBuilder>> IsolateHost::abandonRequests(
    uint64_t running, std::string_view kind, const std::string& limit,
    const std::string& consequence, bool allowReplay) {
  std::vector<std::unique_ptr<capnp::MallocMessageBuilder>> again;
  std::vector<uint64_t> ids = context_->takeRequests();
  bool runningInFlight = std::find(ids.begin(), ids.end(), running) != ids.end();
  std::string culprit = running == 0 ? "JavaScript not run for any request"
                        : runningInFlight
                            ? "request " + std::to_string(running)
                            : "request " + std::to_string(running) + " (no longer in flight)";
  if (!runningInFlight) {
    writer_.log(2, culprit + " exceeded " + limit + "; " + consequence, running);
  }
  for (uint64_t id : ids) {
    auto copy = replayable_.find(id);
    if (id == running) {
      answerError(id, kind, "the script exceeded " + limit + "; " + consequence);
    } else if (allowReplay && copy != replayable_.end() && !streams_.responseStarted(id) &&
               !fetches_.hasFetched(id)) {
      writer_.log(2,
                  "request runs again: " + culprit + " exceeded " + limit +
                      " while this one was pending; " + consequence,
                  id);
      again.push_back(std::move(copy->second));
    } else {
      answerError(id, runtime_error::kContextReset,
                  "request discarded: " + culprit + " exceeded " + limit +
                      " while this one was pending; " + consequence);
    }
  }
  replayable_.clear();
  streams_.clear();
  return again;
}

void IsolateHost::replay(std::vector<std::unique_ptr<capnp::MallocMessageBuilder>> requests) {
  for (auto& message : requests) {
    auto request = message->getRoot<ipc::Envelope>().asReader().getRequestStart();
    if (failed_ || !context_) {
      writer_.runtimeError(request.getId(), runtime_error::kAppFailed,
                           "the app's script could not be loaded again");
      continue;
    }
    // Once only: a request caught by a second rebuild gets `context-reset`.
    dispatchRequest(request, /*firstRun=*/false);
  }
}

}  // namespace isolated::worker
