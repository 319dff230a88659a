// What the runtime (worker/js/) needs from whoever runs it: answering requests, logging, timers
// and (optionally) outbound fetch(). NativeBindings reaches its host only through this
// interface, so the same runtime serves both the worker (IsolateHost) and `isolated test`
// (TestRunner).
//
// How a native callback finds its host: through the isolate's data slot kHostSlot, set with
// attachHost() by whoever owns the isolate, and read with hostOf(), the single accessor. Not
// through FunctionTemplate data: the bindings live in the startup snapshot, which cannot hold
// a pointer; nor through the context, whose embedder data would be serialised with it.
//
// Invariant: an isolate runs the JavaScript of one host at a time; the host attaches itself
// before it enters JavaScript and outlives every call it receives.
// Threading: every call arrives on the thread that runs the isolate, from inside JavaScript.
#pragma once

#include <v8.h>

#include <cstdint>
#include <string>

namespace isolated::worker {

class BindingCalls;
class OutboundFetches;

class RuntimeHost {
 public:
  // Answers request `id`; answers for ids no longer in flight are dropped. `headerText` holds
  // each header name and value followed by a NUL ("name\0value\0...", see ResponseWriter).
  virtual void respond(uint64_t id, uint16_t status, v8::Local<v8::String> headerText,
                       v8::Local<v8::Value> body) = 0;
  virtual void fail(uint64_t id, const std::string& kind, const std::string& detail) = 0;
  // One console line; `requestId` is 0 when no request is running.
  virtual void log(int level, const std::string& message, uint64_t requestId) = 0;
  // Schedules a timer whose callback will run in the name of `requestId`; returns its id.
  // `record` (the runtime's {callback, args}) is handed back to the runtime's fireTimer().
  virtual uint64_t addTimer(double delayMs, bool repeat, uint64_t requestId,
                            v8::Local<v8::Value> record) = 0;
  virtual void cancelTimer(uint64_t id) = 0;
  // waitUntil(): a promise of request `id` started or settled. Hosts that do not outlive their
  // requests' work (the test runner) need not count them.
  virtual void waitUntilBegin(uint64_t /*id*/) {}
  virtual void waitUntilEnd(uint64_t /*id*/) {}
  // The runtime's own work (a lazily loaded runtime module's first load) starts or ends inside
  // the running turn: its CPU does not count against the app's CPU limit, up to an allowance
  // per turn (CpuWatchdog::beginRuntimeWork). Hosts without a CPU limit ignore it.
  virtual void runtimeWorkBegin() {}
  virtual void runtimeWorkEnd() {}
  // The current context's outbound fetches; nullptr where fetch() is not available.
  virtual OutboundFetches* fetches() { return nullptr; }
  // The current context's storage binding calls; nullptr where bindings are not available.
  virtual BindingCalls* bindingCalls() { return nullptr; }

  // Streamed bodies (worker/body_streams.h, worker/body_bindings.h). The defaults are for hosts
  // without requests (the test runner): no request has a streamed body.
  // Sends status and headers of `id` with its body to follow; false when `id` is not in flight.
  virtual bool startResponse(uint64_t /*id*/, uint16_t /*status*/,
                             v8::Local<v8::String> /*headerText*/) {
    return false;
  }
  // Resolves `done` with the next request-body chunk (Uint8Array) or null at its end.
  virtual void readBody(uint64_t id, v8::Local<v8::Promise::Resolver> done);
  // Resolves `done` with the rest of the request body, whole: a Uint8Array, or its UTF-8 text.
  virtual void readBodyAll(uint64_t id, bool asText, v8::Local<v8::Promise::Resolver> done);
  // Resolves `done` once `bytes` (a Uint8Array) have gone out as response body.
  virtual void writeBody(uint64_t id, v8::Local<v8::Value> bytes,
                         v8::Local<v8::Promise::Resolver> done);
  // Ends the response body (after what was written), or abandons it when `aborted`.
  virtual void endBody(uint64_t /*id*/, bool /*aborted*/) {}

 protected:
  ~RuntimeHost() = default;
};

// The isolate data slot that holds the RuntimeHost*. Slots are the embedder's (V8 10.2 has 4).
constexpr uint32_t kHostSlot = 0;

inline void attachHost(v8::Isolate* isolate, RuntimeHost* host) {
  isolate->SetData(kHostSlot, host);
}

inline RuntimeHost& hostOf(const v8::FunctionCallbackInfo<v8::Value>& info) {
  return *static_cast<RuntimeHost*>(info.GetIsolate()->GetData(kHostSlot));
}

}  // namespace isolated::worker
