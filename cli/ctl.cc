// `isolated ctl`: option parsing, request lines, one exchange per command, and `top`.
#include "cli/ctl.h"

#include <cxxopts.hpp>
#include <nlohmann/json.hpp>

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <iostream>
#include <set>

#include "cli/ctl_client.h"
#include "cli/ctl_render.h"
#include "common/syscall.h"
#include "common/unique_fd.h"

namespace isolated {

namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr auto kReplyTimeout = 10s;
constexpr auto kTopInterval = 1s;

constexpr const char* kCommandsHelp =
    "Commands:\n"
    "  status      server state, uptime, requests and responses, restarts by reason\n"
    "  workers     one row per worker: memory, event-loop lag, health, restarts, last exit,\n"
    "              isolates\n"
    "  apps        one row per app: version, routes, workers, isolates, requests, 5xx, cold\n"
    "              starts, evictions, p50/p99 latency, CPU\n"
    "  deploy NAME SCRIPT [--route P]... [--var K=V]... [--secrets-file F]\n"
    "         [--kv N=URL]... [--database N=URL]... [--storage N=URL]... [--service N=APP]...\n"
    "              add app NAME or a new version of it; the script loads in one worker before\n"
    "              it serves, a script that fails to load is refused (exit 1) and the old\n"
    "              version keeps serving. A new version keeps the routes, environment,\n"
    "              limits and bindings it does not change: any --kv replaces all the app's KV\n"
    "              bindings, any --database its databases, any --storage its storage, any\n"
    "              --service its service bindings; a kind not named is kept. Relative paths\n"
    "              are relative to this directory. A bad binding is refused (exit 1)\n"
    "  undeploy NAME\n"
    "              take app NAME out of service; its requests in flight finish\n"
    "  deploy and undeploy are runtime only unless given --save: then the server writes the\n"
    "  app's [[app]] table into its --config file once the change has taken effect (refused\n"
    "  without a config file, with a registry, or when the file was edited since the server\n"
    "  read it)\n"
    "  metrics     the Prometheus text exposition\n"
    "  reload      like SIGHUP: with one script, a rolling reload, one worker at a time; with\n"
    "              --config, re-read the file and redeploy only the apps that changed\n"
    "  restart ID  gracefully recycle worker ID (its replacement is ready first)\n"
    "  drain       stop accepting requests and finish those in flight; keep running\n"
    "  resume      accept requests again after drain\n"
    "  scale N     set the pool size to N workers (1..256)\n"
    "  top         the workers table, refreshed every second until Ctrl-C\n"
    "  trigger-cron [EXPR] [--app NAME]\n"
    "              run the scheduled handler now for EXPR (default: every --cron schedule);\n"
    "              the outcome is in the server's log. --app names the app on a server with\n"
    "              several\n"
    "\n"
    "Exit status: 0 ok, 1 the server refused the command, 2 usage error, 3 the server could\n"
    "not be reached or did not answer within 10 s.\n";

const std::set<std::string> kCommands = {"status",  "workers",  "apps",        "metrics", "reload",
                                         "restart", "drain",    "resume",      "scale",   "top",
                                         "deploy",  "undeploy", "trigger-cron"};

// A deploy replies when the new version has loaded in a worker.
constexpr auto kDeployReplyTimeout = 120s;

std::optional<uint64_t> parseCount(const std::string& text) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// The server resolves nothing relative to ctl's directory: paths go absolute.
std::string absolutePath(const std::string& path) {
  if (path.empty() || path.front() == '/') return path;
  char cwd[4096];
  if (::getcwd(cwd, sizeof cwd) == nullptr) return path;
  return std::string(cwd) + "/" + path;
}

int usageError(const std::string& message) {
  std::cerr << "isolated ctl: " << message << "\nTry 'isolated ctl --help'.\n";
  return kCtlExitUsage;
}

int failure(const std::string& message, int code) {
  std::cerr << "isolated ctl: " << message << "\n";
  return code;
}

// A reply line parsed into an object with a boolean "ok"; nullopt (and `error`) otherwise.
std::optional<json> parseReply(const std::string& line, const std::string& path,
                               std::string& error) {
  json reply = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (reply.is_discarded() || !reply.is_object() || !reply.contains("ok") ||
      !reply["ok"].is_boolean()) {
    error = "unexpected reply from " + path + ": " + line.substr(0, 200);
    return std::nullopt;
  }
  return reply;
}

std::string replyError(const json& reply) {
  auto it = reply.find("error");
  if (it != reply.end() && it->is_string()) return it->get<std::string>();
  return "the server refused the command (no error given)";
}

// Writes `text` to stdout; false when stdout is gone (a closed pipe).
bool emit(const std::string& text) {
  std::cout << text;
  std::cout.flush();
  return static_cast<bool>(std::cout);
}

int runOnce(const CtlOptions& options) {
  std::string error;
  auto client = ControlClient::tryConnect(options.socketPath, kReplyTimeout, error);
  if (!client) return failure(error, kCtlExitUnreachable);
  auto line = client->tryExchange(ctlRequestLine(options), ctlReplyTimeout(options), error);
  if (!line) return failure(error, kCtlExitUnreachable);
  auto reply = parseReply(*line, options.socketPath, error);
  if (!reply) return failure(error, kCtlExitUnreachable);

  if (!(*reply)["ok"].get<bool>()) {
    if (options.json) emit(*line + "\n");
    return failure(replyError(*reply), kCtlExitFailed);
  }
  if (options.command == "metrics") {
    auto text = reply->find("text");
    if (text == reply->end() || !text->is_string()) {
      return failure("metrics reply from " + options.socketPath + " has no text",
                     kCtlExitUnreachable);
    }
    emit(text->get<std::string>());
  } else if (options.json) {
    emit(*line + "\n");
  } else if (options.command == "status") {
    emit(renderStatus(*reply));
  } else if (options.command == "workers") {
    emit(renderWorkers(*reply));
  } else if (options.command == "apps") {
    emit(renderApps(*reply));
  } else {
    auto message = reply->find("message");
    emit((message != reply->end() && message->is_string() ? message->get<std::string>() : "ok") +
         "\n");
  }
  return kCtlExitOk;
}

// SIGINT and SIGTERM as a readable descriptor, so that `top` waits for "a second passed or we
// were asked to stop" with one poll and no signal-handler globals. The signals stay blocked for
// the rest of the process, which ends right after `top`.
class StopSignals {
 public:
  StopSignals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    ::sigprocmask(SIG_BLOCK, &set, nullptr);
    fd_.reset(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
    // Without the descriptor, let the signals end the process as usual rather than never.
    if (!fd_) ::sigprocmask(SIG_UNBLOCK, &set, nullptr);
  }
  // Waits up to `timeout`; true when a stop signal arrived.
  bool waitFor(std::chrono::milliseconds timeout) const {
    if (!fd_) return false;
    pollfd p{fd_.get(), POLLIN, 0};
    long r = trySyscall([&] { return ::poll(&p, 1, static_cast<int>(timeout.count())); });
    return r > 0;
  }

 private:
  UniqueFd fd_;
};

int runTop(const CtlOptions& options) {
  StopSignals stop;
  const bool tty = ::isatty(STDOUT_FILENO) == 1;
  std::optional<ControlClient> client;
  std::string error;

  // One exchange on the kept connection; a connection the server closed (idle limit, restart)
  // is re-opened once before giving up.
  struct Exchange {
    std::string line;
    json reply;
  };
  auto exchange = [&](const std::string& request) -> std::optional<Exchange> {
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (!client) client = ControlClient::tryConnect(options.socketPath, kReplyTimeout, error);
      if (!client) return std::nullopt;
      if (auto line = client->tryExchange(request, kReplyTimeout, error)) {
        auto reply = parseReply(*line, options.socketPath, error);
        if (!reply) return std::nullopt;
        return Exchange{std::move(*line), std::move(*reply)};
      }
      client.reset();
    }
    return std::nullopt;
  };

  for (uint64_t iteration = 1;; ++iteration) {
    auto status = exchange(R"({"cmd":"status"})");
    if (!status) return failure(error, kCtlExitUnreachable);
    if (!status->reply["ok"].get<bool>()) return failure(replyError(status->reply), kCtlExitFailed);
    auto workers = exchange(R"({"cmd":"workers"})");
    if (!workers) return failure(error, kCtlExitUnreachable);
    if (!workers->reply["ok"].get<bool>()) {
      return failure(replyError(workers->reply), kCtlExitFailed);
    }

    // --json: one workers reply per line and refresh, for piping into jq.
    if (options.json && !emit(workers->line + "\n")) return kCtlExitOk;
    if (!options.json) {
      std::string frame = tty ? "\033[H\033[2J" : (iteration > 1 ? "\n" : "");
      frame += renderTopSummary(status->reply) + "\n" + renderWorkers(workers->reply);
      if (tty) frame += "\nrefreshing every second; Ctrl-C to quit\n";
      if (!emit(frame)) return kCtlExitOk;
    }
    if (options.iterations != 0 && iteration >= options.iterations) break;
    if (stop.waitFor(kTopInterval)) break;
  }
  return kCtlExitOk;
}

}  // namespace

std::string defaultControlSocketPath(const EnvLookup& env, uid_t uid) {
  if (uid == 0) return "/run/isolated/isolated.sock";
  if (auto runtime = env("XDG_RUNTIME_DIR"); runtime && !runtime->empty()) {
    return *runtime + "/isolated.sock";
  }
  return "/tmp/isolated-" + std::to_string(uid) + "/isolated.sock";
}

std::variant<CtlOptions, CtlUsageError, CtlHelp> parseCtlOptions(
    const std::vector<std::string>& args, const EnvLookup& env, uid_t uid) {
  cxxopts::Options spec("isolated ctl",
                        "Query and steer a running `isolated serve` through its "
                        "control socket.");
  spec.custom_help("[--socket PATH] [--json] COMMAND [ARG]");
  spec.positional_help("");
  spec.add_options()("socket",
                     "Control socket [env ISOLATED_CONTROL_SOCKET, default " +
                         defaultControlSocketPath(env, uid) + "]",
                     cxxopts::value<std::string>(), "PATH")(
      "json", "Print the server's reply as JSON (metrics stays Prometheus text)")(
      "iterations", "top: refresh N times, then exit (default: until Ctrl-C)",
      cxxopts::value<std::string>(),
      "N")("app", "trigger-cron: the app", cxxopts::value<std::string>(), "NAME")(
      "route", "deploy: a route pattern (repeatable)", cxxopts::value<std::vector<std::string>>(),
      "PATTERN")("var", "deploy: a variable NAME=VALUE (repeatable)", cxxopts::value<std::string>(),
                 "NAME=VALUE")("secrets-file", "deploy: a JSON file of secrets",
                               cxxopts::value<std::string>(), "FILE")(
      "save", "deploy, undeploy: write the change into the server's config file");
  auto adder = spec.add_options();
  addDeployBindingOptions(adder);
  adder("h,help", "Show this help")("command", "", cxxopts::value<std::string>())(
      "arguments", "", cxxopts::value<std::vector<std::string>>());
  spec.parse_positional({"command", "arguments"});

  std::vector<const char*> argv = {"isolated ctl"};
  for (const auto& a : args)
    argv.push_back(a.c_str());
  cxxopts::ParseResult result;
  try {
    result = spec.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const cxxopts::exceptions::exception& e) {
    return CtlUsageError{e.what()};
  }
  if (result.count("help")) return CtlHelp{spec.help() + "\n" + kCommandsHelp};

  CtlOptions options;
  options.json = result.count("json") > 0;
  if (result.count("socket")) {
    options.socketPath = result["socket"].as<std::string>();
  } else if (auto fromEnv = env("ISOLATED_CONTROL_SOCKET"); fromEnv && !fromEnv->empty()) {
    options.socketPath = *fromEnv;
  } else {
    options.socketPath = defaultControlSocketPath(env, uid);
  }
  if (options.socketPath.empty()) return CtlUsageError{"--socket: expected a path"};

  if (!result.count("command")) return CtlUsageError{"missing command"};
  options.command = result["command"].as<std::string>();
  if (!kCommands.contains(options.command)) {
    return CtlUsageError{"unknown command '" + options.command + "'"};
  }
  std::vector<std::string> rest;
  if (result.count("arguments")) rest = result["arguments"].as<std::vector<std::string>>();

  const bool takesArgument = options.command == "restart" || options.command == "scale";
  const char* argName = options.command == "restart" ? "a worker id" : "a number of workers";
  if (takesArgument) {
    if (rest.empty()) return CtlUsageError{options.command + ": expected " + argName};
    options.argument = parseCount(rest.front());
    if (!options.argument) {
      return CtlUsageError{options.command + ": expected " + argName + ", got '" + rest.front() +
                           "'"};
    }
    rest.erase(rest.begin());
  }
  if (options.command == "trigger-cron") {
    // The expression is the rest of the raw arguments: the parsed positionals were split on
    // commas, which cron lists use.
    auto at = std::find(args.begin(), args.end(), "trigger-cron");
    for (auto it = at == args.end() ? at : at + 1; it != args.end(); ++it) {
      if (it->starts_with("--")) break;
      options.cron += (options.cron.empty() ? "" : " ") + *it;
    }
    rest.clear();
  }
  if (result.count("app")) {
    if (options.command != "trigger-cron")
      return CtlUsageError{"--app applies to trigger-cron only"};
    options.app = result["app"].as<std::string>();
  }
  const bool deploying = options.command == "deploy";
  if (!deploying && (result.count("route") || result.count("var") || result.count("secrets-file") ||
                     deployBindingFlags(result).any())) {
    return CtlUsageError{
        "--route, --var, --secrets-file, --kv, --database, --storage and --service apply to "
        "deploy only"};
  }
  if (result.count("save")) {
    if (!deploying && options.command != "undeploy") {
      return CtlUsageError{"--save applies to deploy and undeploy only"};
    }
    options.save = true;
  }
  if (deploying || options.command == "undeploy") {
    size_t wanted = deploying ? 2 : 1;
    if (rest.size() < wanted) {
      return CtlUsageError{options.command + ": expected " +
                           (deploying ? "NAME SCRIPT" : std::string("NAME"))};
    }
    options.app = rest[0];
    if (deploying) {
      options.script = absolutePath(rest[1]);
      if (result.count("route")) options.routes = result["route"].as<std::vector<std::string>>();
      // Every --var as given: a value may hold commas, which a vector option would split at.
      for (const auto& argument : result.arguments()) {
        if (argument.key() == "var") options.vars.push_back(argument.value());
      }
      options.bindings = deployBindingFlags(result);
      if (result.count("secrets-file")) {
        options.secretsFile = absolutePath(result["secrets-file"].as<std::string>());
      }
    }
    rest.erase(rest.begin(), rest.begin() + static_cast<long>(wanted));
  }
  if (!rest.empty()) {
    return CtlUsageError{options.command + ": unexpected argument '" + rest.front() + "'"};
  }

  if (result.count("iterations")) {
    if (options.command != "top") return CtlUsageError{"--iterations applies to top only"};
    auto n = parseCount(result["iterations"].as<std::string>());
    if (!n || *n == 0) {
      return CtlUsageError{"--iterations: expected a positive number, got '" +
                           result["iterations"].as<std::string>() + "'"};
    }
    options.iterations = *n;
  }
  return options;
}

std::string ctlRequestLine(const CtlOptions& options) {
  json request = {{"cmd", options.command}};
  if (options.command == "restart") request["id"] = options.argument.value_or(0);
  if (options.command == "scale") request["workers"] = options.argument.value_or(0);
  if (options.command == "trigger-cron" && !options.cron.empty()) request["cron"] = options.cron;
  if (!options.app.empty()) {
    request[options.command == "trigger-cron" ? "app" : "name"] = options.app;
  }
  if (options.command == "deploy") {
    request["script"] = options.script;
    if (!options.routes.empty()) request["routes"] = options.routes;
    if (!options.vars.empty()) request["vars"] = options.vars;
    if (!options.secretsFile.empty()) request["secrets_file"] = options.secretsFile;
    addDeployBindings(options.bindings, request);
  }
  if (options.save) request["save"] = true;
  return request.dump();
}

std::chrono::seconds ctlReplyTimeout(const CtlOptions& options) {
  // With a registry (docs/registry.md), an undeploy is written to PostgreSQL first.
  return options.command == "deploy" || options.command == "undeploy" ? kDeployReplyTimeout
                                                                      : kReplyTimeout;
}

int runCtl(const std::vector<std::string>& args) {
  auto parsed = parseCtlOptions(args, processEnv(), ::geteuid());
  if (auto* help = std::get_if<CtlHelp>(&parsed)) {
    std::cout << help->text;
    return kCtlExitOk;
  }
  if (auto* error = std::get_if<CtlUsageError>(&parsed)) return usageError(error->message);
  const auto& options = std::get<CtlOptions>(parsed);
  return options.command == "top" ? runTop(options) : runOnce(options);
}

}  // namespace isolated
