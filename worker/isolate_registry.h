// The worker's apps: app deployment id -> definition (from LoadApp) and, while the app is
// loaded, its IsolateHost (one isolate and context with the app's limits, timers, fetches and
// waitUntil() work). Implements the worker's half of ipc/protocol.h rule 21:
//
//  - LoadApp defines an app; with `preload` its isolate is created at once (AppLoaded or
//    LoadError), otherwise by its first RequestStart or Scheduled (a cold start: AppLoaded with
//    coldStart). A load that fails sends LoadError(app) and answers the request 503
//    `app-failed`; the definition stays and the next request tries again. A host that cannot
//    rebuild its script after a limit breach is failed the same way (LoadError, its requests
//    503 `app-failed`), later, from the event loop, never from inside its own call.
//  - Requests, cancels and body messages go to the host that holds the request id; fetch
//    messages to the app named by the fetch id (FetchIdSequence).
//  - Eviction, each reported by AppEvicted(app, reason): an isolate idle (no request in flight
//    or held, no waitUntil() work) for Configure.isolateIdleTimeoutMs (`idle`); the least
//    recently active idle isolate when one more would exceed Configure.maxIsolates (`lru`; if
//    none is idle the bound is exceeded and that is logged); every idle isolate on EvictIdle
//    (`memory`); an unloaded app's isolate once its work has ended (`unload`). The definition,
//    with its sources and V8 code caches, stays until UnloadApp or ForgetApp, so the next
//    request re-creates the isolate without reading or compiling the script again. Evictions
//    are followed (within 200 ms) by malloc_trim, so what the isolates freed goes back to the
//    system.
//  - ForgetApp drops an evicted app's definition (the supervisor sends it after AppEvicted and
//    defines the app again before its next request); only a Forgotten record stays (where the
//    app's fetch and call ids stopped, usage not yet reported) until the app is defined again
//    or unloaded. An app that has an isolate when ForgetApp comes keeps its definition until
//    that isolate's next eviction, or for good if LoadApp comes first.
//  - An isolate idle for RegistryOptions::releaseAfter (10 s) gets one full, compacting GC
//    (IsolateHost::releaseMemory), off the request path: only while no request is in flight.
//  - Cold starts take a spare isolate when one is ready (worker/spare_isolate.h): made while
//    the worker is idle, with the runtime's request path already compiled.
//
// Invariants: an app's isolate exists only while its definition does; a request id maps to the
// app that received it until its Response (or the end of its streamed response) has gone out,
// or it was cancelled. Hosts are destroyed only from the registry's own entry points and its
// deferred reap event, never while one of their calls is on the stack.
// Threading: the worker's loop thread only. Lifetime: destroyed before the event_base, the
// Outbox, the CpuWatchdog and the snapshot it was given.
#pragma once

#include <event2/event.h>
#include <v8.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/event_handles.h"
#include "common/logger.h"
#include "ipc/messages.capnp.h"
#include "worker/app_definition.h"
#include "worker/cpu_watchdog.h"
#include "worker/fair_order.h"
#include "worker/isolate_host.h"
#include "worker/loop_notifying_platform.h"
#include "worker/malloc_trimmer.h"
#include "worker/outbox.h"
#include "worker/script_snapshot_selector.h"
#include "worker/spare_isolate.h"
#include "worker/startup_snapshot.h"

namespace isolated::worker {

struct RegistryOptions {
  // Live isolates; 0: no bound.
  uint32_t maxIsolates = 0;
  // 0: idle isolates are never evicted for idleness.
  std::chrono::milliseconds idleTimeout{0};
  // Every app's isolate starts from this (or from the app's script snapshot); null: no
  // snapshot (--no-builtins-snapshot), and script snapshots are not used either.
  StartupSnapshot* builtins = nullptr;
  // V8's default platform (task pumping, isolate shutdown notices). Not owned.
  v8::Platform* platform = nullptr;
  size_t logBacklogBytes = 1u << 20;
  // Opt-in density mode (`__worker --shared-isolate`): every app is a context of one isolate
  // with this heap limit, instead of an isolate of its own. Apps keep separate globals, env,
  // timers, microtask queues and CPU limits, but share one heap and its limit (a breach
  // replaces the shared isolate and evicts every app in it, reason `memory`), one GC, and V8's
  // process-wide isolation boundary (no separate isolate heaps between tenants). maxIsolates
  // then bounds loaded apps (contexts).
  bool sharedIsolate = false;
  size_t sharedHeapLimitBytes = 1024u << 20;
  // How long a request's waitUntil() work may run after its answer (Configure).
  std::chrono::milliseconds waitUntilTimeout{30000};
  // Blank isolates kept ready for cold starts (worker/spare_isolate.h); 0: none. With
  // sharedIsolate, blank warmed-up contexts of the shared isolate instead. Not used without a
  // built-ins snapshot.
  size_t spareIsolates = 1;
  // An isolate of its own idle this long has its memory released (IsolateHost::releaseMemory)
  // once, until it runs JavaScript again; 0: never. Not for the shared isolate.
  std::chrono::milliseconds releaseAfter{10000};
};

// One app's use of the worker since the previous takeUsage(), for Pong.
struct AppUsageReport {
  uint32_t app = 0;
  uint64_t cpuMicros = 0;
  uint64_t heapUsedBytes = 0;
  uint32_t cpuLimitTerminations = 0;
  uint32_t memoryLimitTerminations = 0;
};

class IsolateRegistry {
 public:
  IsolateRegistry(event_base* base, Outbox& outbox, CpuWatchdog& watchdog, Logger& logger,
                  RegistryOptions options);
  ~IsolateRegistry();
  IsolateRegistry(const IsolateRegistry&) = delete;
  IsolateRegistry& operator=(const IsolateRegistry&) = delete;

  // Configure's settings; before the first LoadApp.
  void configure(uint32_t maxIsolates, std::chrono::milliseconds idleTimeout);
  // Called when an app's last request or waitUntil() work has ended (a drain may be over).
  void setWorkEndedCallback(std::function<void()> callback) { workEnded_ = std::move(callback); }

  // Supervisor messages. Those returning bool return false, with `error` set, when the message
  // breaks the protocol (the caller closes the channel).
  bool loadApp(ipc::LoadApp::Reader load, std::string& error);
  void unloadApp(uint32_t app);
  void forgetApp(uint32_t app);
  void evictIdle();
  // A RequestStart or Scheduled envelope.
  bool dispatch(ipc::Envelope::Reader message, std::string& error);
  void cancel(uint64_t id);
  bool bodyChunk(ipc::BodyChunk::Reader chunk);
  void bodyCredit(ipc::BodyCredit::Reader credit);
  void onFetchMessage(ipc::Envelope::Reader message);
  // Routed by the call id's app, like fetch messages.
  void onBindingResult(ipc::BindingResult::Reader result);

  // For the fair order of a batch (worker/fair_order.h): the app `message` belongs to and that
  // app's requests active here, or a barrier when it belongs to no app or to one the worker
  // cannot tell yet. `started` carries the ids of requests started earlier in the same batch
  // (not yet known to the registry) to their apps; the caller clears it per batch.
  BatchEntry batchEntry(ipc::Envelope::Reader message,
                        std::vector<std::pair<uint64_t, uint32_t>>& started) const;

  // Runs the foreground tasks V8 posted for live isolates (PlatformTaskPump's callback).
  void runPlatformTasks(LoopNotifyingPlatform& platform);
  // The health probe, in the most recently active live isolate; true when none is alive.
  bool probe();

  // Over every live app.
  size_t inFlight() const;
  size_t backgroundTasks() const;
  void abandonBackground(const std::string& why);
  HeapStats heapStats();
  // Since the worker started, evicted isolates included.
  HostCounters counters() const;
  uint64_t droppedLogLines() const;
  uint32_t isolatesLoaded() const { return liveCount_; }
  size_t appsDefined() const { return apps_.size(); }
  // Apps that ran JavaScript or hit a limit since the previous call.
  std::vector<AppUsageReport> takeUsage();
  // Timers pending in every live context (Pong.timersPending).
  size_t timersPending() const;
  // Configure.waitUntilTimeoutMs; applies to isolates created from now on.
  void setWaitUntilTimeout(std::chrono::milliseconds timeout) {
    options_.waitUntilTimeout = timeout;
  }

 private:
  struct App;
  // The host's Outbox: forwards to the channel and notes what the host sends (answers end the
  // request's routing, activity refreshes the app's idle clock).
  class AppOutbox final : public Outbox {
   public:
    AppOutbox(IsolateRegistry& registry, App& app) : registry_(registry), app_(app) {}
    void send(capnp::MessageBuilder& message) override;
    size_t pendingBytes() const override { return registry_.outbox_.pendingBytes(); }

   private:
    IsolateRegistry& registry_;
    App& app_;
  };
  struct App {
    explicit App(IsolateRegistry& registry, uint32_t id)
        : definition(id), outbox(registry, *this) {}
    AppDefinition definition;
    AppOutbox outbox;
    std::unique_ptr<IsolateHost> host;
    std::chrono::steady_clock::time_point lastActive;
    bool unloading = false;
    // ForgetApp came while the app had an isolate: the definition goes with its eviction.
    bool forgetting = false;
    // Whether releaseMemory() ran since the app last ran JavaScript or sent anything.
    bool memoryReleased = false;
    // Set by the host's failure callback; the reap event acts on it.
    std::optional<ScriptError> failure;
    // Usage of the app's isolates already destroyed, not yet reported.
    HostUsage retiredUsage;
  };

  static std::string appLabel(const AppDefinition& definition);
  App* find(uint32_t app);
  // The app's host, created if need be (AppLoaded / LoadError sent). Null when the load failed.
  IsolateHost* ensureHost(App& app, bool coldStart);
  // The shared isolate, created on first use (after a heap-limit replacement, anew).
  std::shared_ptr<OwnedIsolate> sharedIsolate();
  bool idle(const App& app) const;
  // Destroys the app's (idle or failed) host, keeping its counters, and reports it.
  void retireHost(App& app);
  void evict(App& app, const char* reason);
  void evictLeastRecentlyUsed(const App& except);
  void noteSent(App& app, capnp::MessageBuilder& message);
  void touch(App& app);
  void scheduleReap();
  void reap();
  void armSweep(std::chrono::milliseconds after);
  void sweep();
  // Idle isolates' memory (RegistryOptions::releaseAfter): the release event, armed for the
  // earliest isolate due, releases due isolates while the worker has no request in flight, a
  // few ms of work per turn of the loop, least recently active first.
  void armRelease(std::chrono::milliseconds after);
  void releaseIdleMemory();
  void sendLoadError(uint32_t app, const ScriptError& error);

  event_base* base_;
  // The shared isolate's array buffer allocator, declared before everything that may hold the
  // isolate so that it is destroyed after it.
  std::unique_ptr<v8::ArrayBuffer::Allocator> sharedAllocator_;
  std::shared_ptr<OwnedIsolate> sharedIsolate_;
  Outbox& outbox_;
  CpuWatchdog& watchdog_;
  Logger& logger_;
  RegistryOptions options_;
  // Which snapshot each app's isolates start from (one script snapshot per process).
  ScriptSnapshotSelector snapshots_;
  // After evictions and releases: the freed memory goes back to the system soon, in one trim.
  MallocTrimmer trimmer_;
  std::map<uint32_t, std::unique_ptr<App>> apps_;
  // What stays of a forgotten app (ForgetApp) until LoadApp defines it again or UnloadApp ends
  // it: tens of bytes instead of its sources and code caches.
  struct Forgotten {
    uint32_t fetchIds = 0;
    uint32_t callIds = 0;
    HostUsage usage;
  };
  std::unordered_map<uint32_t, Forgotten> forgotten_;
  // Request id -> app, from dispatch to the answer (rule 3's one Response) or the cancel.
  std::unordered_map<uint64_t, uint32_t> requestApp_;
  uint32_t liveCount_ = 0;
  HostCounters retiredCounters_;
  uint64_t retiredDroppedLogLines_ = 0;
  std::function<void()> workEnded_;
  EventPtr reapEvent_;
  EventPtr sweepEvent_;
  bool sweepArmed_ = false;
  EventPtr releaseEvent_;
  bool releaseArmed_ = false;
  // Declared last: destroyed first, while the snapshot and platform still exist.
  SpareIsolates spares_;
};

}  // namespace isolated::worker
