// The app registry: apps, deployments, the route table.
#include "supervisor/apps/app_registry.h"

#include <algorithm>

#include "supervisor/pool/placement.h"

namespace isolated::supervisor {

namespace {

// Fine enough for `ctl apps` to estimate p50 and p99 from (see Histogram::quantile).
const std::vector<double> kAppLatencyBounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                               0.1,    0.25,  0.5,    1,     2.5,  10};

}  // namespace

AppCounters::AppCounters() : latency(kAppLatencyBounds) {}

std::vector<CronEntry> parseCrons(const std::vector<std::string>& expressions) {
  std::vector<CronEntry> entries;
  for (const auto& expression : expressions) {
    auto parsed = CronSchedule::parse(expression);
    if (auto* schedule = std::get_if<CronSchedule>(&parsed)) entries.push_back({*schedule, 0});
  }
  return entries;
}

App& AppRegistry::add(AppConfig config) {
  auto app = std::make_unique<App>();
  app->hash = Placement::appKey(config.name);
  app->crons = parseCrons(config.crons);
  app->config = std::move(config);
  App& ref = *app;
  apps_[ref.config.name] = std::move(app);
  return ref;
}

App* AppRegistry::find(std::string_view name) {
  auto it = apps_.find(name);
  return it == apps_.end() || it->second->removed ? nullptr : it->second.get();
}

App* AppRegistry::appOf(uint32_t deployment) {
  auto it = byDeployment_.find(deployment);
  return it == byDeployment_.end() ? nullptr : it->second;
}

std::shared_ptr<Deployment> AppRegistry::makeDeployment(
    App& app, std::string scriptPath, std::vector<Binding> bindings, uint32_t cpuLimitMs,
    uint32_t heapLimitMb, uint32_t wallLimitMs, IsolationMode isolation, std::string snapshotPath) {
  auto d = std::make_shared<Deployment>();
  d->id = nextDeployment_++;
  d->app = app.config.name;
  d->version = ++app.lastVersion;
  d->scriptPath = std::move(scriptPath);
  d->bindings = std::move(bindings);
  d->cpuLimitMs = cpuLimitMs;
  d->heapLimitMb = heapLimitMb;
  d->wallLimitMs = wallLimitMs;
  d->isolation = isolation;
  d->snapshotPath = std::move(snapshotPath);
  d->createdAt = std::chrono::system_clock::now();
  byDeployment_[d->id] = &app;
  return d;
}

void AppRegistry::remove(App& app) {
  app.removed = true;
  auto it = apps_.find(app.config.name);
  if (it != apps_.end() && it->second.get() == &app) {
    removed_.push_back(std::move(it->second));
    apps_.erase(it);
  }
  rebuildRoutes();
}

void AppRegistry::collect() {
  std::erase_if(removed_, [&](const std::unique_ptr<App>& app) {
    if (app->outstanding() > 0) return false;
    std::erase_if(byDeployment_, [&](const auto& entry) { return entry.second == app.get(); });
    return true;
  });
}

std::optional<std::string> AppRegistry::checkRoutes(
    const std::string& name, const std::vector<std::string>& patterns) const {
  std::vector<AppRoutes> entries;
  for (const auto& [otherName, other] : apps_) {
    if (otherName == name || !other->routed) continue;
    entries.push_back({static_cast<uint32_t>(entries.size()), otherName, other->config.routes});
  }
  entries.push_back({static_cast<uint32_t>(entries.size()), name, patterns});
  auto built = RouteTable::build(entries);
  if (auto* error = std::get_if<RouteError>(&built)) return error->message;
  return std::nullopt;
}

std::optional<std::string> AppRegistry::rebuildRoutes() {
  std::vector<AppRoutes> entries;
  std::vector<App*> index;
  for (const auto& [name, app] : apps_) {
    if (!app->routed) continue;
    entries.push_back({static_cast<uint32_t>(index.size()), name, app->config.routes});
    index.push_back(app.get());
  }
  auto built = RouteTable::build(entries);
  if (auto* error = std::get_if<RouteError>(&built)) return error->message;
  routes_ = std::make_shared<const RouteTable>(std::move(std::get<RouteTable>(built)));
  routeApps_ = std::move(index);
  return std::nullopt;
}

App* AppRegistry::route(std::string_view host, std::string_view path) const {
  if (!routes_) return nullptr;
  auto index = routes_->match(host, path);
  return index ? routeApps_[*index] : nullptr;
}

size_t AppRegistry::queuedTotal() const {
  size_t total = 0;
  for (const auto& [name, app] : apps_)
    total += app->queue.size();
  for (const auto& app : removed_)
    total += app->queue.size();
  return total;
}

}  // namespace isolated::supervisor
