// ControlCommands: the control socket's commands (docs/control-protocol.md): each request
// checked and turned into one operator action, and its reply. The actions themselves are the
// server's (OperatorActions, implemented by the Supervisor); `deploy` and `undeploy` are
// DeployCommands'. Nothing here waits on a worker: every reply is immediate except a deploy's,
// which comes when its version serves or is refused.
//
// Lifetime: holds references to everything it was given, which outlive it. Threading: the
// supervisor's loop only.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

#include "common/serve_config.h"
#include "supervisor/apps/app_lifecycle.h"
#include "supervisor/apps/app_registry.h"
#include "supervisor/apps/deploy_commands.h"
#include "supervisor/control_server.h"
#include "supervisor/operator_actions.h"

namespace isolated::supervisor {

class ControlCommands : public ControlHandler {
 public:
  ControlCommands(const ServeConfig& config, OperatorActions& actions, AppRegistry& apps,
                  AppLifecycle& lifecycle, DeployCommands& deploys);
  ControlCommands(const ControlCommands&) = delete;
  ControlCommands& operator=(const ControlCommands&) = delete;

  // ControlHandler
  std::optional<nlohmann::json> handleControl(const nlohmann::json& request,
                                              const ControlResponder& respond) override;

 private:
  std::optional<nlohmann::json> triggerCron(const nlohmann::json& request);

  const ServeConfig& config_;
  OperatorActions& actions_;
  AppRegistry& apps_;
  AppLifecycle& lifecycle_;
  DeployCommands& deploys_;
};

}  // namespace isolated::supervisor
