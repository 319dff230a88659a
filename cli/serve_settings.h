// The server-wide settings of `isolated serve`: each flag's value found by precedence (a flag,
// then its variable, then the config file's [server] key, then the default) and checked into
// ServeConfig, one group of settings per function. Internal to cli/serve_options.cc, which
// calls the groups in a fixed order: a command line with several bad values reports the same
// one first every time.
#pragma once

#include <cxxopts.hpp>

#include <optional>
#include <string_view>
#include <vector>

#include "cli/serve_flags.h"
#include "cli/serve_options.h"
#include "cli/serve_values.h"
#include "common/serve_config.h"
#include "config/config_file.h"

namespace isolated::serve_detail {

// Finds flag values by precedence. Holds references: `specs`, `result`, `env` and `file` (null
// without --config; only its [server] settings are read) must outlive it. One parse's; not
// thread-safe, since `env` may not be.
class FlagResolver {
 public:
  FlagResolver(const std::vector<FlagSpec>& specs, const cxxopts::ParseResult& result,
               const EnvLookup& env, const ConfigFile* file)
      : specs_(specs), result_(result), env_(env), file_(file) {}

  // The value of `flag` and where it came from. `flag` must be in the table: any other name is
  // a programming error, and aborts.
  Sourced operator()(std::string_view flag) const;

 private:
  const std::vector<FlagSpec>& specs_;
  const cxxopts::ParseResult& result_;
  const EnvLookup& env_;
  const ConfigFile* file_;
};

// Each reads its group into `config`, or returns the error of its first bad value.

// --listen, --admin-listen, --control-socket and --request-id-header.
std::optional<OptionsError> readAddresses(const FlagResolver& resolve, ServeConfig& config);
// The on/off flags.
std::optional<OptionsError> readSwitches(const FlagResolver& resolve, ServeConfig& config);
// The numeric flags, each in its range, then the rules between them (pool bounds, memory
// thresholds, restart backoff).
std::optional<OptionsError> readNumbers(const FlagResolver& resolve, ServeConfig& config);
// --max-concurrent-per-isolate: another name for --worker-queue-size (after readNumbers).
std::optional<OptionsError> readConcurrency(const FlagResolver& resolve, ServeConfig& config);
// --isolation, --fetch-deny and --fetch-ca-file.
std::optional<OptionsError> readIsolationAndFetch(const FlagResolver& resolve, ServeConfig& config);
// --registry and --registry-key; `hasScript`: a SCRIPT was given, which a registry excludes.
std::optional<OptionsError> readRegistry(const FlagResolver& resolve, bool hasScript,
                                         ServeConfig& config);
// --sandbox, --user, --group, --log-level and --log-format.
std::optional<OptionsError> readSandboxAndLogs(const FlagResolver& resolve, ServeConfig& config);

}  // namespace isolated::serve_detail
