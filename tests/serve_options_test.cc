// `isolated serve` option parsing: defaults, environment fallbacks, precedence, validation, help.
#include "cli/serve_options.h"

#include "common/bindings.h"
#include "temp_dir.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace isolated {
namespace {

using Env = std::map<std::string, std::string>;

EnvLookup envFrom(Env vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

constexpr unsigned kCpus = 4;

// Parses and expects success; on failure, records the error and returns a default config.
ServeConfig parseOk(const std::vector<std::string>& args, const Env& env = {},
                    unsigned cpus = kCpus) {
  auto result = parseServeOptions(args, envFrom(env), cpus);
  if (auto* error = std::get_if<OptionsError>(&result)) {
    ADD_FAILURE() << "unexpected OptionsError: " << error->message;
    return {};
  }
  if (std::holds_alternative<HelpRequested>(result)) {
    ADD_FAILURE() << "unexpected HelpRequested";
    return {};
  }
  return std::get<ServeConfig>(result);
}

// Parses and expects an OptionsError; returns its message ("" after recording a failure).
std::string parseError(const std::vector<std::string>& args, const Env& env = {}) {
  auto result = parseServeOptions(args, envFrom(env), kCpus);
  if (auto* error = std::get_if<OptionsError>(&result)) {
    EXPECT_FALSE(error->message.empty());
    return error->message;
  }
  ADD_FAILURE() << "expected an OptionsError";
  return "";
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(ServeOptionsTest, Defaults) {
  ServeConfig c = parseOk({"app.js"}, {}, 3);
  EXPECT_EQ(c.scriptName, "app.js");
  EXPECT_TRUE(std::filesystem::path(c.scriptPath).is_absolute()) << c.scriptPath;
  EXPECT_EQ(std::filesystem::path(c.scriptPath).filename(), "app.js");
  EXPECT_EQ(c.listenHost, "127.0.0.1");
  EXPECT_EQ(c.listenPort, 8080);
  EXPECT_EQ(c.workers, 6u);  // cpuCount x 2
  EXPECT_EQ(c.drainTimeoutSec, 30u);
  EXPECT_EQ(c.workerQueueSize, 100u);
  EXPECT_EQ(c.queueSize, 1000u);
  EXPECT_EQ(c.queueTimeoutMs, 10000u);
  EXPECT_EQ(c.maxBodyBytes, 32u << 20);
  EXPECT_EQ(c.maxHeaderBytes, 16384u);
  EXPECT_EQ(c.maxUrlBytes, 8192u);
  EXPECT_EQ(c.healthIntervalMs, 30000u);
  EXPECT_EQ(c.healthTimeoutMs, 5000u);
  EXPECT_EQ(c.logLevel, LogLevel::kInfo);
  EXPECT_EQ(c.logFormat, LogFormat::kText);
}

TEST(ServeOptionsTest, SandboxFlagsAndVariables) {
  auto defaults = parseOk({"w.js"});
  EXPECT_TRUE(defaults.sandbox);
  EXPECT_EQ(defaults.sandboxUser, "");
  EXPECT_EQ(defaults.sandboxGroup, "");
  auto flags = parseOk({"w.js", "--sandbox", "off", "--user", "isolated", "--group", "daemon"});
  EXPECT_FALSE(flags.sandbox);
  EXPECT_EQ(flags.sandboxUser, "isolated");
  EXPECT_EQ(flags.sandboxGroup, "daemon");
  auto env = parseOk({"w.js"}, {{"ISOLATED_SANDBOX", "off"}, {"ISOLATED_USER", "www-data"}});
  EXPECT_FALSE(env.sandbox);
  EXPECT_EQ(env.sandboxUser, "www-data");
  EXPECT_NE(parseError({"w.js", "--sandbox", "maybe"}).find("--sandbox: expected on or off"),
            std::string::npos);
  auto deny = parseOk({"w.js", "--fetch-deny", "private,8.8.8.8"});
  EXPECT_GT(deny.fetchDeny.ranges().size(), 10u);
}

TEST(ServeOptionsTest, WorkerStartTimeoutAndWatch) {
  auto defaults = parseOk({"w.js"});
  EXPECT_EQ(defaults.workerStartTimeoutMs, 30000u);
  EXPECT_FALSE(defaults.watch);
  auto flags = parseOk({"w.js", "--worker-start-timeout", "1500", "--watch", "on"});
  EXPECT_EQ(flags.workerStartTimeoutMs, 1500u);
  EXPECT_TRUE(flags.watch);
  auto env =
      parseOk({"w.js"}, {{"ISOLATED_WORKER_START_TIMEOUT_MS", "900"}, {"ISOLATED_WATCH", "on"}});
  EXPECT_EQ(env.workerStartTimeoutMs, 900u);
  EXPECT_TRUE(env.watch);
  EXPECT_NE(parseError({"w.js", "--worker-start-timeout", "50"})
                .find("--worker-start-timeout: expected a whole number from 100"),
            std::string::npos);
  EXPECT_NE(parseError({"w.js", "--watch", "yes please"}).find("--watch: expected on or off"),
            std::string::npos);
}

TEST(ServeOptionsTest, ZeroCpusStillGivesWorkers) {
  EXPECT_EQ(parseOk({"app.js"}, {}, 0).workers, 2u);
}

TEST(ServeOptionsTest, ManyCpusStillParse) {
  // A large machine must not make the default itself invalid (--workers allows up to 256).
  auto result = parseServeOptions({"app.js"}, envFrom({}), 200);
  auto* config = std::get_if<ServeConfig>(&result);
  ASSERT_NE(config, nullptr) << std::get<OptionsError>(result).message;
  EXPECT_GE(config->workers, 1u);
  EXPECT_LE(config->workers, 256u);
}

TEST(ServeOptionsTest, ScriptPathIsNormalized) {
  ServeConfig c = parseOk({"dir/../sub/worker.js"});
  EXPECT_EQ(c.scriptName, "worker.js");
  std::filesystem::path p(c.scriptPath);
  EXPECT_TRUE(p.is_absolute());
  EXPECT_EQ(p.filename(), "worker.js");
  EXPECT_EQ(p.parent_path().filename(), "sub");
  EXPECT_FALSE(contains(c.scriptPath, "..")) << c.scriptPath;
}

TEST(ServeOptionsTest, DesignNoteVariables) {
  ServeConfig c = parseOk({"app.js"}, {{"PERSISTENT_WORKER_POOL_SIZE", "5"},
                                       {"WORKER_TASK_QUEUE_SIZE", "7"},
                                       {"WORKER_HEALTH_CHECK_INTERVAL_MS", "1500"}});
  EXPECT_EQ(c.workers, 5u);
  EXPECT_EQ(c.workerQueueSize, 7u);
  EXPECT_EQ(c.healthIntervalMs, 1500u);
}

TEST(ServeOptionsTest, EveryVariableIsRead) {
  ServeConfig c = parseOk({"app.js"}, {{"ISOLATED_LISTEN", "0.0.0.0:9000"},
                                       {"ISOLATED_DRAIN_TIMEOUT", "3"},
                                       {"ISOLATED_QUEUE_SIZE", "11"},
                                       {"ISOLATED_QUEUE_TIMEOUT_MS", "250"},
                                       {"ISOLATED_MAX_BODY_SIZE_MB", "2"},
                                       {"ISOLATED_MAX_HEADER_SIZE", "4096"},
                                       {"ISOLATED_MAX_URL_SIZE", "1024"},
                                       {"ISOLATED_HEALTH_TIMEOUT_MS", "900"},
                                       {"ISOLATED_LOG_LEVEL", "debug"},
                                       {"ISOLATED_LOG_FORMAT", "json"}});
  EXPECT_EQ(c.listenHost, "0.0.0.0");
  EXPECT_EQ(c.listenPort, 9000);
  EXPECT_EQ(c.drainTimeoutSec, 3u);
  EXPECT_EQ(c.queueSize, 11u);
  EXPECT_EQ(c.queueTimeoutMs, 250u);
  EXPECT_EQ(c.maxBodyBytes, 2u << 20);
  EXPECT_EQ(c.maxHeaderBytes, 4096u);
  EXPECT_EQ(c.maxUrlBytes, 1024u);
  EXPECT_EQ(c.healthTimeoutMs, 900u);
  EXPECT_EQ(c.logLevel, LogLevel::kDebug);
  EXPECT_EQ(c.logFormat, LogFormat::kJson);
}

TEST(ServeOptionsTest, EveryFlagIsRead) {
  ServeConfig c = parseOk({"--listen",
                           "0.0.0.0:9001",
                           "--workers",
                           "9",
                           "--drain-timeout",
                           "4",
                           "--worker-queue-size",
                           "12",
                           "--queue-size",
                           "0",
                           "--queue-timeout",
                           "300",
                           "--max-body-size",
                           "5",
                           "--max-header-size",
                           "2048",
                           "--max-url-size",
                           "512",
                           "--health-interval",
                           "200",
                           "--health-timeout",
                           "50",
                           "--log-level",
                           "error",
                           "--log-format",
                           "json",
                           "app.js"});
  EXPECT_EQ(c.listenHost, "0.0.0.0");
  EXPECT_EQ(c.listenPort, 9001);
  EXPECT_EQ(c.workers, 9u);
  EXPECT_EQ(c.drainTimeoutSec, 4u);
  EXPECT_EQ(c.workerQueueSize, 12u);
  EXPECT_EQ(c.queueSize, 0u);
  EXPECT_EQ(c.queueTimeoutMs, 300u);
  EXPECT_EQ(c.maxBodyBytes, 5u << 20);
  EXPECT_EQ(c.maxHeaderBytes, 2048u);
  EXPECT_EQ(c.maxUrlBytes, 512u);
  EXPECT_EQ(c.healthIntervalMs, 200u);
  EXPECT_EQ(c.healthTimeoutMs, 50u);
  EXPECT_EQ(c.logLevel, LogLevel::kError);
  EXPECT_EQ(c.logFormat, LogFormat::kJson);
}

TEST(ServeOptionsTest, EqualsSyntaxAndScriptFirst) {
  ServeConfig c = parseOk({"app.js", "--workers=3", "--listen=[::1]:81"});
  EXPECT_EQ(c.workers, 3u);
  EXPECT_EQ(c.listenHost, "::1");
  EXPECT_EQ(c.listenPort, 81);
}

TEST(ServeOptionsTest, FlagOverridesEnv) {
  Env env{{"PERSISTENT_WORKER_POOL_SIZE", "5"},
          {"WORKER_TASK_QUEUE_SIZE", "7"},
          {"WORKER_HEALTH_CHECK_INTERVAL_MS", "1500"},
          {"ISOLATED_LOG_LEVEL", "debug"}};
  ServeConfig c = parseOk({"--workers", "8", "--worker-queue-size", "9", "--health-interval",
                           "2500", "--log-level", "warn", "app.js"},
                          env);
  EXPECT_EQ(c.workers, 8u);
  EXPECT_EQ(c.workerQueueSize, 9u);
  EXPECT_EQ(c.healthIntervalMs, 2500u);
  EXPECT_EQ(c.logLevel, LogLevel::kWarn);
}

TEST(ServeOptionsTest, FlagOverridesABadEnvValue) {
  // The variable is never consulted when the flag is given, so its bad value does not matter.
  ServeConfig c = parseOk({"--workers", "4", "app.js"}, {{"PERSISTENT_WORKER_POOL_SIZE", "x"}});
  EXPECT_EQ(c.workers, 4u);
}

TEST(ServeOptionsTest, BadFlagValueNamesTheFlag) {
  std::string e = parseError({"--workers", "many", "app.js"});
  EXPECT_TRUE(contains(e, "--workers")) << e;
  EXPECT_TRUE(contains(e, "many")) << e;
  EXPECT_FALSE(contains(e, "PERSISTENT_WORKER_POOL_SIZE")) << e;
}

TEST(ServeOptionsTest, BadEnvValueNamesTheVariable) {
  std::string e = parseError({"app.js"}, {{"PERSISTENT_WORKER_POOL_SIZE", "lots"}});
  EXPECT_TRUE(contains(e, "PERSISTENT_WORKER_POOL_SIZE")) << e;
  EXPECT_TRUE(contains(e, "lots")) << e;

  e = parseError({"app.js"}, {{"WORKER_TASK_QUEUE_SIZE", "0"}});
  EXPECT_TRUE(contains(e, "WORKER_TASK_QUEUE_SIZE")) << e;

  e = parseError({"app.js"}, {{"WORKER_HEALTH_CHECK_INTERVAL_MS", "1s"}});
  EXPECT_TRUE(contains(e, "WORKER_HEALTH_CHECK_INTERVAL_MS")) << e;

  e = parseError({"app.js"}, {{"ISOLATED_LOG_FORMAT", "xml"}});
  EXPECT_TRUE(contains(e, "ISOLATED_LOG_FORMAT")) << e;
}

TEST(ServeOptionsTest, NumbersMustBePlain) {
  for (const char* bad : {"", "-1", "+3", " 3", "3 ", "3.0", "0x10", "1e2", "4k"}) {
    // The `=` form, so that "-1" is not taken for a short option.
    std::string e = parseError({std::string("--workers=") + bad, "app.js"});
    EXPECT_TRUE(contains(e, "--workers")) << "value '" << bad << "': " << e;
  }
}

TEST(ServeOptionsTest, OutOfRangeNumbers) {
  EXPECT_TRUE(contains(parseError({"--workers", "0", "app.js"}), "--workers"));
  EXPECT_TRUE(contains(parseError({"--workers", "257", "app.js"}), "--workers"));
  EXPECT_EQ(parseOk({"--workers", "256", "app.js"}).workers, 256u);
  EXPECT_EQ(parseOk({"--workers", "1", "app.js"}).workers, 1u);
  // Larger than any integer type: an error, not a wrapped value.
  EXPECT_TRUE(
      contains(parseError({"--workers", "99999999999999999999999", "app.js"}), "--workers"));
  EXPECT_TRUE(contains(parseError({"--worker-queue-size", "0", "app.js"}), "--worker-queue-size"));
  EXPECT_TRUE(contains(parseError({"--health-interval", "99", "app.js"}), "--health-interval"));
  EXPECT_TRUE(contains(parseError({"--max-header-size", "1023", "app.js"}), "--max-header-size"));
  EXPECT_TRUE(contains(parseError({"--max-url-size", "255", "app.js"}), "--max-url-size"));
  EXPECT_TRUE(contains(parseError({"--queue-timeout", "0", "app.js"}), "--queue-timeout"));
  EXPECT_TRUE(contains(parseError({"--drain-timeout", "86401", "app.js"}), "--drain-timeout"));
  EXPECT_EQ(parseOk({"--drain-timeout", "0", "app.js"}).drainTimeoutSec, 0u);
}

TEST(ServeOptionsTest, MaxBodySizeIsInMegabytes) {
  EXPECT_EQ(parseOk({"--max-body-size", "1", "app.js"}).maxBodyBytes, 1u << 20);
  EXPECT_EQ(parseOk({"--max-body-size", "10", "app.js"}).maxBodyBytes, 10u << 20);
  EXPECT_EQ(parseOk({"app.js"}, {{"ISOLATED_MAX_BODY_SIZE_MB", "3"}}).maxBodyBytes, 3u << 20);
  EXPECT_TRUE(contains(parseError({"--max-body-size", "0", "app.js"}), "--max-body-size"));
  // Bodies stream, so the limit may be large; it is held in 32 bits of bytes.
  EXPECT_EQ(parseOk({"--max-body-size", "2048", "app.js"}).maxBodyBytes, 2048u << 20);
  EXPECT_TRUE(contains(parseError({"--max-body-size", "4096", "app.js"}), "--max-body-size"));
}

TEST(ServeOptionsTest, ListenParsing) {
  ServeConfig c = parseOk({"--listen", "127.0.0.1:0", "app.js"});
  EXPECT_EQ(c.listenHost, "127.0.0.1");
  EXPECT_EQ(c.listenPort, 0);

  c = parseOk({"--listen", "[::1]:80", "app.js"});
  EXPECT_EQ(c.listenHost, "::1");
  EXPECT_EQ(c.listenPort, 80);

  c = parseOk({"--listen", "localhost:65535", "app.js"});
  EXPECT_EQ(c.listenHost, "localhost");
  EXPECT_EQ(c.listenPort, 65535);
}

TEST(ServeOptionsTest, MalformedListen) {
  for (const char* bad : {"", "8080", "localhost", "localhost:", ":8080", "127.0.0.1:65536",
                          "127.0.0.1:-1", "127.0.0.1:http", "[]:80", "[::1]", "1.2.3.4:80x"}) {
    std::string e = parseError({std::string("--listen=") + bad, "app.js"});
    EXPECT_TRUE(contains(e, "--listen")) << "value '" << bad << "': " << e;
  }
  std::string e = parseError({"app.js"}, {{"ISOLATED_LISTEN", "nope"}});
  EXPECT_TRUE(contains(e, "ISOLATED_LISTEN")) << e;
}

TEST(ServeOptionsTest, LogLevelAndFormat) {
  EXPECT_EQ(parseOk({"--log-level", "debug", "app.js"}).logLevel, LogLevel::kDebug);
  EXPECT_EQ(parseOk({"--log-level", "info", "app.js"}).logLevel, LogLevel::kInfo);
  EXPECT_EQ(parseOk({"--log-level", "warn", "app.js"}).logLevel, LogLevel::kWarn);
  EXPECT_EQ(parseOk({"--log-level", "error", "app.js"}).logLevel, LogLevel::kError);
  EXPECT_EQ(parseOk({"--log-format", "text", "app.js"}).logFormat, LogFormat::kText);
  EXPECT_EQ(parseOk({"--log-format", "json", "app.js"}).logFormat, LogFormat::kJson);

  std::string e = parseError({"--log-level", "verbose", "app.js"});
  EXPECT_TRUE(contains(e, "--log-level")) << e;
  EXPECT_TRUE(contains(e, "verbose")) << e;
  e = parseError({"--log-format", "yaml", "app.js"});
  EXPECT_TRUE(contains(e, "--log-format")) << e;
  e = parseError({"app.js"}, {{"ISOLATED_LOG_LEVEL", "loud"}});
  EXPECT_TRUE(contains(e, "ISOLATED_LOG_LEVEL")) << e;
}

TEST(ServeOptionsTest, HelpListsEveryVariable) {
  for (const auto& args : {std::vector<std::string>{"--help"}, {"-h"}, {"app.js", "--help"}}) {
    auto result = parseServeOptions(args, envFrom({}), kCpus);
    auto* help = std::get_if<HelpRequested>(&result);
    ASSERT_NE(help, nullptr) << args.front();
    for (const char* name :
         {"ISOLATED_LISTEN", "PERSISTENT_WORKER_POOL_SIZE", "ISOLATED_DRAIN_TIMEOUT",
          "WORKER_TASK_QUEUE_SIZE", "ISOLATED_QUEUE_SIZE", "ISOLATED_QUEUE_TIMEOUT_MS",
          "ISOLATED_MAX_BODY_SIZE_MB", "ISOLATED_MAX_HEADER_SIZE", "ISOLATED_MAX_URL_SIZE",
          "WORKER_HEALTH_CHECK_INTERVAL_MS", "ISOLATED_HEALTH_TIMEOUT_MS", "ISOLATED_LOG_LEVEL",
          "ISOLATED_LOG_FORMAT", "ISOLATED_VARS_FILE", "ISOLATED_SECRETS_FILE",
          "ISOLATED_VAR_<NAME>", "ISOLATED_SECRET_<NAME>", "ISOLATED_CRON",
          "ISOLATED_MAX_CONCURRENT_PER_ISOLATE"}) {
      EXPECT_TRUE(contains(help->text, name)) << name << " missing from:\n" << help->text;
    }
    for (const char* flag : {"--listen", "--workers", "--max-body-size", "--log-format"}) {
      EXPECT_TRUE(contains(help->text, flag)) << flag;
    }
  }
}

TEST(ServeOptionsTest, HelpWinsOverBadValues) {
  auto result =
      parseServeOptions({"--help"}, envFrom({{"PERSISTENT_WORKER_POOL_SIZE", "x"}}), kCpus);
  EXPECT_TRUE(std::holds_alternative<HelpRequested>(result));
}

TEST(ServeOptionsTest, MissingScript) {
  EXPECT_TRUE(contains(parseError({}), "SCRIPT"));
  EXPECT_TRUE(contains(parseError({"--workers", "2"}), "SCRIPT"));
}

TEST(ServeOptionsTest, SecondScriptIsAnError) {
  std::string e = parseError({"a.js", "b.js"});
  EXPECT_TRUE(contains(e, "b.js")) << e;
}

TEST(ServeOptionsTest, UnknownFlag) {
  std::string e = parseError({"--wrokers", "2", "app.js"});
  EXPECT_TRUE(contains(e, "wrokers")) << e;
}

TEST(ServeOptionsTest, FlagWithoutValue) {
  std::string e = parseError({"app.js", "--workers"});
  EXPECT_TRUE(contains(e, "workers")) << e;
}

}  // namespace
}  // namespace isolated

namespace isolated {
namespace {

EnvList listFrom(std::vector<std::pair<std::string, std::string>> vars) {
  return [vars = std::move(vars)] { return vars; };
}

TEST(ServeOptionsTest, BindingsFromFlagsAndPrefixedVariables) {
  auto result = parseServeOptions(
      {"app.js", "--var", "A=1", "--var", "LIST=x,y", "--secret", "S=p=q"}, envFrom({}), kCpus,
      listFrom({{"ISOLATED_VAR_A", "from-env"},
                {"ISOLATED_VAR_B", "2"},
                {"ISOLATED_SECRET_T", "t"},
                {"OTHER", "o"}}));
  ASSERT_TRUE(std::holds_alternative<ServeConfig>(result));
  const BindingSources& b = std::get<ServeConfig>(result).bindings;
  std::string error;
  auto loaded = loadBindings(b, error);
  ASSERT_TRUE(loaded) << error;
  std::map<std::string, std::pair<std::string, bool>> byName;
  for (const auto& binding : *loaded)
    byName[binding.name] = {binding.value, binding.secret};
  // The flag wins over ISOLATED_VAR_A; commas stay inside a value.
  EXPECT_EQ(byName["A"], std::make_pair(std::string("1"), false));
  EXPECT_EQ(byName["B"], std::make_pair(std::string("2"), false));
  EXPECT_EQ(byName["LIST"], std::make_pair(std::string("x,y"), false));
  EXPECT_EQ(byName["S"], std::make_pair(std::string("p=q"), true));
  EXPECT_EQ(byName["T"], std::make_pair(std::string("t"), true));
  EXPECT_EQ(byName.size(), 5u);
}

TEST(ServeOptionsTest, CronFromFlagsOrVariable) {
  ServeConfig flags = parseOk({"app.js", "--cron", "*/5 * * * 1,3", "--cron", "@daily"},
                              {{"ISOLATED_CRON", "0 0 * * *"}});
  EXPECT_EQ(flags.crons, (std::vector<std::string>{"*/5 * * * 1,3", "@daily"}));
  ServeConfig env = parseOk({"app.js"}, {{"ISOLATED_CRON", " 0 0 * * * ; 30 2 1 * * ;"}});
  EXPECT_EQ(env.crons, (std::vector<std::string>{"0 0 * * *", "30 2 1 * *"}));
  EXPECT_EQ(parseError({"app.js", "--cron", "* * * 13 *"}),
            "--cron: month field '13': 13 is out of range 1-12");
}

TEST(ServeOptionsTest, MaxConcurrentPerIsolateIsTheWorkerQueueSize) {
  EXPECT_EQ(parseOk({"app.js", "--max-concurrent-per-isolate", "2"}).workerQueueSize, 2u);
  EXPECT_EQ(parseOk({"app.js"}, {{"ISOLATED_MAX_CONCURRENT_PER_ISOLATE", "7"}}).workerQueueSize,
            7u);
  EXPECT_EQ(parseOk({"app.js", "--max-concurrent-per-isolate", "5", "--worker-queue-size", "5"})
                .workerQueueSize,
            5u);
  EXPECT_EQ(parseError({"app.js", "--max-concurrent-per-isolate", "2"},
                       {{"WORKER_TASK_QUEUE_SIZE", "50"}}),
            "--max-concurrent-per-isolate (2) contradicts WORKER_TASK_QUEUE_SIZE (for "
            "--worker-queue-size) (50): they are the same setting");
  EXPECT_TRUE(contains(parseError({"app.js", "--max-concurrent-per-isolate", "0"}),
                       "--max-concurrent-per-isolate: expected a whole number from 1"));
}

TEST(ServeOptionsFetchTest, FetchFlagsAndVariables) {
  ServeConfig defaults = parseOk({"app.js"});
  EXPECT_TRUE(defaults.fetchDeny.empty());
  EXPECT_EQ(defaults.maxSubrequests, 50u);
  EXPECT_EQ(defaults.fetchConnectTimeoutMs, 10000u);
  EXPECT_EQ(defaults.fetchCaFile, "");

  ServeConfig c = parseOk({"app.js", "--fetch-deny", "127.0.0.0/8,::1", "--max-subrequests", "3"},
                          {{"ISOLATED_FETCH_CONNECT_TIMEOUT_MS", "250"}});
  ASSERT_EQ(c.fetchDeny.ranges().size(), 2u);
  EXPECT_EQ(c.fetchDeny.ranges()[0].text, "127.0.0.0/8");
  EXPECT_EQ(c.fetchDeny.ranges()[1].text, "::1");
  EXPECT_EQ(c.maxSubrequests, 3u);
  EXPECT_EQ(c.fetchConnectTimeoutMs, 250u);

  ServeConfig fromEnv = parseOk({"app.js"}, {{"ISOLATED_FETCH_DENY", "10.0.0.0/8"}});
  ASSERT_EQ(fromEnv.fetchDeny.ranges().size(), 1u);
}

TEST(ServeOptionsFetchTest, BadFetchValuesNameTheFlag) {
  std::string deny = parseError({"app.js", "--fetch-deny", "10.0.0.0/40"});
  EXPECT_TRUE(contains(deny, "--fetch-deny")) << deny;
  EXPECT_TRUE(contains(deny, "'10.0.0.0/40'")) << deny;
  std::string env = parseError({"app.js"}, {{"ISOLATED_FETCH_DENY", "nope"}});
  EXPECT_TRUE(contains(env, "ISOLATED_FETCH_DENY")) << env;
  std::string ca = parseError({"app.js", "--fetch-ca-file", "/nonexistent/ca.pem"});
  EXPECT_TRUE(contains(ca, "--fetch-ca-file")) << ca;
  std::string limit = parseError({"app.js", "--max-subrequests", "-1"});
  EXPECT_TRUE(contains(limit, "--max-subrequests")) << limit;
}

TEST(ServeOptionsTest, TenancyDefaults) {
  ServeConfig c = parseOk({"app.js"});
  EXPECT_EQ(c.maxIsolates, 1000u);
  EXPECT_EQ(c.isolateIdleTimeoutSec, 300u);
  EXPECT_TRUE(c.metricsPerApp);
  EXPECT_TRUE(c.configPath.empty());
}

TEST(ServeOptionsTest, TenancyFlagsAndVariables) {
  ServeConfig c = parseOk({"app.js", "--max-isolates", "50", "--isolate-idle-timeout", "0",
                           "--metrics-per-app", "off"});
  EXPECT_EQ(c.maxIsolates, 50u);
  EXPECT_EQ(c.isolateIdleTimeoutSec, 0u);
  EXPECT_FALSE(c.metricsPerApp);
  c = parseOk({"app.js"}, {{"ISOLATED_MAX_ISOLATES", "7"},
                           {"ISOLATED_ISOLATE_IDLE_TIMEOUT_S", "60"},
                           {"ISOLATED_METRICS_PER_APP", "off"}});
  EXPECT_EQ(c.maxIsolates, 7u);
  EXPECT_EQ(c.isolateIdleTimeoutSec, 60u);
  EXPECT_FALSE(c.metricsPerApp);
  EXPECT_TRUE(contains(parseError({"app.js", "--max-isolates", "0"}), "--max-isolates"));
  EXPECT_TRUE(contains(parseError({"app.js"}, {{"ISOLATED_ISOLATE_IDLE_TIMEOUT_S", "-1"}}),
                       "ISOLATED_ISOLATE_IDLE_TIMEOUT_S"));
  EXPECT_TRUE(contains(parseError({"app.js", "--metrics-per-app", "maybe"}),
                       "--metrics-per-app: expected on or off"));
  auto result = parseServeOptions({"--help"}, envFrom({}), kCpus);
  auto* help = std::get_if<HelpRequested>(&result);
  ASSERT_NE(help, nullptr);
  for (const char* text :
       {"--config", "--max-isolates", "ISOLATED_MAX_ISOLATES", "--isolate-idle-timeout",
        "ISOLATED_ISOLATE_IDLE_TIMEOUT_S", "--metrics-per-app", "ISOLATED_METRICS_PER_APP"}) {
    EXPECT_TRUE(contains(help->text, text)) << text;
  }
}

TEST(ServeOptionsTest, WaitUntilTimeoutFlagAndVariable) {
  EXPECT_EQ(parseOk({"app.js"}).waitUntilTimeoutSec, 30u);
  EXPECT_EQ(parseOk({"app.js", "--wait-until-timeout", "5"}).waitUntilTimeoutSec, 5u);
  EXPECT_EQ(parseOk({"app.js"}, {{"ISOLATED_WAIT_UNTIL_TIMEOUT_S", "120"}}).waitUntilTimeoutSec,
            120u);
  EXPECT_TRUE(
      contains(parseError({"app.js", "--wait-until-timeout", "0"}), "--wait-until-timeout"));
  EXPECT_TRUE(
      contains(parseError({"app.js", "--wait-until-timeout", "86401"}), "--wait-until-timeout"));
  auto result = parseServeOptions({"--help"}, envFrom({}), kCpus);
  auto* help = std::get_if<HelpRequested>(&result);
  ASSERT_NE(help, nullptr);
  EXPECT_TRUE(contains(help->text, "ISOLATED_WAIT_UNTIL_TIMEOUT_S"));
}

TEST(ServeOptionsTest, SingleScriptIsOneAppOnEveryRoute) {
  ServeConfig c = parseOk({"/srv/site/worker.js", "--var", "A=1", "--secret", "S=x", "--cron",
                           "@hourly", "--cpu-limit", "20"});
  ASSERT_EQ(c.apps.size(), 1u);
  const AppConfig& app = c.apps[0];
  EXPECT_EQ(app.name, "worker");
  EXPECT_EQ(app.scriptPath, "/srv/site/worker.js");
  EXPECT_EQ(app.routes, std::vector<std::string>{"*/*"});
  EXPECT_EQ(app.bindings, c.bindings);
  EXPECT_EQ(app.bindings.vars.size(), 1u);
  EXPECT_EQ(app.bindings.secrets.size(), 1u);
  EXPECT_EQ(app.crons, std::vector<std::string>{"@hourly"});
  // The server's limits apply: the app overrides none.
  EXPECT_EQ(c.cpuLimitMs, 20u);
  EXPECT_FALSE(app.cpuLimitMs.has_value());
  EXPECT_FALSE(app.heapLimitMb.has_value());
  EXPECT_FALSE(app.wallLimitMs.has_value());
  EXPECT_FALSE(app.isolation.has_value());
  EXPECT_EQ(app.maxConcurrent, 0u);
  EXPECT_FALSE(app.dedicatedWorkers);
  EXPECT_TRUE(isAppName(app.name));
}

TEST(ServeOptionsTest, SingleScriptAppNameIsSanitized) {
  const std::pair<const char*, const char*> cases[] = {
      {"app.js", "app"},          {"my.worker.mjs", "my-worker"},
      {"_private.js", "private"}, {"héllo wörld.js", "h--llo-w--rld"},
      {"....js", "app"},          {"Service_Worker-2.js", "Service_Worker-2"},
  };
  for (auto [script, name] : cases) {
    ServeConfig c = parseOk({script});
    ASSERT_EQ(c.apps.size(), 1u) << script;
    EXPECT_EQ(c.apps[0].name, name) << script;
    EXPECT_TRUE(isAppName(c.apps[0].name)) << script;
  }
  ServeConfig longName = parseOk({std::string(100, 'x') + ".js"});
  EXPECT_EQ(longName.apps[0].name, std::string(63, 'x'));
}

// --config: the file's [server] keys sit below flags and variables, above the defaults.
class ServeConfigFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.write("apps/hello/index.js", "export default { fetch() { return new Response('hi') } }");
  }
  std::string write(const std::string& server) {
    return dir_.write("isolated.toml", server + R"(
[[app]]
name = "hello"
script = "apps/hello/index.js"
routes = ["*/*"]
)");
  }
  TempDir dir_;
};

TEST_F(ServeConfigFileTest, AppsAndServerKeys) {
  std::string path = write(R"([server]
listen = "127.0.0.1:0"
workers = 3
max_isolates = 500
isolate_idle_timeout = 30
metrics_per_app = false
access_log = true
admin_listen = "127.0.0.1:9090"
fetch_deny = ["10.0.0.0/8"]
control_socket = "ctl.sock"
cpu_limit = 25
isolation = "context"
)");
  ServeConfig c = parseOk({"--config", path});
  EXPECT_EQ(c.configPath, path);
  EXPECT_TRUE(c.scriptPath.empty());
  EXPECT_TRUE(c.scriptName.empty());
  ASSERT_EQ(c.apps.size(), 1u);
  EXPECT_EQ(c.apps[0].name, "hello");
  EXPECT_EQ(c.apps[0].scriptPath, (dir_.path() / "apps/hello/index.js").string());
  EXPECT_EQ(c.listenPort, 0);
  EXPECT_EQ(c.workers, 3u);
  EXPECT_EQ(c.maxIsolates, 500u);
  EXPECT_EQ(c.isolateIdleTimeoutSec, 30u);
  EXPECT_FALSE(c.metricsPerApp);
  EXPECT_TRUE(c.accessLog);
  EXPECT_EQ(c.adminPort, 9090);
  EXPECT_EQ(c.controlSocketPath, (dir_.path() / "ctl.sock").string());
  EXPECT_EQ(c.cpuLimitMs, 25u);
  EXPECT_EQ(c.isolation, IsolationMode::kContext);
}

TEST_F(ServeConfigFileTest, FlagThenVariableThenFileThenDefault) {
  std::string path = write("[server]\nworkers = 3\nqueue_size = 5\n");
  EXPECT_EQ(parseOk({"--config", path}).workers, 3u);
  EXPECT_EQ(parseOk({"--config", path}, {{"PERSISTENT_WORKER_POOL_SIZE", "5"}}).workers, 5u);
  EXPECT_EQ(
      parseOk({"--config", path, "--workers", "7"}, {{"PERSISTENT_WORKER_POOL_SIZE", "5"}}).workers,
      7u);
  // Keys the file does not set keep their defaults.
  EXPECT_EQ(parseOk({"--config", path}).drainTimeoutSec, 30u);
  // A flag wins over a bad file value.
  std::string bad = write("[server]\nworkers = 0\n");
  EXPECT_EQ(parseOk({"--config", bad, "--workers", "2"}).workers, 2u);
}

TEST_F(ServeConfigFileTest, BadFileValueNamesFileLineAndKey) {
  std::string path = write("# comment\n[server]\nworkers = 0\n");
  EXPECT_EQ(parseError({"--config", path}),
            path + ":3: [server]: key \"workers\": expected a whole number from 1 to 256, got '0'");
  path = write("[server]\nlisten = \"nowhere\"\n");
  EXPECT_TRUE(contains(parseError({"--config", path}), path + ":2: [server]: key \"listen\""));
  path = write("[server]\nmemory_threshold = 100\nmemory_hard_threshold = 50\n");
  EXPECT_TRUE(contains(parseError({"--config", path}), "must exceed"));
  path = write("[server]\nscript = \"x.js\"\n");
  EXPECT_EQ(parseError({"--config", path}),
            path + ":2: [server]: key \"script\" is unknown here: it belongs in an [[app]] table");
  path = write("[server]\nwrkers = 2\n");
  EXPECT_EQ(parseError({"--config", path}), path + ":2: [server]: key \"wrkers\" is unknown");
  path = write("[server]\nvar = \"A=1\"\n");
  EXPECT_TRUE(contains(parseError({"--config", path}), "belongs in an [[app]] table"));
  EXPECT_TRUE(
      contains(parseError({"--config", (dir_.path() / "none.toml").string()}), "cannot read"));
}

TEST_F(ServeConfigFileTest, ScriptAndConfigAreExclusive) {
  std::string path = write("");
  EXPECT_TRUE(contains(parseError({"app.js", "--config", path}), "mutually exclusive"));
  EXPECT_TRUE(contains(parseError({}), "missing SCRIPT"));
  EXPECT_TRUE(contains(parseError({}), "--config FILE"));
}

TEST_F(ServeConfigFileTest, SingleScriptSettingsAreRefusedWithAConfig) {
  std::string path = write("");
  for (const auto& flag : {std::vector<std::string>{"--var", "A=1"},
                           {"--secret", "S=x"},
                           {"--cron", "@daily"},
                           {"--vars-file", "v.json"},
                           {"--secrets-file", "s.json"}}) {
    std::vector<std::string> args{"--config", path};
    args.insert(args.end(), flag.begin(), flag.end());
    std::string e = parseError(args);
    EXPECT_TRUE(contains(e, flag[0] + " describes the app of a single SCRIPT")) << e;
  }
  EXPECT_TRUE(contains(parseError({"--config", path}, {{"ISOLATED_CRON", "@daily"}}),
                       "ISOLATED_CRON describes"));
  EXPECT_TRUE(contains(parseError({"--config", path}, {{"ISOLATED_VARS_FILE", "v.json"}}),
                       "ISOLATED_VARS_FILE describes"));
  auto result = parseServeOptions({"--config", path}, envFrom({}), kCpus, [] {
    return std::vector<std::pair<std::string, std::string>>{{"ISOLATED_VAR_X", "1"}};
  });
  auto* error = std::get_if<OptionsError>(&result);
  ASSERT_NE(error, nullptr);
  EXPECT_TRUE(contains(error->message, "ISOLATED_VAR_X describes")) << error->message;
}

TEST_F(ServeConfigFileTest, RelativeConfigPathBecomesAbsolute) {
  write("");
  auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir_.path());
  auto result = parseServeOptions({"--config", "isolated.toml"}, envFrom({}), kCpus);
  std::filesystem::current_path(cwd);
  ASSERT_TRUE(std::holds_alternative<ServeConfig>(result));
  EXPECT_EQ(std::get<ServeConfig>(result).configPath, (dir_.path() / "isolated.toml").string());
}

TEST_F(ServeConfigFileTest, ReloadReadsTheSameWay) {
  std::string path = write("[server]\nworkers = 2\n");
  auto read = readServeConfigFile(path);
  ASSERT_TRUE(std::holds_alternative<ConfigFile>(read));
  EXPECT_EQ(std::get<ConfigFile>(read).apps.size(), 1u);
  path = write("[server]\nwrkers = 2\n");
  read = readServeConfigFile(path);
  ASSERT_TRUE(std::holds_alternative<OptionsError>(read));
  EXPECT_TRUE(contains(std::get<OptionsError>(read).message, "key \"wrkers\" is unknown"));
}

// ---- the app registry (docs/registry.md) ----

constexpr const char* kRegistryUrl = "postgresql://isolated@/postgres?host=/tmp/pg";

TEST(ServeRegistryOptionsTest, ARegistryAloneIsAServer) {
  ServeConfig c = parseOk({"--registry", kRegistryUrl});
  EXPECT_EQ(c.registryUrl, kRegistryUrl);
  EXPECT_TRUE(c.apps.empty());
  EXPECT_TRUE(c.configPath.empty());
  ServeConfig fromEnv = parseOk({}, {{"ISOLATED_REGISTRY", "postgres://db/apps"},
                                     {"ISOLATED_REGISTRY_KEY", "/etc/isolated/registry.key"}});
  EXPECT_EQ(fromEnv.registryUrl, "postgres://db/apps");
  EXPECT_EQ(fromEnv.registryKeyFile, "/etc/isolated/registry.key");
}

TEST(ServeRegistryOptionsTest, BadCombinationsAreRefused) {
  TempDir dir;
  std::string script = dir.write("app.js", "export default {}");
  EXPECT_TRUE(contains(parseError({script, "--registry", kRegistryUrl}), "not with SCRIPT"));
  std::string error = parseError({"--registry", "mysql://user:hunter2@db/x"});
  EXPECT_TRUE(contains(error, "expected a postgres:// or postgresql:// URL")) << error;
  EXPECT_FALSE(contains(error, "hunter2")) << "a URL may hold a password: " << error;
  EXPECT_TRUE(contains(parseError({"--config",
                                   dir.write("c.toml",
                                             "[[app]]\nname = \"a\"\n"
                                             "script = \"app.js\"\n"
                                             "routes = [\"*/*\"]\n"),
                                   "--registry-key", "/k"}),
                       "a registry key needs --registry"));
  EXPECT_TRUE(contains(parseError({"--registry", kRegistryUrl, "--var", "A=1"}),
                       "--var describes the app of a single SCRIPT"));
  EXPECT_TRUE(contains(parseError({}), "--registry URL"));
}

TEST_F(ServeConfigFileTest, AConfigNamingARegistryMayHaveNoApps) {
  std::string path =
      dir_.write("server.toml", std::string("[server]\nregistry = \"") + kRegistryUrl +
                                    "\"\nregistry_key = \"keys/registry.key\"\n");
  ServeConfig c = parseOk({"--config", path});
  EXPECT_TRUE(c.apps.empty());
  EXPECT_EQ(c.registryUrl, kRegistryUrl);
  EXPECT_EQ(c.registryKeyFile, (dir_.path() / "keys/registry.key").string());
  // Without a registry, a file still needs an app.
  path = dir_.write("empty.toml", "[server]\nworkers = 2\n");
  EXPECT_TRUE(contains(parseError({"--config", path}), "no [[app]] table"));
}

TEST(ServeOptionsExampleTest, PlatformExampleReads) {
  ServeConfig c = parseOk({"--config", ISOLATED_EXAMPLES "/platform.toml"});
  ASSERT_EQ(c.apps.size(), 3u);
  EXPECT_EQ(c.apps[0].name, "hello");
  EXPECT_EQ(c.apps[1].name, "api");
  EXPECT_EQ(c.apps[2].name, "ticker");
  EXPECT_EQ(c.apps[1].bindings.jsonVars.size(), 2u);
  EXPECT_EQ(c.apps[2].crons, std::vector<std::string>{"* * * * *"});
  EXPECT_EQ(c.maxIsolates, 100u);
  for (const auto& app : c.apps)
    EXPECT_TRUE(std::filesystem::exists(app.scriptPath)) << app.scriptPath;
}

}  // namespace
}  // namespace isolated

namespace isolated {
namespace {

// The front's protections (issue 12, defect 1): timeouts and the connection cap, each as a flag,
// a variable and a [server] key.
TEST(ServeOptionsTest, FrontTimeoutsAndConnectionCap) {
  ServeConfig defaults = parseOk({"app.js"});
  EXPECT_EQ(defaults.headerTimeoutMs, 10000u);
  EXPECT_EQ(defaults.idleTimeoutMs, 60000u);
  EXPECT_EQ(defaults.bodyTimeoutMs, 30000u);
  EXPECT_EQ(defaults.maxConnections, 0u);
  EXPECT_EQ(defaults.ioThreads, 1u);
  ServeConfig flags =
      parseOk({"app.js", "--header-timeout", "3", "--idle-timeout", "4", "--body-timeout", "5",
               "--max-connections", "600", "--io-threads", "3"});
  EXPECT_EQ(flags.ioThreads, 3u);
  EXPECT_EQ(flags.headerTimeoutMs, 3000u);
  EXPECT_EQ(flags.idleTimeoutMs, 4000u);
  EXPECT_EQ(flags.bodyTimeoutMs, 5000u);
  EXPECT_EQ(flags.maxConnections, 600u);
  ServeConfig env = parseOk({"app.js"}, {{"ISOLATED_HEADER_TIMEOUT", "6"},
                                         {"ISOLATED_IDLE_TIMEOUT", "7"},
                                         {"ISOLATED_BODY_TIMEOUT", "8"},
                                         {"ISOLATED_MAX_CONNECTIONS", "9"},
                                         {"ISOLATED_IO_THREADS", "2"}});
  EXPECT_EQ(env.ioThreads, 2u);
  EXPECT_EQ(env.headerTimeoutMs, 6000u);
  EXPECT_EQ(env.idleTimeoutMs, 7000u);
  EXPECT_EQ(env.bodyTimeoutMs, 8000u);
  EXPECT_EQ(env.maxConnections, 9u);
  auto error = parseServeOptions({"app.js", "--header-timeout", "0"}, envFrom({}), kCpus);
  ASSERT_TRUE(std::holds_alternative<OptionsError>(error));
  EXPECT_NE(std::get<OptionsError>(error).message.find("--header-timeout"), std::string::npos);
  for (const char* bad : {"0", "65", "two"}) {
    auto refused = parseServeOptions({"app.js", "--io-threads", bad}, envFrom({}), kCpus);
    ASSERT_TRUE(std::holds_alternative<OptionsError>(refused)) << bad;
    EXPECT_NE(std::get<OptionsError>(refused).message.find("--io-threads"), std::string::npos)
        << std::get<OptionsError>(refused).message;
  }
}

TEST_F(ServeConfigFileTest, FrontKeys) {
  std::string path = write(R"([server]
header_timeout = 2
idle_timeout = 3
body_timeout = 4
max_connections = 100
io_threads = 4
)");
  ServeConfig c = parseOk({"--config", path});
  EXPECT_EQ(c.ioThreads, 4u);
  EXPECT_EQ(c.headerTimeoutMs, 2000u);
  EXPECT_EQ(c.idleTimeoutMs, 3000u);
  EXPECT_EQ(c.bodyTimeoutMs, 4000u);
  EXPECT_EQ(c.maxConnections, 100u);
}

}  // namespace
}  // namespace isolated
