// Reading an [[app]] table of the config file: each key checked and turned into AppConfig's
// fields, with errors that name the app and the key.
#include "config/app_table_reader.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <tuple>

#include "common/bindings.h"
#include "common/cron_schedule.h"
#include "common/isolation_mode.h"
#include "config/limit_ranges.h"
#include "supervisor/routing/route_table.h"

namespace isolated::config_detail {

namespace {

namespace fs = std::filesystem;

std::string appWhere(const std::string& name, size_t index) {
  return name.empty() ? "[[app]] #" + std::to_string(index + 1) : "[[app]] \"" + name + "\"";
}

// `node` as a table, or null after telling `reader` what it was instead.
const toml::table* tableOf(Reader& reader, const toml::node& node, const std::string& where,
                           std::string_view key) {
  auto* table = node.as_table();
  if (table == nullptr) reader.wrongType(node, where, key, "a table");
  return table;
}

// Whether `name`, a key of the table `key`, can be a binding's name; tells `reader` when not.
bool checkBindingName(Reader& reader, const toml::key& name, const std::string& where,
                      std::string_view key) {
  if (isBindingName(std::string(name.str()))) return true;
  reader.fail(name.source(), where,
              "key \"" + std::string(key) + "\": '" + std::string(name.str()) +
                  "' is not a valid binding name (a JavaScript identifier, not a reserved word)");
  return false;
}

// `vars` or `secrets`: a table of bindings; secrets must be strings, vars may be any value.
bool readBindingTable(Reader& reader, const toml::node& node, const std::string& where,
                      std::string_view key, bool secret, BindingSources& out) {
  auto* table = tableOf(reader, node, where, key);
  if (table == nullptr) return false;
  for (const auto& [name, value] : *table) {
    std::string n(name.str());
    if (!checkBindingName(reader, name, where, key)) return false;
    if (auto* s = value.as_string()) {
      (secret ? out.secrets : out.vars).emplace_back(n, s->get());
    } else if (secret) {
      // Never quote the value: it is a secret.
      reader.fail(value.source(), where,
                  "key \"secrets\": secret '" + n + "' must be a string, got " + typeName(value));
      return false;
    } else {
      auto json = reader.json(value, where, key);
      if (!json) return false;
      out.jsonVars.emplace_back(n, json->dump());
    }
  }
  return true;
}

// `kv`, `databases` or `storage`: a table of NAME = "URL" (paths relative to the file), or
// `services`: a table of NAME = "app name".
bool readResourceTable(Reader& reader, const toml::node& node, const std::string& where,
                       std::string_view key, AppConfig& app) {
  auto* table = tableOf(reader, node, where, key);
  if (table == nullptr) return false;
  for (const auto& [name, value] : *table) {
    std::string n(name.str());
    const std::string* text = reader.text(value, where, key);
    if (text == nullptr) return false;
    if (!checkBindingName(reader, name, where, key)) return false;
    if (key == "services") {
      if (!isAppName(*text)) {
        reader.fail(value.source(), where,
                    "key \"services\": '" + *text + "' is not a valid app name");
        return false;
      }
      app.services.push_back({n, *text});
    } else {
      StorageKind kind = key == "kv"          ? StorageKind::kKv
                         : key == "databases" ? StorageKind::kDatabase
                                              : StorageKind::kStorage;
      std::string error;
      auto spec = parseStorageBinding(kind, n + "=" + *text, error, reader.dir().string());
      if (!spec) {
        // The parser speaks in flags ("--kv NAME: ..."); the key is named instead.
        std::string flag = std::string("--") + storageKindName(kind);
        if (error.starts_with(flag)) error = error.substr(flag.size());
        while (!error.empty() && (error.front() == ' ' || error.front() == ':'))
          error.erase(0, 1);
        reader.fail(value.source(), where, "key \"" + std::string(key) + "\": " + error);
        return false;
      }
      app.storage.push_back(std::move(*spec));
    }
    if (app.storage.size() + app.services.size() > kMaxAppResourceBindings) {
      reader.fail(node.source(), where,
                  "at most " + std::to_string(kMaxAppResourceBindings) +
                      " storage and service bindings per app");
      return false;
    }
  }
  return true;
}

// `name`, read before every other key so that their errors can name the app.
bool readAppName(Reader& reader, const toml::table& table, size_t index, AppSource& src,
                 AppConfig& app) {
  src.table = &table;
  src.where = appWhere("", index);
  const toml::node* nameNode = table.get("name");
  if (nameNode == nullptr) {
    reader.fail(table.source(), src.where, "key \"name\" is missing");
    return false;
  }
  src.nameNode = nameNode;
  const std::string* name = reader.text(*nameNode, src.where, "name");
  if (name == nullptr) return false;
  if (!isAppName(*name)) {
    reader.fail(nameNode->source(), src.where,
                "key \"name\": '" + *name +
                    "' is not a valid app name (1 to 63 letters, digits, '_' or '-', "
                    "starting with a letter or digit)");
    return false;
  }
  app.name = *name;
  src.where = appWhere(app.name, index);
  return true;
}

// `script`: a path to a file that can be read now.
bool readScript(Reader& reader, const toml::node& node, const std::string& where,
                std::string_view k, AppConfig& app) {
  auto path = reader.path(node, where, k);
  if (!path) return false;
  app.scriptPath = std::move(*path);
  std::error_code ec;
  if (!fs::is_regular_file(app.scriptPath, ec) || ::access(app.scriptPath.c_str(), R_OK) != 0) {
    const char* reason = !fs::exists(app.scriptPath, ec)        ? "no such file"
                         : fs::is_directory(app.scriptPath, ec) ? "it is a directory"
                                                                : "permission denied";
    reader.fail(node.source(), where,
                "key \"script\": cannot read '" + app.scriptPath + "': " + reason);
    return false;
  }
  return true;
}

// `routes`: an array of route patterns, each parsed; their nodes go to `src` for the checks
// across apps.
bool readRoutes(Reader& reader, const toml::node& node, const std::string& where,
                std::string_view k, AppConfig& app, AppSource& src) {
  auto* array = node.as_array();
  if (array == nullptr) {
    reader.wrongType(node, where, k, "an array of strings");
    return false;
  }
  for (const auto& element : *array) {
    const std::string* pattern = reader.text(element, where, k);
    if (pattern == nullptr) return false;
    auto parsed = parseRoutePattern(*pattern);
    if (auto* error = std::get_if<std::string>(&parsed)) {
      reader.fail(element.source(), where, "key \"routes\": " + *error);
      return false;
    }
    app.routes.push_back(*pattern);
    src.routeNodes.push_back(&element);
  }
  return true;
}

// `cron`: one schedule or an array of them, each parsed, repeats dropped.
bool readCrons(Reader& reader, const toml::node& node, const std::string& where, std::string_view k,
               AppConfig& app) {
  auto list = reader.textList(node, where, k);
  if (!list) return false;
  for (const toml::node* element : *list) {
    auto schedule = CronSchedule::parse(element->as_string()->get());
    if (auto* error = std::get_if<std::string>(&schedule)) {
      reader.fail(element->source(), where, "key \"cron\": " + *error);
      return false;
    }
    const std::string& expression = std::get<CronSchedule>(schedule).expression();
    if (std::find(app.crons.begin(), app.crons.end(), expression) == app.crons.end()) {
      app.crons.push_back(expression);
    }
  }
  if (app.crons.size() > kMaxCronsPerApp) {
    reader.fail(node.source(), where,
                "key \"cron\": at most " + std::to_string(kMaxCronsPerApp) + " schedules");
    return false;
  }
  return true;
}

}  // namespace

std::optional<AppConfig> readApp(Reader& reader, const toml::table& table, size_t index,
                                 AppSource& src) {
  AppConfig app;
  if (!readAppName(reader, table, index, src, app)) return std::nullopt;
  const std::string& where = src.where;
  app.origin = reader.at(table.source());

  bool hasRoutes = false;
  for (const auto& [key, node] : table) {
    std::string_view k = key.str();
    if (k == "name") {
      continue;
    } else if (k == "script") {
      if (!readScript(reader, node, where, k, app)) return std::nullopt;
    } else if (k == "routes") {
      hasRoutes = true;
      if (!readRoutes(reader, node, where, k, app, src)) return std::nullopt;
    } else if (k == "vars" || k == "secrets") {
      if (!readBindingTable(reader, node, where, k, k == "secrets", app.bindings)) {
        return std::nullopt;
      }
    } else if (k == "vars_file" || k == "secrets_file") {
      auto path = reader.path(node, where, k);
      if (!path) return std::nullopt;
      (k == "vars_file" ? app.bindings.varsFile : app.bindings.secretsFile) = std::move(*path);
      (k == "vars_file" ? src.varsFileNode : src.secretsFileNode) = &node;
    } else if (k == "kv" || k == "databases" || k == "storage" || k == "services") {
      if (!readResourceTable(reader, node, where, k, app)) return std::nullopt;
      if (src.resourcesNode == nullptr) src.resourcesNode = &node;
      if (k == "services") src.servicesNode = &node;
    } else if (k == "cron") {
      if (!readCrons(reader, node, where, k, app)) return std::nullopt;
    } else if (k == "cpu_limit" || k == "heap_limit" || k == "wall_limit") {
      LimitRange range = k == "cpu_limit"    ? kCpuLimitMsRange
                         : k == "heap_limit" ? kHeapLimitMbRange
                                             : kWallLimitMsRange;
      auto value = reader.number(node, where, k, range);
      if (!value) return std::nullopt;
      (k == "cpu_limit"    ? app.cpuLimitMs
       : k == "heap_limit" ? app.heapLimitMb
                           : app.wallLimitMs) = *value;
    } else if (k == "max_concurrent") {
      auto value = reader.number(node, where, k, kAppMaxConcurrentRange);
      if (!value) return std::nullopt;
      app.maxConcurrent = *value;
    } else if (k == "isolation") {
      const std::string* value = reader.text(node, where, k);
      if (value == nullptr) return std::nullopt;
      auto mode = parseIsolationMode(*value);
      if (!mode) {
        return reader.fail(
            node.source(), where,
            "key \"isolation\": expected shared, context or isolate, got '" + *value + "'");
      }
      app.isolation = *mode;
    } else if (k == "dedicated_workers") {
      auto value = reader.boolean(node, where, k);
      if (!value) return std::nullopt;
      // Accepted in the format, refused rather than ignored until the pool can pin apps.
      if (*value) {
        return reader.fail(node.source(), where,
                           "key \"dedicated_workers\": dedicated workers are not supported yet "
                           "(every app shares the pool; use a server of its own)");
      }
      app.dedicatedWorkers = *value;
    } else {
      return reader.fail(key.source(), where, "key \"" + std::string(k) + "\" is unknown");
    }
  }
  if (app.scriptPath.empty()) {
    return reader.fail(table.source(), where, "key \"script\" is missing");
  }
  if (!hasRoutes && app.crons.empty()) {
    return reader.fail(table.source(), where,
                       "key \"routes\" is missing (an app without routes must have a cron)");
  }
  return app;
}

// Loads each app's bindings (reading its files) so that a bad file is a start-up error here.
bool checkBindings(Reader& reader, const AppConfig& app, const AppSource& src) {
  std::string error;
  if (auto env = loadBindings(app.bindings, error)) {
    auto clash = bindingNameClash(app.storage, app.services, *env);
    if (!clash) return true;
    reader.fail(src.resourcesNode != nullptr ? src.resourcesNode->source() : src.table->source(),
                src.where, *clash);
    return false;
  }
  // loadBindings speaks in flags; point at the key instead.
  const std::tuple<std::string_view, const char*, const toml::node*> files[] = {
      {"--vars-file ", "vars_file", src.varsFileNode},
      {"--secrets-file ", "secrets_file", src.secretsFileNode}};
  for (auto [prefix, key, node] : files) {
    if (node != nullptr && error.starts_with(prefix)) {
      reader.fail(node->source(), src.where,
                  "key \"" + std::string(key) + "\": " + error.substr(prefix.size()));
      return false;
    }
  }
  reader.fail(src.table->source(), src.where, error);
  return false;
}

}  // namespace isolated::config_detail
