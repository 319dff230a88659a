// Reading the registry once at start-up.
#include "supervisor/registry/registry_boot.h"

#include <algorithm>

#include "supervisor/registry/registry_store.h"

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
  std::map<std::string, uint64_t> applied;
  for (auto& record : records) {
    applied[record.name] = record.versionId;
    AppConfig app = configOf(record);
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
