// Reading one [[app]] table of the config file (config/config_file.h) into an AppConfig, and
// the per-app checks made once every table is read. Internal to isolated_config; the file-level
// checks (unique names, services naming apps of the file, routes no two apps share) belong to
// config_file.cc.
#pragma once

#include <toml++/toml.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/app_config.h"
#include "config/config_reader.h"

namespace isolated::config_detail {

// The keys of an [[app]] table (every key readApp accepts); a [server] key by one of these
// names is misplaced, not unknown.
inline constexpr std::string_view kAppKeys[] = {"name",
                                                "script",
                                                "routes",
                                                "vars",
                                                "vars_file",
                                                "secrets",
                                                "secrets_file",
                                                "cron",
                                                "cpu_limit",
                                                "heap_limit",
                                                "wall_limit",
                                                "isolation",
                                                "max_concurrent",
                                                "dedicated_workers",
                                                "kv",
                                                "databases",
                                                "storage",
                                                "services"};

// Where an app was described, for the checks made once every app is read. The pointers are
// into the parsed document and live as long as it does.
struct AppSource {
  const toml::table* table = nullptr;
  std::string where;
  const toml::node* nameNode = nullptr;
  std::vector<const toml::node*> routeNodes;
  const toml::node* varsFileNode = nullptr;
  const toml::node* secretsFileNode = nullptr;
  const toml::node* resourcesNode = nullptr;  // the first of kv, databases, storage, services
  const toml::node* servicesNode = nullptr;
};

// The app of the `index`th (from 0) [[app]] table, every key checked (its script readable, its
// routes and crons parsed), with `src` filled in; nullopt with the error in `reader`. Its vars
// and secrets files are not read yet: see checkBindings.
std::optional<AppConfig> readApp(Reader& reader, const toml::table& table, size_t index,
                                 AppSource& src);

// Loads the app's bindings (reading its files) so that a bad file is a start-up error, and
// checks that no two of its bindings share a name; false with the error in `reader`.
bool checkBindings(Reader& reader, const AppConfig& app, const AppSource& src);

}  // namespace isolated::config_detail
