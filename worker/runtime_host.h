// What worker/runtime.js needs from whoever runs it: answering requests, logging, timers and
// (optionally) outbound fetch().
// NativeBindings reaches its host only through this interface, carried in each binding's
// FunctionTemplate data, so the same runtime serves both the worker (IsolateHost) and
// `isolated test` (TestRunner).
//
// Threading: every call arrives on the thread that runs the isolate, from inside JavaScript.
#pragma once

#include <v8.h>

#include <cstdint>
#include <string>

namespace isolated::worker {

class OutboundFetches;

class RuntimeHost {
 public:
  // Answers request `id`; answers for ids no longer in flight are dropped.
  virtual void respond(uint64_t id, uint16_t status, v8::Local<v8::Array> flatHeaders,
                       v8::Local<v8::Value> body) = 0;
  virtual void fail(uint64_t id, const std::string& kind, const std::string& detail) = 0;
  // One console line; `requestId` is 0 when no request is running.
  virtual void log(int level, const std::string& message, uint64_t requestId) = 0;
  // Schedules a timer whose callback will run in the name of `requestId`; returns its id.
  virtual uint64_t addTimer(double delayMs, bool repeat, uint64_t requestId) = 0;
  virtual void cancelTimer(uint64_t id) = 0;
  // waitUntil(): a promise of request `id` started or settled. Hosts that do not outlive their
  // requests' work (the test runner) need not count them.
  virtual void waitUntilBegin(uint64_t /*id*/) {}
  virtual void waitUntilEnd(uint64_t /*id*/) {}
  // The current context's outbound fetches; nullptr where fetch() is not available.
  virtual OutboundFetches* fetches() { return nullptr; }

 protected:
  ~RuntimeHost() = default;
};

}  // namespace isolated::worker
