// AppRecord <-> AppConfig and the definition JSON.
#include "supervisor/registry/app_record.h"

#include <algorithm>

#include "config/limit_ranges.h"

namespace isolated::registry {

using nlohmann::json;

bool AppRecord::hasSecrets() const {
  return std::any_of(bindings.begin(), bindings.end(), [](const Binding& b) { return b.secret; });
}

AppRecord recordOf(const AppConfig& config, std::vector<Binding> bindings,
                   std::vector<std::pair<std::string, std::string>> modules) {
  AppRecord record;
  record.name = config.name;
  record.entryPath = config.scriptPath;
  record.routes = config.routes;
  record.bindings = std::move(bindings);
  record.crons = config.crons;
  record.cpuLimitMs = config.cpuLimitMs;
  record.heapLimitMb = config.heapLimitMb;
  record.wallLimitMs = config.wallLimitMs;
  record.isolation = config.isolation;
  record.maxConcurrent = config.maxConcurrent;
  record.dedicatedWorkers = config.dedicatedWorkers;
  record.storage = config.storage;
  record.services = config.services;
  record.modules = std::move(modules);
  return record;
}

AppConfig configOf(const AppRecord& record) {
  AppConfig config;
  config.name = record.name;
  config.scriptPath = record.entryPath;
  config.routes = record.routes;
  for (const auto& binding : record.bindings) {
    auto& list = binding.secret ? config.bindings.secrets
                 : binding.json ? config.bindings.jsonVars
                                : config.bindings.vars;
    list.emplace_back(binding.name, binding.value);
  }
  config.crons = record.crons;
  config.cpuLimitMs = record.cpuLimitMs;
  config.heapLimitMb = record.heapLimitMb;
  config.wallLimitMs = record.wallLimitMs;
  config.isolation = record.isolation;
  config.maxConcurrent = record.maxConcurrent;
  config.dedicatedWorkers = record.dedicatedWorkers;
  config.storage = record.storage;
  config.services = record.services;
  config.origin = "registry version " + std::to_string(record.versionId);
  config.registryVersion = record.versionId;
  config.modules = record.modules;
  return config;
}

json definitionOf(const AppRecord& record) {
  json vars = json::object();
  for (const auto& binding : record.bindings) {
    if (binding.secret) continue;
    // A JSON variable is stored as its value, a string variable as a string.
    vars[binding.name] =
        binding.json ? json::parse(binding.value, nullptr, false) : json(binding.value);
  }
  json out = {{"routes", record.routes}, {"vars", vars}, {"crons", record.crons}};
  if (record.cpuLimitMs) out["cpu_limit"] = *record.cpuLimitMs;
  if (record.heapLimitMb) out["heap_limit"] = *record.heapLimitMb;
  if (record.wallLimitMs) out["wall_limit"] = *record.wallLimitMs;
  if (record.isolation) out["isolation"] = isolationModeName(*record.isolation);
  if (record.maxConcurrent != 0) out["max_concurrent"] = record.maxConcurrent;
  if (record.dedicatedWorkers) out["dedicated_workers"] = true;
  // Storage bindings as the `NAME=URL` text their flag takes, so that reading them back goes
  // through the same parser (and its checks) as a flag or a config key.
  for (const auto& binding : record.storage) {
    out["storage"][storageKindName(binding.kind)][binding.name] = storageBindingUrl(binding);
  }
  for (const auto& service : record.services)
    out["services"][service.name] = service.app;
  return out;
}

namespace {

std::optional<std::string> readStorage(const json& definition, AppRecord& record) {
  if (!definition.contains("storage")) return std::nullopt;
  const json& kinds = definition["storage"];
  if (!kinds.is_object()) return "\"storage\" is not an object";
  for (StorageKind kind : {StorageKind::kKv, StorageKind::kDatabase, StorageKind::kStorage}) {
    if (!kinds.contains(storageKindName(kind))) continue;
    const json& named = kinds[storageKindName(kind)];
    if (!named.is_object()) return std::string("\"storage\" holds a non-object");
    for (const auto& [name, url] : named.items()) {
      if (!url.is_string()) return "storage binding " + name + " is not a string";
      std::string error;
      auto spec = parseStorageBinding(kind, name + "=" + url.get<std::string>(), error);
      if (!spec) return error;
      record.storage.push_back(std::move(*spec));
    }
  }
  return std::nullopt;
}

std::optional<std::string> readServices(const json& definition, AppRecord& record) {
  if (!definition.contains("services")) return std::nullopt;
  const json& services = definition["services"];
  if (!services.is_object()) return "\"services\" is not an object";
  for (const auto& [name, app] : services.items()) {
    if (!app.is_string()) return "service binding " + name + " is not a string";
    std::string error;
    auto spec = parseServiceBinding(name + "=" + app.get<std::string>(), error);
    if (!spec) return error;
    record.services.push_back(std::move(*spec));
  }
  return std::nullopt;
}

std::optional<std::string> readStrings(const json& definition, const char* key,
                                       std::vector<std::string>& out) {
  if (!definition.contains(key)) return std::nullopt;
  const json& list = definition[key];
  if (!list.is_array()) return std::string("\"") + key + "\" is not an array";
  for (const auto& item : list) {
    if (!item.is_string()) return std::string("\"") + key + "\" holds a non-string";
    out.push_back(item.get<std::string>());
  }
  return std::nullopt;
}

std::optional<std::string> readLimit(const json& definition, const char* key, LimitRange range,
                                     std::optional<uint32_t>& out) {
  if (!definition.contains(key)) return std::nullopt;
  const json& value = definition[key];
  if (!value.is_number_unsigned() || value.get<uint64_t>() < range.min ||
      value.get<uint64_t>() > range.max) {
    return std::string("\"") + key + "\" must be a whole number from " + std::to_string(range.min) +
           " to " + std::to_string(range.max);
  }
  out = static_cast<uint32_t>(value.get<uint64_t>());
  return std::nullopt;
}

}  // namespace

std::optional<std::string> readDefinition(const json& definition, AppRecord& record) {
  if (!definition.is_object()) return "the definition is not a JSON object";
  if (auto error = readStrings(definition, "routes", record.routes)) return error;
  if (auto error = readStrings(definition, "crons", record.crons)) return error;
  if (definition.contains("vars")) {
    const json& vars = definition["vars"];
    if (!vars.is_object()) return "\"vars\" is not an object";
    for (const auto& [name, value] : vars.items()) {
      bool text = value.is_string();
      record.bindings.push_back(
          Binding{name, text ? value.get<std::string>() : value.dump(), !text, false});
    }
  }
  if (auto error = readLimit(definition, "cpu_limit", kCpuLimitMsRange, record.cpuLimitMs))
    return error;
  if (auto error = readLimit(definition, "heap_limit", kHeapLimitMbRange, record.heapLimitMb))
    return error;
  if (auto error = readLimit(definition, "wall_limit", kWallLimitMsRange, record.wallLimitMs))
    return error;
  std::optional<uint32_t> concurrent;
  if (auto error = readLimit(definition, "max_concurrent", kAppMaxConcurrentRange, concurrent))
    return error;
  record.maxConcurrent = concurrent.value_or(0);
  if (definition.contains("isolation")) {
    const json& mode = definition["isolation"];
    auto parsed = mode.is_string() ? parseIsolationMode(mode.get<std::string>()) : std::nullopt;
    if (!parsed) return "\"isolation\" must be shared, context or isolate";
    record.isolation = parsed;
  }
  if (definition.contains("dedicated_workers")) {
    if (!definition["dedicated_workers"].is_boolean())
      return "\"dedicated_workers\" is not a boolean";
    record.dedicatedWorkers = definition["dedicated_workers"].get<bool>();
  }
  if (auto error = readStorage(definition, record)) return error;
  if (auto error = readServices(definition, record)) return error;
  return std::nullopt;
}

std::string secretsText(const AppRecord& record) {
  json secrets = json::object();
  for (const auto& binding : record.bindings) {
    if (binding.secret) secrets[binding.name] = binding.value;
  }
  return secrets.dump();
}

std::optional<std::string> addSecrets(const std::string& text, AppRecord& record) {
  json secrets = json::parse(text, nullptr, false);
  if (!secrets.is_object()) return "the opened secrets are not a JSON object";
  for (const auto& [name, value] : secrets.items()) {
    if (!value.is_string()) return "the secret " + name + " is not a string";
    record.bindings.push_back(Binding{name, value.get<std::string>(), false, true});
  }
  return std::nullopt;
}

}  // namespace isolated::registry
