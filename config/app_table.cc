// Rendering an AppConfig as an [[app]] table, one key at a time through toml++'s formatter.
#include "config/app_table.h"

#include <toml++/toml.h>

#include <nlohmann/json.hpp>

#include <sstream>

namespace isolated {

namespace {

namespace fs = std::filesystem;

// Double-quoted basic strings (what operators write), escapes for control characters.
constexpr auto kFlags = toml::format_flags::allow_unicode_strings;

// `path` relative to `dir` when it lies under it, as given (absolute) otherwise.
std::string filePath(const std::string& path, const fs::path& dir) {
  fs::path relative = fs::path(path).lexically_relative(dir);
  if (relative.empty() || *relative.begin() == "..") return path;
  return relative.string();
}

// A config file's non-string variable, back from its JSON text; nullptr when TOML has no form
// for it (null).
std::unique_ptr<toml::node> fromJson(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::string:
      return std::make_unique<toml::value<std::string>>(value.get<std::string>());
    case nlohmann::json::value_t::boolean:
      return std::make_unique<toml::value<bool>>(value.get<bool>());
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
      return std::make_unique<toml::value<int64_t>>(value.get<int64_t>());
    case nlohmann::json::value_t::number_float:
      return std::make_unique<toml::value<double>>(value.get<double>());
    case nlohmann::json::value_t::array: {
      auto array = std::make_unique<toml::array>();
      for (const auto& element : value) {
        auto node = fromJson(element);
        if (!node) return nullptr;
        array->push_back(std::move(*node));
      }
      return array;
    }
    case nlohmann::json::value_t::object: {
      auto table = std::make_unique<toml::table>();
      table->is_inline(true);
      for (const auto& [key, element] : value.items()) {
        auto node = fromJson(element);
        if (!node) return nullptr;
        table->insert(key, std::move(*node));
      }
      return table;
    }
    default:
      return nullptr;
  }
}

// Accumulates "key = value" lines in the order keys are added.
class Lines {
 public:
  template <typename T>
  void add(std::string_view key, T&& value) {
    toml::table one;
    one.insert(key, std::forward<T>(value));
    std::ostringstream line;
    line << toml::toml_formatter(one, kFlags);
    text_ += line.str() + "\n";
  }
  std::string text() const { return text_; }

 private:
  std::string text_;
};

toml::array strings(const std::vector<std::string>& values) {
  toml::array out;
  for (const auto& value : values)
    out.push_back(value);
  return out;
}

toml::table inlineTable() {
  toml::table table;
  table.is_inline(true);
  return table;
}

}  // namespace

std::optional<std::string> renderAppTable(const AppConfig& app, const fs::path& dir,
                                          std::string& error) {
  if (app.registryVersion != 0 || !app.modules.empty()) {
    error = "the app '" + app.name + "' comes from the registry, not the config file";
    return std::nullopt;
  }
  Lines lines;
  lines.add("name", app.name);
  lines.add("script", filePath(app.scriptPath, dir));
  if (!app.routes.empty()) lines.add("routes", strings(app.routes));

  const BindingSources& b = app.bindings;
  if (!b.vars.empty() || !b.jsonVars.empty()) {
    toml::table vars = inlineTable();
    for (const auto& [name, value] : b.vars)
      vars.insert_or_assign(name, value);
    for (const auto& [name, text] : b.jsonVars) {
      auto node = fromJson(nlohmann::json::parse(text, nullptr, false));
      if (!node) {
        error = "variable " + name + " of the app '" + app.name + "' has no TOML form";
        return std::nullopt;
      }
      vars.insert_or_assign(name, std::move(*node));
    }
    lines.add("vars", std::move(vars));
  }
  if (!b.varsFile.empty()) lines.add("vars_file", filePath(b.varsFile, dir));
  if (!b.secrets.empty()) {
    toml::table secrets = inlineTable();
    for (const auto& [name, value] : b.secrets)
      secrets.insert_or_assign(name, value);
    lines.add("secrets", std::move(secrets));
  }
  if (!b.secretsFile.empty()) lines.add("secrets_file", filePath(b.secretsFile, dir));

  constexpr std::pair<const char*, StorageKind> kKinds[] = {{"kv", StorageKind::kKv},
                                                            {"databases", StorageKind::kDatabase},
                                                            {"storage", StorageKind::kStorage}};
  for (auto [key, kind] : kKinds) {
    toml::table table = inlineTable();
    for (const auto& spec : app.storage) {
      if (spec.kind != kind) continue;
      StorageBindingSpec shown = spec;
      if (spec.backend != StorageBackend::kPostgres) shown.location = filePath(spec.location, dir);
      table.insert_or_assign(spec.name, storageBindingUrl(shown));
    }
    if (!table.empty()) lines.add(key, std::move(table));
  }
  if (!app.services.empty()) {
    toml::table services = inlineTable();
    for (const auto& spec : app.services)
      services.insert_or_assign(spec.name, spec.app);
    lines.add("services", std::move(services));
  }
  if (!app.crons.empty()) lines.add("cron", strings(app.crons));
  if (app.cpuLimitMs) lines.add("cpu_limit", int64_t{*app.cpuLimitMs});
  if (app.heapLimitMb) lines.add("heap_limit", int64_t{*app.heapLimitMb});
  if (app.wallLimitMs) lines.add("wall_limit", int64_t{*app.wallLimitMs});
  if (app.isolation) lines.add("isolation", std::string(isolationModeName(*app.isolation)));
  if (app.maxConcurrent != 0) lines.add("max_concurrent", int64_t{app.maxConcurrent});
  if (app.dedicatedWorkers) lines.add("dedicated_workers", true);
  return "[[app]]\n" + lines.text();
}

}  // namespace isolated
