// One app version as the registry stores it, and its conversions: from what a deploy validated
// (the app's config, its resolved bindings and the files its worker loaded) and to the AppConfig
// a server deploys. The `definition` JSON column holds everything but secrets (sealed apart) and
// the files (a table of their own); docs/registry.md lists its keys. Pure; thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/app_config.h"
#include "common/bindings.h"

namespace isolated::registry {

struct AppRecord {
  uint64_t versionId = 0;  // isolated_app_versions.id; 0 until written
  std::string name;
  // The entry script's path on the deploying server: a name for the entry among `modules`.
  std::string entryPath;
  std::vector<std::string> routes;
  // Variables and secrets with their values resolved (secret ones sealed when stored).
  std::vector<Binding> bindings;
  std::vector<std::string> crons;
  std::optional<uint32_t> cpuLimitMs;
  std::optional<uint32_t> heapLimitMb;
  std::optional<uint32_t> wallLimitMs;
  std::optional<IsolationMode> isolation;
  uint32_t maxConcurrent = 0;
  bool dedicatedWorkers = false;
  // Storage bindings (a PostgreSQL URL is stored as written: give its password through
  // PGPASSFILE, not the URL) and service bindings, as the deploying server resolved them.
  std::vector<StorageBindingSpec> storage;
  std::vector<ServiceBindingSpec> services;
  // Every file the version loads, path -> text, as its validating worker read them.
  std::vector<std::pair<std::string, std::string>> modules;

  bool hasSecrets() const;
};

// The record of a version that has validated: `bindings` as the deployment resolved them
// (files read), `modules` as the worker pinned them.
AppRecord recordOf(const AppConfig& config, std::vector<Binding> bindings,
                   std::vector<std::pair<std::string, std::string>> modules);

// The config a server deploys for `record`: bindings inline, files pinned.
AppConfig configOf(const AppRecord& record);

// The `definition` column: routes, variables (not secrets), crons and limits.
nlohmann::json definitionOf(const AppRecord& record);
// Fills `record` from a `definition` value read back; an error names the bad key (the table
// may have been edited by hand).
std::optional<std::string> readDefinition(const nlohmann::json& definition, AppRecord& record);

// The secrets as one JSON object (name -> value), what is sealed; and back.
std::string secretsText(const AppRecord& record);
std::optional<std::string> addSecrets(const std::string& text, AppRecord& record);

}  // namespace isolated::registry
