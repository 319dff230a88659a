// IsolateHost: turns of JavaScript under the CPU and heap limits, the rebuilds after a limit is
// hit, and request dispatch into the runtime.
#include "worker/isolate_host.h"

#include <libplatform/libplatform.h>

#include <strings.h>
#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include "worker/js_scope.h"

namespace isolated::worker {

namespace {

// Header names and values a request may have without dispatch() allocating for them: requests
// with more than 32 headers are rare.
constexpr size_t kInlineHeaderValues = 64;

v8::Local<v8::String> oneByteString(v8::Isolate* isolate, kj::StringPtr text) {
  return v8::String::NewFromOneByte(isolate, reinterpret_cast<const uint8_t*>(text.begin()),
                                    v8::NewStringType::kNormal, static_cast<int>(text.size()))
      .ToLocalChecked();
}

v8::Local<v8::Value> requestIdValue(v8::Isolate* isolate, uint64_t id) {
  if (id == 0) return v8::Undefined(isolate);
  return v8::Number::New(isolate, static_cast<double>(id));
}

uint64_t requestIdOf(v8::Local<v8::Value> value) {
  return value->IsNumber() ? static_cast<uint64_t>(value.As<v8::Number>()->Value()) : 0;
}

// The request's Content-Length, 0 when absent or not a plain number (only a size hint).
size_t contentLength(capnp::List<ipc::Header>::Reader headers) {
  for (auto header : headers) {
    std::string_view name(header.getName().cStr(), header.getName().size());
    if (name.size() != 14 || strncasecmp(name.data(), "content-length", 14) != 0) continue;
    size_t value = 0;
    for (char c : std::string_view(header.getValue().cStr(), header.getValue().size())) {
      if (c < '0' || c > '9' || value > (size_t{1} << 40)) return 0;
      value = value * 10 + static_cast<size_t>(c - '0');
    }
    return value;
  }
  return 0;
}

std::string millis(std::chrono::milliseconds ms) {
  return std::to_string(ms.count()) + " ms";
}

}  // namespace

IsolateHost::IsolateHost(event_base* base, Outbox& outbox, CpuWatchdog& watchdog,
                         HostOptions options)
    : base_(base),
      writer_(outbox, options.logBacklogBytes, options.app),
      watchdog_(watchdog),
      options_(std::move(options)),
      sources_(*options_.sources),
      timers_(base,
              [this](uint64_t id, uint64_t requestId, const v8::Global<v8::Value>& record) {
                fireTimer(id, requestId, record);
              }),
      fetches_(outbox, *options_.fetchIds),
      bindingCalls_(outbox, *options_.callIds),
      streams_(outbox),
      allocator_(v8::ArrayBuffer::Allocator::NewDefaultAllocator()),
      spareAllocator_(options_.spare ? std::move(options_.spare->allocator) : nullptr),
      isolate_(options_.spare ? std::move(options_.spare->isolate) : makeIsolate()),
      spareContext_(options_.spare ? std::move(options_.spare->context) : nullptr) {
  if (options_.spare) {
    attachHost(isolate_->get(), this);
    options_.spare.reset();
  }
  releaseEvent_.reset(event_new(
      base_, -1, 0,
      [](evutil_socket_t, short, void* self) { static_cast<IsolateHost*>(self)->releaseHeld(); },
      this));
  graceTimer_.reset(event_new(
      base_, -1, 0,
      [](evutil_socket_t, short, void* self) { static_cast<IsolateHost*>(self)->onGraceExpired(); },
      this));
  endEvent_.reset(event_new(
      base_, -1, 0,
      [](evutil_socket_t, short, void* self) {
        static_cast<IsolateHost*>(self)->processEndedRequests();
      },
      this));
  waitUntilTimer_.reset(event_new(
      base_, -1, 0,
      [](evutil_socket_t, short, void* self) {
        static_cast<IsolateHost*>(self)->onWaitUntilDeadline();
      },
      this));
  fetches_.setAlive([this](uint64_t id) { return requestAlive(id); });
}

IsolateHost::~IsolateHost() {
  forgetContextWork();
  timers_.clear();
  fetches_.clear(isolate_->get());
  bindingCalls_.clear();
  streams_.clear();
  context_.reset();
  spareContext_.reset();
  isolate_.reset();
}

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
    bool fired = slice.finish();
    usage_.cpu += slice.used();
    if (fired) {
      isolate->CancelTerminateExecution();
      if (error) {
        error->message = "the script's top level exceeded the start-up CPU time limit of " +
                         millis(options_.startupCpuLimit);
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

template <typename Body>
void IsolateHost::runTurn(uint64_t requestId, Body&& body) {
  v8::Isolate* isolate = isolate_->get();
  attachHost(isolate, this);
  TurnEnd end;
  end.runningRequest = requestId;
  {
    JsScope scope(isolate, context_->global());
    v8::Local<v8::Context> context = scope.context();
    v8::TryCatch tryCatch(isolate);
    stopSite_ = StopSite::kNone;
    CpuSlice slice(watchdog_, isolate, options_.cpuLimit, this);
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
    end.site = stopSite_;
    usage_.cpu += slice.used();
  }
  endTurn(end);
}

bool IsolateHost::readyToTerminate(v8::Isolate* isolate, int asked) {
  auto now = std::chrono::steady_clock::now();
  if (asked == 0) firstAsked_ = now;
  StopSite site = stopSiteNow(isolate);
  if (site != StopSite::kScript && now - firstAsked_ < kStopDeferral) return false;
  stopSite_ = site;
  return true;
}

IsolateHost::StopSite IsolateHost::stopSiteNow(v8::Isolate* isolate) const {
  if (context_ && context_->microtasksRunning()) return StopSite::kMicrotasks;
  v8::HandleScope scope(isolate);
  v8::Local<v8::StackTrace> trace =
      v8::StackTrace::CurrentStackTrace(isolate, 1, v8::StackTrace::kScriptName);
  if (trace->GetFrameCount() == 0) return StopSite::kRuntime;
  v8::Local<v8::String> name = trace->GetFrame(isolate, 0)->GetScriptName();
  if (name.IsEmpty()) return StopSite::kRuntime;
  // Every part of the runtime is compiled as one script of this name (script_context.cc).
  constexpr std::string_view kRuntime = "isolated:runtime";
  if (name->Length() == static_cast<int>(kRuntime.size())) {
    char buffer[kRuntime.size()];
    name->WriteOneByte(isolate, reinterpret_cast<uint8_t*>(buffer), 0,
                       static_cast<int>(kRuntime.size()), v8::String::NO_NULL_TERMINATION);
    if (std::string_view(buffer, kRuntime.size()) == kRuntime) return StopSite::kRuntime;
  }
  return StopSite::kScript;
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
    if (options_.isolation == IsolationMode::kShared && end.site == StopSite::kScript) {
      containTermination(end.runningRequest);
      return;
    }
    auto again = abandonRequests(
        end.runningRequest, runtime_error::kCpuLimit,
        "the CPU time limit of " + millis(options_.cpuLimit),
        std::string("the script's context was rebuilt (stopped inside ") +
            (end.site == StopSite::kMicrotasks ? "a promise job" : "the runtime") + ")");
    rebuild(/*newIsolate=*/false);
    replay(std::move(again));
  } else if (end.watchdogFired) {
    // The budget ran out just as the JavaScript returned: the turn completed, but the pending
    // termination would hit the next one.
    isolate_->get()->CancelTerminateExecution();
  }
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

void IsolateHost::rebuild(bool newIsolate) {
  auto started = std::chrono::steady_clock::now();
  if (size_t pending = backgroundTasks(); pending > 0) {
    writer_.log(2, std::to_string(pending) + " waitUntil() tasks were lost with the old state", 0);
  }
  // The timers' callbacks, fetch and body promises and every queued promise job belong to the
  // old context.
  forgetContextWork();
  timers_.clear();
  fetches_.clear(isolate_->get());
  bindingCalls_.clear();
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
  timers_.clear();
  fetches_.clear(isolate_->get());
  bindingCalls_.clear();
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

void IsolateHost::failAll(std::string_view kind, const std::string& detail) {
  if (context_) {
    for (uint64_t id : context_->takeRequests()) {
      answerError(id, kind, detail);
    }
  }
  streams_.clear();
  auto held = std::move(held_);
  held_.clear();
  for (auto& message : held) {
    auto envelope = message->getRoot<ipc::Envelope>().asReader();
    uint64_t id = envelope.isRequestStart() ? envelope.getRequestStart().getId()
                                            : envelope.getScheduled().getId();
    writer_.runtimeError(id, kind, detail);
  }
}

bool IsolateHost::beginRequest(uint64_t id, bool counted) {
  if (counted) ++counters_.requestsServed;
  if (options_.isolation != IsolationMode::kShared && contextUsed_) refreshForRequest();
  contextUsed_ = true;
  if (!context_) {
    writer_.runtimeError(id, runtime_error::kAppFailed, "the app's script could not be loaded");
    return false;
  }
  context_->addRequest(id);
  return true;
}

bool IsolateHost::holdIfBackground(ipc::Envelope::Reader envelope) {
  if (options_.isolation == IsolationMode::kShared) return false;
  if (held_.empty() && (!contextUsed_ || backgroundTasks() == 0)) return false;
  auto copy = std::make_unique<capnp::MallocMessageBuilder>();
  copy->setRoot(envelope);
  held_.push_back(std::move(copy));
  // Usually armed by the response already; this covers work registered after it.
  armGraceIfBackground();
  return true;
}

void IsolateHost::releaseHeld() {
  while (!held_.empty() && backgroundTasks() == 0) {
    std::unique_ptr<capnp::MallocMessageBuilder> next = std::move(held_.front());
    held_.pop_front();
    auto envelope = next->getRoot<ipc::Envelope>().asReader();
    if (envelope.isRequestStart()) {
      dispatch(envelope.getRequestStart());
    } else if (envelope.isScheduled()) {
      dispatchScheduled(envelope.getScheduled());
    }
  }
  if (backgroundTasks() == 0 && backgroundIdle_) backgroundIdle_();
}

void IsolateHost::onGraceExpired() {
  if (backgroundTasks() == 0) return;
  abandonBackground("still pending " + millis(options_.waitUntilTimeout) +
                    " after the response; the state is refreshed for the next request");
  releaseHeld();
}

void IsolateHost::abandonBackground(const std::string& why) {
  size_t pending = backgroundTasks();
  if (pending == 0) return;
  writer_.log(2, "cancelled " + std::to_string(pending) + " waitUntil() tasks: " + why, 0);
  // Dropping the state is the only way to stop JavaScript work; the next request (if any) gets
  // a fresh one anyway in these modes.
  if (options_.isolation != IsolationMode::kShared) {
    refreshForRequest();
    contextUsed_ = false;
  }
}

void IsolateHost::waitUntilBegin(uint64_t id) {
  // A request whose work has ended cannot start more (the runtime's promise still settles,
  // and waitUntilEnd then finds nothing to end).
  if (context_ && (id == 0 || requestAlive(id))) context_->beginWaitUntil(id);
}

void IsolateHost::waitUntilEnd(uint64_t id) {
  if (!context_ || !context_->endWaitUntil(id)) return;
  if (id != 0 && !context_->hasRequest(id) && context_->waitUntilFor(id) == 0) {
    endedRequests_.push_back(id);
    event_active(endEvent_.get(), EV_TIMEOUT, 0);
  }
  if (context_->waitUntilCount() == 0) {
    event_del(graceTimer_.get());
    event_active(releaseEvent_.get(), EV_TIMEOUT, 0);
  }
}

void IsolateHost::dispatchScheduled(ipc::Scheduled::Reader event) {
  uint64_t id = event.getId();
  if (!beginRequest(id)) return;
  runTurn(id, [&](v8::Local<v8::Context> context, v8::TryCatch& tryCatch) {
    v8::Isolate* isolate = context->GetIsolate();
    v8::Local<v8::String> cron;
    if (!v8::String::NewFromUtf8(isolate, event.getCron().cStr(), v8::NewStringType::kNormal,
                                 static_cast<int>(event.getCron().size()))
             .ToLocal(&cron)) {
      return;
    }
    v8::Local<v8::Value> args[] = {
        v8::Number::New(isolate, static_cast<double>(id)),
        v8::Number::New(isolate, event.getScheduledTime()),
        cron,
    };
    auto result =
        context_->dispatchScheduledFunction()->Call(context, v8::Undefined(isolate), 3, args);
    failIfThrew(id, result, context, tryCatch);
  });
}

void IsolateHost::dispatch(ipc::RequestStart::Reader request) {
  dispatchRequest(request, /*firstRun=*/true);
}

void IsolateHost::dispatchRequest(ipc::RequestStart::Reader request, bool firstRun) {
  uint64_t id = request.getId();
  if (!beginRequest(id, /*counted=*/firstRun)) return;
  bool bodyFollows = request.getBodyFollows();
  if (bodyFollows) {
    streams_.openRequestBody(id, contentLength(request.getHeaders()));
  } else if (firstRun && options_.isolation == IsolationMode::kShared) {
    // Kept so that a rebuild caused by another request can run this one again (see the header).
    auto copy = std::make_unique<capnp::MallocMessageBuilder>(
        static_cast<unsigned>(request.totalSize().wordCount + 8));
    copy->initRoot<ipc::Envelope>().setRequestStart(request);
    replayable_.emplace(id, std::move(copy));
  }
  runTurn(id, [&](v8::Local<v8::Context> context, v8::TryCatch& tryCatch) {
    v8::Isolate* isolate = context->GetIsolate();
    // The strings are made first and the array from them in one call: setting its elements one
    // by one through the API costs more than everything else this function does.
    auto headers = request.getHeaders();
    size_t count = headers.size() * 2;
    std::array<v8::Local<v8::Value>, kInlineHeaderValues> inlineValues;
    std::vector<v8::Local<v8::Value>> manyValues;
    v8::Local<v8::Value>* values = inlineValues.data();
    if (count > inlineValues.size()) {
      manyValues.resize(count);
      values = manyValues.data();
    }
    size_t index = 0;
    for (auto header : headers) {
      values[index++] = oneByteString(isolate, header.getName());
      values[index++] = oneByteString(isolate, header.getValue());
    }
    v8::Local<v8::Array> flat = v8::Array::New(isolate, values, count);
    v8::Local<v8::Value> body = v8::Null(isolate);
    auto bytes = request.getBody();
    if (bytes.size() > 0) {
      auto store = v8::ArrayBuffer::NewBackingStore(isolate, bytes.size());
      memcpy(store->Data(), bytes.begin(), bytes.size());
      body = v8::ArrayBuffer::New(isolate, std::move(store));
    }
    v8::Local<v8::Value> args[] = {
        v8::Number::New(isolate, static_cast<double>(id)),
        oneByteString(isolate, request.getMethod()),
        oneByteString(isolate, request.getUrl()),
        flat,
        body,
        v8::Boolean::New(isolate, bodyFollows),
    };
    auto result = context_->dispatchFunction()->Call(context, v8::Undefined(isolate), 6, args);
    failIfThrew(id, result, context, tryCatch);
  });
}

void IsolateHost::failIfThrew(uint64_t id, v8::MaybeLocal<v8::Value> result,
                              v8::Local<v8::Context> context, v8::TryCatch& tryCatch) {
  if (result.IsEmpty() && !tryCatch.HasTerminated() && context_->hasRequest(id)) {
    ScriptError error =
        describeException(context->GetIsolate(), context, tryCatch, options_.scriptPath);
    fail(id, std::string(runtime_error::kScriptThrew), error.message);
  }
}

void IsolateHost::fireTimer(uint64_t timerId, uint64_t requestId,
                            const v8::Global<v8::Value>& record) {
  if (!context_ || record.IsEmpty()) return;
  firingTimer_ = timerId;
  runTurn(requestId, [&](v8::Local<v8::Context> context, v8::TryCatch& tryCatch) {
    v8::Isolate* isolate = context->GetIsolate();
    // Before any JavaScript runs: the callback may clear its own interval, and the record.
    v8::Local<v8::Value> args[] = {v8::Number::New(isolate, static_cast<double>(timerId)),
                                   record.Get(isolate)};
    if (context_->fireTimerFunction()->Call(context, v8::Undefined(isolate), 2, args).IsEmpty() &&
        !tryCatch.HasTerminated()) {
      ScriptError error = describeException(isolate, context, tryCatch, options_.scriptPath);
      writer_.log(3, "Uncaught exception in timer callback: " + error.message, requestId);
    }
  });
  firingTimer_ = 0;
}

void IsolateHost::onFetchMessage(ipc::Envelope::Reader message) {
  std::optional<uint64_t> id = fetchIdOf(message);
  if (!id) return;
  uint64_t fetchId = *id;
  auto requestId = fetches_.requestOf(fetchId);
  if (!context_ || !requestId) return;
  runTurn(*requestId, [&](v8::Local<v8::Context> context, v8::TryCatch&) {
    switch (message.which()) {
      case ipc::Envelope::FETCH_HEAD:
        return fetches_.onHead(context, message.getFetchHead());
      case ipc::Envelope::FETCH_BODY:
        return fetches_.onBody(context, message.getFetchBody());
      case ipc::Envelope::FETCH_UPLOAD_CREDIT:
        return fetches_.onUploadCredit(context, message.getFetchUploadCredit());
      default:
        return fetches_.onFailed(context, message.getFetchFailed());
    }
  });
}

void IsolateHost::onBindingResult(ipc::BindingResult::Reader result) {
  auto requestId = bindingCalls_.requestOf(result.getCallId());
  if (!context_ || !requestId) return;
  runTurn(*requestId, [&](v8::Local<v8::Context> context, v8::TryCatch&) {
    bindingCalls_.onResult(context, result);
  });
}

void IsolateHost::runPlatformTasks(v8::Platform& platform) {
  if (!context_) return;
  runTurn(0, [&](v8::Local<v8::Context> context, v8::TryCatch&) {
    v8::Isolate* isolate = context->GetIsolate();
    while (v8::platform::PumpMessageLoop(&platform, isolate)) {
    }
  });
}

bool IsolateHost::probe() {
  if (!context_) return false;
  bool ok = false;
  // The worker's own turn: not charged to the app.
  auto charged = usage_.cpu;
  runTurn(0,
          [&](v8::Local<v8::Context> context, v8::TryCatch&) { ok = context_->runProbe(context); });
  usage_.cpu = charged;
  return ok;
}

void IsolateHost::cancel(uint64_t id) {
  bool inFlight = context_ && context_->hasRequest(id);
  complete(id);
  // A request still held back behind waitUntil() work is dropped before it runs.
  std::erase_if(held_, [id](const std::unique_ptr<capnp::MallocMessageBuilder>& message) {
    auto envelope = message->getRoot<ipc::Envelope>().asReader();
    return (envelope.isRequestStart() && envelope.getRequestStart().getId() == id) ||
           (envelope.isScheduled() && envelope.getScheduled().getId() == id);
  });
  if (!inFlight) return;
  // After complete(): whatever the script does once its request's signal aborts, no Response
  // goes out for it. Its abort listeners run as a turn of the request (CPU-limited like any).
  runTurn(id, [&](v8::Local<v8::Context> context, v8::TryCatch& tryCatch) {
    v8::Isolate* isolate = context->GetIsolate();
    v8::Local<v8::Value> arg = v8::Number::New(isolate, static_cast<double>(id));
    if (context_->abortRequestFunction()
            ->Call(context, v8::Undefined(isolate), 1, &arg)
            .IsEmpty() &&
        !tryCatch.HasTerminated()) {
      ScriptError error = describeException(isolate, context, tryCatch, options_.scriptPath);
      writer_.log(3, "Uncaught exception in an abort listener: " + error.message, id);
    }
  });
}

void IsolateHost::complete(uint64_t id) {
  bool wasInFlight = context_ && context_->finishRequest(id);
  streams_.close(id);
  replayable_.erase(id);
  if (wasInFlight) requestAnswered(id);
}

bool IsolateHost::requestAlive(uint64_t id) const {
  if (!context_ || killed_.contains(id)) return false;
  return context_->hasRequest(id) || context_->waitUntilFor(id) > 0 ||
         std::find(endedRequests_.begin(), endedRequests_.end(), id) != endedRequests_.end();
}

void IsolateHost::requestAnswered(uint64_t id) {
  if (context_->waitUntilFor(id) > 0 && options_.isolation == IsolationMode::kShared) {
    waitUntilDeadlines_.emplace_back(std::chrono::steady_clock::now() + options_.waitUntilTimeout,
                                     id);
    armWaitUntilDeadline();
  }
  // Its work ends at the next loop iteration, or, with waitUntil() work, when that does.
  endedRequests_.push_back(id);
  event_active(endEvent_.get(), EV_TIMEOUT, 0);
}

void IsolateHost::processEndedRequests() {
  auto ended = std::move(endedRequests_);
  endedRequests_.clear();
  for (uint64_t id : ended) {
    if (context_ && (context_->hasRequest(id) || context_->waitUntilFor(id) > 0)) continue;
    endRequestWork(id);
  }
}

void IsolateHost::endRequestWork(uint64_t id) {
  timers_.cancelRequest(id);
  if (isolate_) fetches_.dropRequest(isolate_->get(), id);
}

void IsolateHost::armWaitUntilDeadline() {
  if (waitUntilDeadlines_.empty() || event_pending(waitUntilTimer_.get(), EV_TIMEOUT, nullptr)) {
    return;
  }
  auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
      waitUntilDeadlines_.front().first - std::chrono::steady_clock::now());
  timeval tv = millisToTimeval(std::max<int64_t>(0, wait.count()));
  event_add(waitUntilTimer_.get(), &tv);
}

void IsolateHost::onWaitUntilDeadline() {
  auto now = std::chrono::steady_clock::now();
  bool abandoned = false;
  while (!waitUntilDeadlines_.empty() && waitUntilDeadlines_.front().first <= now) {
    uint64_t id = waitUntilDeadlines_.front().second;
    waitUntilDeadlines_.pop_front();
    if (!context_ || context_->hasRequest(id)) continue;
    if (uint32_t pending = context_->dropWaitUntil(id); pending > 0) {
      writer_.log(2,
                  "cancelled " + std::to_string(pending) + " waitUntil() tasks: still pending " +
                      millis(options_.waitUntilTimeout) +
                      " after the response (--wait-until-timeout)",
                  id);
      endRequestWork(id);
      abandoned = true;
    }
  }
  armWaitUntilDeadline();
  if (abandoned && context_ && context_->waitUntilCount() == 0) {
    event_active(releaseEvent_.get(), EV_TIMEOUT, 0);
  }
}

void IsolateHost::forgetContextWork() {
  killed_.clear();
  replayable_.clear();
  endedRequests_.clear();
  waitUntilDeadlines_.clear();
  if (waitUntilTimer_) event_del(waitUntilTimer_.get());
}

void IsolateHost::containTermination(uint64_t running) {
  std::string limit = "the CPU time limit of " + millis(options_.cpuLimit);
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

uint64_t IsolateHost::addTimer(double delayMs, bool repeat, uint64_t requestId,
                               v8::Local<v8::Value> record) {
  // A request whose work has ended sets no more timers (docs/limits.md).
  if (requestId != 0 && !requestAlive(requestId)) return timers_.reserveId();
  return timers_.add(delayMs, repeat, requestId, isolate_->get(), record);
}

void IsolateHost::respond(uint64_t id, uint16_t status, v8::Local<v8::String> headerText,
                          v8::Local<v8::Value> body) {
  if (!context_ || !context_->hasRequest(id) || streams_.responseStarted(id)) return;
  complete(id);
  writer_.response(isolate_->get(), id, status, headerText, body);
  armGraceIfBackground();
}

void IsolateHost::fail(uint64_t id, const std::string& kind, const std::string& detail) {
  if (!context_ || !context_->hasRequest(id)) return;
  answerError(id, kind, detail);
  complete(id);
  armGraceIfBackground();
}

void IsolateHost::answerError(uint64_t id, std::string_view kind, const std::string& detail) {
  if (streams_.responseStarted(id)) {
    writer_.log(3, detail, id);
    streams_.end(id, /*aborted=*/true);
    return;
  }
  writer_.runtimeError(id, kind, detail);
  armGraceIfBackground();
}

void IsolateHost::armGraceIfBackground() {
  if (options_.isolation == IsolationMode::kShared || backgroundTasks() == 0) return;
  if (event_pending(graceTimer_.get(), EV_TIMEOUT, nullptr)) return;
  timeval tv = millisToTimeval(options_.waitUntilTimeout.count());
  event_add(graceTimer_.get(), &tv);
}

bool IsolateHost::startResponse(uint64_t id, uint16_t status, v8::Local<v8::String> headerText) {
  if (!context_ || !context_->hasRequest(id) || streams_.responseStarted(id)) return false;
  replayable_.erase(id);  // its answer has begun: it can no longer run again
  writer_.streamedResponse(isolate_->get(), id, status, headerText);
  streams_.startResponse(id);
  return true;
}

void IsolateHost::readBody(uint64_t id, v8::Local<v8::Promise::Resolver> done) {
  streams_.read(isolate_->get()->GetCurrentContext(), id, done);
}

void IsolateHost::readBodyAll(uint64_t id, bool asText, v8::Local<v8::Promise::Resolver> done) {
  streams_.readAll(isolate_->get()->GetCurrentContext(), id, asText, done);
}

void IsolateHost::writeBody(uint64_t id, v8::Local<v8::Value> bytes,
                            v8::Local<v8::Promise::Resolver> done) {
  streams_.write(isolate_->get()->GetCurrentContext(), id, bytes, done);
}

void IsolateHost::endBody(uint64_t id, bool aborted) {
  if (!streams_.end(id, aborted)) return;
  complete(id);
  armGraceIfBackground();
}

bool IsolateHost::bodyChunk(ipc::BodyChunk::Reader chunk) {
  uint64_t id = chunk.getId();
  if (!streams_.onRequestChunk(id, chunk.getData(), chunk.getEnd())) return false;
  settleBodies(id);
  return true;
}

void IsolateHost::bodyCredit(ipc::BodyCredit::Reader credit) {
  uint64_t id = credit.getId();
  bool ended = streams_.onResponseCredit(id, credit.getBytes());
  settleBodies(id);
  if (!ended) return;
  complete(id);
  armGraceIfBackground();
}

void IsolateHost::settleBodies(uint64_t id) {
  if (!context_ || !streams_.settleable(id)) return;
  runTurn(id, [&](v8::Local<v8::Context> context, v8::TryCatch&) { streams_.settle(context, id); });
}

void IsolateHost::log(int level, const std::string& message, uint64_t requestId) {
  if (requestId != 0 && killed_.contains(requestId)) return;
  writer_.log(level, message, requestId);
}

void IsolateHost::releaseMemory() {
  if (sharesIsolate() || !isolate_) return;
  v8::Isolate* isolate = isolate_->get();
  v8::Isolate::Scope isolateScope(isolate);
  isolate->LowMemoryNotification();
}

HeapStats IsolateHost::heapStats() {
  v8::HeapStatistics stats;
  isolate_->get()->GetHeapStatistics(&stats);
  return HeapStats{stats.used_heap_size(), stats.total_heap_size(), stats.heap_size_limit(),
                   stats.external_memory()};
}

}  // namespace isolated::worker
