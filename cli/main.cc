// The `isolated` command: parses the subcommand and wires the parts together. `serve` runs a
// supervisor; the hidden `__worker` mode is what the supervisor execs for each worker.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "cli/ctl.h"
#include "cli/serve_options.h"
#include "common/event_handles.h"
#include "common/logger.h"
#include "common/read_file.h"
#include "common/syscall.h"
#include "common/version.h"
#include "sandbox/prepare.h"
#include "sandbox/selftest.h"
#include "supervisor/registry/registry_boot.h"
#include "supervisor/supervisor.h"
#include "worker/script_snapshot_main.h"
#include "worker/startup_bench.h"
#include "worker/test_runner.h"
#include "worker/worker_main.h"

namespace {

constexpr const char* kUsage =
    "Usage:\n"
    "  isolated serve SCRIPT [OPTIONS]   serve a Workers-style handler (see serve --help)\n"
    "  isolated ctl COMMAND [ARG]        query or steer a running server (see ctl --help)\n"
    "  isolated test FILE.js...          run the exported test functions of each file\n"
    "  isolated --version                print the version\n"
    "  isolated --help                   print this help\n";

std::string selfExecutable() {
  char path[4096];
  ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) return {};
  return std::string(path, static_cast<size_t>(n));
}

// Overwrites secret values in this process's own argument and environment memory, which
// /proc/PID/cmdline and /proc/PID/environ show, and removes ISOLATED_SECRET_* from the
// environment the workers inherit. The parsed copies are all the server needs from here on.
// (Until this runs, right after exec, the command line is visible: --secrets-file avoids that.)
void scrubSecrets(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    char* value = nullptr;
    if (std::strcmp(argv[i], "--secret") == 0 && i + 1 < argc) {
      value = argv[++i];
    } else if (std::strncmp(argv[i], "--secret=", 9) == 0) {
      value = argv[i] + 9;
    }
    if (value == nullptr) continue;
    char* eq = std::strchr(value, '=');
    char* from = eq != nullptr ? eq + 1 : value;
    std::memset(from, '*', std::strlen(from));
  }
  const size_t prefixLength = std::strlen(isolated::kSecretEnvPrefix);
  std::vector<std::string> names;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    if (std::strncmp(*e, isolated::kSecretEnvPrefix, prefixLength) != 0) continue;
    if (char* eq = std::strchr(*e, '='); eq != nullptr) {
      names.emplace_back(*e, static_cast<size_t>(eq - *e));
      std::memset(eq + 1, '*', std::strlen(eq + 1));
    }
  }
  for (const auto& name : names)
    unsetenv(name.c_str());
}

int serve(const std::vector<std::string>& args, int argc, char** argv) {
  unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
  auto parsed =
      isolated::parseServeOptions(args, isolated::processEnv(), cpus, isolated::processEnvList());
  scrubSecrets(argc, argv);
  if (auto* help = std::get_if<isolated::HelpRequested>(&parsed)) {
    std::cout << help->text;
    return 0;
  }
  if (auto* error = std::get_if<isolated::OptionsError>(&parsed)) {
    std::cerr << "isolated serve: " << error->message << "\nTry 'isolated serve --help'.\n";
    return 2;
  }
  auto& config = std::get<isolated::ServeConfig>(parsed);
  // Logging must never stall the event loop: when stderr is a pipe or socket (journald, a log
  // shipper), make it non-blocking so a backed-up reader costs dropped, counted lines instead.
  struct stat st {};
  if (fstat(2, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))) {
    fcntl(2, F_SETFL, fcntl(2, F_GETFL) | O_NONBLOCK);
  }
  isolated::Logger logger(config.logLevel, config.logFormat);

  // The registry's apps join the config's (docs/registry.md): read once, before the loop runs.
  if (!config.registryUrl.empty()) {
    auto merged = isolated::registry::mergeRegistryApps(config, logger);
    if (auto* error = std::get_if<std::string>(&merged)) {
      logger.error("cannot start", {{"error", *error}});
      return 1;
    }
  }
  // Fail fast on an unreadable script, before any worker is spawned. A registry app's files
  // came with it.
  for (const auto& app : config.apps) {
    if (!app.modules.empty()) continue;
    std::string readError;
    if (!isolated::readFile(app.scriptPath, readError)) {
      logger.error("cannot start", {{"app", app.name}, {"error", readError}});
      return 1;
    }
  }
  std::string self = selfExecutable();
  if (self.empty()) {
    logger.error("cannot start", {{"error", "cannot resolve /proc/self/exe"}});
    return 1;
  }
  if (auto sandboxError = isolated::sandbox::prepareWorkerSandbox(config, self, logger)) {
    logger.error("cannot start", {{"error", *sandboxError}});
    return 1;
  }
  std::vector<std::string> workerCommand{self, "__worker"};
  if (config.sandbox) workerCommand.push_back("--seccomp");

  // A client that disconnects must never kill the supervisor through SIGPIPE.
  ::signal(SIGPIPE, SIG_IGN);
  // The epoll changelist folds the interest changes one loop iteration makes on an fd into one
  // epoll_ctl (the admin listener's evhttp re-arms a connection for reading and writing when it
  // answers; the request path's connections stay registered and add write interest only while
  // a send would block). libevent's caveat for the flag is fds shared through
  // dup(); the supervisor never dups a watched fd, and every fd it opens is close-on-exec, so its
  // children cannot hold one either once they have exec'd.
  isolated::EventBasePtr base = isolated::makeEventBase(EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
  if (!base) {
    logger.error("cannot start", {{"error", "cannot create the event loop"}});
    return 1;
  }
  try {
    // SIGHUP with --config reads the file again with the same flags and environment.
    auto readConfig = [args, cpus]() -> std::variant<isolated::ServeConfig, std::string> {
      auto again = isolated::parseServeOptions(args, isolated::processEnv(), cpus,
                                               isolated::processEnvList());
      if (auto* error = std::get_if<isolated::OptionsError>(&again)) return error->message;
      if (auto* next = std::get_if<isolated::ServeConfig>(&again)) return std::move(*next);
      return std::string("unexpected help request");
    };
    isolated::supervisor::Supervisor supervisor(base.get(), config, workerCommand, logger,
                                                {self, "__snapshot-script"}, readConfig);
    return supervisor.run();
  } catch (const std::exception& e) {
    logger.error("cannot start", {{"error", e.what()}});
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string command = args.front();
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (command == "__worker") return isolated::worker::workerMain(argv[0], rest);
  if (command == "__snapshot-script") return isolated::worker::scriptSnapshotMain(argv[0], rest);
  if (command == "__sandbox-selftest") return isolated::sandbox::selftestMain(rest);
  if (command == "__bench-startup") return isolated::worker::benchStartupMain(argv[0], rest);
  if (command == "serve") return serve(rest, argc, argv);
  if (command == "ctl") return isolated::runCtl(rest);
  if (command == "test") return isolated::worker::testMain(argv[0], rest);
  if (command == "--version" || command == "version") {
    std::cout << "isolated " << isolated::kVersion << "\n";
    return 0;
  }
  if (command == "--help" || command == "-h" || command == "help") {
    std::cout << kUsage;
    return 0;
  }
  std::cerr << "isolated: unknown command '" << command << "'\n" << kUsage;
  return 2;
}
