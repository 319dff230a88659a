// Worker process entry: parse the hidden-mode arguments, bring up V8 once, load the script,
// announce readiness and run the event loop.
#include "worker/worker_main.h"

#include <fcntl.h>
#include <unistd.h>

#include <capnp/message.h>
#include <cxxopts.hpp>

#include <chrono>
#include <csignal>

#include "common/event_handles.h"
#include "common/isolation_mode.h"
#include "common/logger.h"
#include "common/read_file.h"
#include "common/version.h"
#include "ipc/channel.h"
#include "sandbox/seccomp_filter.h"
#include "worker/cpu_watchdog.h"
#include "worker/isolate_host.h"
#include "worker/platform_task_pump.h"
#include "worker/snapshot_sources.h"
#include "worker/startup_snapshot.h"
#include "worker/v8_runtime.h"
#include "worker/worker_loop.h"

namespace isolated::worker {

namespace {

struct WorkerArgs {
  std::string scriptPath;
  std::string scriptName;
  size_t heapLimitBytes = 128u << 20;
  uint32_t cpuLimitMs = 50;
  IsolationMode isolation = IsolationMode::kShared;
  LogLevel logLevel = LogLevel::kInfo;
  LogFormat logFormat = LogFormat::kText;
  // Off: no startup snapshot at all (measurements, or a V8 that rejects the blob).
  bool builtinsSnapshot = true;
  // A snapshot of the script on top of the built-ins, made by `isolated __snapshot-script`.
  std::string scriptSnapshotPath;
  // The seccomp allow-list once V8 is up (sandbox/seccomp_filter.h).
  bool seccomp = false;
};

std::optional<WorkerArgs> parseWorkerArgs(const std::vector<std::string>& args,
                                          std::string& error) {
  cxxopts::Options options("isolated __worker", "internal worker mode");
  options.add_options()("script", "", cxxopts::value<std::string>())("script-name", "",
                                                                     cxxopts::value<std::string>())(
      "heap-limit-mb", "", cxxopts::value<size_t>()->default_value("128"))(
      "cpu-limit-ms", "", cxxopts::value<uint32_t>()->default_value("50"))(
      "isolation", "", cxxopts::value<std::string>()->default_value("shared"))(
      "log-level", "", cxxopts::value<std::string>()->default_value("info"))(
      "log-format", "", cxxopts::value<std::string>()->default_value("text"))(
      "no-builtins-snapshot", "")("script-snapshot", "", cxxopts::value<std::string>())("seccomp",
                                                                                        "");
  std::vector<const char*> argv{"isolated __worker"};
  for (const auto& a : args)
    argv.push_back(a.c_str());
  try {
    auto result = options.parse(static_cast<int>(argv.size()), argv.data());
    WorkerArgs parsed;
    parsed.scriptPath = result["script"].as<std::string>();
    parsed.scriptName =
        result.count("script-name") ? result["script-name"].as<std::string>() : parsed.scriptPath;
    parsed.heapLimitBytes = result["heap-limit-mb"].as<size_t>() << 20;
    parsed.cpuLimitMs = result["cpu-limit-ms"].as<uint32_t>();
    auto isolation = parseIsolationMode(result["isolation"].as<std::string>());
    if (!isolation) {
      error = "--isolation must be shared, context or isolate";
      return std::nullopt;
    }
    parsed.isolation = *isolation;
    if (parsed.cpuLimitMs == 0 || parsed.heapLimitBytes == 0) {
      error = "--cpu-limit-ms and --heap-limit-mb must be positive";
      return std::nullopt;
    }
    parsed.logLevel =
        parseLogLevel(result["log-level"].as<std::string>()).value_or(LogLevel::kInfo);
    parsed.logFormat =
        parseLogFormat(result["log-format"].as<std::string>()).value_or(LogFormat::kText);
    parsed.builtinsSnapshot = result.count("no-builtins-snapshot") == 0;
    parsed.seccomp = result.count("seccomp") != 0;
    if (result.count("script-snapshot")) {
      parsed.scriptSnapshotPath = result["script-snapshot"].as<std::string>();
    }
    return parsed;
  } catch (const std::exception& e) {
    error = e.what();
    return std::nullopt;
  }
}

// Writes out whatever is queued before the process exits, so that a LoadError or the last
// responses of a drain reach the supervisor.
void flush(event_base* base, ipc::Channel& channel) {
  while (channel.open() && channel.pendingOutputBytes() > 0) {
    if (event_base_loop(base, EVLOOP_ONCE) < 0) break;
  }
}

}  // namespace

std::unique_ptr<StartupSnapshot> loadStartupSnapshot(const std::string& scriptSnapshotPath,
                                                     Logger& logger) {
  std::string whyNot;
  if (!scriptSnapshotPath.empty()) {
    std::string readError;
    auto manifest = readFile(scriptSnapshotPath + ".sources", readError);
    if (!manifest) {
      logger.warn("worker: script snapshot unusable, evaluating the script instead",
                  {{"error", readError}});
    } else if (!sourcesUnchanged(*manifest, whyNot)) {
      // The script was edited since the pool's snapshot: serve the files as they are now, as a
      // worker without the snapshot would; the next reload snapshots them.
      logger.info("worker: script snapshot is stale, evaluating the script", {{"reason", whyNot}});
    } else if (auto snapshot = StartupSnapshot::mapFile(scriptSnapshotPath, whyNot)) {
      return snapshot;
    } else {
      logger.warn("worker: script snapshot unusable, evaluating the script instead",
                  {{"error", whyNot}});
    }
  }
  auto snapshot = StartupSnapshot::builtIn(whyNot);
  if (!snapshot) {
    logger.warn("worker: built-ins snapshot unusable, evaluating the runtime in every context",
                {{"error", whyNot}});
  }
  return snapshot;
}

int workerMain(const char* argv0, const std::vector<std::string>& args) {
  auto started = std::chrono::steady_clock::now();
  // The supervisor orchestrates shutdown; a terminal's Ctrl-C or a group-wide SIGTERM must not
  // kill requests in flight. The worker ends on Shutdown or when its channel closes.
  std::signal(SIGINT, SIG_IGN);
  std::signal(SIGTERM, SIG_IGN);
  std::signal(SIGHUP, SIG_IGN);
  std::signal(SIGPIPE, SIG_IGN);

  std::string error;
  auto parsed = parseWorkerArgs(args, error);
  Logger logger(parsed ? parsed->logLevel : LogLevel::kInfo,
                parsed ? parsed->logFormat : LogFormat::kText);
  if (!parsed) {
    logger.error("worker: bad arguments", {{"error", error}});
    return 2;
  }
  if (fcntl(kChannelFd, F_GETFD) < 0) {
    logger.error("worker: fd 3 is not open; this mode is started by `isolated serve` only");
    return 2;
  }

  V8Runtime v8(argv0);
  std::unique_ptr<StartupSnapshot> snapshot;
  if (parsed->builtinsSnapshot) {
    snapshot = loadStartupSnapshot(parsed->scriptSnapshotPath, logger);
  }
  // Precise timers (timerfd) so that setTimeout(fn, 5) fires after 5 ms, not after epoll's
  // millisecond rounding on top of it.
  EventBasePtr base = makeEventBase(EVENT_BASE_FLAG_PRECISE_TIMER);
  WorkerLoop loop(base.get(), logger);
  ipc::Channel channel(base.get(), UniqueFd(kChannelFd), ipc::FrameLimits{}, loop);
  // Constructed here, on the thread that runs JavaScript: it measures this thread's CPU time.
  CpuWatchdog watchdog;
  HostOptions hostOptions;
  hostOptions.scriptPath = parsed->scriptPath;
  hostOptions.heapLimitBytes = parsed->heapLimitBytes;
  hostOptions.cpuLimit = std::chrono::milliseconds(parsed->cpuLimitMs);
  hostOptions.isolation = parsed->isolation;
  hostOptions.snapshot = snapshot.get();
  IsolateHost host(base.get(), loop, watchdog, std::move(hostOptions));
  loop.attach(channel, host);
  PlatformTaskPump platformTasks(base.get(), v8.platform(),
                                 [&] { host.runPlatformTasks(v8.platform().defaultPlatform()); });
  host.setBackgroundIdleCallback([&loop] { loop.exitIfDrained(); });
  // V8, its threads and the first isolate are up: from here on the worker needs only its
  // channel, memory, clocks and read-only files.
  if (parsed->seccomp) {
    if (auto sandboxError = sandbox::installWorkerSeccomp(parsed->logFormat)) {
      logger.error("worker: cannot install the sandbox", {{"error", *sandboxError}});
      return 1;
    }
  }

  // The supervisor's first message is Configure, the script's environment: it must be in place
  // before the script's top level runs.
  while (!loop.configured() && channel.open()) {
    if (event_base_loop(base.get(), EVLOOP_ONCE) < 0) break;
  }
  if (!loop.configured()) return 1;
  host.setBindings(loop.takeBindings());

  capnp::MallocMessageBuilder first;
  auto envelope = first.initRoot<ipc::Envelope>();
  if (auto loadError = host.load()) {
    auto message = envelope.initLoadError();
    message.setFile(loadError->file);
    message.setLine(loadError->line);
    message.setMessage(loadError->message);
    channel.send(first);
    flush(base.get(), channel);
    return 1;
  }
  auto hello = envelope.initHello();
  hello.setPid(static_cast<uint32_t>(getpid()));
  hello.setVersion(kVersion);
  hello.setScriptName(parsed->scriptName);
  hello.setStartupMs(
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
          .count());
  channel.send(first);

  event_base_dispatch(base.get());
  flush(base.get(), channel);
  // A host that could not rebuild its script after a limit breach stopped the loop.
  return host.failed() ? 1 : 0;
}

}  // namespace isolated::worker
