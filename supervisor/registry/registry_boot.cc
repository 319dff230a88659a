// Reading the registry once at start-up.
#include "supervisor/registry/registry_boot.h"

#include <algorithm>

#include "supervisor/registry/registry_store.h"
#include "supervisor/routing/route_table.h"

namespace isolated::registry {

std::variant<std::optional<SecretKey>, std::string> loadRegistryKey(const ServeConfig& config) {
  if (config.registryKeyFile.empty()) return std::optional<SecretKey>();
  std::string error;
  auto key = readSecretKeyFile(config.registryKeyFile, error);
  if (!key) return error;
  return std::optional<SecretKey>(std::move(*key));
}

std::variant<std::map<std::string, uint64_t>, std::string> mergeRegistryApps(ServeConfig& config,
                                                                             Logger& logger) {
  auto key = loadRegistryKey(config);
  if (auto* error = std::get_if<std::string>(&key)) return *error;
  std::string where = registryWhere(config.registryUrl);
  std::vector<AppRecord> records;
  try {
    RegistryStore store(config.registryUrl, kRegistryTimeout,
                        std::get<std::optional<SecretKey>>(std::move(key)));
    store.ensureSchema();
    if (!store.key() && store.currentVersionsHoldSecrets()) {
      return "the registry at " + where +
             " holds apps with secrets and this server has no --registry-key to open them";
    }
    for (const auto& [name, id] : store.heads())
      records.push_back(store.readVersion(id));
  } catch (const std::exception& e) {
    return "registry " + where + ": " + e.what();
  }
  // A registry app whose routes collide with a local app's is not served here (as at run time:
  // the first read logs it); the local apps and the other registry apps are.
  std::vector<AppConfig> kept;
  for (const auto& app : config.apps) {
    bool shadowed = std::any_of(records.begin(), records.end(),
                                [&](const AppRecord& r) { return r.name == app.name; });
    if (!shadowed) kept.push_back(app);
  }
  auto collision = [](const std::vector<AppConfig>& apps) -> std::optional<std::string> {
    std::vector<AppRoutes> routes;
    for (size_t i = 0; i < apps.size(); ++i)
      routes.push_back(AppRoutes{static_cast<uint32_t>(i), apps[i].name, apps[i].routes});
    auto table = RouteTable::build(routes);
    if (auto* error = std::get_if<RouteError>(&table)) return error->message;
    return std::nullopt;
  };
  // Usually every app fits at once; only when not is each registry app tried in turn.
  std::vector<AppConfig> all = kept;
  for (const auto& record : records)
    all.push_back(configOf(record));
  const bool allFit = !collision(all);
  std::map<std::string, uint64_t> applied;
  for (auto& record : records) {
    AppConfig app = configOf(record);
    if (!allFit) {
      kept.push_back(app);
      if (auto error = collision(kept)) {
        kept.pop_back();
        // A config app of that name keeps serving here in its place.
        for (const auto& local : config.apps) {
          if (local.name == app.name) kept.push_back(local);
        }
        logger.error(
            "registry app not served here: its routes collide with another app's",
            {{"app", app.name}, {"registry_version", record.versionId}, {"error", *error}});
        continue;
      }
    }
    applied[record.name] = record.versionId;
    auto local = std::find_if(config.apps.begin(), config.apps.end(),
                              [&](const AppConfig& a) { return a.name == app.name; });
    if (local != config.apps.end()) {
      logger.warn(
          "the registry holds this app: its version replaces the config file's",
          {{"app", app.name}, {"config", local->origin}, {"registry_version", record.versionId}});
      *local = std::move(app);
    } else {
      config.apps.push_back(std::move(app));
    }
  }
  logger.info("registry read", {{"registry", where}, {"apps", records.size()}});
  return applied;
}

}  // namespace isolated::registry
