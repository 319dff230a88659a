// AppLifecycle: the life of every app's versions. A version (Deployment) is loaded by one worker
// before it serves (validation); when it loads it replaces the live version, whose workers are
// told to unload it once its requests end; when it fails the live version keeps serving. Boot,
// runtime deploys (`ctl deploy`), undeploys, the single-script reload, the config file's SIGHUP
// diff and the app registry's versions (--registry, docs/registry.md) all go through here.
//
// It owns the deploy flow and the registry connection; the apps themselves are the
// AppRegistry's, the workers and the queues the server's, reached through LifecycleHost. Split
// out of the Supervisor (issue 10: the app state gets its own owner).
//
// Invariants: an app has at most one candidate, validated by at most one worker
// (App::validatingWorker); every candidate ends in promote() or reject(), each of which tells
// the candidate's waiters once. A registry `ctl deploy` is written to the registry after its
// version has loaded and before it serves: the candidate is marked (markForRegistry), held
// while the write runs (publishing), then promoted or rejected.
// Threading: the supervisor's loop only. Lifetime: destroyed before the AppRegistry, the
// CronTriggers and the host it was given.
#pragma once

#include <event2/event.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>

#include "common/logger.h"
#include "common/serve_config.h"
#include "ipc/messages.capnp.h"
#include "supervisor/apps/app_registry.h"
#include "supervisor/cron_triggers.h"
#include "supervisor/registry/registry_sync.h"
#include "supervisor/script_snapshotter.h"
#include "supervisor/server_stage.h"

namespace isolated::supervisor {

// What the app lifecycle needs of the server it runs in (the Supervisor).
class LifecycleHost {
 public:
  using Stage = ServerStage;
  virtual Stage stage() const = 0;
  // The serving worker (its id) that loads a version of `app` first (its first home worker:
  // where its requests will go), or nullopt when no worker serves yet.
  virtual std::optional<uint32_t> validatorFor(const App& app) = 0;
  // Worker `workerId` loads `deployment` now (LoadApp with preload, unless it has it already).
  virtual void preloadOn(uint32_t workerId, const Deployment& deployment) = 0;
  // Every serving worker loads `deployment` now (the single-script server's warm pool).
  virtual void preloadEverywhere(const Deployment& deployment) = 0;
  // Every worker that has `deployment` drops it once its requests end.
  virtual void unloadEverywhere(uint32_t deployment) = 0;
  // Answers every queued request of `app`.
  virtual void failQueue(App& app, int status, std::string_view kind,
                         const std::string& message) = 0;
  // Opens the deployment's storage bindings; an error message when one cannot be opened.
  virtual std::optional<std::string> registerBindings(const Deployment& deployment) = 0;
  // The single-script reload's version serves: every active worker is replaced, one at a time.
  virtual void restartWorkers() = 0;
  // A candidate settled (it serves now, or was refused): boot may finish, the watched files
  // change, and (when it serves) queued requests may go.
  virtual void versionSettled(bool serves) = 0;
  // The single-script server's only version failed at boot: the server exits.
  virtual void failBoot(const std::string& reason) = 0;

 protected:
  ~LifecycleHost() = default;
};

class AppLifecycle : public registry::RegistryApplier {
 public:
  // `snapshotter` may be null (no script snapshot); it must outlive this. Connects to the
  // registry when config.registryUrl is set (not started: see startRegistry()); throws
  // std::runtime_error when its key does not load.
  AppLifecycle(event_base* base, const ServeConfig& config, Logger& logger, AppRegistry& apps,
               CronTriggers& cron, LifecycleHost& host, ScriptSnapshotter* snapshotter);
  AppLifecycle(const AppLifecycle&) = delete;
  AppLifecycle& operator=(const AppLifecycle&) = delete;

  // The single-script server's app (only with one app, no --config and no --registry).
  App* singleApp();
  // Whether any version is waiting to be validated (boot waits for them).
  bool validationsPending() const;
  // The first version of every app, made once the pool may start (after the script snapshot).
  void createBootDeployments();
  // Starts reading the registry (when there is one).
  void startRegistry();
  // Null without --registry.
  registry::RegistrySync* registry() { return registry_.get(); }
  const registry::RegistrySync* registry() const { return registry_.get(); }

  // Deploys `config` (new, or a new version of an existing app): loaded by one worker first,
  // and only then serving; `done` is told the outcome. Returns an error at once when the deploy
  // cannot start (bad name or routes, another deploy of the app loading, bindings that do not
  // load).
  std::optional<std::string> deploy(AppConfig config, DeployDone done);
  // Takes an app out of service: queued requests get 503, in-flight ones finish.
  std::optional<std::string> undeploy(const std::string& name);
  // Applies a re-read config file: changed apps redeploy, new ones deploy, removed ones
  // undeploy (the registry's apps are not the file's). `why` gets how many were refused.
  void applyConfig(const ServeConfig& next, std::string* why);
  // A single-script reload: the script's environment is re-read, then the next version waits
  // for its script snapshot (when there is one) and is validated; once it serves, the workers
  // are restarted. False (with `why`) when it cannot start.
  bool reloadSingle(std::string* why);
  // Whether a single-script reload is waiting for its snapshot or validating.
  bool singleReloadRunning();
  // The script snapshot helper ended after boot: a reload waiting for it goes on.
  void onSnapshotDone();

  // Workers' reports.
  // A worker became ready: it validates waiting candidates (once `poolUp`: at boot every app
  // loads on its own home worker) and, on a single-script server, preloads the app.
  void onWorkerReady(uint32_t workerId, bool poolUp);
  void onLoadError(uint32_t workerId, ipc::LoadError::Reader error);
  void onAppLoaded(uint32_t workerId, ipc::AppLoaded::Reader loaded);
  // Worker `workerId` is gone: a version it was validating starts again on another worker
  // (unless the server is ending).
  void onWorkerLost(uint32_t workerId);

  // The registry (--registry). markForRegistry: `ctl deploy` of `name` is written to the
  // registry once its candidate has loaded. publishing: a candidate of `name` is being written.
  void markForRegistry(const std::string& name);
  bool publishing(const std::string& name);

  // registry::RegistryApplier
  std::optional<std::string> applyRegistryVersion(AppConfig config,
                                                  registry::SettleCallback settled,
                                                  bool& busy) override;
  void removeRegistryApp(const std::string& name) override;

 private:
  // A deployment of `app` from its candidate config (or its config), bindings loaded and
  // registered; null (and `error`) when they do not load.
  std::shared_ptr<const Deployment> makeDeployment(App& app, std::string& error);
  // Starts validating `app`'s candidate on its first home worker, or waits for one.
  void startValidation(App& app);
  void promote(App& app);
  void reject(App& app, const std::string& error);
  // The next single-script version, once its snapshot (if any) is made.
  bool startSingleReload(std::string* why);
  // A single-script reload whose vars, secrets or bindings do not load: logged, `why` set, false.
  bool refuseEnvironment(const std::string& error, std::string* why);
  // Rule 22: the candidate runs `modules` (as its validating worker read them) in every worker,
  // if each is still its file's text; otherwise it stays unpinned (a warning).
  void pin(App& app, capnp::List<ipc::ModuleSource>::Reader modules);
  // A loaded candidate marked for the registry is written there first: true when it is held.
  bool holdForRegistry(App& app);

  const ServeConfig& config_;
  Logger& logger_;
  AppRegistry& apps_;
  CronTriggers& cron_;
  LifecycleHost& host_;
  ScriptSnapshotter* snapshotter_;
  // A single-script reload waits for the new version's script snapshot.
  bool reloadWaitsForSnapshot_ = false;
  // Null without --registry.
  std::unique_ptr<registry::RegistrySync> registry_;
  // Candidates (deployment ids) of `ctl deploy` to write to the registry once loaded, and those
  // being written.
  std::unordered_set<uint32_t> toPublish_;
  std::unordered_set<uint32_t> publishing_;
};

}  // namespace isolated::supervisor
