// Flag table, environment fallbacks and validation for `isolated serve`.
#include "cli/serve_options.h"

#include <cxxopts.hpp>

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "cli/storage_options.h"
#include "common/cron_schedule.h"
#include "common/on_off.h"
#include "config/limit_ranges.h"

extern char** environ;

namespace isolated {

namespace {

constexpr unsigned kMaxWorkers = 256;

// /run/isolated as root; otherwise the user's runtime directory, or a private one under /tmp.
std::string defaultControlSocket() {
  if (geteuid() == 0) return "/run/isolated/isolated.sock";
  if (const char* runtime = std::getenv("XDG_RUNTIME_DIR"); runtime != nullptr && *runtime) {
    return std::string(runtime) + "/isolated.sock";
  }
  return "/tmp/isolated-" + std::to_string(geteuid()) + "/isolated.sock";
}

struct FlagSpec {
  const char* name;
  const char* env;
  const char* argName;
  const char* help;
  std::string defaultValue;
  // How the flag is written as a [server] key of a config file.
  SettingKind kind = SettingKind::kText;
};

constexpr std::string_view kNumberFlags[] = {"workers",
                                             "drain-timeout",
                                             "worker-queue-size",
                                             "queue-size",
                                             "queue-timeout",
                                             "max-body-size",
                                             "max-header-size",
                                             "max-url-size",
                                             "header-timeout",
                                             "idle-timeout",
                                             "body-timeout",
                                             "max-connections",
                                             "health-interval",
                                             "health-timeout",
                                             "health-failures",
                                             "cpu-limit",
                                             "wall-limit",
                                             "heap-limit",
                                             "memory-threshold",
                                             "memory-hard-threshold",
                                             "max-requests",
                                             "max-requests-jitter",
                                             "restart-backoff-base",
                                             "restart-backoff-max",
                                             "worker-start-timeout",
                                             "min-workers",
                                             "max-workers",
                                             "scale-up-after",
                                             "scale-down-after",
                                             "fetch-connect-timeout",
                                             "max-subrequests",
                                             "max-concurrent-per-isolate",
                                             "max-isolates",
                                             "isolate-idle-timeout",
                                             "wait-until-timeout"};
constexpr std::string_view kSwitchFlags[] = {"access-log",        "snapshot-script",
                                             "builtins-snapshot", "metrics-per-app",
                                             "shared-isolate",    "watch"};
constexpr std::string_view kPathFlags[] = {"control-socket", "fetch-ca-file", "vars-file",
                                           "secrets-file", "registry-key"};
// Flags that describe the one app of `isolated serve SCRIPT`; with --config, each [[app]] table
// says these for itself.
constexpr std::string_view kSingleScriptFlags[] = {
    "var", "secret", "cron", "vars-file", "secrets-file", "kv", "database", "storage"};

template <size_t N>
bool among(const std::string_view (&list)[N], std::string_view name) {
  return std::find(std::begin(list), std::end(list), name) != std::end(list);
}

SettingKind kindOf(std::string_view flag) {
  if (among(kNumberFlags, flag)) return SettingKind::kNumber;
  if (among(kSwitchFlags, flag)) return SettingKind::kSwitch;
  if (among(kPathFlags, flag)) return SettingKind::kPath;
  if (flag == "fetch-deny") return SettingKind::kTextList;
  return SettingKind::kText;
}

std::vector<FlagSpec> flagSpecs(unsigned cpuCount) {
  std::vector<FlagSpec> specs{
      {"listen", "ISOLATED_LISTEN", "HOST:PORT", "Address for the HTTP listener (port 0 picks one)",
       "127.0.0.1:8080"},
      {"workers", "PERSISTENT_WORKER_POOL_SIZE", "N", "Worker processes (plain number)",
       std::to_string(std::min(kMaxWorkers, std::max(1u, cpuCount) * 2))},
      {"drain-timeout", "ISOLATED_DRAIN_TIMEOUT", "S",
       "Seconds SIGTERM waits for requests in flight", "30"},
      {"worker-queue-size", "WORKER_TASK_QUEUE_SIZE", "N",
       "Outstanding requests one worker may hold (plain number)", "100"},
      {"queue-size", "ISOLATED_QUEUE_SIZE", "N",
       "Requests the supervisor holds when every worker is full (plain number)", "1000"},
      {"queue-timeout", "ISOLATED_QUEUE_TIMEOUT_MS", "MS",
       "Milliseconds a request may wait in the supervisor queue before 503", "10000"},
      {"max-body-size", "ISOLATED_MAX_BODY_SIZE_MB", "MB",
       "Largest request body in megabytes (413 above it)", "32"},
      {"max-header-size", "ISOLATED_MAX_HEADER_SIZE", "BYTES",
       "Largest request head in bytes: request line and headers (431 above it)", "16384"},
      {"max-url-size", "ISOLATED_MAX_URL_SIZE", "BYTES",
       "Longest request target in bytes (414 above it)", "8192"},
      {"header-timeout", "ISOLATED_HEADER_TIMEOUT", "S",
       "Seconds a client may take to send a request head (408 and close after it)", "10"},
      {"idle-timeout", "ISOLATED_IDLE_TIMEOUT", "S",
       "Seconds a kept-alive connection may stay idle between requests", "60"},
      {"body-timeout", "ISOLATED_BODY_TIMEOUT", "S",
       "Seconds a client may stall while sending a body or reading an answer", "30"},
      {"max-connections", "ISOLATED_MAX_CONNECTIONS", "N",
       "Open client connections; accepting pauses at the cap (plain number, 0: derived from the "
       "open-file limit)",
       "0"},
      {"health-interval", "WORKER_HEALTH_CHECK_INTERVAL_MS", "MS",
       "Milliseconds between health pings to each worker", "30000"},
      {"health-timeout", "ISOLATED_HEALTH_TIMEOUT_MS", "MS",
       "Milliseconds a worker may take to answer a ping before it is replaced", "5000"},
      {"health-failures", "ISOLATED_HEALTH_FAILURES", "N",
       "Missed or failed health checks in a row before a worker is replaced (plain number)", "3"},
      {"cpu-limit", "ISOLATED_CPU_LIMIT_MS", "MS",
       "CPU milliseconds one uninterrupted run of a handler may use (503 cpu-limit)", "50"},
      {"wall-limit", "ISOLATED_WALL_LIMIT_MS", "MS",
       "Milliseconds a request may take in all (504 wall-limit)", "30000"},
      {"heap-limit", "ISOLATED_HEAP_LIMIT_MB", "MB",
       "V8 heap limit per isolate in megabytes (503 memory-limit)", "128"},
      {"memory-threshold", "WORKER_RESTART_MEMORY_THRESHOLD_MB", "MB",
       "Worker RSS in megabytes above which it is gracefully recycled", "256"},
      {"memory-hard-threshold", "ISOLATED_MEMORY_HARD_THRESHOLD_MB", "MB",
       "Worker RSS in megabytes above which it is killed at once (0: 1.5 x --memory-threshold)",
       "0"},
      {"max-requests", "ISOLATED_MAX_REQUESTS", "N",
       "Recycle a worker after this many requests (plain number, 0: never)", "0"},
      {"max-requests-jitter", "ISOLATED_MAX_REQUESTS_JITTER", "N",
       "Up to this many more requests, chosen at random per worker (plain number)", "0"},
      {"restart-backoff-base", "ISOLATED_RESTART_BACKOFF_BASE_MS", "MS",
       "First delay before restarting a worker that failed right after start", "100"},
      {"restart-backoff-max", "ISOLATED_RESTART_BACKOFF_MAX_MS", "MS",
       "Longest delay between restarts of failing workers", "10000"},
      {"worker-start-timeout", "ISOLATED_WORKER_START_TIMEOUT_MS", "MS",
       "Milliseconds a new worker may take to say Hello before it is killed and replaced", "30000"},
      {"watch", "ISOLATED_WATCH", "on|off",
       "Reload when the script, one of its imports, a vars or secrets file or the --config file "
       "changes (a rolling reload, as SIGHUP)",
       "off"},
      {"min-workers", "ISOLATED_MIN_WORKERS", "N",
       "Fewest workers when autoscaling (plain number, 0: same as --workers)", "0"},
      {"max-workers", "ISOLATED_MAX_WORKERS", "N",
       "Most workers when autoscaling (plain number, 0: same as --workers)", "0"},
      {"scale-up-after", "ISOLATED_SCALE_UP_AFTER_S", "S",
       "Seconds of high load before the pool grows by one worker", "3"},
      {"scale-down-after", "ISOLATED_SCALE_DOWN_AFTER_S", "S",
       "Seconds of low load before the pool shrinks by one worker", "30"},
      {"control-socket", "ISOLATED_CONTROL_SOCKET", "PATH",
       "Unix socket for `isolated ctl` (mode 0600)", defaultControlSocket()},
      {"admin-listen", "ISOLATED_ADMIN_LISTEN", "HOST:PORT",
       "Address for /metrics, /healthz and /readyz (off when empty)", ""},
      {"request-id-header", "ISOLATED_REQUEST_ID_HEADER", "NAME",
       "Header that carries a request id in and out (one is generated when absent)",
       "x-request-id"},
      {"access-log", "ISOLATED_ACCESS_LOG", "on|off", "Log one line per request", "off"},
      {"isolation", "ISOLATED_ISOLATION", "MODE",
       "shared (one context per worker), context (fresh context per request) or isolate (fresh "
       "isolate per request)",
       "shared"},
      {"fetch-deny", "ISOLATED_FETCH_DENY", "CIDR[,CIDR...]",
       "Address ranges fetch() may not connect to, IPv4 or IPv6, or `private` for every "
       "non-public range (for example private,203.0.113.0/24)",
       ""},
      {"fetch-ca-file", "ISOLATED_FETCH_CA_FILE", "PATH",
       "PEM file of CAs that fetch() trusts instead of the system store", ""},
      {"fetch-connect-timeout", "ISOLATED_FETCH_CONNECT_TIMEOUT_MS", "MS",
       "Milliseconds fetch() may take to connect", "10000"},
      {"max-subrequests", "ISOLATED_MAX_SUBREQUESTS", "N",
       "fetch() calls one incoming request may make (plain number)", "50"},
      {"snapshot-script", "ISOLATED_SNAPSHOT_SCRIPT", "on|off",
       "Snapshot the script's top level at pool start (and on reload) so that new contexts and "
       "isolates start from it; scripts for which that is not safe are evaluated per context",
       "on"},
      {"builtins-snapshot", "ISOLATED_BUILTINS_SNAPSHOT", "on|off",
       "Start isolates and contexts from the runtime's built-in V8 snapshot (off: evaluate the "
       "runtime in every new context; for measurements)",
       "on"},
      {"log-level", "ISOLATED_LOG_LEVEL", "LEVEL", "debug, info, warn or error", "info"},
      {"log-format", "ISOLATED_LOG_FORMAT", "FORMAT", "text (logfmt) or json", "text"},
      {"max-concurrent-per-isolate", "ISOLATED_MAX_CONCURRENT_PER_ISOLATE", "N",
       "Requests that may interleave in one isolate; the same knob as --worker-queue-size "
       "(plain number, empty: that flag's value)",
       ""},
      {"vars-file", "ISOLATED_VARS_FILE", "FILE",
       "JSON object of variables for the script's env (re-read on reload)", ""},
      {"secrets-file", "ISOLATED_SECRETS_FILE", "FILE",
       "JSON object of string secrets for the script's env (re-read on reload)", ""},
      {"max-isolates", "ISOLATED_MAX_ISOLATES", "N",
       "Isolates one worker keeps; beyond it the least recently used idle one is evicted (plain "
       "number)",
       "1000"},
      {"isolate-idle-timeout", "ISOLATED_ISOLATE_IDLE_TIMEOUT_S", "S",
       "Seconds an isolate may stay idle before it is evicted (0: never)", "300"},
      {"wait-until-timeout", "ISOLATED_WAIT_UNTIL_TIMEOUT_S", "S",
       "Seconds a request's ctx.waitUntil() work may run after its response before it is "
       "cancelled with the request's timers and fetches (a draining worker waits no longer)",
       "30"},
      {"metrics-per-app", "ISOLATED_METRICS_PER_APP", "on|off",
       "Label metrics by app (off: one series per metric, for servers with very many apps)", "on"},
      {"shared-isolate", "ISOLATED_SHARED_ISOLATE", "on|off",
       "Host each worker's apps as contexts of one isolate: about 0.3 MB and 1 ms per app instead "
       "of 2 MB and 10 ms, but one heap and heap limit for them all (docs/multi-tenancy.md)",
       "off"},
      // The app registry (docs/registry.md).
      {"registry", "ISOLATED_REGISTRY", "URL",
       "A postgres:// URL whose tables hold apps shared by every server given it: `ctl deploy` "
       "writes there and every server applies it (empty: none)",
       ""},
      {"registry-key", "ISOLATED_REGISTRY_KEY", "FILE",
       "32-byte key file (or 64 hex digits), not readable by other users, that seals the "
       "registry's secrets",
       ""},
      // The worker sandbox (docs/sandbox.md).
      {"sandbox", "ISOLATED_SANDBOX", "on|off",
       "Run workers without privileges, capabilities, network or namespaces of their own, under "
       "a seccomp allow-list (off: for debugging only)",
       "on"},
      {"user", "ISOLATED_USER", "NAME",
       "User the workers run as when the server starts as root (empty: nobody)", ""},
      {"group", "ISOLATED_GROUP", "NAME",
       "Group the workers run as when the server starts as root (empty: the user's group)", ""},
  };
  for (auto& spec : specs)
    spec.kind = kindOf(spec.name);
  return specs;
}

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

std::vector<ServerKey> serverKeysOf(const std::vector<FlagSpec>& specs) {
  std::vector<ServerKey> keys;
  for (const auto& spec : specs) {
    if (!among(kSingleScriptFlags, spec.name)) keys.push_back(ServerKey{spec.name, spec.kind});
  }
  return keys;
}

// Where a value came from, for error messages.
struct Sourced {
  std::string value;
  std::string origin;  // "--flag" or "VAR (for --flag)" or "default of --flag"
};

struct Fail {
  std::string message;
};

std::variant<uint64_t, Fail> parseNumber(const Sourced& v, uint64_t min, uint64_t max) {
  uint64_t n = 0;
  const char* begin = v.value.data();
  const char* end = begin + v.value.size();
  auto [ptr, ec] = std::from_chars(begin, end, n);
  if (v.value.empty() || ec != std::errc() || ptr != end || n < min || n > max) {
    return Fail{v.origin + ": expected a whole number from " + std::to_string(min) + " to " +
                std::to_string(max) + ", got '" + v.value + "'"};
  }
  return n;
}

std::optional<Fail> parseHostPort(const Sourced& v, std::string& hostOut, uint16_t& portOut) {
  const std::string& s = v.value;
  auto colon = s.rfind(':');
  Fail bad{v.origin + ": expected HOST:PORT (for example 127.0.0.1:8080), got '" + s + "'"};
  if (colon == std::string::npos || colon == 0) return bad;
  std::string host = s.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  // An IP literal or a host name; anything else would only fail later, at bind time.
  in6_addr scratch{};
  bool isAddress = inet_pton(AF_INET, host.c_str(), &scratch) == 1 ||
                   inet_pton(AF_INET6, host.c_str(), &scratch) == 1;
  bool isName = !host.empty() && std::all_of(host.begin(), host.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '.';
  });
  if (!isAddress && !isName) return bad;
  auto port = parseNumber({s.substr(colon + 1), v.origin + " port"}, 0, 65535);
  if (auto* f = std::get_if<Fail>(&port)) return *f;
  hostOut = host;
  portOut = static_cast<uint16_t>(std::get<uint64_t>(port));
  return std::nullopt;
}

// NAME=VALUE, NAME non-empty; the value may contain '='.
std::optional<std::pair<std::string, std::string>> splitPair(const std::string& text) {
  size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0) return std::nullopt;
  return std::make_pair(text.substr(0, eq), text.substr(eq + 1));
}

// Collects --var/--secret (flags win, per name, over ISOLATED_VAR_/ISOLATED_SECRET_ variables)
// and the two files. Messages never include a value: it may be a secret.
std::optional<Fail> parseBindingSources(const cxxopts::ParseResult& result, const EnvList& envList,
                                        const Sourced& varsFile, const Sourced& secretsFile,
                                        BindingSources& out) {
  std::vector<std::pair<std::string, std::string>> fromEnvVars;
  std::vector<std::pair<std::string, std::string>> fromEnvSecrets;
  if (envList) {
    for (const auto& [name, value] : envList()) {
      if (name.starts_with(kVarEnvPrefix)) {
        fromEnvVars.emplace_back(name.substr(std::strlen(kVarEnvPrefix)), value);
      } else if (name.starts_with(kSecretEnvPrefix)) {
        fromEnvSecrets.emplace_back(name.substr(std::strlen(kSecretEnvPrefix)), value);
      }
    }
  }
  out.vars = std::move(fromEnvVars);
  out.secrets = std::move(fromEnvSecrets);
  for (const auto& kv : result.arguments()) {
    if (kv.key() != "var" && kv.key() != "secret") continue;
    auto pair = splitPair(kv.value());
    if (!pair) {
      // The text of a malformed --secret may be the secret itself: never echo it.
      return Fail{"--" + kv.key() + ": expected NAME=VALUE" +
                  (kv.key() == "var" ? ", got '" + kv.value() + "'" : std::string())};
    }
    auto& list = kv.key() == "var" ? out.vars : out.secrets;
    list.push_back(std::move(*pair));
  }
  out.varsFile = varsFile.value;
  out.secretsFile = secretsFile.value;
  return std::nullopt;
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
  cxxopts::Options& options = table_->options;
  std::vector<const char*> argv{"isolated serve"};
  for (const auto& a : args)
    argv.push_back(a.c_str());

  cxxopts::ParseResult result;
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

  std::optional<ConfigFile> file;
  if (!hasScript) {
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
  }
  if (hasConfig) {
    auto keys = serverKeysOf(specs);
    auto read = readConfigFile(result["config"].as<std::string>(), keys);
    if (auto* error = std::get_if<std::string>(&read)) return OptionsError{*error};
    file = std::get<ConfigFile>(std::move(read));
  }

  // Precedence: a flag, then its environment variable, then the config file, then the default.
  auto resolve = [&](const FlagSpec& spec) -> Sourced {
    if (result.count(spec.name)) {
      return {result[spec.name].as<std::string>(), std::string("--") + spec.name};
    }
    if (auto v = env(spec.env)) {
      return {*v, std::string(spec.env) + " (for --" + spec.name + ")"};
    }
    if (file) {
      if (auto it = file->server.find(spec.name); it != file->server.end()) {
        return {it->second.value, it->second.origin};
      }
    }
    return {spec.defaultValue, std::string("default of --") + spec.name};
  };
  auto find = [&](std::string_view name) -> const FlagSpec& {
    for (const auto& s : specs) {
      if (name == s.name) return s;
    }
    std::abort();  // A name not in the table is a programming error.
  };

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

  if (auto f = parseHostPort(resolve(find("listen")), config.listenHost, config.listenPort)) {
    return OptionsError{f->message};
  }
  if (auto admin = resolve(find("admin-listen")); !admin.value.empty()) {
    uint16_t port = 0;
    if (auto f = parseHostPort(admin, config.adminHost, port)) return OptionsError{f->message};
    config.adminPort = port;
  }
  config.controlSocketPath = resolve(find("control-socket")).value;
  if (config.controlSocketPath.empty() || config.controlSocketPath.size() > 100) {
    return OptionsError{"--control-socket: expected a path of 1 to 100 characters"};
  }
  auto requestId = resolve(find("request-id-header"));
  config.requestIdHeader = requestId.value;
  if (requestId.value.empty() ||
      !std::all_of(requestId.value.begin(), requestId.value.end(),
                   [](unsigned char c) { return std::isalnum(c) || c == '-' || c == '_'; })) {
    return OptionsError{requestId.origin + ": expected a header name, got '" + requestId.value +
                        "'"};
  }
  const std::pair<const char*, bool*> switches[] = {
      {"access-log", &config.accessLog},
      {"snapshot-script", &config.snapshotScript},
      {"builtins-snapshot", &config.builtinsSnapshot},
      {"metrics-per-app", &config.metricsPerApp},
      {"shared-isolate", &config.sharedIsolate},
      {"watch", &config.watch},
  };
  for (auto [flag, out] : switches) {
    auto value = resolve(find(flag));
    if (auto on = parseOnOff(value.value)) {
      *out = *on;
    } else {
      return OptionsError{value.origin + ": expected on or off, got '" + value.value + "'"};
    }
  }
  // A script snapshot is made on top of the built-ins.
  if (!config.builtinsSnapshot) config.snapshotScript = false;

  struct NumberField {
    const char* flag;
    uint64_t min;
    uint64_t max;
    uint64_t scale;
    uint32_t* out;
  };
  const NumberField numbers[] = {
      {"workers", 1, kMaxWorkers, 1, &config.workers},
      {"drain-timeout", 0, 86400, 1, &config.drainTimeoutSec},
      {"worker-queue-size", 1, 100000, 1, &config.workerQueueSize},
      {"queue-size", 0, 1000000, 1, &config.queueSize},
      {"queue-timeout", 1, 3600000, 1, &config.queueTimeoutMs},
      // Large bodies stream (supervisor/request_body_tap.h), so the limit is a policy, not a
      // buffer size; it is held in 32 bits of bytes.
      {"max-body-size", 1, 4095, 1u << 20, &config.maxBodyBytes},
      {"max-header-size", 1024, 1u << 20, 1, &config.maxHeaderBytes},
      {"max-url-size", 256, 1u << 20, 1, &config.maxUrlBytes},
      {"header-timeout", 1, 3600, 1000, &config.headerTimeoutMs},
      {"idle-timeout", 1, 3600, 1000, &config.idleTimeoutMs},
      {"body-timeout", 1, 3600, 1000, &config.bodyTimeoutMs},
      {"max-connections", 0, 10000000, 1, &config.maxConnections},
      {"health-interval", 100, 3600000, 1, &config.healthIntervalMs},
      {"health-timeout", 10, 3600000, 1, &config.healthTimeoutMs},
      {"health-failures", 1, 1000, 1, &config.healthFailures},
      {"cpu-limit", kCpuLimitMsRange.min, kCpuLimitMsRange.max, 1, &config.cpuLimitMs},
      {"wall-limit", kWallLimitMsRange.min, kWallLimitMsRange.max, 1, &config.wallLimitMs},
      {"heap-limit", kHeapLimitMbRange.min, kHeapLimitMbRange.max, 1, &config.heapLimitMb},
      {"memory-threshold", 16, 1048576, 1, &config.memoryThresholdMb},
      {"memory-hard-threshold", 0, 1048576, 1, &config.memoryHardThresholdMb},
      {"max-requests", 0, 1000000000, 1, &config.maxRequests},
      {"max-requests-jitter", 0, 1000000000, 1, &config.maxRequestsJitter},
      {"restart-backoff-base", 1, 3600000, 1, &config.restartBackoffBaseMs},
      {"restart-backoff-max", 1, 3600000, 1, &config.restartBackoffMaxMs},
      {"worker-start-timeout", 100, 3600000, 1, &config.workerStartTimeoutMs},
      {"min-workers", 0, kMaxWorkers, 1, &config.minWorkers},
      {"max-workers", 0, kMaxWorkers, 1, &config.maxWorkers},
      {"scale-up-after", 1, 86400, 1, &config.scaleUpAfterSec},
      {"scale-down-after", 1, 86400, 1, &config.scaleDownAfterSec},
      {"fetch-connect-timeout", 1, 3600000, 1, &config.fetchConnectTimeoutMs},
      {"max-subrequests", 0, 1000000, 1, &config.maxSubrequests},
      {"max-isolates", 1, 1000000, 1, &config.maxIsolates},
      {"isolate-idle-timeout", 0, 31536000, 1, &config.isolateIdleTimeoutSec},
      {"wait-until-timeout", 1, 86400, 1, &config.waitUntilTimeoutSec},
  };
  for (const auto& field : numbers) {
    auto n = parseNumber(resolve(find(field.flag)), field.min, field.max);
    if (auto* f = std::get_if<Fail>(&n)) return OptionsError{f->message};
    *field.out = static_cast<uint32_t>(std::get<uint64_t>(n) * field.scale);
  }

  // Cross-flag rules, checked once every value is known.
  if (config.minWorkers == 0)
    config.minWorkers =
        std::min(config.workers, config.maxWorkers == 0 ? config.workers : config.maxWorkers);
  if (config.maxWorkers == 0) config.maxWorkers = std::max(config.workers, config.minWorkers);
  if (config.minWorkers > config.maxWorkers) {
    return OptionsError{"--min-workers (" + std::to_string(config.minWorkers) +
                        ") must not exceed --max-workers (" + std::to_string(config.maxWorkers) +
                        ")"};
  }
  config.workers = std::clamp(config.workers, config.minWorkers, config.maxWorkers);
  if (config.memoryHardThresholdMb != 0 &&
      config.memoryHardThresholdMb <= config.memoryThresholdMb) {
    return OptionsError{"--memory-hard-threshold (" + std::to_string(config.memoryHardThresholdMb) +
                        " MB) must exceed --memory-threshold (" +
                        std::to_string(config.memoryThresholdMb) + " MB)"};
  }
  if (config.restartBackoffBaseMs > config.restartBackoffMaxMs) {
    return OptionsError{"--restart-backoff-base must not exceed --restart-backoff-max"};
  }

  // --max-concurrent-per-isolate sets --worker-queue-size (see ServeConfig::workerQueueSize);
  // both given with different values is a contradiction, not a precedence question.
  if (auto concurrent = resolve(find("max-concurrent-per-isolate")); !concurrent.value.empty()) {
    auto n = parseNumber(concurrent, 1, 100000);
    if (auto* f = std::get_if<Fail>(&n)) return OptionsError{f->message};
    auto queue = resolve(find("worker-queue-size"));
    uint32_t value = static_cast<uint32_t>(std::get<uint64_t>(n));
    if (!queue.origin.starts_with("default") && value != config.workerQueueSize) {
      return OptionsError{concurrent.origin + " (" + std::to_string(value) + ") contradicts " +
                          queue.origin + " (" + std::to_string(config.workerQueueSize) +
                          "): they are the same setting"};
    }
    config.workerQueueSize = value;
  }

  if (auto f = parseBindingSources(result, envList, resolve(find("vars-file")),
                                   resolve(find("secrets-file")), config.bindings)) {
    return OptionsError{f->message};
  }
  std::string bindingError;
  auto loaded = loadBindings(config.bindings, bindingError);
  if (!loaded) return OptionsError{bindingError};
  std::vector<StorageBindingSpec> storage;
  if (hasScript) {
    if (auto error = parseStorageOptions(result, envList, *loaded, storage)) {
      return OptionsError{*error};
    }
  }

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

  auto isolation = resolve(find("isolation"));
  if (auto mode = parseIsolationMode(isolation.value)) {
    config.isolation = *mode;
  } else {
    return OptionsError{isolation.origin + ": expected shared, context or isolate, got '" +
                        isolation.value + "'"};
  }

  auto deny = resolve(find("fetch-deny"));
  auto ranges = CidrSet::parse(deny.value);
  if (auto* error = std::get_if<std::string>(&ranges)) {
    return OptionsError{deny.origin + ": " + *error};
  }
  config.fetchDeny = std::get<CidrSet>(std::move(ranges));
  auto caFile = resolve(find("fetch-ca-file"));
  if (!caFile.value.empty() && ::access(caFile.value.c_str(), R_OK) != 0) {
    return OptionsError{caFile.origin + ": cannot read '" + caFile.value + "'"};
  }
  config.fetchCaFile = caFile.value;

  auto registry = resolve(find("registry"));
  if (!registry.value.empty()) {
    if (hasScript) {
      return OptionsError{registry.origin +
                          ": a registry serves many apps; use it with --config FILE or alone, "
                          "not with SCRIPT"};
    }
    if (!registry.value.starts_with("postgres://") &&
        !registry.value.starts_with("postgresql://")) {
      // Never echoed: the URL may hold a password.
      return OptionsError{registry.origin + ": expected a postgres:// or postgresql:// URL"};
    }
  }
  config.registryUrl = registry.value;
  auto registryKey = resolve(find("registry-key"));
  if (!registryKey.value.empty() && registry.value.empty()) {
    return OptionsError{registryKey.origin + ": a registry key needs --registry"};
  }
  config.registryKeyFile = registryKey.value;

  auto sandbox = resolve(find("sandbox"));
  if (auto on = parseOnOff(sandbox.value)) {
    config.sandbox = *on;
  } else {
    return OptionsError{sandbox.origin + ": expected on or off, got '" + sandbox.value + "'"};
  }
  config.sandboxUser = resolve(find("user")).value;
  config.sandboxGroup = resolve(find("group")).value;

  auto level = resolve(find("log-level"));
  if (auto l = parseLogLevel(level.value)) {
    config.logLevel = *l;
  } else {
    return OptionsError{level.origin + ": expected debug, info, warn or error, got '" +
                        level.value + "'"};
  }
  auto format = resolve(find("log-format"));
  if (auto f = parseLogFormat(format.value)) {
    config.logFormat = *f;
  } else {
    return OptionsError{format.origin + ": expected text or json, got '" + format.value + "'"};
  }

  if (hasScript) {
    // The single script is a server of one app that matches every route; the server's limits
    // apply to it, so it overrides none.
    AppConfig app;
    app.name = appNameFor(config.scriptName);
    app.scriptPath = config.scriptPath;
    app.routes = {"*/*"};
    app.bindings = config.bindings;
    app.crons = config.crons;
    app.storage = std::move(storage);
    config.apps.push_back(std::move(app));
  }
  return config;
}

std::variant<ConfigFile, OptionsError> readServeConfigFile(const std::string& path) {
  auto keys = serverKeysOf(flagSpecs(1));
  auto read = readConfigFile(path, keys);
  if (auto* error = std::get_if<std::string>(&read)) return OptionsError{*error};
  return std::get<ConfigFile>(std::move(read));
}

}  // namespace isolated
