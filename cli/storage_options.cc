// --kv / --database / --storage and their ISOLATED_*_<NAME> variables into ServeConfig.storage.
#include "cli/storage_options.h"

#include <map>

namespace isolated {

namespace {

struct KindFlag {
  const char* flag;
  const char* envPrefix;
  StorageKind kind;
};
constexpr KindFlag kKinds[] = {
    {"kv", "ISOLATED_KV_", StorageKind::kKv},
    {"database", "ISOLATED_DATABASE_", StorageKind::kDatabase},
    {"storage", "ISOLATED_STORAGE_", StorageKind::kStorage},
};

}  // namespace

void addStorageOptions(cxxopts::OptionAdder& adder) {
  adder("kv",
        "A KV binding (Cloudflare's KV API) in the script's env, repeatable; URL: sqlite:PATH "
        "(or a bare path) or postgres://... [env ISOLATED_KV_<NAME>=URL]",
        cxxopts::value<std::string>(), "NAME=URL");
  adder("database",
        "A SQL database binding (Cloudflare's D1 API), repeatable; URL: sqlite:PATH or "
        "postgres://... [env ISOLATED_DATABASE_<NAME>=URL]",
        cxxopts::value<std::string>(), "NAME=URL");
  adder("storage",
        "An object storage binding (the core of Cloudflare's R2 API), repeatable; URL: "
        "file:DIR [env ISOLATED_STORAGE_<NAME>=URL]",
        cxxopts::value<std::string>(), "NAME=URL");
}

std::optional<std::string> parseStorageOptions(const cxxopts::ParseResult& result,
                                               const EnvList& envList,
                                               const std::vector<Binding>& env,
                                               std::vector<StorageBindingSpec>& out) {
  // name -> (spec, where it came from); flags are read after variables and replace them.
  std::map<std::string, std::pair<StorageBindingSpec, std::string>> byName;
  auto add = [&](StorageKind kind, const std::string& text,
                 const std::string& origin) -> std::optional<std::string> {
    std::string error;
    auto spec = parseStorageBinding(kind, text, error);
    if (!spec) return origin + ": " + error;
    auto existing = byName.find(spec->name);
    if (existing != byName.end() && existing->second.second == "flag" && origin == "flag") {
      return "storage binding " + spec->name + " is given twice";
    }
    byName[spec->name] = {*spec, origin};
    return std::nullopt;
  };
  if (envList) {
    for (const auto& [name, value] : envList()) {
      for (const auto& kind : kKinds) {
        if (name.starts_with(kind.envPrefix)) {
          std::string bindingName = name.substr(std::string(kind.envPrefix).size());
          if (auto error = add(kind.kind, bindingName + "=" + value, name)) return error;
        }
      }
    }
  }
  for (const auto& argument : result.arguments()) {
    for (const auto& kind : kKinds) {
      if (argument.key() == kind.flag) {
        if (auto error = add(kind.kind, argument.value(), "flag")) return error;
      }
    }
  }
  // A storage binding shares the env namespace with variables and secrets.
  out.clear();
  for (auto& [name, entry] : byName)
    out.push_back(std::move(entry.first));
  if (out.size() > kMaxAppResourceBindings) {
    return "at most " + std::to_string(kMaxAppResourceBindings) + " storage bindings";
  }
  return bindingNameClash(out, {}, env);
}

}  // namespace isolated
