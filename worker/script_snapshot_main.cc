// The script snapshot helper process: see script_snapshot_main.h.
#include "worker/script_snapshot_main.h"

#include <fcntl.h>
#include <unistd.h>

#include <cxxopts.hpp>

#include <chrono>
#include <csignal>
#include <cstring>

#include "common/logger.h"
#include "common/unique_fd.h"
#include "worker/snapshot_builder.h"
#include "worker/snapshot_sources.h"
#include "worker/v8_runtime.h"

namespace isolated::worker {

namespace {

// The same budget as a worker's start-up (HostOptions::startupCpuLimit).
constexpr std::chrono::milliseconds kCpuLimit{2000};

// Writes `blob` to a new file `path`, readable by this user only. False with `error` set.
bool writeNewFile(const std::string& path, const std::string& blob, std::string& error) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) {
    error = "cannot create " + path + ": " + std::strerror(errno);
    return false;
  }
  size_t done = 0;
  while (done < blob.size()) {
    ssize_t n = ::write(fd.get(), blob.data() + done, blob.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = "cannot write " + path + ": " + std::strerror(errno);
      ::unlink(path.c_str());
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

int scriptSnapshotMain(const char* argv0, const std::vector<std::string>& args) {
  auto started = std::chrono::steady_clock::now();
  // Like a worker, it ends when the supervisor says so (SIGKILL), not on a terminal's signals.
  std::signal(SIGINT, SIG_IGN);
  std::signal(SIGTERM, SIG_IGN);
  std::signal(SIGHUP, SIG_IGN);

  cxxopts::Options options("isolated __snapshot-script", "internal snapshot helper");
  options.add_options()("script", "", cxxopts::value<std::string>())(
      "out", "", cxxopts::value<std::string>())("with-bindings", "")(
      "log-level", "", cxxopts::value<std::string>()->default_value("info"))(
      "log-format", "", cxxopts::value<std::string>()->default_value("text"));
  std::vector<const char*> argv{"isolated __snapshot-script"};
  for (const auto& a : args)
    argv.push_back(a.c_str());
  std::string script, out, level = "info", format = "text";
  bool withBindings = false;
  try {
    auto result = options.parse(static_cast<int>(argv.size()), argv.data());
    script = result["script"].as<std::string>();
    out = result["out"].as<std::string>();
    level = result["log-level"].as<std::string>();
    format = result["log-format"].as<std::string>();
    withBindings = result.count("with-bindings") > 0;
  } catch (const std::exception& e) {
    Logger(LogLevel::kInfo, LogFormat::kText)
        .error("snapshot helper: bad arguments", {{"error", e.what()}});
    return 2;
  }
  Logger logger(parseLogLevel(level).value_or(LogLevel::kInfo),
                parseLogFormat(format).value_or(LogFormat::kText));

  V8Runtime v8(argv0);
  std::string whyNot;
  auto builtins = StartupSnapshot::builtIn(whyNot);
  if (!builtins) {
    logger.warn("script snapshot off: no built-ins snapshot to build it on", {{"error", whyNot}});
    return kNoScriptSnapshot;
  }
  // Constructed on this thread, which runs the script: it measures this thread's CPU time.
  CpuWatchdog watchdog;
  ScriptSnapshot snapshot =
      buildScriptSnapshot(*builtins, script, watchdog, kCpuLimit, withBindings);
  if (snapshot.error) {
    // The workers load the script the ordinary way and report the error precisely.
    logger.debug("script snapshot skipped: the script does not load",
                 {{"error", snapshot.error->message}});
    return kNoScriptSnapshot;
  }
  if (!snapshot.unsafe.empty()) {
    logger.info("script snapshot off: every new context evaluates the script",
                {{"script", script}, {"reason", snapshot.unsafe}});
    return kNoScriptSnapshot;
  }
  std::string error;
  if (!writeNewFile(out + ".sources", describeSources(snapshot.sources), error) ||
      !writeNewFile(out, snapshot.blob, error)) {
    logger.warn("script snapshot off", {{"error", error}});
    return 1;
  }
  logger.info("script snapshot ready", {{"script", script},
                                        {"bytes", snapshot.blob.size()},
                                        {"build_ms", std::chrono::duration<double, std::milli>(
                                                         std::chrono::steady_clock::now() - started)
                                                         .count()}});
  return 0;
}

}  // namespace isolated::worker
