// The storage binding flags of `isolated serve`: --kv, --database and --storage NAME=URL
// (repeatable), and their environment variables ISOLATED_KV_<NAME>, ISOLATED_DATABASE_<NAME>
// and ISOLATED_STORAGE_<NAME> (=URL). A flag wins over a variable of the same name. They
// describe the one app of `isolated serve SCRIPT`; with --config each [[app]] table has its own
// `kv`, `databases` and `storage` keys. Kept apart from serve_options.cc, which only calls
// these functions.
#pragma once

#include <cxxopts.hpp>

#include <optional>
#include <string>

#include "cli/serve_options.h"
#include "common/serve_config.h"

namespace isolated {

void addStorageOptions(cxxopts::OptionAdder& adder);

// Fills `out` (sorted by name); an error message naming the flag or variable, or nullopt.
// `env` is the app's variables and secrets, whose names the bindings may not take.
std::optional<std::string> parseStorageOptions(const cxxopts::ParseResult& result,
                                               const EnvList& envList,
                                               const std::vector<Binding>& env,
                                               std::vector<StorageBindingSpec>& out);

// The variable prefixes, refused with --config like the flags.
inline constexpr const char* kStorageEnvPrefixes[] = {"ISOLATED_KV_", "ISOLATED_DATABASE_",
                                                      "ISOLATED_STORAGE_"};

}  // namespace isolated
