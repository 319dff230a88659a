// A deploy request's fields over the app's current config; bindings parsed by the same
// functions as the serve flags and the config file's keys (common/storage_bindings.h).
#include "supervisor/apps/deploy_request.h"

#include <algorithm>
#include <filesystem>
#include <optional>
#include <set>
#include <vector>

namespace isolated::supervisor {

namespace {

using nlohmann::json;

// The request's array of strings at `key`: nullopt when absent; false in `ok` when not an array
// of strings.
std::optional<std::vector<std::string>> strings(const json& request, const char* key, bool& ok) {
  if (!request.contains(key)) return std::nullopt;
  std::vector<std::string> out;
  if (!request[key].is_array()) {
    ok = false;
    return out;
  }
  for (const auto& item : request[key]) {
    if (!item.is_string()) {
      ok = false;
      return out;
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

struct StorageField {
  const char* key;  // the request's field, named like the config file's key
  StorageKind kind;
};
constexpr StorageField kStorageFields[] = {{"kv", StorageKind::kKv},
                                           {"databases", StorageKind::kDatabase},
                                           {"storage", StorageKind::kStorage}};

// Replaces the storage bindings of each kind the request names; an error message or nullopt.
std::optional<std::string> applyStorage(const json& request, AppConfig& app) {
  for (const auto& field : kStorageFields) {
    bool ok = true;
    auto texts = strings(request, field.key, ok);
    if (!ok) {
      return std::string("deploy: \"") + field.key + "\" must be an array of \"NAME=URL\" strings";
    }
    if (!texts) continue;
    std::erase_if(app.storage, [&](const StorageBindingSpec& s) { return s.kind == field.kind; });
    std::set<std::string> seen;
    for (const auto& text : *texts) {
      std::string error;
      auto spec = parseAbsoluteStorageBinding(field.kind, text, error);
      if (!spec) return "deploy: " + error;
      if (!seen.insert(spec->name).second) {
        return std::string("deploy: --") + storageKindName(field.kind) + " " + spec->name +
               " is given twice";
      }
      app.storage.push_back(std::move(*spec));
    }
  }
  return std::nullopt;
}

std::optional<std::string> applyServices(const json& request, AppConfig& app,
                                         const std::function<bool(const std::string&)>& appExists) {
  bool ok = true;
  auto texts = strings(request, "services", ok);
  if (!ok) return "deploy: \"services\" must be an array of \"NAME=APP\" strings";
  if (!texts) return std::nullopt;
  app.services.clear();
  std::set<std::string> seen;
  for (const auto& text : *texts) {
    std::string error;
    auto spec = parseServiceBinding(text, error);
    if (!spec) return "deploy: " + error;
    if (!seen.insert(spec->name).second)
      return "deploy: --service " + spec->name + " is given twice";
    if (spec->app != app.name && !appExists(spec->app)) {
      return "deploy: --service " + spec->name + " names the app '" + spec->app +
             "', which this server does not have (see `isolated ctl apps`)";
    }
    app.services.push_back(std::move(*spec));
  }
  return std::nullopt;
}

}  // namespace

std::variant<AppConfig, std::string> deployRequestConfig(
    const json& request, const AppConfig* current,
    const std::function<bool(const std::string&)>& appExists) {
  if (!request.contains("name") || !request["name"].is_string() || !request.contains("script") ||
      !request["script"].is_string()) {
    return std::string("deploy needs \"name\" and \"script\" (an absolute path) strings");
  }
  AppConfig app;
  app.name = request["name"].get<std::string>();
  app.scriptPath = request["script"].get<std::string>();
  if (!app.scriptPath.starts_with('/')) {
    return std::string("deploy: \"script\" must be an absolute path");
  }
  // As a config file's paths are, so that a saved app reads back the same (config/app_table.h).
  app.scriptPath = std::filesystem::path(app.scriptPath).lexically_normal().string();
  bool ok = true;
  auto routes = strings(request, "routes", ok);
  auto vars = strings(request, "vars", ok);
  if (!ok) return std::string("deploy: \"routes\" and \"vars\" must be arrays of strings");
  if (routes) app.routes = std::move(*routes);
  // A new version keeps what it does not change: routes, environment, bindings, crons, limits.
  if (current != nullptr) {
    if (app.routes.empty()) app.routes = current->routes;
    app.bindings = current->bindings;
    app.storage = current->storage;
    app.services = current->services;
    app.crons = current->crons;
    app.cpuLimitMs = current->cpuLimitMs;
    app.heapLimitMb = current->heapLimitMb;
    app.wallLimitMs = current->wallLimitMs;
    app.isolation = current->isolation;
    app.maxConcurrent = current->maxConcurrent;
    app.dedicatedWorkers = current->dedicatedWorkers;
  } else if (app.routes.empty()) {
    return std::string("deploy: a new app needs at least one --route");
  }
  for (const auto& pair : vars.value_or(std::vector<std::string>{})) {
    auto eq = pair.find('=');
    if (eq == std::string::npos || eq == 0) return std::string("deploy: --var takes NAME=VALUE");
    std::string name = pair.substr(0, eq);
    std::erase_if(app.bindings.vars, [&](const auto& v) { return v.first == name; });
    std::erase_if(app.bindings.jsonVars, [&](const auto& v) { return v.first == name; });
    app.bindings.vars.emplace_back(name, pair.substr(eq + 1));
  }
  if (request.contains("secrets_file") && request["secrets_file"].is_string()) {
    // A registry app's secrets are inline (opened from the registry): the new file replaces them.
    if (current != nullptr && current->registryVersion != 0) app.bindings.secrets.clear();
    app.bindings.secretsFile =
        std::filesystem::path(request["secrets_file"].get<std::string>()).lexically_normal();
  }
  if (auto error = applyStorage(request, app)) return *error;
  if (auto error = applyServices(request, app, appExists)) return *error;
  if (app.storage.size() + app.services.size() > kMaxAppResourceBindings) {
    return "deploy: at most " + std::to_string(kMaxAppResourceBindings) +
           " storage and service bindings per app";
  }
  return app;
}

}  // namespace isolated::supervisor
