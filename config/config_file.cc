// Reading the TOML config file: toml++ parses, this file walks the tables and checks each key.
#include "config/config_file.h"

#include <toml++/toml.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <optional>
#include <tuple>

#include "common/bindings.h"
#include "common/cron_schedule.h"
#include "common/isolation_mode.h"
#include "common/read_file.h"
#include "config/limit_ranges.h"
#include "supervisor/routing/route_table.h"

namespace isolated {

namespace {

namespace fs = std::filesystem;

// The keys of an [[app]] table; a [server] key by one of these names is misplaced, not unknown.
constexpr std::string_view kAppKeys[] = {"name",
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
// Flags that describe a single script's app: with a config file they belong in [[app]] tables.
constexpr std::string_view kScriptOnlyKeys[] = {"var", "secret", "database"};

const char* typeName(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

// Walks the parsed document. Each check that fails records the first error (file, line, where,
// key) and returns nullopt/nullptr/false, which every caller passes straight up; the message is
// taken once at the end.
class Reader {
 public:
  Reader(std::string display, fs::path dir) : display_(std::move(display)), dir_(std::move(dir)) {}

  const fs::path& dir() const { return dir_; }

  std::string at(const toml::source_region& source) const {
    return display_ + ":" + std::to_string(source.begin.line);
  }

  // Records an error; converts to any empty optional so that `return fail(...)` reads naturally.
  std::nullopt_t fail(const toml::source_region& source, const std::string& where,
                      const std::string& message) {
    if (error_.empty()) error_ = at(source) + ": " + where + ": " + message;
    return std::nullopt;
  }
  std::nullopt_t failFile(const std::string& message) {
    if (error_.empty()) error_ = display_ + ": " + message;
    return std::nullopt;
  }

  std::nullopt_t wrongType(const toml::node& node, const std::string& where, std::string_view key,
                           const char* expected) {
    return fail(
        node.source(), where,
        "key \"" + std::string(key) + "\": expected " + expected + ", got " + typeName(node));
  }

  const std::string* text(const toml::node& node, const std::string& where, std::string_view key) {
    if (auto* s = node.as_string()) return &s->get();
    wrongType(node, where, key, "a string");
    return nullptr;
  }

  std::optional<uint32_t> number(const toml::node& node, const std::string& where,
                                 std::string_view key, LimitRange range) {
    auto* i = node.as_integer();
    if (i == nullptr) return wrongType(node, where, key, "an integer");
    int64_t value = i->get();
    if (value < 0 || static_cast<uint64_t>(value) < range.min ||
        static_cast<uint64_t>(value) > range.max) {
      return fail(node.source(), where,
                  "key \"" + std::string(key) + "\": expected a whole number from " +
                      std::to_string(range.min) + " to " + std::to_string(range.max) + ", got " +
                      std::to_string(value));
    }
    return static_cast<uint32_t>(value);
  }

  std::optional<bool> boolean(const toml::node& node, const std::string& where,
                              std::string_view key) {
    if (auto* b = node.as_boolean()) return b->get();
    return wrongType(node, where, key, "a boolean");
  }

  // A path from the file, made absolute against the file's directory.
  std::optional<std::string> path(const toml::node& node, const std::string& where,
                                  std::string_view key) {
    const std::string* value = text(node, where, key);
    if (value == nullptr) return std::nullopt;
    if (value->empty()) {
      return fail(node.source(), where, "key \"" + std::string(key) + "\": empty path");
    }
    fs::path p(*value);
    if (p.is_relative()) p = dir_ / p;
    return p.lexically_normal().string();
  }

  // A string or an array of strings, as the string nodes (for their positions).
  std::optional<std::vector<const toml::node*>> textList(const toml::node& node,
                                                         const std::string& where,
                                                         std::string_view key) {
    std::vector<const toml::node*> out;
    if (node.is_string()) {
      out.push_back(&node);
    } else if (auto* array = node.as_array()) {
      for (const auto& element : *array) {
        if (!element.is_string()) return wrongType(element, where, key, "an array of strings");
        out.push_back(&element);
      }
    } else {
      return wrongType(node, where, key, "an array of strings");
    }
    return out;
  }

  std::optional<nlohmann::json> json(const toml::node& node, const std::string& where,
                                     std::string_view key) {
    switch (node.type()) {
      case toml::node_type::string:
        return nlohmann::json(node.as_string()->get());
      case toml::node_type::integer:
        return nlohmann::json(node.as_integer()->get());
      case toml::node_type::boolean:
        return nlohmann::json(node.as_boolean()->get());
      case toml::node_type::floating_point: {
        double d = node.as_floating_point()->get();
        if (!std::isfinite(d)) {
          return fail(node.source(), where,
                      "key \"" + std::string(key) + "\": JSON has no inf or nan");
        }
        return nlohmann::json(d);
      }
      case toml::node_type::array: {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& element : *node.as_array()) {
          auto value = json(element, where, key);
          if (!value) return std::nullopt;
          out.push_back(std::move(*value));
        }
        return out;
      }
      case toml::node_type::table: {
        nlohmann::json out = nlohmann::json::object();
        for (const auto& [k, v] : *node.as_table()) {
          auto value = json(v, where, key);
          if (!value) return std::nullopt;
          out[std::string(k.str())] = std::move(*value);
        }
        return out;
      }
      default:
        return fail(node.source(), where,
                    "key \"" + std::string(key) + "\": " + typeName(node) +
                        " has no JSON form (write it as a string)");
    }
  }

  const std::string& error() const { return error_; }

 private:
  std::string display_;
  fs::path dir_;
  std::string error_;
};

// Where an app was described, for the checks made once every app is read.
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

std::string appWhere(const std::string& name, size_t index) {
  return name.empty() ? "[[app]] #" + std::to_string(index + 1) : "[[app]] \"" + name + "\"";
}

// `vars` or `secrets`: a table of bindings; secrets must be strings, vars may be any value.
bool readBindingTable(Reader& reader, const toml::node& node, const std::string& where,
                      std::string_view key, bool secret, BindingSources& out) {
  auto* table = node.as_table();
  if (table == nullptr) {
    reader.wrongType(node, where, key, "a table");
    return false;
  }
  for (const auto& [name, value] : *table) {
    std::string n(name.str());
    if (!isBindingName(n)) {
      reader.fail(name.source(), where,
                  "key \"" + std::string(key) + "\": '" + n +
                      "' is not a valid binding name (a JavaScript identifier, not a reserved "
                      "word)");
      return false;
    }
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
  auto* table = node.as_table();
  if (table == nullptr) {
    reader.wrongType(node, where, key, "a table");
    return false;
  }
  for (const auto& [name, value] : *table) {
    std::string n(name.str());
    const std::string* text = reader.text(value, where, key);
    if (text == nullptr) return false;
    if (!isBindingName(n)) {
      reader.fail(name.source(), where,
                  "key \"" + std::string(key) + "\": '" + n +
                      "' is not a valid binding name (a JavaScript identifier, not a reserved "
                      "word)");
      return false;
    }
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

std::optional<AppConfig> readApp(Reader& reader, const toml::table& table, size_t index,
                                 AppSource& src) {
  AppConfig app;
  src.table = &table;
  src.where = appWhere("", index);
  const toml::node* nameNode = table.get("name");
  if (nameNode == nullptr) return reader.fail(table.source(), src.where, "key \"name\" is missing");
  src.nameNode = nameNode;
  const std::string* name = reader.text(*nameNode, src.where, "name");
  if (name == nullptr) return std::nullopt;
  if (!isAppName(*name)) {
    return reader.fail(nameNode->source(), src.where,
                       "key \"name\": '" + *name +
                           "' is not a valid app name (1 to 63 letters, digits, '_' or '-', "
                           "starting with a letter or digit)");
  }
  app.name = *name;
  src.where = appWhere(app.name, index);
  const std::string& where = src.where;
  app.origin = reader.at(table.source());

  bool hasRoutes = false;
  for (const auto& [key, node] : table) {
    std::string_view k = key.str();
    if (k == "name") {
      continue;
    } else if (k == "script") {
      auto path = reader.path(node, where, k);
      if (!path) return std::nullopt;
      app.scriptPath = std::move(*path);
      std::error_code ec;
      if (!fs::is_regular_file(app.scriptPath, ec) || ::access(app.scriptPath.c_str(), R_OK) != 0) {
        const char* reason = !fs::exists(app.scriptPath, ec)        ? "no such file"
                             : fs::is_directory(app.scriptPath, ec) ? "it is a directory"
                                                                    : "permission denied";
        return reader.fail(node.source(), where,
                           "key \"script\": cannot read '" + app.scriptPath + "': " + reason);
      }
    } else if (k == "routes") {
      hasRoutes = true;
      auto* array = node.as_array();
      if (array == nullptr) return reader.wrongType(node, where, k, "an array of strings");
      for (const auto& element : *array) {
        const std::string* pattern = reader.text(element, where, k);
        if (pattern == nullptr) return std::nullopt;
        auto parsed = parseRoutePattern(*pattern);
        if (auto* error = std::get_if<std::string>(&parsed)) {
          return reader.fail(element.source(), where, "key \"routes\": " + *error);
        }
        app.routes.push_back(*pattern);
        src.routeNodes.push_back(&element);
      }
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
      auto list = reader.textList(node, where, k);
      if (!list) return std::nullopt;
      for (const toml::node* element : *list) {
        auto schedule = CronSchedule::parse(element->as_string()->get());
        if (auto* error = std::get_if<std::string>(&schedule)) {
          return reader.fail(element->source(), where, "key \"cron\": " + *error);
        }
        const std::string& expression = std::get<CronSchedule>(schedule).expression();
        if (std::find(app.crons.begin(), app.crons.end(), expression) == app.crons.end()) {
          app.crons.push_back(expression);
        }
      }
      if (app.crons.size() > kMaxCronsPerApp) {
        return reader.fail(
            node.source(), where,
            "key \"cron\": at most " + std::to_string(kMaxCronsPerApp) + " schedules");
      }
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

// One [server] key: its flag, checked against `serverKeys`, and its value as flag text.
bool readServerKey(Reader& reader, const toml::key& key, const toml::node& value,
                   std::span<const ServerKey> serverKeys, ConfigFile& out) {
  std::string name(key.str());
  std::string flag = name;
  std::replace(flag.begin(), flag.end(), '_', '-');
  auto spec = std::find_if(serverKeys.begin(), serverKeys.end(),
                           [&](const ServerKey& s) { return s.flag == flag; });
  if (name.find('-') != std::string::npos || spec == serverKeys.end()) {
    std::string underscored = name;
    std::replace(underscored.begin(), underscored.end(), '-', '_');
    bool appKey = std::find(std::begin(kAppKeys), std::end(kAppKeys), name) != std::end(kAppKeys) ||
                  std::find(std::begin(kScriptOnlyKeys), std::end(kScriptOnlyKeys), name) !=
                      std::end(kScriptOnlyKeys);
    std::string hint = underscored != name ? " (keys use underscores: '" + underscored + "')"
                       : appKey            ? " here: it belongs in an [[app]] table"
                                           : "";
    reader.fail(key.source(), "[server]", "key \"" + name + "\" is unknown" + hint);
    return false;
  }
  FileSetting setting;
  setting.origin = reader.at(key.source()) + ": [server]: key \"" + name + "\"";
  switch (spec->kind) {
    case SettingKind::kNumber:
      if (auto* i = value.as_integer()) {
        setting.value = std::to_string(i->get());
      } else {
        reader.wrongType(value, "[server]", name, "an integer");
        return false;
      }
      break;
    case SettingKind::kSwitch:
      if (auto* b = value.as_boolean()) {
        setting.value = b->get() ? "on" : "off";
      } else if (auto* s = value.as_string()) {
        setting.value = s->get();
      } else {
        reader.wrongType(value, "[server]", name, "a boolean");
        return false;
      }
      break;
    case SettingKind::kText: {
      const std::string* text = reader.text(value, "[server]", name);
      if (text == nullptr) return false;
      setting.value = *text;
      break;
    }
    case SettingKind::kTextList: {
      auto list = reader.textList(value, "[server]", name);
      if (!list) return false;
      for (const toml::node* element : *list) {
        if (!setting.value.empty()) setting.value += ',';
        setting.value += element->as_string()->get();
      }
      break;
    }
    case SettingKind::kPath: {
      auto path = reader.path(value, "[server]", name);
      if (!path) return false;
      setting.value = std::move(*path);
      break;
    }
  }
  out.server.emplace(flag, std::move(setting));
  return true;
}

// `serverKeys` nullopt: [server] keys are taken by name, unchecked, with empty values.
std::optional<ConfigFile> read(Reader& reader, const toml::table& root,
                               std::optional<std::span<const ServerKey>> serverKeys) {
  ConfigFile out;
  std::vector<AppSource> sources;
  for (const auto& [key, node] : root) {
    std::string_view k = key.str();
    if (k == "server") {
      auto* server = node.as_table();
      if (server == nullptr) return reader.wrongType(node, "[server]", k, "a table");
      for (const auto& [serverKey, value] : *server) {
        if (!serverKeys) {
          out.server.emplace(std::string(serverKey.str()), FileSetting{});
        } else if (!readServerKey(reader, serverKey, value, *serverKeys, out)) {
          return std::nullopt;
        }
      }
    } else if (k == "app") {
      auto* apps = node.as_array();
      if (apps == nullptr) return reader.wrongType(node, "[[app]]", k, "[[app]] tables");
      for (const auto& element : *apps) {
        auto* table = element.as_table();
        if (table == nullptr) return reader.wrongType(element, "[[app]]", k, "[[app]] tables");
        sources.emplace_back();
        auto app = readApp(reader, *table, out.apps.size(), sources.back());
        if (!app) return std::nullopt;
        out.apps.push_back(std::move(*app));
      }
    } else {
      return reader.fail(
          key.source(), "top level",
          "key \"" + std::string(k) + "\" is unknown (expected [server] and [[app]])");
    }
  }
  // A server of a registry (docs/registry.md) may get every app from it.
  if (out.apps.empty() && !out.server.contains("registry")) {
    return reader.failFile("no [[app]] table: a config file describes at least one app");
  }

  std::map<std::string, size_t> names;
  for (size_t i = 0; i < out.apps.size(); ++i) {
    auto [it, inserted] = names.emplace(out.apps[i].name, i);
    if (!inserted) {
      return reader.fail(sources[i].nameNode->source(), sources[i].where,
                         "key \"name\": the app at line " +
                             std::to_string(sources[it->second].table->source().begin.line) +
                             " has the same name");
    }
  }
  for (size_t i = 0; i < out.apps.size(); ++i) {
    if (!checkBindings(reader, out.apps[i], sources[i])) return std::nullopt;
    for (const auto& service : out.apps[i].services) {
      if (!names.contains(service.app)) {
        return reader.fail(sources[i].servicesNode->source(), sources[i].where,
                           "key \"services\": " + service.name + " names the app '" + service.app +
                               "', which this file does not describe");
      }
    }
  }

  std::vector<AppRoutes> routes;
  for (size_t i = 0; i < out.apps.size(); ++i) {
    routes.push_back(AppRoutes{static_cast<uint32_t>(i), out.apps[i].name, out.apps[i].routes});
  }
  auto table = RouteTable::build(routes);
  if (auto* error = std::get_if<RouteError>(&table)) {
    const AppSource& src = sources[error->entry];
    return reader.fail(src.routeNodes[error->pattern]->source(), src.where,
                       "key \"routes\": " + error->message);
  }
  return out;
}

std::variant<ConfigFile, std::string> parse(const std::string& text, const std::string& path,
                                            const fs::path& absolute,
                                            std::optional<std::span<const ServerKey>> serverKeys) {
  // toml++ reports syntax errors by exception (the packaged library is built with them); that
  // is the one exception this file handles, at the library's edge.
  toml::table root;
  try {
    root = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    return path + ":" + std::to_string(e.source().begin.line) + ":" +
           std::to_string(e.source().begin.column) + ": " + std::string(e.description());
  }
  Reader reader(path, absolute.parent_path());
  auto out = read(reader, root, serverKeys);
  if (!out) return reader.error();
  out->path = absolute.string();
  out->text = text;
  return std::move(*out);
}

}  // namespace

std::variant<ConfigFile, std::string> readConfigFile(const std::string& path,
                                                     std::span<const ServerKey> serverKeys) {
  std::error_code ec;
  fs::path absolute = fs::absolute(path, ec);
  if (ec) return "--config " + path + ": " + ec.message();
  absolute = absolute.lexically_normal();
  std::string readError;
  auto text = readFile(absolute.string(), readError);
  if (!text) return "--config: " + readError;
  return parse(*text, path, absolute, serverKeys);
}

std::variant<ConfigFile, std::string> readConfigApps(const std::string& text,
                                                     const std::string& path) {
  return parse(text, path, fs::path(path), std::nullopt);
}

}  // namespace isolated
