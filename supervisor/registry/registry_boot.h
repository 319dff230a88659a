// The registry at start-up, before the event loop runs (blocking is allowed there): reads the
// key, creates the schema on first use, and merges the registry's apps into the config's.
//
// Precedence (docs/registry.md): the registry is authoritative for the names it holds. An app
// of the config file with such a name is replaced by the registry's version (a warning says
// so); the other config apps are this server's own (local) apps, never written to the
// registry. Start-up is refused when the registry cannot be read within the timeout, holds a
// version this server cannot read (secrets and no --registry-key, another key, a bad
// definition), or holds secrets while this server has no key.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>

#include "common/logger.h"
#include "common/serve_config.h"
#include "supervisor/registry/secret_box.h"

namespace isolated::registry {

// How long one registry operation may take (connect, query, transaction).
inline constexpr std::chrono::milliseconds kRegistryTimeout{5000};

// The key of config.registryKeyFile (nullopt without one); an error when the file is refused.
std::variant<std::optional<SecretKey>, std::string> loadRegistryKey(const ServeConfig& config);

// Adds the registry's apps to `config.apps` (see the precedence above). Returns the versions
// applied (name -> version id), or the reason the server must not start.
std::variant<std::map<std::string, uint64_t>, std::string> mergeRegistryApps(ServeConfig& config,
                                                                             Logger& logger);

}  // namespace isolated::registry
