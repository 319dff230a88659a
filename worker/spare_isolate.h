// Blank isolates made ahead of need, so that an app's cold start does not pay for one.
//
// A SpareIsolate is what every app's isolate starts as: an isolate deserialised from the
// built-ins snapshot with the heap limit of the worker's first app, and the runtime's context
// deserialised in it with the runtime installed, with no app bound yet (no env, no script, no
// host). It is also warmed up: one request runs through the runtime's dispatch to a throwaway
// `fetch` listener (its answer dropped, the listener removed again), so the runtime's request
// path is compiled in the isolate, whatwg-url included (the listener parses the request's URL,
// as nearly every handler does first; worker/runtime_warm_up.h).
// Making one is most of a cold start's CPU (the snapshot's heap and context, and compiling the
// runtime's request path on the app's first request: several ms); binding an app to it (env,
// the script with its code cache) is the rest. SpareIsolates keeps a few, made off the request
// path: a zero-delay event after a spare is taken, run only while the worker has nothing else
// to do (the caller's `busy` says so; a busy worker tries again a little later). So a burst of
// cold starts uses the spares and then makes isolates on the request path as before; nothing
// waits for a spare.
//
// Only apps that would start from exactly this (the built-ins snapshot, the heap limit of the
// worker's first app) take a spare; an app with a script snapshot or another heap limit makes
// its isolate as before.
//
// Lifetime: the pool and its spares live inside the IsolateRegistry, destroyed before the
// snapshot, the platform and the event_base. Threading: the worker's loop thread only.
#pragma once

#include <event2/event.h>
#include <v8.h>

#include <cstddef>
#include <deque>
#include <functional>
#include <memory>

#include "common/event_handles.h"
#include "common/logger.h"
#include "worker/owned_isolate.h"
#include "worker/script_context.h"
#include "worker/startup_snapshot.h"

namespace isolated::worker {

// One blank isolate and its runtime context. Members are declared so that the context goes
// before the isolate, and the isolate before the allocator of its array buffers.
struct SpareIsolate {
  // Null for a context of the shared isolate (whose allocator its owner keeps).
  std::unique_ptr<v8::ArrayBuffer::Allocator> allocator;
  std::shared_ptr<OwnedIsolate> isolate;
  std::unique_ptr<ScriptContext> context;
  size_t heapLimitBytes = 0;

  SpareIsolate() = default;
  SpareIsolate(SpareIsolate&&) = default;
  SpareIsolate& operator=(SpareIsolate&&) = default;
  ~SpareIsolate() {
    context.reset();
    isolate.reset();
  }
};

struct SpareOptions {
  // Spares kept ready; 0 turns the pool off.
  size_t count = 1;
  // Until fill() sets it.
  size_t heapLimitBytes = 128u << 20;
  // Not owned; both must outlive the pool. A null snapshot turns the pool off.
  StartupSnapshot* snapshot = nullptr;
  v8::Platform* platform = nullptr;
  // When set, spares are contexts of the isolate it returns (the worker's shared isolate,
  // created on first use) rather than isolates of their own: a context there is cheap to make,
  // but its first request would still load and compile the runtime's request path. The owner
  // clear()s the pool when it replaces that isolate.
  std::function<std::shared_ptr<OwnedIsolate>()> sharedIsolate;
};

class SpareIsolates {
 public:
  // `busy` is asked before each spare is made: true postpones the making. `logger` (which
  // must outlive the pool) gets a debug line per spare made, and a warning if none can be.
  SpareIsolates(event_base* base, SpareOptions options, std::function<bool()> busy, Logger& logger);
  ~SpareIsolates();
  SpareIsolates(const SpareIsolates&) = delete;
  SpareIsolates& operator=(const SpareIsolates&) = delete;

  // A spare for an isolate with this heap limit made from this snapshot, if one is ready;
  // schedules its replacement either way.
  std::unique_ptr<SpareIsolate> take(size_t heapLimitBytes, const StartupSnapshot* snapshot);
  // Starts filling the pool (from the loop, soon). The first call sets the spares' heap limit:
  // the first app's, which is normally the server's default that most apps share.
  void fill(size_t heapLimitBytes) {
    if (!limitSet_) options_.heapLimitBytes = heapLimitBytes;
    limitSet_ = true;
    schedule(0);
  }
  // Drops the spares and makes no more: the worker is about to use another startup snapshot,
  // and V8 10.2 cannot create isolates from two different blobs in one process.
  void disable() {
    ready_.clear();
    broken_ = true;
    if (armed_) event_del(timer_.get());
    armed_ = false;
  }
  // Whether any spare was ever made (then the built-ins blob is in use in this process).
  bool everMade() const { return made_ > 0; }
  // Drops every spare (memory pressure); the next take() makes them again.
  void clear() { ready_.clear(); }
  size_t ready() const { return ready_.size(); }
  // Spares taken by a cold start, and cold starts that found none, since the worker started.
  uint64_t taken() const { return taken_; }
  uint64_t missed() const { return missed_; }

 private:
  void schedule(long delayMs);
  void onTimer();
  // Nullptr when V8 cannot deserialise the context (then the pool stops trying).
  std::unique_ptr<SpareIsolate> make();

  SpareOptions options_;
  std::function<bool()> busy_;
  Logger& logger_;
  EventPtr timer_;
  bool armed_ = false;
  bool broken_ = false;
  bool limitSet_ = false;
  std::deque<std::unique_ptr<SpareIsolate>> ready_;
  uint64_t taken_ = 0;
  uint64_t missed_ = 0;
  uint64_t made_ = 0;
};

}  // namespace isolated::worker
