// Warming up the runtime's request path: one synthetic request through the runtime's dispatch
// to a throwaway `fetch` listener, so that the functions every request needs (headers, the
// Request and its URL, the dispatch, a Response and the answer) are compiled, and whatwg-url is
// loaded, before an app's first request rather than during it, where their CPU would count
// against the app's CPU limit.
//
// Two kinds of context are warmed up:
//  - a spare (worker/spare_isolate.h): deserialised from the built-ins snapshot, warmed up
//    while the worker is idle, bound to an app later;
//  - the context a script snapshot is made from (worker/snapshot_builder.h), before the script
//    runs, so that every context made from that snapshot starts with the compiled code
//    (the snapshot keeps it: FunctionCodeHandling::kKeep). Without it an app's first request
//    in a new or rebuilt context cost 15-20 ms of CPU (docs/operations.md, "CPU limit").
//
// Threading: the thread of the isolate, inside its HandleScope, with no JavaScript running.
#pragma once

#include <v8.h>

#include <cstdint>
#include <functional>
#include <string>

#include "worker/runtime_host.h"
#include "worker/script_context.h"

namespace isolated::worker {

// The host while a context warms up, and in the start-up benchmarks: there is no app and no
// request to answer, so every answer and console line is dropped. It counts the timers asked
// for (none are set): a context that is to be serialised must have none pending.
class WarmUpHost final : public RuntimeHost {
 public:
  void respond(uint64_t, uint16_t, v8::Local<v8::String>, v8::Local<v8::Value>) override {}
  void fail(uint64_t, const std::string&, const std::string&) override {}
  void log(int, const std::string&, uint64_t) override {}
  uint64_t addTimer(double, bool, uint64_t, v8::Local<v8::Value>) override { return ++timers_; }
  void cancelTimer(uint64_t) override {}
  uint64_t timersAsked() const { return timers_; }

 private:
  uint64_t timers_ = 0;
};

// What a warm-up runs in: a context with the runtime installed and no app, its `dispatch`
// entry point, and how its promise jobs run (the context's own queue, or the isolate's).
struct WarmUpTarget {
  v8::Local<v8::Context> context;
  v8::Local<v8::Function> dispatch;
  std::function<void()> runMicrotasks;
};

// Runs one GET request for `url` (Host `host`) through the target's dispatch, answered into
// whatever RuntimeHost is attached to the isolate (a WarmUpHost, the tenant bench's).
void dispatchSyntheticRequest(v8::Isolate* isolate, const WarmUpTarget& target, const char* url,
                              const char* host);
void dispatchSyntheticRequest(v8::Isolate* isolate, ScriptContext& context, const char* url,
                              const char* host);

// Compiles the runtime's request path in the target: one request to a throwaway `fetch`
// listener, removed again. False when the listener may still be registered: the context must
// not be given to an app then.
bool warmUpRuntime(v8::Isolate* isolate, const WarmUpTarget& target);
// The same for a ScriptContext whose runtime is installed (installRuntime()).
bool warmUpContext(v8::Isolate* isolate, ScriptContext& context);

}  // namespace isolated::worker
