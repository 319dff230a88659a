// The app registry: every app the server serves, its deployments (an app at one version, what
// workers load), its route patterns as one route table, its request queue and its counters.
// Owned by the Supervisor, used on its event loop only.
//
// Lifetime: an App is created by add() and lives at a stable address until collect() finds it
// removed with nothing queued or in flight, so a PendingRequest may point to it. A Deployment
// is immutable and shared: the app holds its live and candidate versions, and an in-flight
// request names its deployment by id only.
//
// Invariant: the route table maps only to apps that are not removed; an app has at most one
// candidate (a deploy being validated) at a time.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/app_config.h"
#include "common/bindings.h"
#include "common/cron_schedule.h"
#include "common/isolation_mode.h"
#include "supervisor/pending_request.h"
#include "supervisor/request_metrics.h"
#include "supervisor/routing/route_table.h"

namespace isolated::supervisor {

// One app at one version: what a LoadApp message carries. Limits are resolved (the app's
// override or the server's value).
struct Deployment {
  uint32_t id = 0;  // LoadApp.app: never 0, never reused
  std::string app;
  uint64_t version = 0;
  std::string scriptPath;
  std::vector<Binding> bindings;
  uint32_t cpuLimitMs = 0;
  uint32_t heapLimitMb = 0;
  uint32_t wallLimitMs = 0;
  IsolationMode isolation = IsolationMode::kShared;
  std::string snapshotPath;  // empty: none
  std::chrono::system_clock::time_point createdAt;
  // The files the validating worker loaded (path, text), sent with every later LoadApp so that
  // every worker runs exactly the validated text (ipc/protocol.h rule 22). Empty until the
  // version has loaded, or when it was too large to pin.
  std::vector<std::pair<std::string, std::string>> modules;
  // The app's storage and service bindings at this version (names travel in LoadApp; the
  // supervisor performs them, supervisor_bindings.cc and bindings/service_calls.cc).
  std::vector<StorageBindingSpec> storage;
  std::vector<ServiceBindingSpec> services;
};

struct AppCounters {
  uint64_t requests = 0;
  std::array<uint64_t, 6> classes{};  // index status/100
  uint64_t coldStarts = 0;
  uint64_t evictions = 0;
  uint64_t loadFailures = 0;
  uint64_t cpuMicros = 0;
  uint64_t limitTerminations = 0;
  Histogram latency;  // seconds from arrival to answer
  AppCounters();
};

struct CronEntry {
  CronSchedule schedule;
  int64_t nextFireSec = 0;  // Unix time of its next fire
};

// The schedules of `expressions`, each due from now. Every expression was validated where the
// config was read (or by deploy()); one that no longer parses is skipped, not fatal.
std::vector<CronEntry> parseCrons(const std::vector<std::string>& expressions);

// Called once when a deploy settles: nullopt when the new version serves, else the error.
using DeployDone = std::function<void(const std::optional<std::string>& error)>;

struct App {
  AppConfig config;
  // The placement key: a hash of the name, so an app keeps its workers across versions.
  uint64_t hash = 0;
  std::shared_ptr<const Deployment> live;       // null: nothing serves (first load failed)
  std::shared_ptr<const Deployment> candidate;  // being validated by one worker
  // The config the candidate comes from; it replaces `config` when the candidate serves.
  std::optional<AppConfig> candidateConfig;
  // After the candidate serves, the workers are replaced one at a time (a single-script
  // reload: new workers, the same app).
  bool restartWorkersAfter = false;
  uint32_t validatingWorker = 0;    // the worker loading `candidate`
  std::vector<DeployDone> waiters;  // told when `candidate` settles
  std::string lastError;            // the last load failure, "file:line: message"
  uint64_t lastVersion = 0;
  uint32_t inFlight = 0;  // sent to a worker and not finished
  std::deque<PendingRequest> queue;
  bool waiting = false;  // on the supervisor's list of apps with queued requests
  std::vector<CronEntry> crons;
  AppCounters counters;
  bool removed = false;
  // Until when the app counts as noisy: it recently ran into its CPU limit, which blocks its
  // worker's JavaScript thread for the whole limit. A noisy app's requests stay on its home
  // worker, and other apps are placed on workers not running one of them where possible.
  std::chrono::steady_clock::time_point noisyUntil;
  bool noisy(std::chrono::steady_clock::time_point now) const { return now < noisyUntil; }
  // In the route table: apps from the config from the start (their requests wait while the
  // first version loads), apps deployed at runtime once their first version serves.
  bool routed = false;

  uint32_t outstanding() const { return inFlight + static_cast<uint32_t>(queue.size()); }
};

class AppRegistry {
 public:
  AppRegistry() = default;
  AppRegistry(const AppRegistry&) = delete;
  AppRegistry& operator=(const AppRegistry&) = delete;

  // A new app with no deployment yet; its name must not be taken by a live app.
  App& add(AppConfig config);
  App* find(std::string_view name);
  // The app a deployment id belongs to (removed apps included until collected).
  App* appOf(uint32_t deployment);
  // A new deployment (the next version) of `app` running `scriptPath`, with `bindings` loaded
  // and limits resolved by the caller.
  std::shared_ptr<Deployment> makeDeployment(App& app, std::string scriptPath,
                                             std::vector<Binding> bindings, uint32_t cpuLimitMs,
                                             uint32_t heapLimitMb, uint32_t wallLimitMs,
                                             IsolationMode isolation, std::string snapshotPath);
  // Takes the app out of routing at once; it is freed by collect() once idle.
  void remove(App& app);
  // Frees removed apps with nothing queued or in flight.
  void collect();

  // Rebuilds the route table from the routed apps (App::routed, not removed).
  // Returns the error (a bad or duplicate pattern) and keeps the old table, or nullopt and
  // swaps it in.
  std::optional<std::string> rebuildRoutes();
  // Whether `patterns` for the app named `name` (new or replacing its routes) would build
  // beside the other routed apps.
  std::optional<std::string> checkRoutes(const std::string& name,
                                         const std::vector<std::string>& patterns) const;
  // The app serving `host` (a Host header, port allowed) and `path`; null when no route matches.
  App* route(std::string_view host, std::string_view path) const;

  // Apps in name order (removed ones included until collected).
  const std::map<std::string, std::unique_ptr<App>, std::less<>>& apps() const { return apps_; }
  size_t queuedTotal() const;

 private:
  std::map<std::string, std::unique_ptr<App>, std::less<>> apps_;
  std::vector<std::unique_ptr<App>> removed_;
  std::unordered_map<uint32_t, App*> byDeployment_;
  uint32_t nextDeployment_ = 1;
  std::shared_ptr<const RouteTable> routes_;
  std::vector<App*> routeApps_;  // route table index -> app
};

}  // namespace isolated::supervisor
