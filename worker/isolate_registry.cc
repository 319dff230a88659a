// IsolateRegistry: app definitions (LoadApp, UnloadApp) and the life of each app's host:
// creation (preload, cold start, from a spare), failure and reaping. Routing of messages to hosts
// is in isolate_registry_routing.cc, eviction and idle memory in isolate_registry_eviction.cc,
// totals for Pong in isolate_registry_totals.cc.
#include "worker/isolate_registry.h"

#include <capnp/message.h>

#include "ipc/protocol.h"
#include "worker/response_writer.h"

namespace isolated::worker {

namespace {

// The files an app loaded, when they fit in kMaxModuleBytes (else none: the version is not
// pinned and other workers read the files).
void attachModules(ipc::AppLoaded::Builder loaded,
                   const std::map<std::string, std::string>& files) {
  size_t total = 0;
  for (const auto& [path, text] : files)
    total += path.size() + text.size();
  if (total > ipc::kMaxModuleBytes) return;
  auto list = loaded.initModules(static_cast<unsigned>(files.size()));
  unsigned i = 0;
  for (const auto& [path, text] : files) {
    list[i].setPath(path);
    list[i].setText(text);
    ++i;
  }
}

using Clock = std::chrono::steady_clock;

// How long after an eviction the freed memory is trimmed (see MallocTrimmer).
constexpr std::chrono::milliseconds kTrimDelay{200};

IsolationMode isolationOf(ipc::Isolation isolation) {
  switch (isolation) {
    case ipc::Isolation::CONTEXT:
      return IsolationMode::kContext;
    case ipc::Isolation::ISOLATE:
      return IsolationMode::kIsolate;
    default:
      return IsolationMode::kShared;
  }
}

}  // namespace

std::string IsolateRegistry::appLabel(const AppDefinition& definition) {
  return definition.name + " (app " + std::to_string(definition.id) + ")";
}

void IsolateRegistry::AppOutbox::send(capnp::MessageBuilder& message) {
  registry_.noteSent(app_, message);
  registry_.outbox_.send(message);
}

IsolateRegistry::IsolateRegistry(event_base* base, Outbox& outbox, CpuWatchdog& watchdog,
                                 Logger& logger, RegistryOptions options)
    : base_(base),
      outbox_(outbox),
      watchdog_(watchdog),
      logger_(logger),
      options_(options),
      snapshots_(options.builtins, logger),
      trimmer_(base, kTrimDelay),
      spares_(
          base,
          SpareOptions{options.spareIsolates,
                       options.sharedIsolate ? options.sharedHeapLimitBytes
                                             : AppDefinition(0).heapLimitBytes,
                       options.builtins, options.platform,
                       options.sharedIsolate ? std::function<std::shared_ptr<OwnedIsolate>()>(
                                                   [this] { return sharedIsolate(); })
                                             : nullptr},
          [this] { return !requestApp_.empty(); }, logger) {
  reapEvent_.reset(event_new(
      base_, -1, 0,
      [](evutil_socket_t, short, void* self) { static_cast<IsolateRegistry*>(self)->reap(); },
      this));
  sweepEvent_.reset(event_new(
      base_, -1, 0,
      [](evutil_socket_t, short, void* self) { static_cast<IsolateRegistry*>(self)->sweep(); },
      this));
  releaseEvent_.reset(event_new(
      base_, -1, 0,
      [](evutil_socket_t, short, void* self) {
        static_cast<IsolateRegistry*>(self)->releaseIdleMemory();
      },
      this));
}

IsolateRegistry::~IsolateRegistry() {
  // Hosts first: their isolates release handles into definitions' sources.
  for (auto& [id, app] : apps_) {
    app->host.reset();
  }
  apps_.clear();
}

void IsolateRegistry::configure(uint32_t maxIsolates, std::chrono::milliseconds idleTimeout) {
  options_.maxIsolates = maxIsolates;
  options_.idleTimeout = idleTimeout;
}

IsolateRegistry::App* IsolateRegistry::find(uint32_t app) {
  auto it = apps_.find(app);
  return it == apps_.end() ? nullptr : it->second.get();
}

bool IsolateRegistry::loadApp(ipc::LoadApp::Reader load, std::string& error) {
  uint32_t id = load.getApp();
  if (id == 0) {
    error = "LoadApp with app id 0";
    return false;
  }
  if (App* existing = find(id)) {
    // ForgetApp crossed a request that brought the isolate back; the definition is still
    // here, and the same id is the same deployment.
    if (existing->forgetting) {
      existing->forgetting = false;
      return true;
    }
    error = "a second LoadApp for app " + std::to_string(id);
    return false;
  }
  auto app = std::make_unique<App>(*this, id);
  AppDefinition& definition = app->definition;
  if (auto node = forgotten_.extract(id)) {
    definition.fetchIds.continueFrom(node.mapped().fetchIds);
    definition.callIds.continueFrom(node.mapped().callIds);
    app->retiredUsage = node.mapped().usage;
  }
  definition.name = load.getName();
  definition.version = load.getVersion();
  definition.scriptPath = load.getScriptPath();
  definition.scriptSnapshotPath = load.getScriptSnapshot();
  for (auto binding : load.getBindings()) {
    definition.bindings.push_back(
        {binding.getName().cStr(), binding.getValue().cStr(), binding.getJson(), ""});
  }
  for (auto binding : load.getStorage()) {
    definition.bindings.push_back(
        {binding.getName().cStr(), "", false, storageKind(binding.getKind())});
  }
  for (auto name : load.getServices()) {
    definition.bindings.push_back({name.cStr(), "", false, "service"});
  }
  // 0 stands for the serve defaults (the supervisor normally sends both).
  if (load.getHeapLimitMb() > 0) definition.heapLimitBytes = size_t{load.getHeapLimitMb()} << 20;
  if (load.getCpuLimitMs() > 0)
    definition.cpuLimit = std::chrono::milliseconds(load.getCpuLimitMs());
  definition.isolation = isolationOf(load.getIsolation());
  for (auto module : load.getModules()) {
    definition.sources.preset(module.getPath(), module.getText());
    definition.sourcesPinned = true;
  }
  // V8 10.2 cannot create isolates from two different startup blobs in one process (see
  // snapshotFor): spares come from the built-ins blob, so they are made only in a worker whose
  // apps use no script snapshot, and an app's script snapshot is not used once they exist.
  if (options_.sharedIsolate) {
    // Contexts of the shared isolate never use a script snapshot.
    spares_.fill(options_.sharedHeapLimitBytes);
  } else if (!definition.scriptSnapshotPath.empty()) {
    if (spares_.everMade()) {
      definition.snapshotResolved = true;
      logger_.info(
          "script snapshot not used: this worker already runs isolates made from the "
          "built-ins snapshot",
          {{"app", id}});
    } else {
      spares_.disable();
    }
  } else {
    spares_.fill(definition.heapLimitBytes);
  }
  App& stored = *apps_.emplace(id, std::move(app)).first->second;
  logger_.debug("app defined", {{"app", id}, {"name", definition.name}});
  if (load.getPreload()) ensureHost(stored, /*coldStart=*/false);
  return true;
}

void IsolateRegistry::unloadApp(uint32_t id) {
  App* app = find(id);
  if (app == nullptr) {
    // A forgotten app ends here (its usage was reported by the Pongs since the ForgetApp).
    if (forgotten_.erase(id) == 0)
      logger_.warn("UnloadApp for an app the worker does not hold", {{"app", id}});
    return;
  }
  app->unloading = true;
  reap();
}

void IsolateRegistry::forgetApp(uint32_t id) {
  App* app = find(id);
  if (app == nullptr) {
    logger_.warn("ForgetApp for an app the worker does not hold", {{"app", id}});
    return;
  }
  if (app->unloading) return;  // it goes anyway, with its work
  app->forgetting = true;
  reap();
}

std::shared_ptr<OwnedIsolate> IsolateRegistry::sharedIsolate() {
  if (!sharedIsolate_) {
    if (!sharedAllocator_)
      sharedAllocator_.reset(v8::ArrayBuffer::Allocator::NewDefaultAllocator());
    sharedIsolate_ =
        std::make_shared<OwnedIsolate>(sharedAllocator_.get(), options_.sharedHeapLimitBytes,
                                       options_.builtins, options_.platform);
  }
  return sharedIsolate_;
}

IsolateHost* IsolateRegistry::ensureHost(App& app, bool coldStart) {
  if (app.host) return app.host.get();
  if (options_.maxIsolates > 0 && liveCount_ >= options_.maxIsolates) evictLeastRecentlyUsed(app);
  auto started = Clock::now();
  AppDefinition& definition = app.definition;
  HostOptions hostOptions;
  hostOptions.app = definition.id;
  hostOptions.scriptPath = definition.scriptPath;
  hostOptions.sources = &definition.sources;
  hostOptions.fetchIds = &definition.fetchIds;
  hostOptions.callIds = &definition.callIds;
  hostOptions.heapLimitBytes = definition.heapLimitBytes;
  hostOptions.cpuLimit = definition.cpuLimit;
  hostOptions.waitUntilTimeout = options_.waitUntilTimeout;
  hostOptions.isolation = definition.isolation;
  hostOptions.logBacklogBytes = options_.logBacklogBytes;
  hostOptions.platform = options_.platform;
  if (options_.sharedIsolate) {
    // Contexts of the shared isolate start from its snapshot: the built-ins only.
    hostOptions.sharedIsolate = sharedIsolate();
    hostOptions.snapshot = options_.builtins;
    hostOptions.heapLimitBytes = options_.sharedHeapLimitBytes;
    hostOptions.spare = spares_.take(hostOptions.heapLimitBytes, hostOptions.snapshot);
    // A spare context of a shared isolate since replaced is of no use (reap() drops them).
    if (hostOptions.spare && hostOptions.spare->isolate != hostOptions.sharedIsolate) {
      hostOptions.spare.reset();
    }
  } else {
    hostOptions.snapshot = snapshots_.snapshotFor(definition);
    hostOptions.spare = spares_.take(hostOptions.heapLimitBytes, hostOptions.snapshot);
  }
  logger_.debug("creating isolate", {{"app", definition.id},
                                     {"spare", hostOptions.spare != nullptr},
                                     {"spares_ready", spares_.ready()},
                                     {"spares_taken", spares_.taken()},
                                     {"spares_missed", spares_.missed()}});
  auto host = std::make_unique<IsolateHost>(base_, app.outbox, watchdog_, std::move(hostOptions));
  host->setBindings(definition.bindings);
  App* self = &app;
  host->setBackgroundIdleCallback([this, self] {
    touch(*self);
    if (self->unloading) scheduleReap();
    if (workEnded_) workEnded_();
  });
  host->setFailureCallback([this, self](const ScriptError& error) {
    self->failure = error;
    scheduleReap();
  });
  if (auto error = host->load()) {
    app.retiredUsage += host->takeUsage();
    retiredCounters_ += host->counters();
    host.reset();
    logger_.warn("app failed to load", {{"app", definition.id},
                                        {"name", definition.name},
                                        {"error", error->file + ":" + std::to_string(error->line) +
                                                      ": " + error->message}});
    sendLoadError(definition.id, *error);
    return nullptr;
  }
  double loadMs = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  app.host = std::move(host);
  ++liveCount_;
  touch(app);
  capnp::MallocMessageBuilder message;
  auto loaded = message.initRoot<ipc::Envelope>().initAppLoaded();
  loaded.setApp(definition.id);
  loaded.setLoadMs(loadMs);
  loaded.setColdStart(coldStart);
  // A validating preload tells the supervisor what it loaded, so that every other worker runs
  // the same text (rule 22).
  if (!coldStart && !definition.sourcesPinned) attachModules(loaded, definition.sources.files());
  outbox_.send(message);
  return app.host.get();
}

void IsolateRegistry::sendLoadError(uint32_t app, const ScriptError& error) {
  capnp::MallocMessageBuilder message;
  auto loadError = message.initRoot<ipc::Envelope>().initLoadError();
  loadError.setApp(app);
  loadError.setFile(error.file);
  loadError.setLine(error.line);
  loadError.setMessage(error.message);
  outbox_.send(message);
}

void IsolateRegistry::retireHost(App& app) {
  retiredCounters_ += app.host->counters();
  retiredDroppedLogLines_ += app.host->droppedLogLines();
  app.retiredUsage += app.host->takeUsage();
  app.host.reset();
  --liveCount_;
}

void IsolateRegistry::scheduleReap() {
  event_active(reapEvent_.get(), EV_TIMEOUT, 0);
}

void IsolateRegistry::reap() {
  if (sharedIsolate_ && sharedIsolate_->heapLimitHit()) {
    // Only a new isolate gives the heap back: every app in the shared one goes with it.
    size_t evicted = 0;
    for (auto& [id, app] : apps_) {
      if (!app->host || !app->host->sharesIsolate()) continue;
      app->host->failAll(runtime_error::kContextReset,
                         "request discarded: the shared isolate reached its heap limit and was "
                         "replaced");
      app->failure.reset();
      evict(*app, "memory");
      ++evicted;
    }
    sharedIsolate_.reset();
    // Spare contexts live in the isolate just dropped.
    spares_.clear();
    logger_.warn("the shared isolate reached its heap limit; it was replaced",
                 {{"apps_evicted", evicted}});
  }
  for (auto it = apps_.begin(); it != apps_.end();) {
    App& app = *it->second;
    if (app.failure && app.host) {
      ScriptError failure = *app.failure;
      app.failure.reset();
      app.host->failAll(
          runtime_error::kAppFailed,
          "app " + appLabel(app.definition) + " could not reload its script: " + failure.message);
      retireHost(app);
      sendLoadError(app.definition.id, failure);
    }
    if (app.unloading && (!app.host || idle(app))) {
      if (app.host) evict(app, "unload");
      logger_.debug("app unloaded", {{"app", app.definition.id}});
      it = apps_.erase(it);
      continue;
    }
    if (app.forgetting && !app.host) {
      forgotten_[app.definition.id] =
          Forgotten{app.definition.fetchIds.issued(), app.definition.callIds.issued(),
                    std::move(app.retiredUsage)};
      logger_.debug("app definition forgotten", {{"app", app.definition.id}});
      it = apps_.erase(it);
      trimmer_.schedule();
      continue;
    }
    ++it;
  }
}

}  // namespace isolated::worker
