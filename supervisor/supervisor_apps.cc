// Supervisor: the life of an app. A version (deployment) is loaded by one worker before it
// serves (validation); when it loads it replaces the live version, whose workers are told to
// unload it once its requests end; when it fails the live version keeps serving. Boot, runtime
// deploys (`ctl deploy`), undeploys, the single-script reload and the config file's SIGHUP
// diff all go through here.
#include <algorithm>

#include "common/read_file.h"
#include "config/app_diff.h"
#include "ipc/small_message_builder.h"
#include "supervisor/supervisor.h"

namespace isolated::supervisor {

App* Supervisor::singleApp() {
  if (!config_.configPath.empty() || !config_.registryUrl.empty() || apps_.apps().size() != 1) {
    return nullptr;
  }
  return apps_.apps().begin()->second.get();
}

bool Supervisor::validationsPending() const {
  return std::any_of(apps_.apps().begin(), apps_.apps().end(),
                     [](const auto& entry) { return entry.second->candidate != nullptr; });
}

std::shared_ptr<const Deployment> Supervisor::makeDeployment(App& app, std::string& error) {
  const AppConfig& config = app.candidateConfig ? *app.candidateConfig : app.config;
  auto bindings = loadBindings(config.bindings, error);
  if (!bindings) return nullptr;
  // A config file checked this when it was read; a `ctl deploy` may bring a clash of its own.
  if (auto clash = bindingNameClash(config.storage, config.services, *bindings)) {
    error = *clash;
    return nullptr;
  }
  std::string snapshot;
  // The single-script server's snapshot is made per version (the helper's generation).
  if (snapshotter_ && config_.configPath.empty()) {
    snapshot = snapshotter_->pathFor(app.lastVersion + 1);
  }
  auto deployment = apps_.makeDeployment(
      app, config.scriptPath, std::move(*bindings), config.cpuLimitMs.value_or(config_.cpuLimitMs),
      config.heapLimitMb.value_or(config_.heapLimitMb),
      config.wallLimitMs.value_or(config_.wallLimitMs),
      config.isolation.value_or(config_.isolation), std::move(snapshot));
  deployment->storage = config.storage;
  deployment->services = config.services;
  if (auto failed = registerBindings(*deployment)) {
    error = *failed;
    return nullptr;
  }
  // A registry app's files come with it (ipc/protocol.h rule 22): no worker reads a file.
  if (!config.modules.empty()) deployment->modules = config.modules;
  return deployment;
}

void Supervisor::startValidation(App& app) {
  if (!app.candidate || app.validatingWorker != 0) return;
  // The app's first home worker loads it: where its requests will go.
  candidates_.resize(workers_.size());
  ranks_.resize(workers_.size());
  for (size_t i = 0; i < workers_.size(); ++i) {
    candidates_[i] = {workers_[i]->slot, isServing(*workers_[i]), 0, 1, 0};
  }
  auto index = placement_.pick(app.hash, 0, candidates_, ranks_);
  if (!index) return;  // no worker serves yet: onWorkerHello starts it
  WorkerProcess& worker = *workers_[*index];
  app.validatingWorker = worker.id();
  logger_.debug(
      "loading app",
      {{"app", app.config.name}, {"version", app.candidate->version}, {"worker", worker.id()}});
  defineApp(worker, *app.candidate, true);
}

void Supervisor::onWorkerHello(WorkerProcess& worker) {
  // At boot every app loads on its own home worker, so validation waits for the whole pool
  // (otherwise the first worker to say Hello would load every app).
  bool poolUp = phase_ != Phase::kBooting || countWorkers(isServing) >= targetWorkers_;
  for (const auto& [name, app] : apps_.apps()) {
    if (!poolUp) break;
    if (app->candidate && app->validatingWorker == 0) startValidation(*app);
  }
  // A single-script server keeps its script loaded in every worker, as a warm pool.
  if (App* app = singleApp(); app != nullptr && app->live) defineApp(worker, *app->live, true);
}

void Supervisor::promoteCandidate(App& app) {
  std::shared_ptr<const Deployment> previous = std::move(app.live);
  app.live = std::move(app.candidate);
  app.candidate.reset();
  app.validatingWorker = 0;
  app.lastError.clear();
  if (app.candidateConfig) {
    bool cronsChanged = app.candidateConfig->crons != app.config.crons;
    app.config = std::move(*app.candidateConfig);
    app.candidateConfig.reset();
    if (cronsChanged) {
      app.crons = parseCrons(app.config.crons);
      cron_.rearm();
    }
  }
  // New routes, or a new app, take effect now (deploy() checked them against the others).
  app.routed = true;
  if (auto error = apps_.rebuildRoutes()) {
    logger_.error("routes not updated", {{"app", app.config.name}, {"error", *error}});
  }
  // The old version's workers drop it once its requests and waitUntil() work end.
  if (previous) unloadEverywhere(previous->id);
  logger_.info(
      previous ? "app deployed" : "app loaded",
      {{"app", app.config.name}, {"version", app.live->version}, {"deployment", app.live->id}});
  auto waiters = std::move(app.waiters);
  app.waiters.clear();
  for (auto& waiter : waiters)
    waiter(std::nullopt);
  if (singleApp() == &app) {
    for (auto& worker : workers_) {
      if (isServing(*worker)) defineApp(*worker, *app.live, true);
    }
  }
  if (app.restartWorkersAfter) {
    app.restartWorkersAfter = false;
    ++generation_;
    reloadActive_ = true;
    reloadQueue_.clear();
    for (auto& worker : workers_) {
      if (isActive(*worker)) reloadQueue_.push_back(worker->id());
    }
    continueReload();
  }
  maybeFinishBoot();
  refreshWatch();
  pumpQueue();
}

void Supervisor::rejectCandidate(App& app, const std::string& error) {
  std::shared_ptr<const Deployment> failed = std::move(app.candidate);
  app.candidate.reset();
  app.candidateConfig.reset();
  app.validatingWorker = 0;
  app.lastError = error;
  ++app.counters.loadFailures;
  unloadEverywhere(failed->id);
  auto waiters = std::move(app.waiters);
  app.waiters.clear();
  for (auto& waiter : waiters)
    waiter(error);
  if (app.restartWorkersAfter) {
    app.restartWorkersAfter = false;
    logger_.error("reload refused: the new script failed to load; old workers keep serving",
                  {{"error", error}});
  } else if (app.live) {
    logger_.error("deploy refused: the new version failed to load; the old version keeps serving",
                  {{"app", app.config.name}, {"version", failed->version}, {"error", error}});
  } else {
    logger_.error("app failed to load", {{"app", app.config.name}, {"error", error}});
  }
  if (!app.live) {
    if (phase_ == Phase::kBooting && singleApp() == &app) return failBoot(error);
    failQueue(app, 503, "app-failed",
              "Service Unavailable: the app '" + app.config.name + "' failed to load: " + error);
    // An app deployed at runtime that never served leaves no trace; one from the config file
    // stays routed and answers 503 until a deploy or reload fixes it.
    if (!app.routed) apps_.remove(app);
  }
  maybeFinishBoot();
  refreshWatch();
}

void Supervisor::onWorkerLoadError(WorkerProcess& worker, ipc::LoadError::Reader error) {
  std::string text = error.getFile().cStr();
  if (error.getLine() > 0) text += ":" + std::to_string(error.getLine());
  text += std::string(": ") + error.getMessage().cStr();
  App* app = apps_.appOf(error.getApp());
  if (app == nullptr) return;
  if (app->candidate && app->candidate->id == error.getApp() &&
      app->validatingWorker == worker.id()) {
    return rejectCandidate(*app, text);
  }
  // A cold start of a version that loaded elsewhere failed here (a file changed, a limit at
  // start-up): the worker answers the requests it held for it with 503.
  ++app->counters.loadFailures;
  app->lastError = text;
  logger_.error("app failed to load in a worker", {{"app", app->config.name},
                                                   {"worker", worker.id()},
                                                   {"deployment", error.getApp()},
                                                   {"error", text}});
}

void Supervisor::onWorkerAppLoaded(WorkerProcess& worker, ipc::AppLoaded::Reader loaded) {
  App* app = apps_.appOf(loaded.getApp());
  if (app == nullptr) return;
  if (loaded.getColdStart()) ++app->counters.coldStarts;
  logger_.debug("app isolate created", {{"app", app->config.name},
                                        {"worker", worker.id()},
                                        {"load_ms", loaded.getLoadMs()},
                                        {"cold_start", loaded.getColdStart()}});
  if (app->candidate && app->candidate->id == loaded.getApp() &&
      app->validatingWorker == worker.id()) {
    if (loaded.hasModules() && loaded.getModules().size() > 0) pin(*app, loaded.getModules());
    if (holdForRegistry(*app)) return;  // a `ctl deploy` is written to the registry first
    promoteCandidate(*app);
  }
}

void Supervisor::pin(App& app, capnp::List<ipc::ModuleSource>::Reader modules) {
  // The version is pinned to what the worker loaded (ipc/protocol.h rule 22), but only to text
  // that is the files' own: a worker taken over by a script it ran must not be able to hand
  // every other worker code of its choosing for an app it validated.
  auto pinned = std::make_shared<Deployment>(*app.candidate);
  for (auto module : modules) {
    std::string path = module.getPath().cStr();
    std::string_view text(module.getText().cStr(), module.getText().size());
    if (!fileHolds(path, text)) {
      logger_.warn(
          "version not pinned: a module's text as the worker read it is not the file's "
          "now (changed since, or not the worker's to say); workers read the files",
          {{"app", app.config.name}, {"file", path}});
      return;
    }
    pinned->modules.emplace_back(std::move(path), std::string(text));
  }
  logger_.debug("version pinned", {{"app", app.config.name}, {"modules", modules.size()}});
  app.candidate = std::move(pinned);
}

void Supervisor::onWorkerAppEvicted(WorkerProcess& worker, ipc::AppEvicted::Reader evicted) {
  App* app = apps_.appOf(evicted.getApp());
  if (app == nullptr) return;
  std::string reason = evicted.getReason().cStr();
  if (reason != "unload") ++app->counters.evictions;
  logger_.debug("app isolate evicted",
                {{"app", app->config.name}, {"worker", worker.id()}, {"reason", reason}});
  if (reason != "unload") forget(worker, evicted.getApp());
}

void Supervisor::forget(WorkerProcess& worker, uint32_t deployment) {
  // With a request outstanding, the worker has the isolate again (or will, on reading it), and
  // its next eviction is the time. Otherwise nothing for the deployment is on its way to the
  // worker, which can drop the definition (ipc/protocol.h rule 21, forgetting).
  if (!isAlive(worker) || worker.appOutstanding.contains(deployment) ||
      !worker.defined.contains(deployment)) {
    return;
  }
  worker.defined.erase(deployment);
  worker.forgotten.insert(deployment);
  ipc::SmallMessageBuilder message;
  message.initRoot<ipc::Envelope>().initForgetApp().setApp(deployment);
  worker.send(message);
}

std::optional<std::string> Supervisor::deploy(AppConfig config, DeployDone done) {
  if (phase_ != Phase::kServing) return "the server is not serving";
  if (!isAppName(config.name)) {
    return "invalid app name '" + config.name +
           "': letters, digits, '-' and '_', starting with a letter or digit, at most 63";
  }
  App* app = apps_.find(config.name);
  if (app != nullptr && app->candidate) {
    return "a deploy of '" + config.name + "' is already loading";
  }
  if (auto error = apps_.checkRoutes(config.name, config.routes)) return *error;
  for (const auto& expression : config.crons) {
    auto parsed = CronSchedule::parse(expression);
    if (auto* error = std::get_if<std::string>(&parsed))
      return "cron '" + expression + "': " + *error;
  }
  bool created = app == nullptr;
  if (created) {
    AppConfig initial = config;
    app = &apps_.add(std::move(initial));
  } else {
    app->candidateConfig = std::move(config);
  }
  std::string error;
  app->candidate = makeDeployment(*app, error);
  if (!app->candidate) {
    app->candidateConfig.reset();
    if (created) apps_.remove(*app);
    return error;
  }
  if (done) app->waiters.push_back(std::move(done));
  logger_.info("deploying", {{"app", app->config.name},
                             {"version", app->candidate->version},
                             {"script", app->candidate->scriptPath}});
  startValidation(*app);
  return std::nullopt;
}

std::optional<std::string> Supervisor::undeploy(const std::string& name) {
  App* app = apps_.find(name);
  if (app == nullptr) return "no app named '" + name + "'";
  failQueue(*app, 503, "app-undeployed",
            "Service Unavailable: the app '" + name + "' has been undeployed");
  if (app->candidate) rejectCandidate(*app, "undeployed while loading");
  if (app->live) unloadEverywhere(app->live->id);
  apps_.remove(*app);
  cron_.rearm();
  logger_.info("app undeployed", {{"app", name}, {"in_flight", app->inFlight}});
  return std::nullopt;
}

bool Supervisor::applyConfig(const ServeConfig& next, std::string* why) {
  // Server-wide settings need a restart; the apps are what a reload changes.
  // The registry's apps are not the file's to change (docs/registry.md, precedence).
  auto held = [&](const std::string& name) { return registry_ && registry_->holds(name); };
  std::vector<std::string> removed;
  for (const auto& [name, app] : apps_.apps()) {
    const std::string& appName = name;  // clang 14 cannot capture a structured binding
    bool kept = std::any_of(next.apps.begin(), next.apps.end(),
                            [&](const AppConfig& a) { return a.name == appName; });
    if (!kept && !app->removed && !held(name)) removed.push_back(name);
  }
  for (const auto& name : removed)
    undeploy(name);
  size_t changed = 0;
  size_t failed = 0;
  for (const auto& config : next.apps) {
    if (held(config.name)) continue;
    App* app = apps_.find(config.name);
    if (app != nullptr && !app->candidate && sameApp(app->config, config) && app->live) continue;
    // A new or changed app deploys like `ctl deploy`: the old version serves until the new one
    // has loaded.
    if (auto error = deploy(config, {})) {
      ++failed;
      logger_.error("reload: app not deployed", {{"app", config.name}, {"error", *error}});
    } else {
      ++changed;
    }
  }
  // Apps new in the file are routed at once, as at start-up: their requests wait while they
  // load, and if they fail to load they answer 503 until the file is fixed.
  for (const auto& config : next.apps) {
    if (App* app = apps_.find(config.name); app != nullptr && app->candidate) app->routed = true;
  }
  if (auto error = apps_.rebuildRoutes()) {
    logger_.error("routes not updated", {{"config", config_.configPath}, {"error", *error}});
  }
  logger_.info("config reloaded", {{"config", config_.configPath},
                                   {"deploying", changed},
                                   {"undeployed", removed.size()},
                                   {"refused", failed}});
  if (why != nullptr && failed > 0) *why = std::to_string(failed) + " apps were refused";
  return true;
}

bool Supervisor::beginReload(std::string* why) {
  auto refuse = [&](const std::string& reason) {
    logger_.warn("reload ignored", {{"reason", reason}});
    if (why != nullptr) *why = reason;
    return false;
  };
  if (phase_ != Phase::kServing) return refuse("the server is not serving");
  if (!config_.configPath.empty()) {
    if (!readConfig_) return refuse("the config file cannot be re-read");
    auto next = readConfig_();
    if (auto* error = std::get_if<std::string>(&next)) {
      logger_.error("reload refused: the config file does not load; the apps keep serving",
                    {{"error", *error}});
      if (why != nullptr) *why = "the config file does not load: " + *error;
      return false;
    }
    if (configSaver_) configSaver_->read(std::get<ServeConfig>(next).configText);
    return applyConfig(std::get<ServeConfig>(next), why);
  }
  if (!config_.registryUrl.empty()) {
    return refuse("the apps come from the registry (docs/registry.md): no config file to re-read");
  }
  App* app = singleApp();
  if (app == nullptr) return refuse("the server has no app");
  // A version still loading (or waiting for its snapshot) refuses another; a rolling restart
  // of the workers does not: the newer version restarts it.
  if (app->candidate || reloadWaitsForSnapshot_) return refuse("a reload is already running");
  // The files are re-read; a bad one refuses the reload like a script that fails to load.
  std::string bindingError;
  if (!loadBindings(app->config.bindings, bindingError)) {
    logger_.error(
        "reload refused: the script environment cannot be loaded; old workers keep "
        "serving",
        {{"error", bindingError}});
    if (why != nullptr) *why = "the script environment cannot be loaded: " + bindingError;
    return false;
  }
  logger_.info("reloading",
               {{"script", app->config.scriptPath}, {"workers", countWorkers(isActive)}});
  app->restartWorkersAfter = true;
  // With a script snapshot, the new version waits for its snapshot (onScriptSnapshotDone).
  if (snapshotter_ && snapshotter_->start(app->lastVersion + 1, hasEnv(app->config))) {
    reloadWaitsForSnapshot_ = true;
    return true;
  }
  return startSingleReload(why);
}

bool Supervisor::startSingleReload(std::string* why) {
  App* app = singleApp();
  std::string error;
  app->candidate = makeDeployment(*app, error);
  if (!app->candidate) {
    app->restartWorkersAfter = false;
    logger_.error(
        "reload refused: the script environment cannot be loaded; old workers keep "
        "serving",
        {{"error", error}});
    if (why != nullptr) *why = "the script environment cannot be loaded: " + error;
    return false;
  }
  startValidation(*app);
  return true;
}

void Supervisor::createBootDeployments() {
  for (const auto& [name, app] : apps_.apps()) {
    std::string error;
    app->candidate = makeDeployment(*app, error);
    if (!app->candidate) return failBoot(name + ": " + error);
  }
}

void Supervisor::onScriptSnapshotDone() {
  if (phase_ == Phase::kBooting) {
    createBootDeployments();
    reconcilePool();
  } else if (reloadWaitsForSnapshot_) {
    reloadWaitsForSnapshot_ = false;
    startSingleReload(nullptr);
  }
}

}  // namespace isolated::supervisor
