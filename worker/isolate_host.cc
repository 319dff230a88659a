// IsolateHost: construction and teardown, and what the runtime's native bindings call back for
// a request: its answer, its streamed bodies, its console lines and timers. Turns and limits are
// in isolate_host_turns.cc, context rebuilds in isolate_host_rebuild.cc, entries into JavaScript
// in isolate_host_dispatch.cc, the lifetime of a request's work in isolate_host_lifetime.cc.
#include "worker/isolate_host.h"

namespace isolated::worker {

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
      waitUntilDeadlines_(base, options_.waitUntilTimeout,
                          [this](const std::vector<uint64_t>& ids) { onWaitUntilExpired(ids); }),
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
  fetches_.setAlive([this](uint64_t id) { return requestAlive(id); });
}

IsolateHost::~IsolateHost() {
  forgetContextWork();
  streams_.clear();
  context_.reset();
  spareContext_.reset();
  isolate_.reset();
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

void IsolateHost::complete(uint64_t id) {
  bool wasInFlight = context_ && context_->finishRequest(id);
  streams_.close(id);
  replayable_.erase(id);
  if (wasInFlight) requestAnswered(id);
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
  bool waitUntilPending = context_->waitUntilFor(id) > 0;
  complete(id);
  writer_.response(isolate_->get(), id, status, headerText, body, waitUntilPending);
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
  writer_.runtimeError(id, kind, detail, context_ && context_->waitUntilFor(id) > 0);
  armGraceIfBackground();
}

bool IsolateHost::startResponse(uint64_t id, uint16_t status, v8::Local<v8::String> headerText) {
  if (!context_ || !context_->hasRequest(id) || streams_.responseStarted(id)) return false;
  replayable_.erase(id);  // its answer has begun: it can no longer run again
  writer_.streamedResponse(isolate_->get(), id, status, headerText, context_->waitUntilFor(id) > 0);
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
