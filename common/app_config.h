// One app of a server: a named script with its routes, environment, crons and limits. A server
// serves one app (`isolated serve SCRIPT`: the app matches every route) or many (`--config
// FILE`). Plain data, made by cli/ (flags) or config/ (the TOML file); the supervisor's app
// registry keeps the live versions.
//
// Invariant (checked where the config is parsed, never later): `name` is unique in a server
// and matches [A-Za-z0-9][A-Za-z0-9_-]{0,62}; `scriptPath` is absolute and was readable when the
// config was read (unless `modules` holds its files: an app from the registry); every route
// pattern parses (supervisor/routing) and no two apps share one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/bindings.h"
#include "common/isolation_mode.h"
#include "common/storage_bindings.h"

namespace isolated {

struct AppConfig {
  std::string name;
  // Absolute path of the app's entry script; relative imports resolve beside it.
  std::string scriptPath;
  // Cloudflare-style patterns, `host/path`: host may start with `*.` (or be `*`), path may end
  // with `*`. A single-script server's app has the one route "*/*".
  std::vector<std::string> routes;
  BindingSources bindings;
  // Storage bindings (KV, SQL databases, object storage; performed by the supervisor) and
  // service bindings (another app of the server), by name; no name is used twice in one app's
  // env, variables and secrets included.
  std::vector<StorageBindingSpec> storage;
  std::vector<ServiceBindingSpec> services;
  // Cron expressions, each already validated by CronSchedule::parse.
  std::vector<std::string> crons;
  // Per-app overrides of the server's limits; unset means the server's value.
  std::optional<uint32_t> cpuLimitMs;
  std::optional<uint32_t> heapLimitMb;
  std::optional<uint32_t> wallLimitMs;
  std::optional<IsolationMode> isolation;
  // Requests of this app in flight across the whole server (workers and queue); beyond it the
  // app's own requests get 503 while other apps are unaffected. 0: no per-app bound.
  uint32_t maxConcurrent = 0;
  // Run this app only on workers of its own (process isolation for a tenant that needs it).
  bool dedicatedWorkers = false;
  // Where this app was described, for error messages ("isolated.toml:12"); empty for flags.
  std::string origin;
  // An app from the registry (--registry, docs/registry.md): the version it is (0: not from the
  // registry) and the exact text of every file it loads, path -> text. A worker given these
  // reads no file, so `scriptPath` (the deploying server's path) need not exist here.
  uint64_t registryVersion = 0;
  std::vector<std::pair<std::string, std::string>> modules;
};

// Whether the app's env holds anything (variables, secrets, storage or service bindings): a
// classic script's top level could see it, so no script snapshot is made of it.
inline bool hasEnv(const AppConfig& app) {
  return hasBindings(app.bindings) || !app.storage.empty() || !app.services.empty();
}

// Whether `name` is a valid app name (see the invariant above).
inline bool isAppName(const std::string& name) {
  if (name.empty() || name.size() > 63) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '_' && c != '-'))) return false;
  }
  return true;
}

}  // namespace isolated
