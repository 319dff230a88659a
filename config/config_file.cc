// Reading the TOML config file: toml++ parses, this file walks the tables and checks each key.
#include "config/config_file.h"

#include <toml++/toml.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <optional>
#include <set>

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
constexpr std::string_view kAppKeys[] = {
    "name",           "script",           "routes",       "vars",
    "vars_file",      "secrets",          "secrets_file", "cron",
    "cpu_limit",      "heap_limit",       "wall_limit",   "isolation",
    "max_concurrent", "dedicated_workers"};
// Flags that describe a single script's app: with a config file they belong in [[app]] tables.
constexpr std::string_view kScriptOnlyKeys[] = {"var", "secret"};

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

// Thrown inside this file only, caught by readConfigFile: a message already carrying the file,
// line and key. Keeps every check a single line at its call site.
struct ConfigError {
  std::string message;
};

class Reader {
 public:
  Reader(std::string display, fs::path dir) : display_(std::move(display)), dir_(std::move(dir)) {}

  std::string at(const toml::source_region& source) const {
    return display_ + ":" + std::to_string(source.begin.line);
  }

  [[noreturn]] void fail(const toml::source_region& source, const std::string& where,
                         const std::string& message) const {
    throw ConfigError{at(source) + ": " + where + ": " + message};
  }

  [[noreturn]] void wrongType(const toml::node& node, const std::string& where,
                              std::string_view key, const char* expected) const {
    fail(node.source(), where,
         "key \"" + std::string(key) + "\": expected " + expected + ", got " + typeName(node));
  }

  const std::string& text(const toml::node& node, const std::string& where,
                          std::string_view key) const {
    if (auto* s = node.as_string()) return s->get();
    wrongType(node, where, key, "a string");
  }

  uint32_t number(const toml::node& node, const std::string& where, std::string_view key,
                  LimitRange range) const {
    auto* i = node.as_integer();
    if (i == nullptr) wrongType(node, where, key, "an integer");
    int64_t value = i->get();
    if (value < 0 || static_cast<uint64_t>(value) < range.min ||
        static_cast<uint64_t>(value) > range.max) {
      fail(node.source(), where,
           "key \"" + std::string(key) + "\": expected a whole number from " +
               std::to_string(range.min) + " to " + std::to_string(range.max) + ", got " +
               std::to_string(value));
    }
    return static_cast<uint32_t>(value);
  }

  // A path from the file, made absolute against the file's directory.
  std::string path(const toml::node& node, const std::string& where, std::string_view key) const {
    const std::string& value = text(node, where, key);
    if (value.empty()) fail(node.source(), where, "key \"" + std::string(key) + "\": empty path");
    fs::path p(value);
    if (p.is_relative()) p = dir_ / p;
    return p.lexically_normal().string();
  }

  std::vector<const toml::node*> textList(const toml::node& node, const std::string& where,
                                          std::string_view key) const {
    std::vector<const toml::node*> out;
    if (node.is_string()) {
      out.push_back(&node);
    } else if (auto* array = node.as_array()) {
      for (const auto& element : *array) {
        if (!element.is_string()) wrongType(element, where, key, "an array of strings");
        out.push_back(&element);
      }
    } else {
      wrongType(node, where, key, "an array of strings");
    }
    return out;
  }

  nlohmann::json json(const toml::node& node, const std::string& where,
                      std::string_view key) const {
    switch (node.type()) {
      case toml::node_type::string:
        return node.as_string()->get();
      case toml::node_type::integer:
        return node.as_integer()->get();
      case toml::node_type::boolean:
        return node.as_boolean()->get();
      case toml::node_type::floating_point: {
        double d = node.as_floating_point()->get();
        if (!std::isfinite(d)) {
          fail(node.source(), where, "key \"" + std::string(key) + "\": JSON has no inf or nan");
        }
        return d;
      }
      case toml::node_type::array: {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& element : *node.as_array())
          out.push_back(json(element, where, key));
        return out;
      }
      case toml::node_type::table: {
        nlohmann::json out = nlohmann::json::object();
        for (const auto& [k, v] : *node.as_table())
          out[std::string(k.str())] = json(v, where, key);
        return out;
      }
      default:
        fail(node.source(), where,
             "key \"" + std::string(key) + "\": " + typeName(node) +
                 " has no JSON form (write it as a string)");
    }
  }

  const std::string& display() const { return display_; }

 private:
  std::string display_;
  fs::path dir_;
};

// Where an app was described, for the checks made once every app is read.
struct AppSource {
  const toml::table* table = nullptr;
  std::string where;
  const toml::node* nameNode = nullptr;
  std::vector<const toml::node*> routeNodes;
  const toml::node* varsFileNode = nullptr;
  const toml::node* secretsFileNode = nullptr;
};

std::string appWhere(const std::string& name, size_t index) {
  return name.empty() ? "[[app]] #" + std::to_string(index + 1) : "[[app]] \"" + name + "\"";
}

AppConfig readApp(const Reader& reader, const toml::table& table, size_t index, AppSource& src) {
  AppConfig app;
  src.table = &table;
  src.where = appWhere("", index);
  if (const toml::node* name = table.get("name")) {
    src.nameNode = name;
    const std::string& value = reader.text(*name, src.where, "name");
    if (!isAppName(value)) {
      reader.fail(name->source(), src.where,
                  "key \"name\": '" + value +
                      "' is not a valid app name (1 to 63 letters, digits, '_' or '-', starting "
                      "with a letter or digit)");
    }
    app.name = value;
    src.where = appWhere(app.name, index);
  } else {
    reader.fail(table.source(), src.where, "key \"name\" is missing");
  }
  const std::string& where = src.where;
  app.origin = reader.at(table.source());

  bool hasRoutes = false;
  for (const auto& [key, node] : table) {
    std::string_view k = key.str();
    if (k == "name") {
      continue;
    } else if (k == "script") {
      app.scriptPath = reader.path(node, where, k);
      std::error_code ec;
      if (!fs::is_regular_file(app.scriptPath, ec) || ::access(app.scriptPath.c_str(), R_OK) != 0) {
        std::string reason =
            fs::exists(app.scriptPath, ec)
                ? (fs::is_directory(app.scriptPath, ec) ? "it is a directory" : "permission denied")
                : "no such file";
        reader.fail(node.source(), where,
                    "key \"script\": cannot read '" + app.scriptPath + "': " + reason);
      }
    } else if (k == "routes") {
      hasRoutes = true;
      auto* array = node.as_array();
      if (array == nullptr) reader.wrongType(node, where, k, "an array of strings");
      for (const auto& element : *array) {
        const std::string& pattern = reader.text(element, where, k);
        auto parsed = parseRoutePattern(pattern);
        if (auto* error = std::get_if<std::string>(&parsed)) {
          reader.fail(element.source(), where, "key \"routes\": " + *error);
        }
        app.routes.push_back(pattern);
        src.routeNodes.push_back(&element);
      }
    } else if (k == "vars") {
      auto* vars = node.as_table();
      if (vars == nullptr) reader.wrongType(node, where, k, "a table");
      for (const auto& [name, value] : *vars) {
        std::string n(name.str());
        if (!isBindingName(n)) {
          reader.fail(name.source(), where,
                      "key \"vars\": '" + n +
                          "' is not a valid binding name (a JavaScript identifier, not a "
                          "reserved word)");
        }
        if (auto* s = value.as_string()) {
          app.bindings.vars.emplace_back(n, s->get());
        } else {
          app.bindings.jsonVars.emplace_back(n, reader.json(value, where, k).dump());
        }
      }
    } else if (k == "secrets") {
      auto* secrets = node.as_table();
      if (secrets == nullptr) reader.wrongType(node, where, k, "a table");
      for (const auto& [name, value] : *secrets) {
        std::string n(name.str());
        if (!isBindingName(n)) {
          reader.fail(name.source(), where,
                      "key \"secrets\": '" + n +
                          "' is not a valid binding name (a JavaScript identifier, not a "
                          "reserved word)");
        }
        // Never quote the value: it is a secret.
        if (!value.is_string()) {
          reader.fail(
              value.source(), where,
              "key \"secrets\": secret '" + n + "' must be a string, got " + typeName(value));
        }
        app.bindings.secrets.emplace_back(n, value.as_string()->get());
      }
    } else if (k == "vars_file") {
      app.bindings.varsFile = reader.path(node, where, k);
      src.varsFileNode = &node;
    } else if (k == "secrets_file") {
      app.bindings.secretsFile = reader.path(node, where, k);
      src.secretsFileNode = &node;
    } else if (k == "cron") {
      for (const toml::node* element : reader.textList(node, where, k)) {
        auto schedule = CronSchedule::parse(element->as_string()->get());
        if (auto* error = std::get_if<std::string>(&schedule)) {
          reader.fail(element->source(), where, "key \"cron\": " + *error);
        }
        const std::string& expression = std::get<CronSchedule>(schedule).expression();
        if (std::find(app.crons.begin(), app.crons.end(), expression) == app.crons.end()) {
          app.crons.push_back(expression);
        }
      }
      if (app.crons.size() > kMaxCronsPerApp) {
        reader.fail(node.source(), where,
                    "key \"cron\": at most " + std::to_string(kMaxCronsPerApp) + " schedules");
      }
    } else if (k == "cpu_limit") {
      app.cpuLimitMs = reader.number(node, where, k, kCpuLimitMsRange);
    } else if (k == "heap_limit") {
      app.heapLimitMb = reader.number(node, where, k, kHeapLimitMbRange);
    } else if (k == "wall_limit") {
      app.wallLimitMs = reader.number(node, where, k, kWallLimitMsRange);
    } else if (k == "max_concurrent") {
      app.maxConcurrent = reader.number(node, where, k, kAppMaxConcurrentRange);
    } else if (k == "isolation") {
      const std::string& value = reader.text(node, where, k);
      auto mode = parseIsolationMode(value);
      if (!mode) {
        reader.fail(node.source(), where,
                    "key \"isolation\": expected shared, context or isolate, got '" + value + "'");
      }
      app.isolation = *mode;
    } else if (k == "dedicated_workers") {
      auto* b = node.as_boolean();
      if (b == nullptr) reader.wrongType(node, where, k, "a boolean");
      app.dedicatedWorkers = b->get();
    } else {
      reader.fail(key.source(), where, "key \"" + std::string(k) + "\" is unknown");
    }
  }
  if (app.scriptPath.empty()) reader.fail(table.source(), where, "key \"script\" is missing");
  if (!hasRoutes && app.crons.empty()) {
    reader.fail(table.source(), where,
                "key \"routes\" is missing (an app without routes must have a cron)");
  }
  return app;
}

// Loads each app's bindings (reading its files) so that a bad file is a start-up error here.
void checkBindings(const Reader& reader, const AppConfig& app, const AppSource& src) {
  std::string error;
  if (loadBindings(app.bindings, error)) return;
  // loadBindings speaks in flags; point at the key instead.
  const std::pair<std::string_view, const toml::node*> files[] = {
      {"--vars-file ", src.varsFileNode}, {"--secrets-file ", src.secretsFileNode}};
  for (auto [prefix, node] : files) {
    if (node != nullptr && error.starts_with(prefix)) {
      std::string key = prefix == files[0].first ? "vars_file" : "secrets_file";
      reader.fail(node->source(), src.where, "key \"" + key + "\": " + error.substr(prefix.size()));
    }
  }
  reader.fail(src.table->source(), src.where, error);
}

ConfigFile read(const Reader& reader, const toml::table& root,
                std::span<const ServerKey> serverKeys) {
  ConfigFile out;
  std::vector<AppSource> sources;
  for (const auto& [key, node] : root) {
    std::string_view k = key.str();
    if (k == "server") {
      auto* server = node.as_table();
      if (server == nullptr) reader.wrongType(node, "[server]", k, "a table");
      for (const auto& [sk, value] : *server) {
        std::string name(sk.str());
        std::string flag = name;
        std::replace(flag.begin(), flag.end(), '_', '-');
        auto spec = std::find_if(serverKeys.begin(), serverKeys.end(),
                                 [&](const ServerKey& s) { return s.flag == flag; });
        if (name.find('-') != std::string::npos || spec == serverKeys.end()) {
          bool appKey =
              std::find(std::begin(kAppKeys), std::end(kAppKeys), name) != std::end(kAppKeys) ||
              std::find(std::begin(kScriptOnlyKeys), std::end(kScriptOnlyKeys), name) !=
                  std::end(kScriptOnlyKeys);
          std::string underscored = name;
          std::replace(underscored.begin(), underscored.end(), '-', '_');
          std::string hint = underscored != name ? " (keys use underscores: '" + underscored + "')"
                             : appKey            ? " here: it belongs in an [[app]] table"
                                                 : "";
          reader.fail(sk.source(), "[server]", "key \"" + name + "\" is unknown" + hint);
        }
        FileSetting setting;
        setting.origin = reader.at(sk.source()) + ": [server]: key \"" + name + "\"";
        switch (spec->kind) {
          case SettingKind::kNumber:
            if (auto* i = value.as_integer()) {
              setting.value = std::to_string(i->get());
            } else {
              reader.wrongType(value, "[server]", name, "an integer");
            }
            break;
          case SettingKind::kSwitch:
            if (auto* b = value.as_boolean()) {
              setting.value = b->get() ? "on" : "off";
            } else if (auto* s = value.as_string()) {
              setting.value = s->get();
            } else {
              reader.wrongType(value, "[server]", name, "a boolean");
            }
            break;
          case SettingKind::kText:
            setting.value = reader.text(value, "[server]", name);
            break;
          case SettingKind::kPath:
            setting.value = reader.path(value, "[server]", name);
            break;
          case SettingKind::kTextList:
            for (const toml::node* element : reader.textList(value, "[server]", name)) {
              if (!setting.value.empty()) setting.value += ',';
              setting.value += element->as_string()->get();
            }
            break;
        }
        out.server.emplace(flag, std::move(setting));
      }
    } else if (k == "app") {
      auto* apps = node.as_array();
      if (apps == nullptr) reader.wrongType(node, "[[app]]", k, "[[app]] tables");
      for (const auto& element : *apps) {
        auto* table = element.as_table();
        if (table == nullptr) reader.wrongType(element, "[[app]]", k, "[[app]] tables");
        sources.emplace_back();
        out.apps.push_back(readApp(reader, *table, out.apps.size(), sources.back()));
      }
    } else {
      reader.fail(key.source(), "top level",
                  "key \"" + std::string(k) + "\" is unknown (expected [server] and [[app]])");
    }
  }
  if (out.apps.empty()) {
    throw ConfigError{reader.display() +
                      ": no [[app]] table: a config file describes at least "
                      "one app"};
  }

  std::map<std::string, size_t> names;
  for (size_t i = 0; i < out.apps.size(); ++i) {
    auto [it, inserted] = names.emplace(out.apps[i].name, i);
    if (!inserted) {
      reader.fail(sources[i].nameNode->source(), sources[i].where,
                  "key \"name\": the app at line " +
                      std::to_string(sources[it->second].table->source().begin.line) +
                      " has the same name");
    }
  }
  for (size_t i = 0; i < out.apps.size(); ++i)
    checkBindings(reader, out.apps[i], sources[i]);

  std::vector<AppRoutes> routes;
  for (size_t i = 0; i < out.apps.size(); ++i) {
    routes.push_back(AppRoutes{static_cast<uint32_t>(i), out.apps[i].name, out.apps[i].routes});
  }
  auto table = RouteTable::build(routes);
  if (auto* error = std::get_if<RouteError>(&table)) {
    const AppSource& src = sources[error->entry];
    reader.fail(src.routeNodes[error->pattern]->source(), src.where,
                "key \"routes\": " + error->message);
  }
  return out;
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

  Reader reader(path, absolute.parent_path());
  try {
    toml::table root = toml::parse(*text, path);
    ConfigFile out = read(reader, root, serverKeys);
    out.path = absolute.string();
    return out;
  } catch (const toml::parse_error& e) {
    return path + ":" + std::to_string(e.source().begin.line) + ":" +
           std::to_string(e.source().begin.column) + ": " + std::string(e.description());
  } catch (const ConfigError& e) {
    return e.message;
  }
}

}  // namespace isolated
