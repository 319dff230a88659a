// Parsing `isolated serve` flags (cxxopts) with environment-variable fallbacks and an optional
// TOML config file (--config, config/config_file.h). Precedence: a flag, then its variable,
// then the file's [server] key, then the default. A bad value is an error that names the flag
// (or the variable, or the file, line and key, when that is where the value came from);
// nothing falls back silently.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/serve_config.h"
#include "config/config_file.h"

namespace isolated {

// Looks up an environment variable; injectable so that tests need not touch the real one.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
EnvLookup processEnv();
// Every variable of the environment, for the prefixed forms (ISOLATED_VAR_<NAME>); injectable
// like EnvLookup.
using EnvList = std::function<std::vector<std::pair<std::string, std::string>>()>;
EnvList processEnvList();

struct OptionsError {
  std::string message;
};
struct HelpRequested {
  std::string text;
};

using ServeOptionsResult = std::variant<ServeConfig, OptionsError, HelpRequested>;

// Parses `isolated serve` arguments against a flag table built once: building the table costs
// far more than a parse, which matters to callers that parse many times (the fuzz targets).
// Parses do not affect each other. Not thread-safe: one parse at a time.
class ServeOptionParser {
 public:
  // `cpuCount` sets the default pool size (cores x 2).
  explicit ServeOptionParser(unsigned cpuCount);
  ~ServeOptionParser();
  ServeOptionParser(const ServeOptionParser&) = delete;
  ServeOptionParser& operator=(const ServeOptionParser&) = delete;

  // `args` are the arguments after `serve`. `envList` (may be empty) supplies
  // ISOLATED_VAR_<NAME> and ISOLATED_SECRET_<NAME>.
  ServeOptionsResult parse(const std::vector<std::string>& args, const EnvLookup& env,
                           const EnvList& envList = {});

 private:
  struct Table;
  std::unique_ptr<Table> table_;
};

// One parse with a table of its own (what `isolated serve` does, once per process).
ServeOptionsResult parseServeOptions(const std::vector<std::string>& args, const EnvLookup& env,
                                     unsigned cpuCount, const EnvList& envList = {});

// Reads a config file as `--config` does (its [server] keys checked against the serve flags),
// for a reload that re-reads the apps. Server settings in it take effect only at start-up.
std::variant<ConfigFile, OptionsError> readServeConfigFile(const std::string& path);

// Prefixes of the per-binding environment variables.
constexpr const char* kVarEnvPrefix = "ISOLATED_VAR_";
constexpr const char* kSecretEnvPrefix = "ISOLATED_SECRET_";

}  // namespace isolated
