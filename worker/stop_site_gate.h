// StopSiteGate: decides, for an IsolateHost, where the CPU watchdog may stop a turn that ran over
// its budget, and remembers where it did (the host keeps the context only when the stop landed in
// the app's own code).
//
// The gate defers a stop while the JavaScript runs the runtime's code (worker/js, whose state a
// stop may leave half-updated) or a microtask checkpoint (where V8 drops every queued promise
// job), for up to kStopDeferral, hoping to find the script's own code; then it stops anyway.
//
// Lifetime: reads its owner's current context through the reference given at construction, so
// the owner of that pointer must outlive the gate. Threading: the loop thread only (the watchdog
// asks through a V8 interrupt, which runs there).
#pragma once

#include <v8.h>

#include <chrono>
#include <memory>

#include "worker/cpu_watchdog.h"
#include "worker/script_context.h"

namespace isolated::worker {

class StopSiteGate final : public TerminationGate {
 public:
  // Where the watchdog stopped a turn's JavaScript.
  enum class Site {
    kNone,
    kScript,      // the app's own code, outside a microtask checkpoint: the context is kept
    kRuntime,     // the runtime's code (worker/js), whose state may be half-updated
    kMicrotasks,  // a promise job: V8 drops the rest of the queue, other requests' jobs too
  };
  // How long a stop is deferred while the JavaScript is somewhere it cannot be stopped safely
  // (the runtime's code, a checkpoint) before it is stopped anyway (and the context rebuilt).
  static constexpr std::chrono::milliseconds kStopDeferral{5};

  explicit StopSiteGate(const std::unique_ptr<ScriptContext>& context) : context_(context) {}
  StopSiteGate(const StopSiteGate&) = delete;
  StopSiteGate& operator=(const StopSiteGate&) = delete;

  // Before each turn: forgets the previous turn's stop.
  void beginTurn() { site_ = Site::kNone; }
  // Where the current (or last) turn was stopped; kNone if it was not.
  Site site() const { return site_; }

  // TerminationGate, on the loop thread at a V8 interrupt point of a turn over its budget.
  bool readyToTerminate(v8::Isolate* isolate, int asked) override;

 private:
  Site siteNow(v8::Isolate* isolate) const;

  const std::unique_ptr<ScriptContext>& context_;
  Site site_ = Site::kNone;
  // When the gate was first asked in the current turn.
  std::chrono::steady_clock::time_point firstAsked_;
};

}  // namespace isolated::worker
