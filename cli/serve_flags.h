// The flag table of `isolated serve`: every server flag with its environment variable, help,
// default and config-file kind, and the [server] keys a config file may set. Pure data and
// lookups; internal to cli/serve_options.cc and its helpers.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/config_file.h"

namespace isolated::serve_detail {

// The most worker processes --workers, --min-workers and --max-workers accept.
inline constexpr unsigned kMaxWorkers = 256;

// One flag. Invariant: `name`, `env`, `argName` and `help` are string literals (static
// storage), so views of them (ServerKey::flag) never dangle.
struct FlagSpec {
  const char* name;
  const char* env;
  const char* argName;
  const char* help;
  std::string defaultValue;
  // How the flag is written as a [server] key of a config file.
  SettingKind kind = SettingKind::kText;
};

// Flags that describe the one app of `isolated serve SCRIPT`; with --config, each [[app]] table
// says these for itself.
inline constexpr std::string_view kSingleScriptFlags[] = {
    "var", "secret", "cron", "vars-file", "secrets-file", "kv", "database", "storage"};

// Every flag that has a value of its own (not the repeatable --var, --secret, --cron and
// storage flags, nor --config), in the order of the help. `cpuCount` sets the default of
// --workers (cores x 2, at most kMaxWorkers).
std::vector<FlagSpec> flagSpecs(unsigned cpuCount);

// The [server] keys of a config file: the flags of `specs` but the single script's.
std::vector<ServerKey> serverKeysOf(const std::vector<FlagSpec>& specs);

}  // namespace isolated::serve_detail
