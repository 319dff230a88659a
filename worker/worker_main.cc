// Worker process entry: parse the hidden-mode arguments, bring up V8 once, wait for Configure,
// say Hello and serve the apps the supervisor loads until Shutdown.
#include "worker/worker_main.h"

#include <fcntl.h>
#include <unistd.h>

#include <capnp/message.h>
#include <cxxopts.hpp>

#include <chrono>
#include <csignal>

#include "common/event_handles.h"
#include "common/logger.h"
#include "common/read_file.h"
#include "common/version.h"
#include "ipc/channel.h"
#include "sandbox/seccomp_filter.h"
#include "worker/cpu_watchdog.h"
#include "worker/isolate_registry.h"
#include "worker/platform_task_pump.h"
#include "worker/snapshot_sources.h"
#include "worker/startup_snapshot.h"
#include "worker/v8_runtime.h"
#include "worker/worker_loop.h"

namespace isolated::worker {

namespace {

struct WorkerArgs {
  LogLevel logLevel = LogLevel::kInfo;
  LogFormat logFormat = LogFormat::kText;
  // Off: no startup snapshot at all (measurements, or a V8 that rejects the blob).
  bool builtinsSnapshot = true;
  // Apps as contexts of one isolate (worker/isolate_registry.h, RegistryOptions).
  bool sharedIsolate = false;
  size_t sharedHeapLimitBytes = 1024u << 20;
  // The seccomp allow-list once V8 is up (sandbox/seccomp_filter.h).
  bool seccomp = false;
  // RegistryOptions::releaseAfter; tests shorten it.
  size_t releaseIdleAfterMs = 10000;
};

// Apps, their scripts and limits arrive over the channel (LoadApp); the command line only sets
// up logging, the snapshot and the opt-in shared isolate.
std::optional<WorkerArgs> parseWorkerArgs(const std::vector<std::string>& args,
                                          std::string& error) {
  cxxopts::Options options("isolated __worker", "internal worker mode");
  options.add_options()("log-level", "", cxxopts::value<std::string>()->default_value("info"))(
      "log-format", "", cxxopts::value<std::string>()->default_value("text"))(
      "no-builtins-snapshot", "")("shared-isolate", "")(
      "shared-isolate-heap-mb", "", cxxopts::value<size_t>()->default_value("1024"))("seccomp", "")(
      "release-idle-after-ms", "", cxxopts::value<size_t>()->default_value("10000"));
  std::vector<const char*> argv{"isolated __worker"};
  for (const auto& a : args)
    argv.push_back(a.c_str());
  try {
    auto result = options.parse(static_cast<int>(argv.size()), argv.data());
    if (!result.unmatched().empty()) {
      error = "unexpected argument " + result.unmatched().front();
      return std::nullopt;
    }
    WorkerArgs parsed;
    parsed.logLevel =
        parseLogLevel(result["log-level"].as<std::string>()).value_or(LogLevel::kInfo);
    parsed.logFormat =
        parseLogFormat(result["log-format"].as<std::string>()).value_or(LogFormat::kText);
    parsed.builtinsSnapshot = result.count("no-builtins-snapshot") == 0;
    parsed.seccomp = result.count("seccomp") != 0;
    parsed.sharedIsolate = result.count("shared-isolate") != 0;
    parsed.sharedHeapLimitBytes = result["shared-isolate-heap-mb"].as<size_t>() << 20;
    parsed.releaseIdleAfterMs = result["release-idle-after-ms"].as<size_t>();
    if (parsed.sharedHeapLimitBytes == 0) {
      error = "--shared-isolate-heap-mb must be positive";
      return std::nullopt;
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
  if (parsed->builtinsSnapshot) snapshot = loadStartupSnapshot("", logger);
  // Precise timers (timerfd) so that setTimeout(fn, 5) fires after 5 ms, not after epoll's
  // millisecond rounding on top of it.
  EventBasePtr base = makeEventBase(EVENT_BASE_FLAG_PRECISE_TIMER);
  WorkerLoop loop(base.get(), logger, started);
  ipc::Channel channel(base.get(), UniqueFd(kChannelFd), ipc::FrameLimits{}, loop);
  // Constructed here, on the thread that runs JavaScript: it measures this thread's CPU time.
  CpuWatchdog watchdog;
  RegistryOptions registryOptions;
  registryOptions.builtins = snapshot.get();
  registryOptions.platform = &v8.platform().defaultPlatform();
  registryOptions.sharedIsolate = parsed->sharedIsolate;
  registryOptions.sharedHeapLimitBytes = parsed->sharedHeapLimitBytes;
  registryOptions.releaseAfter = std::chrono::milliseconds(parsed->releaseIdleAfterMs);
  IsolateRegistry registry(base.get(), loop, watchdog, logger, registryOptions);
  loop.attach(channel, registry);
  PlatformTaskPump platformTasks(base.get(), v8.platform(),
                                 [&] { registry.runPlatformTasks(v8.platform()); });
  registry.setWorkEndedCallback([&loop] { loop.exitIfDrained(); });
  // V8, its threads and the first isolate are up: from here on the worker needs only its
  // channel, memory, clocks and read-only files.
  if (parsed->seccomp) {
    if (auto sandboxError = sandbox::installWorkerSeccomp(parsed->logFormat)) {
      logger.error("worker: cannot install the sandbox", {{"error", *sandboxError}});
      return 1;
    }
  }

  // Configure comes first; the loop answers it with Hello (or refuses another protocol
  // version), then serves apps until Shutdown or until the channel closes.
  event_base_dispatch(base.get());
  flush(base.get(), channel);
  return loop.configured() ? 0 : 1;
}

}  // namespace isolated::worker
