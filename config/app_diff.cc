// Comparing two app lists by name, field by field.
#include "config/app_diff.h"

#include <algorithm>
#include <map>
#include <tuple>

namespace isolated {

namespace {

template <typename T>
std::vector<T> sorted(std::vector<T> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// Bindings by name: their order means nothing (loadBindings sorts the env), and a file read
// and a deploy list them in different orders.
bool sameBindings(const BindingSources& a, const BindingSources& b) {
  return sorted(a.vars) == sorted(b.vars) && sorted(a.jsonVars) == sorted(b.jsonVars) &&
         sorted(a.secrets) == sorted(b.secrets) && a.varsFile == b.varsFile &&
         a.secretsFile == b.secretsFile;
}

bool sameStorage(const std::vector<StorageBindingSpec>& a,
                 const std::vector<StorageBindingSpec>& b) {
  auto key = [](const StorageBindingSpec& s) {
    return std::tie(s.kind, s.name, s.backend, s.location);
  };
  auto byKey = [&](const StorageBindingSpec& x, const StorageBindingSpec& y) {
    return key(x) < key(y);
  };
  auto sa = a;
  auto sb = b;
  std::sort(sa.begin(), sa.end(), byKey);
  std::sort(sb.begin(), sb.end(), byKey);
  return sa == sb;
}

bool sameServices(const std::vector<ServiceBindingSpec>& a,
                  const std::vector<ServiceBindingSpec>& b) {
  auto byName = [](const ServiceBindingSpec& x, const ServiceBindingSpec& y) {
    return std::tie(x.name, x.app) < std::tie(y.name, y.app);
  };
  auto sa = a;
  auto sb = b;
  std::sort(sa.begin(), sa.end(), byName);
  std::sort(sb.begin(), sb.end(), byName);
  return sa == sb;
}

}  // namespace

bool sameApp(const AppConfig& a, const AppConfig& b) {
  return a.name == b.name && a.scriptPath == b.scriptPath && sorted(a.routes) == sorted(b.routes) &&
         sameBindings(a.bindings, b.bindings) && sameStorage(a.storage, b.storage) &&
         sameServices(a.services, b.services) && sorted(a.crons) == sorted(b.crons) &&
         a.cpuLimitMs == b.cpuLimitMs && a.heapLimitMb == b.heapLimitMb &&
         a.wallLimitMs == b.wallLimitMs && a.isolation == b.isolation &&
         a.maxConcurrent == b.maxConcurrent && a.dedicatedWorkers == b.dedicatedWorkers;
}

AppDiff diffApps(const std::vector<AppConfig>& before, const std::vector<AppConfig>& after) {
  std::map<std::string, const AppConfig*> old;
  for (const auto& app : before)
    old.emplace(app.name, &app);
  AppDiff diff;
  for (const auto& app : after) {
    auto it = old.find(app.name);
    if (it == old.end()) {
      diff.added.push_back(app.name);
      continue;
    }
    (sameApp(*it->second, app) ? diff.unchanged : diff.changed).push_back(app.name);
    old.erase(it);
  }
  for (const auto& [name, app] : old)
    diff.removed.push_back(name);
  for (auto* list : {&diff.added, &diff.removed, &diff.changed, &diff.unchanged})
    std::sort(list->begin(), list->end());
  return diff;
}

}  // namespace isolated
