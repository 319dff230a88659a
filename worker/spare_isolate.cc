// SpareIsolates: blank isolates from the built-ins snapshot, made while the worker is idle.
#include "worker/spare_isolate.h"

#include <chrono>
#include <cstdint>
#include <string>

#include "common/event_handles.h"
#include "worker/js_scope.h"
#include "worker/runtime_host.h"

namespace isolated::worker {

namespace {

// The host of a spare while it warms up: there is no app and no request to answer, so every
// answer, console line and timer is dropped.
class WarmUpHost final : public RuntimeHost {
 public:
  void respond(uint64_t, uint16_t, v8::Local<v8::String>, v8::Local<v8::Value>) override {}
  void fail(uint64_t, const std::string&, const std::string&) override {}
  void log(int, const std::string&, uint64_t) override {}
  uint64_t addTimer(double, bool, uint64_t, v8::Local<v8::Value>) override { return ++timers_; }
  void cancelTimer(uint64_t) override {}

 private:
  uint64_t timers_ = 0;
};

// A busy worker looks again this much later: long enough not to steal turns from a burst of
// requests, short enough that a spare is back soon after the burst.
constexpr long kBusyRetryMs = 2;

// A request id no supervisor gives (they count up from 1), for the warm-up request.
constexpr double kWarmUpRequestId = 9007199254740991.0;  // Number.MAX_SAFE_INTEGER

// Runs the runtime's request path once in the spare's context, so that the functions every
// request needs (headers, the Request and its URL, the dispatch, a Response and the answer) are
// compiled before an app's first request rather than during it. A `fetch` listener answers the
// request (WarmUpHost drops the answer) and is removed again, so the context keeps nothing of it
// but compiled code (and the lazily made globals the request touched, which the app's first
// request would have made anyway).
// The listener parses the request's URL as nearly every handler does first
// (`new URL(request.url)`): the runtime loads whatwg-url on first use (worker/js/url.js), and
// loading it was 3.5 of the 4 ms of CPU an app's first request took after the old warm-up
// (docs/multi-tenancy.md). `searchParams` and `headers.get` are left out: they grew each isolate
// by about 65 KB (V8's off-heap string table doubling) for no measured gain.
constexpr const char* kWarmUpListener =
    "(() => {\n"
    "  const listener = (event) => {\n"
    "    const url = new URL(event.request.url);\n"
    "    const text = url.pathname;\n"
    "    event.respondWith(new Response(text, {\n"
    "      status: 200, headers: { 'content-type': 'text/plain;charset=UTF-8' } }));\n"
    "  };\n"
    "  addEventListener('fetch', listener);\n"
    "  return () => removeEventListener('fetch', listener);\n"
    "})()";

}  // namespace

void dispatchSyntheticRequest(v8::Isolate* isolate, ScriptContext& context, const char* url,
                              const char* host) {
  JsScope scope(isolate, context.global());
  v8::Local<v8::Context> v8Context = scope.context();
  v8::TryCatch tryCatch(isolate);
  const char* const headers[] = {"host", host, "accept", "*/*", "user-agent", "isolated-warm-up"};
  v8::Local<v8::Array> flat = v8::Array::New(isolate, 6);
  for (uint32_t i = 0; i < 6; ++i) {
    if (flat->Set(v8Context, i, v8::String::NewFromUtf8(isolate, headers[i]).ToLocalChecked())
            .IsNothing()) {
      break;
    }
  }
  v8::Local<v8::Value> args[] = {
      v8::Number::New(isolate, kWarmUpRequestId),
      v8::String::NewFromUtf8Literal(isolate, "GET"),
      v8::String::NewFromUtf8(isolate, url).ToLocalChecked(),
      flat,
      v8::Null(isolate),
      v8::False(isolate),
  };
  // dispatch() never throws (every outcome becomes a host call); its answer comes after a
  // promise job, hence the checkpoint.
  if (!context.dispatchFunction()->Call(v8Context, v8::Undefined(isolate), 6, args).IsEmpty()) {
    context.runMicrotasks();
  }
}

bool warmUpContext(v8::Isolate* isolate, ScriptContext& context) {
  JsScope scope(isolate, context.global());
  v8::Local<v8::Context> v8Context = scope.context();
  v8::TryCatch tryCatch(isolate);
  v8::Local<v8::Script> script;
  v8::Local<v8::Value> remove;
  if (!v8::Script::Compile(v8Context,
                           v8::String::NewFromUtf8(isolate, kWarmUpListener).ToLocalChecked())
           .ToLocal(&script) ||
      !script->Run(v8Context).ToLocal(&remove) || !remove->IsFunction()) {
    return false;
  }
  dispatchSyntheticRequest(isolate, context, "http://spare.invalid/warm-up?x=1", "spare.invalid");
  // The app's script must find no handler registered.
  return !remove.As<v8::Function>()->Call(v8Context, v8::Undefined(isolate), 0, nullptr).IsEmpty();
}

SpareIsolates::SpareIsolates(event_base* base, SpareOptions options, std::function<bool()> busy,
                             Logger& logger)
    : options_(options), busy_(std::move(busy)), logger_(logger) {
  timer_.reset(event_new(
      base, -1, 0,
      [](evutil_socket_t, short, void* self) { static_cast<SpareIsolates*>(self)->onTimer(); },
      this));
  if (options_.snapshot == nullptr) options_.count = 0;
}

SpareIsolates::~SpareIsolates() {
  ready_.clear();
}

std::unique_ptr<SpareIsolate> SpareIsolates::take(size_t heapLimitBytes,
                                                  const StartupSnapshot* snapshot) {
  if (options_.count == 0 || heapLimitBytes != options_.heapLimitBytes ||
      snapshot != options_.snapshot) {
    return nullptr;
  }
  std::unique_ptr<SpareIsolate> spare;
  if (!ready_.empty()) {
    spare = std::move(ready_.front());
    ready_.pop_front();
    ++taken_;
  } else {
    ++missed_;
  }
  schedule(0);
  return spare;
}

void SpareIsolates::schedule(long delayMs) {
  if (armed_ || broken_ || ready_.size() >= options_.count) return;
  timeval tv = millisToTimeval(delayMs);
  event_add(timer_.get(), &tv);
  armed_ = true;
}

void SpareIsolates::onTimer() {
  armed_ = false;
  if (ready_.size() >= options_.count) return;
  if (busy_ && busy_()) {
    schedule(kBusyRetryMs);
    return;
  }
  auto started = std::chrono::steady_clock::now();
  auto spare = make();
  if (!spare) {
    broken_ = true;
    logger_.warn("cannot make a spare isolate; cold starts create their isolates");
    return;
  }
  ready_.push_back(std::move(spare));
  logger_.debug(
      "spare isolate made",
      {{"ms", std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
                  .count()},
       {"ready", ready_.size()}});
  // One per turn of the loop: a request that arrived meanwhile goes first.
  schedule(0);
}

std::unique_ptr<SpareIsolate> SpareIsolates::make() {
  ++made_;
  auto spare = std::make_unique<SpareIsolate>();
  spare->heapLimitBytes = options_.heapLimitBytes;
  if (options_.sharedIsolate) {
    spare->isolate = options_.sharedIsolate();
  } else {
    spare->allocator.reset(v8::ArrayBuffer::Allocator::NewDefaultAllocator());
    spare->isolate = std::make_shared<OwnedIsolate>(spare->allocator.get(), options_.heapLimitBytes,
                                                    options_.snapshot, options_.platform);
  }
  v8::Isolate* isolate = spare->isolate->get();
  spare->context = std::make_unique<ScriptContext>(isolate, spare->isolate->snapshotContents());
  if (!spare->context->created()) return nullptr;
  WarmUpHost host;
  attachHost(isolate, &host);
  {
    JsScope scope(isolate, spare->context->global());
    if (spare->context->installRuntime()) return nullptr;
  }
  bool warm = warmUpContext(isolate, *spare->context);
  attachHost(isolate, nullptr);
  if (!warm) return nullptr;
  // No GC here: a full GC would drop the garbage of deserialising and warming up (about 50 KB
  // of the app's RSS, measured) but costs 3-4 ms of CPU per spare, and the app's isolate gets
  // one anyway once idle (IsolateRegistry's memory release).
  return spare;
}

}  // namespace isolated::worker
