// What a reload changes: the difference between the app list a server runs and the one its
// config file now describes (SIGHUP applies only this: added apps deploy, removed apps
// undeploy, changed apps redeploy, unchanged apps are left alone). Pure; names identify apps.
//
// "Changed" compares every field that affects how an app runs: script path, routes (as a set),
// bindings (inline values and file paths; each kind as a set by name), crons (as a set),
// limits, isolation, concurrency
// and dedicated workers. Not `origin` (moving a table in the file changes nothing). The
// contents of the script and of binding files are not read here: a caller that wants edits
// of those files to redeploy an app compares their contents for the unchanged apps.
#pragma once

#include <string>
#include <vector>

#include "common/app_config.h"

namespace isolated {

struct AppDiff {
  // Names, each list sorted.
  std::vector<std::string> added;
  std::vector<std::string> removed;
  std::vector<std::string> changed;
  std::vector<std::string> unchanged;

  bool empty() const { return added.empty() && removed.empty() && changed.empty(); }
};

// Whether two descriptions of an app (same name or not) would run it the same way.
bool sameApp(const AppConfig& a, const AppConfig& b);

// `before` and `after` each have unique names (AppConfig's invariant).
AppDiff diffApps(const std::vector<AppConfig>& before, const std::vector<AppConfig>& after);

}  // namespace isolated
