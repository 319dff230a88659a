// ControlCommands: the control socket's commands (see the header).
#include "supervisor/control_commands.h"

#include <vector>

#include "supervisor/status_json.h"

namespace isolated::supervisor {

namespace {

nlohmann::json fail(const std::string& error) {
  return nlohmann::json{{"ok", false}, {"error", error}};
}

nlohmann::json done(const std::string& message) {
  return nlohmann::json{{"ok", true}, {"message", message}};
}

std::string text(const nlohmann::json& request, const char* key) {
  return request.contains(key) && request[key].is_string() ? request[key].get<std::string>()
                                                           : std::string();
}

}  // namespace

ControlCommands::ControlCommands(const ServeConfig& config, OperatorActions& actions,
                                 AppRegistry& apps, AppLifecycle& lifecycle,
                                 DeployCommands& deploys)
    : config_(config), actions_(actions), apps_(apps), lifecycle_(lifecycle), deploys_(deploys) {}

std::optional<nlohmann::json> ControlCommands::handleControl(const nlohmann::json& request,
                                                             const ControlResponder& respond) {
  const std::string cmd = request["cmd"].get<std::string>();
  auto number = [&](const char* key) -> std::optional<uint64_t> {
    if (!request.contains(key) || !request[key].is_number_unsigned()) return std::nullopt;
    return request[key].get<uint64_t>();
  };
  if (cmd == "status") return nlohmann::json{{"ok", true}, {"status", toJson(actions_.snapshot())}};
  if (cmd == "workers") {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& w : actions_.snapshot().workerList)
      rows.push_back(toJson(w));
    return nlohmann::json{{"ok", true}, {"workers", rows}};
  }
  if (cmd == "apps") {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& app : actions_.snapshot().apps)
      rows.push_back(toJson(app));
    return nlohmann::json{{"ok", true}, {"apps", rows}};
  }
  if (cmd == "metrics") return nlohmann::json{{"ok", true}, {"text", actions_.metricsText()}};
  if (cmd == "reload") {
    size_t workers = actions_.activeWorkers();
    std::string why;
    if (!actions_.beginReload(&why)) return fail("cannot reload now: " + why);
    if (!config_.configPath.empty()) {
      return done("re-read " + config_.configPath + "; changed apps are deploying" +
                  (why.empty() ? "" : " (" + why + ", see the log)"));
    }
    return done("reloading " + std::to_string(workers) + " workers one at a time");
  }
  if (cmd == "deploy") return deploys_.deploy(request, respond);
  if (cmd == "undeploy") return deploys_.undeploy(request, respond);
  if (cmd == "restart") {
    auto id = number("id");
    if (!id) return fail("restart needs \"id\": a worker id (see `isolated ctl workers`)");
    if (!actions_.recycleWorker(static_cast<uint32_t>(*id), "manual")) {
      return fail("no serving worker with id " + std::to_string(*id));
    }
    return done("recycling worker " + std::to_string(*id));
  }
  if (cmd == "drain") {
    auto message = actions_.pause();
    return message ? done(*message) : fail("cannot drain: the server is not serving");
  }
  if (cmd == "resume") {
    auto message = actions_.resume();
    return message ? done(*message)
                   : fail("cannot resume: not drained by `drain`, or the address is taken");
  }
  if (cmd == "scale") {
    auto n = number("workers");
    if (!n || *n < 1 || *n > 256) return fail("scale needs \"workers\": a number from 1 to 256");
    if (!actions_.serving()) return fail("cannot scale: the server is not serving");
    actions_.scale(static_cast<uint32_t>(*n));
    return done("scaling to " + std::to_string(*n) + " workers");
  }
  if (cmd == "trigger-cron") return triggerCron(request);
  return fail("unknown command '" + cmd +
              "': expected status, workers, apps, metrics, reload, deploy, undeploy, restart, "
              "drain, resume, scale or trigger-cron");
}

std::optional<nlohmann::json> ControlCommands::triggerCron(const nlohmann::json& request) {
  std::string appName = text(request, "app");
  App* app = appName.empty() ? lifecycle_.singleApp() : apps_.find(appName);
  if (app == nullptr) {
    return fail(appName.empty() ? "trigger-cron needs \"app\": the server has several apps"
                                : "trigger-cron: no app named '" + appName + "'");
  }
  std::vector<std::string> expressions;
  if (std::string cron = text(request, "cron"); !cron.empty()) {
    expressions.push_back(cron);
  } else {
    for (const auto& entry : app->crons)
      expressions.push_back(entry.schedule.expression());
  }
  if (expressions.empty()) {
    return fail("trigger-cron needs \"cron\": no --cron schedule is configured");
  }
  for (const auto& expression : expressions) {
    if (auto error = actions_.triggerScheduled(app->config.name, expression)) {
      return fail("trigger-cron: " + *error);
    }
  }
  return done("triggered the scheduled handler for " +
              (expressions.size() == 1 ? "'" + expressions.front() + "'"
                                       : std::to_string(expressions.size()) + " schedules") +
              "; its outcome is logged");
}

}  // namespace isolated::supervisor
