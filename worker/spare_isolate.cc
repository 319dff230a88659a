// SpareIsolates: blank isolates from the built-ins snapshot, made while the worker is idle.
#include "worker/spare_isolate.h"

#include <chrono>
#include <cstdint>
#include <string>

#include "common/event_handles.h"
#include "worker/js_scope.h"
#include "worker/runtime_host.h"
#include "worker/runtime_warm_up.h"

namespace isolated::worker {

namespace {

// A busy worker looks again this much later: long enough not to steal turns from a burst of
// requests, short enough that a spare is back soon after the burst.
constexpr long kBusyRetryMs = 2;

}  // namespace

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
  bool warm = warmUpContext(isolate, *spare->context, WarmUpUrl::kParse);
  attachHost(isolate, nullptr);
  if (!warm) return nullptr;
  // No GC here: a full GC would drop the garbage of deserialising and warming up (about 50 KB
  // of the app's RSS, measured) but costs 3-4 ms of CPU per spare, and the app's isolate gets
  // one anyway once idle (IsolateRegistry's memory release).
  return spare;
}

}  // namespace isolated::worker
