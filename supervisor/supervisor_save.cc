// Supervisor: `--save` of `ctl deploy` and `ctl undeploy`, writing the change into the config
// file the server runs from (config/config_save.h). Nothing is saved without a config file, and
// nothing with a registry, whose tables are the source of truth (docs/registry.md). A save is
// checked before anything switches and written only once the change has taken effect.
#include "supervisor/supervisor.h"

namespace isolated::supervisor {

std::optional<std::string> Supervisor::refuseSave(const std::string& name) const {
  if (registry_) {
    return "--save: the apps of this server are kept in the registry at " + registry_->where() +
           ", which is the source of truth (a deploy is written there already); there is no "
           "file to save to";
  }
  if (!configSaver_) {
    return "--save: the server does not run from a config file (serve --config FILE): there is "
           "nothing to save to";
  }
  if (auto error = configSaver_->check(name)) return "--save: " + *error;
  return std::nullopt;
}

std::variant<std::string, nlohmann::json> Supervisor::saveDeployed(const std::string& name) {
  const App* app = apps_.find(name);
  auto notSaved = [&](const std::string& why) {
    logger_.error("deploy not saved",
                  {{"app", name}, {"config", config_.configPath}, {"error", why}});
    return nlohmann::json{{"ok", false},
                          {"error", "deployed '" + name + "' (it serves now) but not saved to " +
                                        config_.configPath + ": " + why}};
  };
  if (app == nullptr || !configSaver_) return notSaved("the app is gone");
  auto pending = configSaver_->prepareSave(app->config);
  if (auto* error = std::get_if<std::string>(&pending)) return notSaved(*error);
  if (auto error = configSaver_->commit(std::get<PendingSave>(pending))) return notSaved(*error);
  logger_.info("deploy saved", {{"app", name}, {"config", config_.configPath}});
  return "; saved to " + config_.configPath;
}

std::optional<nlohmann::json> Supervisor::undeployCommand(const std::string& name, bool save) {
  auto fail = [](const std::string& error) {
    return nlohmann::json{{"ok", false}, {"error", error}};
  };
  std::optional<PendingSave> pending;
  if (save) {
    if (auto refused = refuseSave(name)) return fail(*refused + "; nothing was undeployed");
    if (apps_.find(name) == nullptr) return fail("no app named '" + name + "'");
    auto prepared = configSaver_->prepareRemove(name);
    if (auto* error = std::get_if<std::string>(&prepared)) {
      return fail("--save: " + *error + "; nothing was undeployed");
    }
    pending = std::get<PendingSave>(std::move(prepared));
  }
  if (auto error = undeploy(name)) return fail(*error);
  std::string message = "undeployed '" + name + "'; its requests in flight finish";
  if (pending) {
    if (auto error = configSaver_->commit(*pending)) {
      logger_.error("undeploy not saved",
                    {{"app", name}, {"config", config_.configPath}, {"error", *error}});
      return fail("undeployed '" + name + "' but not saved to " + config_.configPath + ": " +
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

}  // namespace isolated::supervisor
