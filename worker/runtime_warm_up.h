// Warming up the runtime's request path: one synthetic request through the runtime's dispatch
// to a throwaway `fetch` listener, so that the functions every request needs (headers, the
// Request and its URL, the dispatch, a Response and the answer) are compiled, and whatwg-url is
// loaded, before an app's first request rather than during it, where their CPU would count
// against the app's CPU limit.
//
// The spares (worker/spare_isolate.h) are warmed up: deserialised from the built-ins snapshot,
// warmed up while the worker is idle, bound to an app later. Script snapshots are not: a blob
// written with compiled code (FunctionCodeHandling::kKeep) crashed workers that mixed it with
// the built-ins blob (docs/architecture.md, "Script snapshot").
//
// Threading: the thread of the isolate, inside its HandleScope, with no JavaScript running.
#pragma once

#include <v8.h>

#include <cstdint>
#include <string>

#include "worker/runtime_host.h"
#include "worker/script_context.h"

namespace isolated::worker {

// The host while a context warms up, and in the start-up benchmarks: there is no app and no
// request to answer, so every answer, console line and timer is dropped.
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

// Runs one GET request for `url` (Host `host`) through `context`'s dispatch, answered into
// whatever RuntimeHost is attached to the isolate (a WarmUpHost, the tenant bench's).
void dispatchSyntheticRequest(v8::Isolate* isolate, ScriptContext& context, const char* url,
                              const char* host);
// Compiles the runtime's request path in `context` (runtime installed, no app yet): one request
// to a throwaway `fetch` listener, removed again. False when the listener may still be
// registered: the context must not be given to an app then.
bool warmUpContext(v8::Isolate* isolate, ScriptContext& context);

}  // namespace isolated::worker
