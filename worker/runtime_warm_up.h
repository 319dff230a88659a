// Warming up the runtime's request path: one synthetic request through the runtime's dispatch
// to the runtime's own handler (warmUp() in worker/js/handlers.js, never the app's), so that the
// functions every request needs (headers, the Request and its URL, the dispatch, a Response and
// the answer) are compiled, and whatwg-url is loaded, before an app's first request rather than
// during it, where their CPU would count against the app's CPU limit.
//
// Two kinds of context are warmed up, both while no request waits on them:
// - the spares (worker/spare_isolate.h): deserialised from the built-ins snapshot, warmed up
//   while the worker is idle, bound to an app later;
// - a context IsolateHost makes from the app's script snapshot and keeps for many requests
//   (`--isolation shared`), right after it loaded, within the start-up CPU limit (why only
//   those: IsolateHost::createContext). The app's own code is not called, but the warm-up runs
//   in the app's context, where a top level may have patched what the runtime touches (a
//   prototype's getter), hence the limit.
// Script snapshots are not written warm: a blob written with compiled code
// (FunctionCodeHandling::kKeep) crashed workers that mixed it with the built-ins blob
// (docs/architecture.md, "Script snapshot").
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
// Whether the warm-up's handler parses its URL (`new URL(request.url)`), as nearly every app's
// does first. That loads whatwg-url: 3.5 of the 4 ms of CPU an app's first request took after a
// warm-up without it. A spare is warmed up while the worker is idle, so it parses. A context
// made for an app (IsolateHost::createContext) does not: the module's load is not charged to
// the app anyway (runtime work, worker/cpu_watchdog.h), and it would cost every such context
// the module whether its app parses URLs or not.
enum class WarmUpUrl { kSkip, kParse };

// Compiles the runtime's request path in `context` (runtime installed; an app's script loaded or
// not): one request to the runtime's own handler, answered into whatever RuntimeHost is attached
// to the isolate (attach a WarmUpHost). False when it was terminated (a CPU limit).
bool warmUpContext(v8::Isolate* isolate, ScriptContext& context, WarmUpUrl url);

}  // namespace isolated::worker
