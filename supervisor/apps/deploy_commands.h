// DeployCommands: the control socket's `deploy` and `undeploy` (docs/control-protocol.md) and
// their `--save`, which writes the change into the config file the server runs from
// (config/config_save.h). Nothing is saved without a config file, and nothing with a registry,
// whose tables are the source of truth (docs/registry.md). A save is checked before anything
// switches and written only once the change has taken effect.
//
// Lifetime: holds references to the AppRegistry and AppLifecycle, which outlive it. A deploy's
// reply (an App waiter) and a registry removal's refer to this object and the lifecycle; they
// run only from the server's loop, which has stopped before either is destroyed. Threading: the
// supervisor's loop only.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <variant>

#include "common/logger.h"
#include "common/serve_config.h"
#include "config/config_save.h"
#include "supervisor/apps/app_lifecycle.h"
#include "supervisor/apps/app_registry.h"
#include "supervisor/control_server.h"

namespace isolated::supervisor {

class DeployCommands {
 public:
  DeployCommands(const ServeConfig& config, Logger& logger, AppRegistry& apps,
                 AppLifecycle& lifecycle);
  DeployCommands(const DeployCommands&) = delete;
  DeployCommands& operator=(const DeployCommands&) = delete;

  // `ctl deploy`: a reply now (an error) or nullopt, and `respond` is told once the version
  // serves or was refused.
  std::optional<nlohmann::json> deploy(const nlohmann::json& request,
                                       const ControlResponder& respond);
  // `ctl undeploy`: a reply now, or nullopt when a registry app is removed there first.
  std::optional<nlohmann::json> undeploy(const nlohmann::json& request,
                                         const ControlResponder& respond);
  // The server read its config file again (a reload): `text` is what it runs from now.
  void configRead(std::string text);

 private:
  // Whether app `name` can be saved into the config file, asked before anything switches (an
  // error, or nullopt).
  std::optional<std::string> refuseSave(const std::string& name) const;
  // The save once the new version serves, as the reply's ending ("; saved to FILE"), or the
  // whole `ok:false` reply saying it serves but was not saved.
  std::variant<std::string, nlohmann::json> saveDeployed(const std::string& name);
  // An app that is not the registry's, saved or runtime only.
  nlohmann::json undeployLocal(const std::string& name, bool save);
  // A registry app: removed from the registry first, then here.
  void undeployFromRegistry(const std::string& name, const ControlResponder& respond);

  const ServeConfig& config_;
  Logger& logger_;
  AppRegistry& apps_;
  AppLifecycle& lifecycle_;
  // With --config: writes `--save` back into the file.
  std::optional<ConfigSaver> saver_;
};

}  // namespace isolated::supervisor
