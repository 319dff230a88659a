// `ctl deploy`'s binding flags into the deploy request.
#include "cli/ctl_deploy.h"

#include "common/storage_bindings.h"

namespace isolated {

namespace {

// "NAME=URL" with a relative path made absolute (against the working directory); a text that
// does not parse goes as given, for the server to refuse with its message.
std::string absoluteBinding(StorageKind kind, const std::string& text) {
  std::string error;
  auto spec = parseStorageBinding(kind, text, error);
  if (!spec) return text;
  return spec->name + "=" + storageBindingUrl(*spec);
}

}  // namespace

void addDeployBindingOptions(cxxopts::OptionAdder& adder) {
  adder("kv",
        "deploy: a KV binding, repeatable; URL: sqlite:PATH (or a bare path) or postgres://...",
        cxxopts::value<std::string>(), "NAME=URL");
  adder("database",
        "deploy: a SQL database binding, repeatable; URL: sqlite:PATH (or a bare path) or "
        "postgres://...",
        cxxopts::value<std::string>(), "NAME=URL");
  adder("storage", "deploy: an object storage binding, repeatable; URL: file:DIR",
        cxxopts::value<std::string>(), "NAME=URL");
  adder("service", "deploy: a service binding to another app of the server, repeatable",
        cxxopts::value<std::string>(), "NAME=APP");
}

DeployBindingFlags deployBindingFlags(const cxxopts::ParseResult& result) {
  DeployBindingFlags flags;
  // Every occurrence, in order, and never split at commas (a PostgreSQL URL may hold some).
  for (const auto& argument : result.arguments()) {
    const std::string& key = argument.key();
    if (key == "kv") {
      flags.kv.push_back(absoluteBinding(StorageKind::kKv, argument.value()));
    } else if (key == "database") {
      flags.databases.push_back(absoluteBinding(StorageKind::kDatabase, argument.value()));
    } else if (key == "storage") {
      flags.storage.push_back(absoluteBinding(StorageKind::kStorage, argument.value()));
    } else if (key == "service") {
      flags.services.push_back(argument.value());
    }
  }
  return flags;
}

void addDeployBindings(const DeployBindingFlags& flags, nlohmann::json& request) {
  if (!flags.kv.empty()) request["kv"] = flags.kv;
  if (!flags.databases.empty()) request["databases"] = flags.databases;
  if (!flags.storage.empty()) request["storage"] = flags.storage;
  if (!flags.services.empty()) request["services"] = flags.services;
}

}  // namespace isolated
