// `isolated serve`'s parse, stage by stage: the arguments, which kind of server they describe,
// the config file, the server's settings (cli/serve_settings.h), the single script's bindings
// and crons, and its app.
#include "cli/serve_options.h"

#include <cxxopts.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "cli/serve_flags.h"
#include "cli/serve_settings.h"
#include "cli/serve_values.h"
#include "cli/storage_options.h"
#include "common/cron_schedule.h"
#include "config/limit_ranges.h"

extern char** environ;

namespace isolated {

namespace {

using serve_detail::FlagResolver;
using serve_detail::FlagSpec;
using serve_detail::flagSpecs;
using serve_detail::kSingleScriptFlags;
using serve_detail::serverKeysOf;
using serve_detail::Sourced;

// A name for the app of `isolated serve SCRIPT`: the file name without its extension, with
// characters an app name may not hold replaced by '-' (see isAppName).
std::string appNameFor(const std::filesystem::path& script) {
  std::string name;
  for (char c : script.stem().string()) {
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (name.empty() && !alnum) continue;
    name += alnum || c == '_' || c == '-' ? c : '-';
  }
  if (name.size() > 63) name.resize(63);
  if (name.empty()) name = "app";
  return name;
}

// Runs cxxopts over `args` into `result`; the error or the help that ends the parse early, or
// nullopt to go on.
std::optional<ServeOptionsResult> parseArguments(cxxopts::Options& options,
                                                 const std::vector<std::string>& args,
                                                 cxxopts::ParseResult& result) {
  std::vector<const char*> argv{"isolated serve"};
  for (const auto& a : args)
    argv.push_back(a.c_str());

  try {
    result = options.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const cxxopts::exceptions::exception& e) {
    return OptionsError{std::string(e.what())};
  }
  if (result.count("help")) return HelpRequested{options.help()};
  if (!result.unmatched().empty()) {
    return OptionsError{"unexpected argument '" + result.unmatched().front() +
                        "' (one SCRIPT only)"};
  }
  return std::nullopt;
}

// Which kind of server the arguments describe: a single SCRIPT's, a --config file's, or (both
// false) a registry's alone.
struct ServerKind {
  bool hasScript = false;
  bool hasConfig = false;
};

std::variant<ServerKind, OptionsError> serverKind(const cxxopts::ParseResult& result,
                                                  const EnvLookup& env) {
  bool hasScript = result.count("script") > 0;
  bool hasConfig = result.count("config") > 0;
  if (hasScript && hasConfig) {
    return OptionsError{
        "SCRIPT and --config are mutually exclusive: a config file names its "
        "apps' scripts"};
  }
  // A registry alone is a server of the registry's apps (its URL may come from a variable).
  bool registryOnly =
      !hasScript && !hasConfig && (result.count("registry") > 0 || env("ISOLATED_REGISTRY"));
  if (!hasScript && !hasConfig && !registryOnly) {
    return OptionsError{
        "missing SCRIPT: isolated serve SCRIPT, isolated serve --config FILE, or isolated serve "
        "--registry URL"};
  }
  return ServerKind{hasScript, hasConfig};
}

// Without a SCRIPT, the flags and variables that describe a single script's app would be
// ignored: refuses them, so that nothing set is silently dropped.
std::optional<OptionsError> refuseSingleScriptSettings(const cxxopts::ParseResult& result,
                                                       const EnvLookup& env, const EnvList& envList,
                                                       bool hasConfig) {
  const std::string where = hasConfig ? "with --config, set it in the app's [[app]] table"
                                      : "a registry's apps carry their own (ctl deploy)";
  for (std::string_view flag : kSingleScriptFlags) {
    std::string name(flag);
    if (result.count(name)) {
      return OptionsError{"--" + name + " describes the app of a single SCRIPT; " + where};
    }
  }
  // Environment variables for the single script's app would be ignored: refuse them too, so
  // that nothing set is silently dropped.
  for (const char* variable : {"ISOLATED_VARS_FILE", "ISOLATED_SECRETS_FILE", "ISOLATED_CRON"}) {
    if (env(variable)) {
      return OptionsError{std::string(variable) + " describes the app of a single SCRIPT; " +
                          where};
    }
  }
  if (envList) {
    for (const auto& variable : envList()) {
      const std::string& name = variable.first;  // not a structured binding: clang 14
      bool storage = std::any_of(std::begin(kStorageEnvPrefixes), std::end(kStorageEnvPrefixes),
                                 [&](const char* prefix) { return name.starts_with(prefix); });
      if (name.starts_with(kVarEnvPrefix) || name.starts_with(kSecretEnvPrefix) || storage) {
        return OptionsError{name + " describes the app of a single SCRIPT; " + where};
      }
    }
  }
  return std::nullopt;
}

// The single script's --var, --secret, vars and secrets files and storage flags, with their
// variables; the files are read now, so that a bad one is a start-up error.
std::optional<OptionsError> readScriptBindings(const FlagResolver& resolve,
                                               const cxxopts::ParseResult& result,
                                               const EnvList& envList, bool hasScript,
                                               ServeConfig& config,
                                               std::vector<StorageBindingSpec>& storage) {
  if (auto f = parseBindingSources(result, envList, resolve("vars-file"), resolve("secrets-file"),
                                   config.bindings)) {
    return OptionsError{f->message};
  }
  std::string bindingError;
  auto loaded = loadBindings(config.bindings, bindingError);
  if (!loaded) return OptionsError{bindingError};
  if (hasScript) {
    if (auto error = parseStorageOptions(result, envList, *loaded, storage)) {
      return OptionsError{*error};
    }
  }
  return std::nullopt;
}

// --cron (or ISOLATED_CRON, expressions separated by ';'), each parsed, repeats dropped.
std::optional<OptionsError> readCrons(const cxxopts::ParseResult& result, const EnvLookup& env,
                                      ServeConfig& config) {
  std::vector<Sourced> crons;
  for (const auto& kv : result.arguments()) {
    if (kv.key() == "cron") crons.push_back({kv.value(), "--cron"});
  }
  if (crons.empty()) {
    if (auto list = env("ISOLATED_CRON")) {
      size_t start = 0;
      while (start <= list->size()) {
        size_t semi = list->find(';', start);
        std::string item =
            list->substr(start, semi == std::string::npos ? std::string::npos : semi - start);
        if (item.find_first_not_of(" \t") != std::string::npos) {
          crons.push_back({item, "ISOLATED_CRON (for --cron)"});
        }
        if (semi == std::string::npos) break;
        start = semi + 1;
      }
    }
  }
  for (const auto& cron : crons) {
    auto schedule = CronSchedule::parse(cron.value);
    if (auto* error = std::get_if<std::string>(&schedule)) {
      return OptionsError{cron.origin + ": " + *error};
    }
    const std::string& expression = std::get<CronSchedule>(schedule).expression();
    if (std::find(config.crons.begin(), config.crons.end(), expression) == config.crons.end()) {
      config.crons.push_back(expression);
    }
  }
  if (config.crons.size() > kMaxCronsPerApp) {
    return OptionsError{"--cron: at most " + std::to_string(kMaxCronsPerApp) + " schedules"};
  }
  return std::nullopt;
}

// The single script is a server of one app that matches every route; the server's limits apply
// to it, so it overrides none.
void addScriptApp(ServeConfig& config, std::vector<StorageBindingSpec> storage) {
  AppConfig app;
  app.name = appNameFor(config.scriptName);
  app.scriptPath = config.scriptPath;
  app.routes = {"*/*"};
  app.bindings = config.bindings;
  app.crons = config.crons;
  app.storage = std::move(storage);
  config.apps.push_back(std::move(app));
}

}  // namespace

EnvList processEnvList() {
  return [] {
    std::vector<std::pair<std::string, std::string>> out;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
      std::string entry(*e);
      size_t eq = entry.find('=');
      if (eq != std::string::npos) out.emplace_back(entry.substr(0, eq), entry.substr(eq + 1));
    }
    return out;
  };
}

EnvLookup processEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

// The flag table: the specs and cxxopts' option set built from them. Building it costs far more
// than a parse (cxxopts splits every option's names with std::regex), so a ServeOptionParser
// builds it once.
struct ServeOptionParser::Table {
  explicit Table(unsigned cpuCount);
  std::vector<FlagSpec> specs;
  cxxopts::Options options;
};

ServeOptionParser::Table::Table(unsigned cpuCount)
    : specs(flagSpecs(cpuCount)),
      options("isolated serve",
              "Serve a Workers-style JavaScript handler from a pool of persistent V8 "
              "isolates.\nEvery flag may also be set by the environment variable "
              "named in its help, or by a --config file's [server] key (the flag's name with "
              "'_' for '-'); a flag wins over its variable, and both over the "
              "file.") {
  options.custom_help("SCRIPT [OPTIONS] | --config FILE [OPTIONS] | --registry URL [OPTIONS]");
  options.positional_help("");
  auto adder = options.add_options();
  for (const auto& spec : specs) {
    std::string help =
        std::string(spec.help) + " [env " + spec.env + ", default " + spec.defaultValue + "]";
    adder(spec.name, help, cxxopts::value<std::string>(), spec.argName);
  }
  adder("var",
        "A variable for the script's env, repeatable [env ISOLATED_VAR_<NAME>=VALUE, one "
        "variable each]",
        cxxopts::value<std::string>(), "NAME=VALUE");
  adder("secret",
        "A secret for the script's env, repeatable; prefer --secrets-file, a command line is "
        "briefly visible to other users [env ISOLATED_SECRET_<NAME>=VALUE]",
        cxxopts::value<std::string>(), "NAME=VALUE");
  adder("cron",
        "A cron schedule (5 fields, UTC) for the script's scheduled handler, repeatable [env "
        "ISOLATED_CRON, expressions separated by ';']",
        cxxopts::value<std::string>(), "EXPR");
  addStorageOptions(adder);
  adder("config",
        "A TOML file describing the server ([server]: these flags, with '_' for '-') and its "
        "apps ([[app]] tables); instead of SCRIPT. Flags and variables win over the file",
        cxxopts::value<std::string>(), "FILE");
  adder("h,help", "Show this help");
  adder("script", "The handler script", cxxopts::value<std::string>());
  options.parse_positional({"script"});
}

ServeOptionParser::ServeOptionParser(unsigned cpuCount)
    : table_(std::make_unique<Table>(cpuCount)) {}

ServeOptionParser::~ServeOptionParser() = default;

ServeOptionsResult parseServeOptions(const std::vector<std::string>& args, const EnvLookup& env,
                                     unsigned cpuCount, const EnvList& envList) {
  return ServeOptionParser(cpuCount).parse(args, env, envList);
}

ServeOptionsResult ServeOptionParser::parse(const std::vector<std::string>& args,
                                            const EnvLookup& env, const EnvList& envList) {
  const std::vector<FlagSpec>& specs = table_->specs;
  cxxopts::ParseResult result;
  if (auto early = parseArguments(table_->options, args, result)) return std::move(*early);

  auto kind = serverKind(result, env);
  if (auto* error = std::get_if<OptionsError>(&kind)) return std::move(*error);
  const auto [hasScript, hasConfig] = std::get<ServerKind>(kind);
  if (!hasScript) {
    if (auto error = refuseSingleScriptSettings(result, env, envList, hasConfig)) return *error;
  }
  std::optional<ConfigFile> file;
  if (hasConfig) {
    auto keys = serverKeysOf(specs);
    auto read = readConfigFile(result["config"].as<std::string>(), keys);
    if (auto* error = std::get_if<std::string>(&read)) return OptionsError{*error};
    file = std::get<ConfigFile>(std::move(read));
  }
  FlagResolver resolve(specs, result, env, file ? &*file : nullptr);

  ServeConfig config;
  if (hasScript) {
    std::filesystem::path script = result["script"].as<std::string>();
    std::error_code ec;
    auto absolute = std::filesystem::absolute(script, ec);
    config.scriptPath = ec ? script.string() : absolute.lexically_normal().string();
    config.scriptName = script.filename().string();
  } else if (file) {
    config.configPath = file->path;
    config.configText = std::move(file->text);
    config.apps = std::move(file->apps);
  }

  using Step = std::optional<OptionsError> (*)(const FlagResolver&, ServeConfig&);
  for (Step step : {serve_detail::readAddresses, serve_detail::readSwitches,
                    serve_detail::readNumbers, serve_detail::readConcurrency}) {
    if (auto error = step(resolve, config)) return *error;
  }
  std::vector<StorageBindingSpec> storage;
  if (auto error = readScriptBindings(resolve, result, envList, hasScript, config, storage)) {
    return *error;
  }
  if (auto error = readCrons(result, env, config)) return *error;
  if (auto error = serve_detail::readIsolationAndFetch(resolve, config)) return *error;
  if (auto error = serve_detail::readRegistry(resolve, hasScript, config)) return *error;
  if (auto error = serve_detail::readSandboxAndLogs(resolve, config)) return *error;
  if (hasScript) addScriptApp(config, std::move(storage));
  return config;
}

std::variant<ConfigFile, OptionsError> readServeConfigFile(const std::string& path) {
  auto keys = serverKeysOf(flagSpecs(1));
  auto read = readConfigFile(path, keys);
  if (auto* error = std::get_if<std::string>(&read)) return OptionsError{*error};
  return std::get<ConfigFile>(std::move(read));
}

}  // namespace isolated