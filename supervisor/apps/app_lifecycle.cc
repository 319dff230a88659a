// AppLifecycle: validate-then-switch for every version of every app (see the header).
#include "supervisor/apps/app_lifecycle.h"

#include <unistd.h>

#include <algorithm>
#include <map>
#include <stdexcept>
#include <vector>

#include "common/read_file.h"
#include "config/app_diff.h"
#include "supervisor/registry/registry_boot.h"

namespace isolated::supervisor {

AppLifecycle::AppLifecycle(event_base* base, const ServeConfig& config, Logger& logger,
                           AppRegistry& apps, CronTriggers& cron, LifecycleHost& host,
                           ScriptSnapshotter* snapshotter)
    : config_(config),
      logger_(logger),
      apps_(apps),
      cron_(cron),
      host_(host),
      snapshotter_(snapshotter) {
  if (config.registryUrl.empty()) return;
  auto key = registry::loadRegistryKey(config);
  if (auto* error = std::get_if<std::string>(&key)) throw std::runtime_error(*error);
  char hostName[256] = "?";
  ::gethostname(hostName, sizeof hostName - 1);
  registry::RegistryOptions options;
  options.url = config.registryUrl;
  options.key = std::get<std::optional<registry::SecretKey>>(std::move(key));
  options.timeout = registry::kRegistryTimeout;
  options.serverName = std::string(hostName) + ":" + std::to_string(::getpid());
  std::map<std::string, uint64_t> applied;
  for (const auto& app : config.apps) {
    if (app.registryVersion != 0) applied[app.name] = app.registryVersion;
  }
  registry_ = std::make_unique<registry::RegistrySync>(base, std::move(options), logger_, *this,
                                                       std::move(applied));
}

void AppLifecycle::startRegistry() {
  if (registry_) registry_->start();
}

App* AppLifecycle::singleApp() {
  if (!config_.configPath.empty() || !config_.registryUrl.empty() || apps_.apps().size() != 1) {
    return nullptr;
  }
  return apps_.apps().begin()->second.get();
}

bool AppLifecycle::validationsPending() const {
  return std::any_of(apps_.apps().begin(), apps_.apps().end(),
                     [](const auto& entry) { return entry.second->candidate != nullptr; });
}

std::shared_ptr<const Deployment> AppLifecycle::makeDeployment(App& app, std::string& error) {
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
  if (snapshotter_ != nullptr && config_.configPath.empty()) {
    snapshot = snapshotter_->pathFor(app.lastVersion + 1);
  }
  auto deployment = apps_.makeDeployment(
      app, config.scriptPath, std::move(*bindings), config.cpuLimitMs.value_or(config_.cpuLimitMs),
      config.heapLimitMb.value_or(config_.heapLimitMb),
      config.wallLimitMs.value_or(config_.wallLimitMs),
      config.isolation.value_or(config_.isolation), std::move(snapshot));
  deployment->storage = config.storage;
  deployment->services = config.services;
  if (auto failed = host_.registerBindings(*deployment)) {
    error = *failed;
    return nullptr;
  }
  // A registry app's files come with it (ipc/protocol.h rule 22): no worker reads a file.
  if (!config.modules.empty()) deployment->modules = config.modules;
  return deployment;
}

void AppLifecycle::startValidation(App& app) {
  if (!app.candidate || app.validatingWorker != 0) return;
  std::optional<uint32_t> worker = host_.validatorFor(app);
  if (!worker) return;  // no worker serves yet: onWorkerReady starts it
  app.validatingWorker = *worker;
  logger_.debug(
      "loading app",
      {{"app", app.config.name}, {"version", app.candidate->version}, {"worker", *worker}});
  host_.preloadOn(*worker, *app.candidate);
}

void AppLifecycle::onWorkerReady(uint32_t workerId, bool poolUp) {
  if (poolUp) {
    for (const auto& [name, app] : apps_.apps()) {
      if (app->candidate && app->validatingWorker == 0) startValidation(*app);
    }
  }
  // A single-script server keeps its script loaded in every worker, as a warm pool.
  if (App* app = singleApp(); app != nullptr && app->live) host_.preloadOn(workerId, *app->live);
}

void AppLifecycle::onWorkerLost(uint32_t workerId) {
  for (const auto& [name, app] : apps_.apps()) {
    if (app->candidate && app->validatingWorker == workerId) {
      app->validatingWorker = 0;
      if (host_.stage() != LifecycleHost::Stage::kEnding) startValidation(*app);
    }
  }
}

void AppLifecycle::promote(App& app) {
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
  if (previous) host_.unloadEverywhere(previous->id);
  logger_.info(
      previous ? "app deployed" : "app loaded",
      {{"app", app.config.name}, {"version", app.live->version}, {"deployment", app.live->id}});
  auto waiters = std::move(app.waiters);
  app.waiters.clear();
  for (auto& waiter : waiters)
    waiter(std::nullopt);
  if (singleApp() == &app) host_.preloadEverywhere(*app.live);
  if (app.restartWorkersAfter) {
    app.restartWorkersAfter = false;
    host_.restartWorkers();
  }
  host_.versionSettled(true);
}

void AppLifecycle::reject(App& app, const std::string& error) {
  std::shared_ptr<const Deployment> failed = std::move(app.candidate);
  app.candidate.reset();
  app.candidateConfig.reset();
  app.validatingWorker = 0;
  app.lastError = error;
  ++app.counters.loadFailures;
  host_.unloadEverywhere(failed->id);
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
    if (host_.stage() == LifecycleHost::Stage::kBooting && singleApp() == &app) {
      return host_.failBoot(error);
    }
    host_.failQueue(
        app, 503, "app-failed",
        "Service Unavailable: the app '" + app.config.name + "' failed to load: " + error);
    // An app deployed at runtime that never served leaves no trace; one from the config file
    // stays routed and answers 503 until a deploy or reload fixes it.
    if (!app.routed) apps_.remove(app);
  }
  host_.versionSettled(false);
}

void AppLifecycle::onLoadError(uint32_t workerId, ipc::LoadError::Reader error) {
  std::string text = error.getFile().cStr();
  if (error.getLine() > 0) text += ":" + std::to_string(error.getLine());
  text += std::string(": ") + error.getMessage().cStr();
  App* app = apps_.appOf(error.getApp());
  if (app == nullptr) return;
  if (app->candidate && app->candidate->id == error.getApp() && app->validatingWorker == workerId) {
    return reject(*app, text);
  }
  // A cold start of a version that loaded elsewhere failed here (a file changed, a limit at
  // start-up): the worker answers the requests it held for it with 503.
  ++app->counters.loadFailures;
  app->lastError = text;
  logger_.error("app failed to load in a worker", {{"app", app->config.name},
                                                   {"worker", workerId},
                                                   {"deployment", error.getApp()},
                                                   {"error", text}});
}

void AppLifecycle::onAppLoaded(uint32_t workerId, ipc::AppLoaded::Reader loaded) {
  App* app = apps_.appOf(loaded.getApp());
  if (app == nullptr) return;
  if (loaded.getColdStart()) ++app->counters.coldStarts;
  logger_.debug("app isolate created", {{"app", app->config.name},
                                        {"worker", workerId},
                                        {"load_ms", loaded.getLoadMs()},
                                        {"cold_start", loaded.getColdStart()}});
  if (app->candidate && app->candidate->id == loaded.getApp() &&
      app->validatingWorker == workerId) {
    if (loaded.hasModules() && loaded.getModules().size() > 0) pin(*app, loaded.getModules());
    if (holdForRegistry(*app)) return;  // a `ctl deploy` is written to the registry first
    promote(*app);
  }
}

void AppLifecycle::pin(App& app, capnp::List<ipc::ModuleSource>::Reader modules) {
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

std::optional<std::string> AppLifecycle::deploy(AppConfig config, DeployDone done) {
  if (host_.stage() != LifecycleHost::Stage::kServing) return "the server is not serving";
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

std::optional<std::string> AppLifecycle::undeploy(const std::string& name) {
  App* app = apps_.find(name);
  if (app == nullptr) return "no app named '" + name + "'";
  host_.failQueue(*app, 503, "app-undeployed",
                  "Service Unavailable: the app '" + name + "' has been undeployed");
  if (app->candidate) reject(*app, "undeployed while loading");
  if (app->live) host_.unloadEverywhere(app->live->id);
  apps_.remove(*app);
  cron_.rearm();
  logger_.info("app undeployed", {{"app", name}, {"in_flight", app->inFlight}});
  return std::nullopt;
}

void AppLifecycle::applyConfig(const ServeConfig& next, std::string* why) {
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
}

bool AppLifecycle::singleReloadRunning() {
  App* app = singleApp();
  return reloadWaitsForSnapshot_ || (app != nullptr && app->candidate);
}

bool AppLifecycle::reloadSingle(std::string* why) {
  auto refuse = [&](const std::string& reason) {
    logger_.warn("reload ignored", {{"reason", reason}});
    if (why != nullptr) *why = reason;
    return false;
  };
  App* app = singleApp();
  if (app == nullptr) return refuse("the server has no app");
  // A version still loading (or waiting for its snapshot) refuses another; a rolling restart
  // of the workers does not: the newer version restarts it.
  if (singleReloadRunning()) return refuse("a reload is already running");
  // The files are re-read; a bad one refuses the reload like a script that fails to load.
  std::string bindingError;
  if (!loadBindings(app->config.bindings, bindingError)) {
    return refuseEnvironment(bindingError, why);
  }
  logger_.info("reloading", {{"script", app->config.scriptPath}});
  app->restartWorkersAfter = true;
  // With a script snapshot, the new version waits for its snapshot (onSnapshotDone).
  if (snapshotter_ != nullptr && snapshotter_->start(app->lastVersion + 1, hasEnv(app->config))) {
    reloadWaitsForSnapshot_ = true;
    return true;
  }
  return startSingleReload(why);
}

bool AppLifecycle::refuseEnvironment(const std::string& error, std::string* why) {
  logger_.error("reload refused: the script environment cannot be loaded; old workers keep serving",
                {{"error", error}});
  if (why != nullptr) *why = "the script environment cannot be loaded: " + error;
  return false;
}

bool AppLifecycle::startSingleReload(std::string* why) {
  App* app = singleApp();
  std::string error;
  app->candidate = makeDeployment(*app, error);
  if (!app->candidate) {
    app->restartWorkersAfter = false;
    return refuseEnvironment(error, why);
  }
  startValidation(*app);
  return true;
}

void AppLifecycle::onSnapshotDone() {
  if (!reloadWaitsForSnapshot_) return;
  reloadWaitsForSnapshot_ = false;
  startSingleReload(nullptr);
}

void AppLifecycle::createBootDeployments() {
  for (const auto& [name, app] : apps_.apps()) {
    std::string error;
    app->candidate = makeDeployment(*app, error);
    if (!app->candidate) return host_.failBoot(name + ": " + error);
  }
}

// ---- the registry ----

std::optional<std::string> AppLifecycle::applyRegistryVersion(AppConfig config,
                                                              registry::SettleCallback settled,
                                                              bool& busy) {
  // A paused server or an app with a deploy loading takes the version a little later.
  App* app = apps_.find(config.name);
  LifecycleHost::Stage stage = host_.stage();
  if (stage == LifecycleHost::Stage::kPaused || stage == LifecycleHost::Stage::kBooting ||
      (app != nullptr && app->candidate)) {
    busy = true;
    return std::nullopt;
  }
  return deploy(std::move(config), std::move(settled));
}

void AppLifecycle::removeRegistryApp(const std::string& name) {
  if (apps_.find(name) != nullptr) undeploy(name);
}

void AppLifecycle::markForRegistry(const std::string& name) {
  // Forget candidates that settled without reaching the registry (refused by their worker).
  std::erase_if(toPublish_, [&](uint32_t id) {
    App* owner = apps_.appOf(id);
    return owner == nullptr || !owner->candidate || owner->candidate->id != id;
  });
  App* app = apps_.find(name);
  if (app != nullptr && app->candidate) toPublish_.insert(app->candidate->id);
}

bool AppLifecycle::publishing(const std::string& name) {
  const App* app = apps_.find(name);
  return app != nullptr && app->candidate && publishing_.contains(app->candidate->id);
}

bool AppLifecycle::holdForRegistry(App& app) {
  if (!registry_ || !app.candidate) return false;
  uint32_t id = app.candidate->id;
  if (publishing_.contains(id)) return true;  // validated again elsewhere: the write decides
  if (toPublish_.erase(id) == 0) return false;
  const Deployment& candidate = *app.candidate;
  if (candidate.modules.empty()) {
    reject(app,
           "its files were not pinned (over 16 MB of source, or changed while the "
           "version was validated), so the registry cannot hold them");
    return true;
  }
  const AppConfig& config = app.candidateConfig ? *app.candidateConfig : app.config;
  publishing_.insert(id);
  registry_->publish(registry::recordOf(config, candidate.bindings, candidate.modules),
                     [this, id](const std::optional<std::string>& error) {
                       publishing_.erase(id);
                       App* owner = apps_.appOf(id);
                       if (owner == nullptr || !owner->candidate || owner->candidate->id != id) {
                         // Undeployed (or refused) while the write ran; a later read of the
                         // registry settles it.
                         return;
                       }
                       if (error) return reject(*owner, *error);
                       promote(*owner);
                     });
  return true;
}

}  // namespace isolated::supervisor
