// IsolateHost's entries into JavaScript: a request, a scheduled event, a timer, a fetch's or a
// binding call's result, V8's platform tasks, the liveness probe and a cancellation, each run as
// one turn in the name of its request.
#include "worker/isolate_host.h"

#include <libplatform/libplatform.h>

#include <strings.h>
#include <array>
#include <cstring>
#include <vector>

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

}  // namespace

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

void IsolateHost::dispatch(ipc::RequestStart::Reader request) {
  dispatchRequest(request, /*firstRun=*/true);
}

void IsolateHost::dispatchRequest(ipc::RequestStart::Reader request, bool firstRun) {
  uint64_t id = request.getId();
  if (!beginRequest(id, /*counted=*/firstRun)) return;
  bool bodyFollows = request.getBodyFollows();
  if (bodyFollows) streams_.openRequestBody(id, contentLength(request.getHeaders()));
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
  // Kept so that a rebuild caused by another request can run this one again (see the header).
  // Made after the first turn, not before: most requests are answered in it (a copy of every
  // request cost about a fifth of a hello world's instructions in the worker), and a rebuild during
  // it takes the request out of the context, so the check below sees it gone. `request` is
  // still the message as received: the channel keeps a read's frames until they are delivered.
  if (firstRun && !bodyFollows && options_.isolation == IsolationMode::kShared && context_ &&
      context_->hasRequest(id) && !streams_.responseStarted(id)) {
    auto copy = std::make_unique<capnp::MallocMessageBuilder>(
        static_cast<unsigned>(request.totalSize().wordCount + 8));
    copy->initRoot<ipc::Envelope>().setRequestStart(request);
    replayable_.emplace(id, std::move(copy));
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

}  // namespace isolated::worker
