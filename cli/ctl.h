// `isolated ctl`: the operator's client for the control socket (docs/control-protocol.md).
// Parsing and request building are pure and unit-tested; runCtl does the I/O.
//
// Exit codes: 0 the server said ok, 1 it said "ok":false (the error goes to stderr), 2 a usage
// error, 3 the server could not be reached or did not answer (connect, send, read, 10 s timeout,
// or an unparsable reply).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "cli/ctl_deploy.h"
#include "cli/serve_options.h"

namespace isolated {

constexpr int kCtlExitOk = 0;
constexpr int kCtlExitFailed = 1;
constexpr int kCtlExitUsage = 2;
constexpr int kCtlExitUnreachable = 3;

struct CtlOptions {
  std::string socketPath;
  bool json = false;
  // status, workers, metrics, reload, restart, drain, resume, scale or top.
  std::string command;
  // The worker id for `restart`, the pool size for `scale`.
  std::optional<uint64_t> argument;
  // `trigger-cron` only: the cron expression (empty: every configured schedule).
  std::string cron;
  // `trigger-cron` (on a server with several apps), `deploy` and `undeploy`: the app.
  std::string app;
  // `deploy` only: the script (made absolute), routes, NAME=VALUE variables, a secrets file.
  std::string script;
  std::vector<std::string> routes;
  std::vector<std::string> vars;
  std::string secretsFile;
  // `deploy` only: storage and service bindings (--kv, --database, --storage, --service).
  DeployBindingFlags bindings;
  // `deploy` and `undeploy`: the server writes the change into its config file (--save).
  bool save = false;
  // `top` only: refreshes before exiting; 0 means until SIGINT or SIGTERM.
  uint64_t iterations = 0;
};

struct CtlUsageError {
  std::string message;
};
struct CtlHelp {
  std::string text;
};

// The socket path when neither --socket nor ISOLATED_CONTROL_SOCKET is given: as root
// /run/isolated/isolated.sock, otherwise $XDG_RUNTIME_DIR/isolated.sock, falling back to
// /tmp/isolated-$UID/isolated.sock. The same rule as `isolated serve --control-socket`.
std::string defaultControlSocketPath(const EnvLookup& env, uid_t uid);

// `args` are the arguments after `ctl`.
std::variant<CtlOptions, CtlUsageError, CtlHelp> parseCtlOptions(
    const std::vector<std::string>& args, const EnvLookup& env, uid_t uid);

// How long runCtl waits for the reply: a deploy waits for the new version to load.
std::chrono::seconds ctlReplyTimeout(const CtlOptions& options);

// The request line for a command other than `top` (which sends status and workers).
std::string ctlRequestLine(const CtlOptions& options);

int runCtl(const std::vector<std::string>& args);

}  // namespace isolated
