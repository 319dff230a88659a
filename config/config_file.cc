// Reading the TOML config file: toml++ parses, this file walks the top level and the [server]
// table and makes the checks across apps; config/app_table_reader.h reads each [[app]] table.
#include "config/config_file.h"

#include <toml++/toml.h>

#include <algorithm>
#include <filesystem>
#include <optional>

#include "common/read_file.h"
#include "config/app_table_reader.h"
#include "config/config_reader.h"
#include "supervisor/routing/route_table.h"

namespace isolated {

namespace {

namespace fs = std::filesystem;
using config_detail::AppSource;
using config_detail::checkBindings;
using config_detail::kAppKeys;
using config_detail::readApp;
using config_detail::Reader;

// Flags that describe a single script's app: with a config file they belong in [[app]] tables.
constexpr std::string_view kScriptOnlyKeys[] = {"var", "secret", "database"};

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
