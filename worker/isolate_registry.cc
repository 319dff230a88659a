// IsolateRegistry: app definitions, isolate creation (preload and cold start), routing by
// request and fetch id, eviction and per-app accounting.
#include "worker/isolate_registry.h"

#include <malloc.h>

#include <capnp/message.h>
#include <algorithm>
#include <sstream>

#include "common/read_file.h"
#include "ipc/protocol.h"
#include "ipc/small_message_builder.h"
#include "worker/response_writer.h"
#include "worker/snapshot_sources.h"

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

// How long after an eviction the freed memory is trimmed (see scheduleTrim).
constexpr long kTrimDelayMs = 200;
// Idle isolates' memory release (releaseIdleMemory): a worker with a request in flight looks
// again this much later, and one turn of the loop releases isolates for at most about this long.
constexpr std::chrono::milliseconds kReleaseBusyRetry{50};
constexpr std::chrono::milliseconds kReleaseTurn{5};

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

HostUsage& operator+=(HostUsage& into, const HostUsage& more) {
  into.cpu += more.cpu;
  into.cpuLimitTerminations += more.cpuLimitTerminations;
  into.memoryLimitTerminations += more.memoryLimitTerminations;
  return into;
}

HostCounters& operator+=(HostCounters& into, const HostCounters& more) {
  into.requestsServed += more.requestsServed;
  into.cpuLimitTerminations += more.cpuLimitTerminations;
  into.memoryLimitTerminations += more.memoryLimitTerminations;
  into.rebuilds += more.rebuilds;
  return into;
}

std::string appLabel(const AppDefinition& definition) {
  return definition.name + " (app " + std::to_string(definition.id) + ")";
}

}  // namespace

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
  trimEvent_.reset(event_new(
      base_, -1, 0,
      [](evutil_socket_t, short, void* self) {
        auto* registry = static_cast<IsolateRegistry*>(self);
        registry->trimArmed_ = false;
        malloc_trim(0);
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
  if (apps_.contains(id)) {
    error = "a second LoadApp for app " + std::to_string(id);
    return false;
  }
  auto app = std::make_unique<App>(*this, id);
  AppDefinition& definition = app->definition;
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
    logger_.warn("UnloadApp for an app the worker does not hold", {{"app", id}});
    return;
  }
  app->unloading = true;
  reap();
}

void IsolateRegistry::evictIdle() {
  std::vector<App*> victims;
  for (auto& [id, app] : apps_) {
    if (idle(*app)) victims.push_back(app.get());
  }
  std::sort(victims.begin(), victims.end(),
            [](const App* a, const App* b) { return a->lastActive < b->lastActive; });
  for (App* app : victims)
    evict(*app, "memory");
  // The spare goes too; the next cold start makes it again.
  spares_.clear();
  // Give what the isolates freed back to the system: glibc keeps freed heap otherwise.
  malloc_trim(0);
  logger_.info("evicted idle isolates on request",
               {{"evicted", victims.size()}, {"loaded", liveCount_}});
}

StartupSnapshot* IsolateRegistry::snapshotFor(AppDefinition& definition) {
  if (options_.builtins == nullptr) return nullptr;
  if (!definition.snapshotResolved && !definition.scriptSnapshotPath.empty() &&
      scriptSnapshotPath_.empty()) {
    // One script snapshot per worker process: an isolate made from a second, different script
    // snapshot in a process already using one fails in V8 10.2 ("undefined is not a function"
    // in the runtime), so a later version evaluates its script on the built-ins instead. A
    // single-script reload replaces the workers, whose first snapshot is then the new one.
    definition.snapshotResolved = true;
    std::string whyNot;
    std::string readError;
    const std::string& path = definition.scriptSnapshotPath;
    auto manifest = readFile(path + ".sources", readError);
    // A pinned version (rule 22) matches the snapshot when its own text does; a version being
    // validated when the files on disk still do.
    bool stale = false;
    if (manifest && definition.sourcesPinned) {
      stale = describeSources(definition.sources.files()) != *manifest;
      if (stale) whyNot = "the deployed version's files differ from the snapshot's";
    } else if (manifest) {
      stale = !sourcesUnchanged(*manifest, whyNot);
    }
    if (!manifest) {
      logger_.warn("script snapshot unusable, evaluating the script instead",
                   {{"app", definition.id}, {"error", readError}});
    } else if (stale) {
      logger_.info("script snapshot is stale, evaluating the script",
                   {{"app", definition.id}, {"reason", whyNot}});
    } else if (!(definition.scriptSnapshot = StartupSnapshot::mapFile(path, whyNot))) {
      logger_.warn("script snapshot unusable, evaluating the script instead",
                   {{"app", definition.id}, {"error", whyNot}});
    } else if (!definition.sourcesPinned) {
      // The files the snapshot was made from (just checked against their hashes) are what
      // this version pins (rule 22): read them now, since the snapshot's isolate never will.
      // Read as text only: a TypeScript file is stripped when it is compiled, which an isolate
      // made from the snapshot never does.
      std::istringstream lines(*manifest);
      for (std::string line; std::getline(lines, line);) {
        auto space = line.find(' ');
        if (space == std::string::npos) continue;
        std::string file = line.substr(space + 1);
        std::string error;
        if (auto text = readFile(file, error)) definition.sources.preset(file, std::move(*text));
      }
    }
    if (definition.scriptSnapshot) scriptSnapshotPath_ = definition.scriptSnapshotPath;
  }
  return definition.scriptSnapshot ? definition.scriptSnapshot.get() : options_.builtins;
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
    hostOptions.snapshot = snapshotFor(definition);
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

bool IsolateRegistry::idle(const App& app) const {
  return app.host && !app.failure && app.host->inFlight() == 0 && app.host->backgroundTasks() == 0;
}

void IsolateRegistry::retireHost(App& app) {
  retiredCounters_ += app.host->counters();
  retiredDroppedLogLines_ += app.host->droppedLogLines();
  app.retiredUsage += app.host->takeUsage();
  app.host.reset();
  --liveCount_;
}

void IsolateRegistry::evict(App& app, const char* reason) {
  retireHost(app);
  ipc::SmallMessageBuilder message;
  auto evicted = message.initRoot<ipc::Envelope>().initAppEvicted();
  evicted.setApp(app.definition.id);
  evicted.setReason(reason);
  outbox_.send(message);
  logger_.debug("isolate evicted", {{"app", app.definition.id}, {"reason", reason}});
  scheduleTrim();
}

void IsolateRegistry::scheduleTrim() {
  if (trimArmed_) return;
  timeval tv = millisToTimeval(kTrimDelayMs);
  event_add(trimEvent_.get(), &tv);
  trimArmed_ = true;
}

void IsolateRegistry::evictLeastRecentlyUsed(const App& except) {
  App* victim = nullptr;
  for (auto& [id, app] : apps_) {
    if (app.get() == &except || !idle(*app)) continue;
    if (victim == nullptr || app->lastActive < victim->lastActive) victim = app.get();
  }
  if (victim == nullptr) {
    logger_.warn("every loaded isolate is busy: exceeding the isolate bound",
                 {{"max_isolates", options_.maxIsolates},
                  {"loaded", liveCount_ + 1},
                  {"app", except.definition.id}});
    return;
  }
  evict(*victim, "lru");
}

bool IsolateRegistry::dispatch(ipc::Envelope::Reader message, std::string& error) {
  bool scheduled = message.isScheduled();
  uint64_t id = scheduled ? message.getScheduled().getId() : message.getRequestStart().getId();
  uint32_t appId = scheduled ? message.getScheduled().getApp() : message.getRequestStart().getApp();
  App* app = find(appId);
  if (app == nullptr || app->unloading) {
    error = std::string(scheduled ? "Scheduled " : "RequestStart ") + std::to_string(id) +
            " names app " + std::to_string(appId) + ", which the worker " +
            (app == nullptr ? "does not hold" : "was told to unload");
    return false;
  }
  // A host that failed (or a shared isolate at its heap limit) is replaced before it is given
  // another request, rather than handing the request to state that is being discarded.
  if (app->failure || (sharedIsolate_ && sharedIsolate_->heapLimitHit())) reap();
  IsolateHost* host = ensureHost(*app, /*coldStart=*/true);
  if (host == nullptr) {
    ResponseWriter(outbox_, options_.logBacklogBytes, appId)
        .runtimeError(id, runtime_error::kAppFailed,
                      "app " + appLabel(app->definition) + " could not be loaded");
    return true;
  }
  requestApp_[id] = appId;
  touch(*app);
  if (host->holdIfBackground(message)) return true;
  if (scheduled) {
    host->dispatchScheduled(message.getScheduled());
  } else {
    host->dispatch(message.getRequestStart());
  }
  return true;
}

BatchEntry IsolateRegistry::batchEntry(ipc::Envelope::Reader message,
                                       std::vector<std::pair<uint64_t, uint32_t>>& started) const {
  std::optional<uint32_t> app;
  std::optional<uint64_t> request;
  switch (message.which()) {
    case ipc::Envelope::REQUEST_START:
      app = message.getRequestStart().getApp();
      started.emplace_back(message.getRequestStart().getId(), *app);
      break;
    case ipc::Envelope::SCHEDULED:
      app = message.getScheduled().getApp();
      started.emplace_back(message.getScheduled().getId(), *app);
      break;
    case ipc::Envelope::BINDING_RESULT:
      app = FetchIdSequence::appOf(message.getBindingResult().getCallId());
      break;
    case ipc::Envelope::FETCH_HEAD:
    case ipc::Envelope::FETCH_BODY:
    case ipc::Envelope::FETCH_FAILED:
    case ipc::Envelope::FETCH_UPLOAD_CREDIT:
      if (auto fetchId = fetchIdOf(message)) app = FetchIdSequence::appOf(*fetchId);
      break;
    case ipc::Envelope::REQUEST_CANCEL:
      request = message.getRequestCancel().getId();
      break;
    case ipc::Envelope::BODY_CHUNK:
      request = message.getBodyChunk().getId();
      break;
    case ipc::Envelope::BODY_CREDIT:
      request = message.getBodyCredit().getId();
      break;
    default:
      break;
  }
  if (request) {
    if (auto it = requestApp_.find(*request); it != requestApp_.end()) {
      app = it->second;
    } else {
      for (const auto& [id, startedApp] : started) {
        if (id == *request) app = startedApp;
      }
    }
  }
  if (!app || *app == BatchEntry::kBarrier) return BatchEntry{};
  auto it = apps_.find(*app);
  size_t load = it != apps_.end() && it->second->host ? it->second->host->inFlight() : 0;
  return BatchEntry{*app, static_cast<uint32_t>(std::min<size_t>(load, UINT32_MAX - 1))};
}

void IsolateRegistry::cancel(uint64_t id) {
  auto it = requestApp_.find(id);
  if (it == requestApp_.end()) return;
  App* app = find(it->second);
  requestApp_.erase(it);
  if (app == nullptr || !app->host) return;
  app->host->cancel(id);
  touch(*app);
  if (app->unloading) scheduleReap();
}

bool IsolateRegistry::bodyChunk(ipc::BodyChunk::Reader chunk) {
  auto it = requestApp_.find(chunk.getId());
  if (it == requestApp_.end()) return true;  // crossed a cancel or an answer
  App* app = find(it->second);
  if (app == nullptr || !app->host) return true;
  touch(*app);
  return app->host->bodyChunk(chunk);
}

void IsolateRegistry::bodyCredit(ipc::BodyCredit::Reader credit) {
  auto it = requestApp_.find(credit.getId());
  if (it == requestApp_.end()) return;
  App* app = find(it->second);
  if (app == nullptr || !app->host) return;
  touch(*app);
  app->host->bodyCredit(credit);
}

void IsolateRegistry::onFetchMessage(ipc::Envelope::Reader message) {
  std::optional<uint64_t> id = fetchIdOf(message);
  if (!id) return;
  uint64_t fetchId = *id;
  // A fetch of an isolate since evicted or rebuilt is unknown to the new one, which ignores it.
  App* app = find(FetchIdSequence::appOf(fetchId));
  if (app == nullptr || !app->host) return;
  touch(*app);
  app->host->onFetchMessage(message);
}

void IsolateRegistry::onBindingResult(ipc::BindingResult::Reader result) {
  // A call of an isolate since evicted or rebuilt is unknown to the new one, which ignores it.
  App* app = find(FetchIdSequence::appOf(result.getCallId()));
  if (app == nullptr || !app->host) return;
  touch(*app);
  app->host->onBindingResult(result);
}

void IsolateRegistry::noteSent(App& app, capnp::MessageBuilder& message) {
  auto envelope = message.getRoot<ipc::Envelope>().asReader();
  uint64_t done = 0;
  if (envelope.isResponse() && !envelope.getResponse().getBodyFollows()) {
    done = envelope.getResponse().getId();
  } else if (envelope.isBodyChunk() && envelope.getBodyChunk().getEnd()) {
    done = envelope.getBodyChunk().getId();
  }
  if (done != 0) {
    requestApp_.erase(done);
    if (app.unloading) scheduleReap();
  }
  touch(app);
}

void IsolateRegistry::touch(App& app) {
  app.lastActive = Clock::now();
  app.memoryReleased = false;
  if (options_.idleTimeout.count() > 0 && !sweepArmed_) armSweep(options_.idleTimeout);
  if (options_.releaseAfter.count() > 0 && !releaseArmed_ && !options_.sharedIsolate) {
    armRelease(options_.releaseAfter);
  }
}

void IsolateRegistry::armRelease(std::chrono::milliseconds after) {
  timeval tv = millisToTimeval(std::max<long>(after.count(), 0));
  event_add(releaseEvent_.get(), &tv);
  releaseArmed_ = true;
}

void IsolateRegistry::releaseIdleMemory() {
  releaseArmed_ = false;
  // A request in flight goes first: a release is a full GC of a few ms.
  if (!requestApp_.empty()) {
    armRelease(kReleaseBusyRetry);
    return;
  }
  auto started = Clock::now();
  auto next = Clock::time_point::max();
  size_t released = 0;
  while (true) {
    App* oldest = nullptr;
    for (auto& [id, app] : apps_) {
      if (!app->host || app->memoryReleased || app->host->sharesIsolate()) continue;
      if (!idle(*app)) {
        // Busy with waitUntil() work: looked at again once that could be over.
        next = std::min(next, Clock::now() + options_.releaseAfter);
        continue;
      }
      if (oldest == nullptr || app->lastActive < oldest->lastActive) oldest = app.get();
    }
    if (oldest == nullptr) break;
    auto due = oldest->lastActive + options_.releaseAfter;
    auto now = Clock::now();
    if (due > now) {
      next = std::min(next, due);
      break;
    }
    if (now - started >= kReleaseTurn) {
      // Enough for one turn of the loop: the rest after whatever has arrived meanwhile.
      next = now;
      break;
    }
    oldest->host->releaseMemory();
    oldest->memoryReleased = true;
    ++released;
  }
  if (released > 0) {
    logger_.debug("released idle isolates' memory", {{"isolates", released}});
    scheduleTrim();
  }
  if (next != Clock::time_point::max()) {
    armRelease(std::chrono::ceil<std::chrono::milliseconds>(next - Clock::now()));
  }
}

void IsolateRegistry::armSweep(std::chrono::milliseconds after) {
  timeval tv = millisToTimeval(std::max<long>(after.count(), 1));
  event_add(sweepEvent_.get(), &tv);
  sweepArmed_ = true;
}

void IsolateRegistry::sweep() {
  sweepArmed_ = false;
  auto now = Clock::now();
  auto next = Clock::time_point::max();
  for (auto& [id, app] : apps_) {
    if (!app->host) continue;
    if (!idle(*app)) {
      next = std::min(next, now + options_.idleTimeout);
      continue;
    }
    auto due = app->lastActive + options_.idleTimeout;
    if (due <= now) {
      evict(*app, "idle");
    } else {
      next = std::min(next, due);
    }
  }
  if (next != Clock::time_point::max()) {
    armSweep(std::chrono::ceil<std::chrono::milliseconds>(next - now));
  }
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
    ++it;
  }
}

void IsolateRegistry::runPlatformTasks(LoopNotifyingPlatform& platform) {
  auto ready = platform.takeReady(platform.MonotonicallyIncreasingTime());
  if (ready.empty()) return;
  bool sharedPumped = false;
  for (auto& [id, app] : apps_) {
    if (!app->host || !ready.contains(app->host->isolate())) continue;
    // One pump runs every task of the isolate, whichever context it belongs to.
    if (app->host->sharesIsolate()) {
      if (sharedPumped) continue;
      sharedPumped = true;
    }
    app->host->runPlatformTasks(platform.defaultPlatform());
  }
}

bool IsolateRegistry::probe() {
  App* newest = nullptr;
  for (auto& [id, app] : apps_) {
    if (!app->host || app->failure) continue;
    if (newest == nullptr || app->lastActive > newest->lastActive) newest = app.get();
  }
  return newest == nullptr || newest->host->probe();
}

size_t IsolateRegistry::inFlight() const {
  size_t total = 0;
  for (const auto& [id, app] : apps_) {
    if (app->host) total += app->host->inFlight();
  }
  return total;
}

size_t IsolateRegistry::timersPending() const {
  size_t total = 0;
  for (const auto& [id, app] : apps_) {
    if (app->host) total += app->host->timersPending();
  }
  return total;
}

size_t IsolateRegistry::backgroundTasks() const {
  size_t total = 0;
  for (const auto& [id, app] : apps_) {
    if (app->host) total += app->host->backgroundTasks();
  }
  return total;
}

void IsolateRegistry::abandonBackground(const std::string& why) {
  for (auto& [id, app] : apps_) {
    if (app->host && app->host->backgroundTasks() > 0) app->host->abandonBackground(why);
  }
}

HeapStats IsolateRegistry::heapStats() {
  HeapStats total;
  bool sharedCounted = false;
  for (auto& [id, app] : apps_) {
    if (!app->host) continue;
    if (app->host->sharesIsolate()) {
      if (sharedCounted) continue;
      sharedCounted = true;
    }
    HeapStats stats = app->host->heapStats();
    total.usedBytes += stats.usedBytes;
    total.totalBytes += stats.totalBytes;
    total.limitBytes += stats.limitBytes;
    total.externalBytes += stats.externalBytes;
  }
  return total;
}

HostCounters IsolateRegistry::counters() const {
  HostCounters total = retiredCounters_;
  for (const auto& [id, app] : apps_) {
    if (app->host) total += app->host->counters();
  }
  return total;
}

uint64_t IsolateRegistry::droppedLogLines() const {
  uint64_t total = retiredDroppedLogLines_;
  for (const auto& [id, app] : apps_) {
    if (app->host) total += app->host->droppedLogLines();
  }
  return total;
}

std::vector<AppUsageReport> IsolateRegistry::takeUsage() {
  std::vector<AppUsageReport> reports;
  for (auto& [id, app] : apps_) {
    HostUsage usage = std::exchange(app->retiredUsage, HostUsage{});
    if (app->host) usage += app->host->takeUsage();
    if (usage.cpu.count() == 0 && usage.cpuLimitTerminations == 0 &&
        usage.memoryLimitTerminations == 0) {
      continue;
    }
    AppUsageReport report;
    report.app = id;
    report.cpuMicros = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(usage.cpu).count());
    // A context's share of a shared isolate's heap is not measured: 0 there.
    report.heapUsedBytes =
        app->host && !app->host->sharesIsolate() ? app->host->heapStats().usedBytes : 0;
    report.cpuLimitTerminations = usage.cpuLimitTerminations;
    report.memoryLimitTerminations = usage.memoryLimitTerminations;
    reports.push_back(report);
  }
  return reports;
}

}  // namespace isolated::worker
