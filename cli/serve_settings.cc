// The server-wide settings of `isolated serve` (cli/serve_settings.h): ranges, formats and
// the rules between flags.
#include "cli/serve_settings.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "common/on_off.h"
#include "config/limit_ranges.h"

namespace isolated::serve_detail {

namespace {

// Reads `flag` with `parse` (which gives nullopt for a value it does not know) into `out`; the
// error names what was expected and what was given.
template <class T, class Parse>
std::optional<OptionsError> readChoice(const FlagResolver& resolve, std::string_view flag,
                                       Parse parse, std::string_view expected, T& out) {
  auto setting = resolve(flag);
  if (auto value = parse(setting.value)) {
    out = *value;
    return std::nullopt;
  }
  return OptionsError{setting.origin + ": expected " + std::string(expected) + ", got '" +
                      setting.value + "'"};
}

}  // namespace

Sourced FlagResolver::operator()(std::string_view flag) const {
  const FlagSpec* found = nullptr;
  for (const auto& s : specs_) {
    if (flag == s.name) {
      found = &s;
      break;
    }
  }
  if (found == nullptr) std::abort();  // A name not in the table is a programming error.
  const FlagSpec& spec = *found;
  if (result_.count(spec.name)) {
    return {result_[spec.name].as<std::string>(), std::string("--") + spec.name};
  }
  if (auto v = env_(spec.env)) {
    return {*v, std::string(spec.env) + " (for --" + spec.name + ")"};
  }
  if (file_) {
    if (auto it = file_->server.find(spec.name); it != file_->server.end()) {
      return {it->second.value, it->second.origin};
    }
  }
  return {spec.defaultValue, std::string("default of --") + spec.name};
}

std::optional<OptionsError> readAddresses(const FlagResolver& resolve, ServeConfig& config) {
  if (auto f = parseHostPort(resolve("listen"), config.listenHost, config.listenPort)) {
    return OptionsError{f->message};
  }
  if (auto admin = resolve("admin-listen"); !admin.value.empty()) {
    uint16_t port = 0;
    if (auto f = parseHostPort(admin, config.adminHost, port)) return OptionsError{f->message};
    config.adminPort = port;
  }
  config.controlSocketPath = resolve("control-socket").value;
  if (config.controlSocketPath.empty() || config.controlSocketPath.size() > 100) {
    return OptionsError{"--control-socket: expected a path of 1 to 100 characters"};
  }
  auto requestId = resolve("request-id-header");
  config.requestIdHeader = requestId.value;
  if (requestId.value.empty() ||
      !std::all_of(requestId.value.begin(), requestId.value.end(),
                   [](unsigned char c) { return std::isalnum(c) || c == '-' || c == '_'; })) {
    return OptionsError{requestId.origin + ": expected a header name, got '" + requestId.value +
                        "'"};
  }
  return std::nullopt;
}

std::optional<OptionsError> readSwitches(const FlagResolver& resolve, ServeConfig& config) {
  const std::pair<const char*, bool*> switches[] = {
      {"access-log", &config.accessLog},
      {"snapshot-script", &config.snapshotScript},
      {"builtins-snapshot", &config.builtinsSnapshot},
      {"metrics-per-app", &config.metricsPerApp},
      {"shared-isolate", &config.sharedIsolate},
      {"watch", &config.watch},
      {"background-heavy-apps", &config.backgroundHeavyApps},
  };
  for (auto [flag, out] : switches) {
    if (auto error = readChoice(resolve, flag, parseOnOff, "on or off", *out)) return error;
  }
  // A script snapshot is made on top of the built-ins.
  if (!config.builtinsSnapshot) config.snapshotScript = false;
  return std::nullopt;
}

std::optional<OptionsError> readNumbers(const FlagResolver& resolve, ServeConfig& config) {
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
      // Large bodies stream (supervisor/http/http_connection.h), so the limit is a policy, not a
      // buffer size; it is held in 32 bits of bytes.
      {"max-body-size", 1, 4095, 1u << 20, &config.maxBodyBytes},
      {"max-header-size", 1024, 1u << 20, 1, &config.maxHeaderBytes},
      {"max-url-size", 256, 1u << 20, 1, &config.maxUrlBytes},
      {"header-timeout", 1, 3600, 1000, &config.headerTimeoutMs},
      {"idle-timeout", 1, 3600, 1000, &config.idleTimeoutMs},
      {"body-timeout", 1, 3600, 1000, &config.bodyTimeoutMs},
      {"max-connections", 0, 10000000, 1, &config.maxConnections},
      {"io-threads", 1, 64, 1, &config.ioThreads},
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
    auto n = parseNumber(resolve(field.flag), field.min, field.max);
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
  return std::nullopt;
}

std::optional<OptionsError> readConcurrency(const FlagResolver& resolve, ServeConfig& config) {
  // --max-concurrent-per-isolate sets --worker-queue-size (see ServeConfig::workerQueueSize);
  // both given with different values is a contradiction, not a precedence question.
  if (auto concurrent = resolve("max-concurrent-per-isolate"); !concurrent.value.empty()) {
    auto n = parseNumber(concurrent, 1, 100000);
    if (auto* f = std::get_if<Fail>(&n)) return OptionsError{f->message};
    auto queue = resolve("worker-queue-size");
    uint32_t value = static_cast<uint32_t>(std::get<uint64_t>(n));
    if (!queue.origin.starts_with("default") && value != config.workerQueueSize) {
      return OptionsError{concurrent.origin + " (" + std::to_string(value) + ") contradicts " +
                          queue.origin + " (" + std::to_string(config.workerQueueSize) +
                          "): they are the same setting"};
    }
    config.workerQueueSize = value;
  }
  return std::nullopt;
}

std::optional<OptionsError> readIsolationAndFetch(const FlagResolver& resolve,
                                                  ServeConfig& config) {
  if (auto error = readChoice(resolve, "isolation", parseIsolationMode,
                              "shared, context or isolate", config.isolation)) {
    return error;
  }

  auto deny = resolve("fetch-deny");
  auto ranges = CidrSet::parse(deny.value);
  if (auto* error = std::get_if<std::string>(&ranges)) {
    return OptionsError{deny.origin + ": " + *error};
  }
  config.fetchDeny = std::get<CidrSet>(std::move(ranges));
  auto caFile = resolve("fetch-ca-file");
  if (!caFile.value.empty() && ::access(caFile.value.c_str(), R_OK) != 0) {
    return OptionsError{caFile.origin + ": cannot read '" + caFile.value + "'"};
  }
  config.fetchCaFile = caFile.value;
  return std::nullopt;
}

std::optional<OptionsError> readRegistry(const FlagResolver& resolve, bool hasScript,
                                         ServeConfig& config) {
  auto registry = resolve("registry");
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
  auto registryKey = resolve("registry-key");
  if (!registryKey.value.empty() && registry.value.empty()) {
    return OptionsError{registryKey.origin + ": a registry key needs --registry"};
  }
  config.registryKeyFile = registryKey.value;
  return std::nullopt;
}

std::optional<OptionsError> readSandboxAndLogs(const FlagResolver& resolve, ServeConfig& config) {
  if (auto error = readChoice(resolve, "sandbox", parseOnOff, "on or off", config.sandbox)) {
    return error;
  }
  config.sandboxUser = resolve("user").value;
  config.sandboxGroup = resolve("group").value;
  if (auto error = readChoice(resolve, "log-level", parseLogLevel, "debug, info, warn or error",
                              config.logLevel)) {
    return error;
  }
  return readChoice(resolve, "log-format", parseLogFormat, "text or json", config.logFormat);
}

}  // namespace isolated::serve_detail
