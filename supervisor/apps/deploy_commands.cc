// DeployCommands: `ctl deploy` and `ctl undeploy`, and their --save (see the header).
#include "supervisor/apps/deploy_commands.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "supervisor/apps/deploy_request.h"

namespace isolated::supervisor {

namespace {

nlohmann::json failure(const std::string& error) {
  return nlohmann::json{{"ok", false}, {"error", error}};
}

}  // namespace

DeployCommands::DeployCommands(const ServeConfig& config, Logger& logger, AppRegistry& apps,
                               AppLifecycle& lifecycle)
    : config_(config), logger_(logger), apps_(apps), lifecycle_(lifecycle) {
  if (!config.configPath.empty()) saver_.emplace(config.configPath, config.configText);
}

void DeployCommands::configRead(std::string text) {
  if (saver_) saver_->read(std::move(text));
}

std::optional<nlohmann::json> DeployCommands::deploy(const nlohmann::json& request,
                                                     const ControlResponder& respond) {
  const App* existing = request.contains("name") && request["name"].is_string()
                            ? apps_.find(request["name"].get<std::string>())
                            : nullptr;
  auto parsed = deployRequestConfig(request, existing != nullptr ? &existing->config : nullptr,
                                    [this](const std::string& name) {
                                      const App* app = apps_.find(name);
                                      return app != nullptr && !app->removed;
                                    });
  if (auto* error = std::get_if<std::string>(&parsed)) return failure(*error);
  AppConfig app = std::move(std::get<AppConfig>(parsed));
  if (::access(app.scriptPath.c_str(), R_OK) != 0) {
    return failure("deploy: cannot read " + app.scriptPath + ": " + std::strerror(errno));
  }
  std::string name = app.name;
  bool save = request.contains("save") && request["save"] == true;
  if (save) {
    if (auto refused = refuseSave(name)) return failure(*refused + "; nothing was deployed");
  }
  const registry::RegistrySync* registry = lifecycle_.registry();
  bool runtimeOnly = !config_.configPath.empty() && registry == nullptr;
  std::string registryWhere = registry != nullptr ? registry->where() : std::string();
  auto error = lifecycle_.deploy(
      std::move(app), [this, respond, name, save, runtimeOnly, registryWhere,
                       path = config_.configPath](const std::optional<std::string>& refused) {
        if (refused) {
          respond(failure("deploy of '" + name + "' refused: " + *refused));
          return;
        }
        std::string message = "deployed '" + name + "'";
        if (save) {
          // The version serves: only now is it written (a refused deploy writes nothing).
          auto saved = saveDeployed(name);
          if (auto* refusal = std::get_if<nlohmann::json>(&saved)) return respond(*refusal);
          message += std::get<std::string>(saved);
        } else if (runtimeOnly) {
          message += "; runtime only (not saved; use --save): " + path + " is unchanged";
        }
        if (!registryWhere.empty()) {
          message += "; written to the registry at " + registryWhere +
                     ": every server sharing it applies it";
        }
        respond({{"ok", true}, {"message", message}});
      });
  if (error) return failure("deploy: " + *error);
  // With a registry, the version is written there once it has loaded, before it serves.
  if (registry != nullptr) lifecycle_.markForRegistry(name);
  return std::nullopt;
}

std::optional<nlohmann::json> DeployCommands::undeploy(const nlohmann::json& request,
                                                       const ControlResponder& respond) {
  std::string name = request.contains("name") && request["name"].is_string()
                         ? request["name"].get<std::string>()
                         : std::string();
  if (name.empty())
    return failure("undeploy needs \"name\": an app name (see `isolated ctl apps`)");
  bool save = request.contains("save") && request["save"] == true;
  if (save) return undeployLocal(name, true);
  if (const registry::RegistrySync* registry = lifecycle_.registry()) {
    // Undeploying while a version is being written would leave the registry holding it.
    if (lifecycle_.publishing(name)) {
      return failure("undeploy: a version of '" + name +
                     "' is being written to the registry; try again once its deploy has "
                     "answered");
    }
    if (registry->holds(name)) {
      undeployFromRegistry(name, respond);
      return std::nullopt;
    }
  }
  return undeployLocal(name, false);
}

std::optional<std::string> DeployCommands::refuseSave(const std::string& name) const {
  if (const registry::RegistrySync* registry = lifecycle_.registry()) {
    return "--save: the apps of this server are kept in the registry at " + registry->where() +
           ", which is the source of truth (a deploy is written there already); there is no "
           "file to save to";
  }
  if (!saver_) {
    return "--save: the server does not run from a config file (serve --config FILE): there is "
           "nothing to save to";
  }
  if (auto error = saver_->check(name)) return "--save: " + *error;
  return std::nullopt;
}

std::variant<std::string, nlohmann::json> DeployCommands::saveDeployed(const std::string& name) {
  const App* app = apps_.find(name);
  auto notSaved = [&](const std::string& why) {
    logger_.error("deploy not saved",
                  {{"app", name}, {"config", config_.configPath}, {"error", why}});
    return failure("deployed '" + name + "' (it serves now) but not saved to " +
                   config_.configPath + ": " + why);
  };
  if (app == nullptr || !saver_) return notSaved("the app is gone");
  auto pending = saver_->prepareSave(app->config);
  if (auto* error = std::get_if<std::string>(&pending)) return notSaved(*error);
  if (auto error = saver_->commit(std::get<PendingSave>(pending))) return notSaved(*error);
  logger_.info("deploy saved", {{"app", name}, {"config", config_.configPath}});
  return "; saved to " + config_.configPath;
}

nlohmann::json DeployCommands::undeployLocal(const std::string& name, bool save) {
  std::optional<PendingSave> pending;
  if (save) {
    if (auto refused = refuseSave(name)) return failure(*refused + "; nothing was undeployed");
    if (apps_.find(name) == nullptr) return failure("no app named '" + name + "'");
    auto prepared = saver_->prepareRemove(name);
    if (auto* error = std::get_if<std::string>(&prepared)) {
      return failure("--save: " + *error + "; nothing was undeployed");
    }
    pending = std::get<PendingSave>(std::move(prepared));
  }
  if (auto error = lifecycle_.undeploy(name)) return failure(*error);
  std::string message = "undeployed '" + name + "'; its requests in flight finish";
  if (pending) {
    if (auto error = saver_->commit(*pending)) {
      logger_.error("undeploy not saved",
                    {{"app", name}, {"config", config_.configPath}, {"error", *error}});
      return failure("undeployed '" + name + "' but not saved to " + config_.configPath + ": " +
                     *error);
    }
    logger_.info("undeploy saved", {{"app", name}, {"config", config_.configPath}});
    message += "; saved to " + config_.configPath;
  } else if (!config_.configPath.empty()) {
    message += "; runtime only (not saved; use --save): a reload or restart applies " +
               config_.configPath + " again";
  }
  return nlohmann::json{{"ok", true}, {"message", message}};
}

void DeployCommands::undeployFromRegistry(const std::string& name,
                                          const ControlResponder& respond) {
  registry::RegistrySync* registry = lifecycle_.registry();
  std::string where = registry->where();
  AppLifecycle& lifecycle = lifecycle_;
  registry->remove(name, [&lifecycle, name, where,
                          respond](const std::optional<std::string>& error) {
    if (error) {
      respond(failure("undeploy of '" + name + "' refused: " + *error + "; the app keeps serving"));
      return;
    }
    if (auto local = lifecycle.undeploy(name)) {
      respond(failure("removed from the registry, but here: " + *local));
      return;
    }
    respond({{"ok", true},
             {"message", "undeployed '" + name + "' from the registry at " + where +
                             "; every server sharing it undeploys it"}});
  });
}

}  // namespace isolated::supervisor
