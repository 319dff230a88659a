// Comparing two app lists by name, field by field.
#include "config/app_diff.h"

#include <algorithm>
#include <map>

namespace isolated {

namespace {

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace

bool sameApp(const AppConfig& a, const AppConfig& b) {
  return a.name == b.name && a.scriptPath == b.scriptPath && sorted(a.routes) == sorted(b.routes) &&
         a.bindings == b.bindings && a.storage == b.storage && a.services == b.services &&
         sorted(a.crons) == sorted(b.crons) && a.cpuLimitMs == b.cpuLimitMs &&
         a.heapLimitMb == b.heapLimitMb && a.wallLimitMs == b.wallLimitMs &&
         a.isolation == b.isolation && a.maxConcurrent == b.maxConcurrent &&
         a.dedicatedWorkers == b.dedicatedWorkers;
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
