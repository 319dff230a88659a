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

#include <cstdint>
#include <optional>
#include <string>

#include "common/serve_config.h"
#include "supervisor/apps/app_lifecycle.h"
#include "supervisor/apps/app_registry.h"
#include "supervisor/apps/deploy_commands.h"
#include "supervisor/control_server.h"
#include "supervisor/status.h"

namespace isolated::supervisor {

// What an operator can do to a running server (signals and the control socket).
class OperatorActions {
 public:
  // Everything `status`, `workers` and `apps` show.
  virtual ServerStatus snapshot() const = 0;
  virtual std::string metricsText() = 0;
  // SIGHUP's reload; false (with `why`) when a reload is already running or not possible.
  virtual bool beginReload(std::string* why) = 0;
  // Workers starting or serving, not retiring.
  virtual size_t activeWorkers() const = 0;
  // Graceful recycle of one worker by id; false when there is no such serving worker.
  virtual bool recycleWorker(uint32_t id, const std::string& reason) = 0;
  // Stops accepting and finishes what is in flight, but keeps running; resume() accepts again.
  // Both return a message for the operator, or nullopt when not possible.
  virtual std::optional<std::string> pause() = 0;
  virtual std::optional<std::string> resume() = 0;
  virtual bool serving() const = 0;
  // Sets the pool's target size (and moves the autoscaling bounds to include it).
  virtual void scale(uint32_t workers) = 0;
  // Runs app `app`'s scheduled handler once for `cron`, as if the trigger had fired now; an
  // error for the operator, or nullopt when it was dispatched or queued.
  virtual std::optional<std::string> triggerScheduled(const std::string& app,
                                                      const std::string& cron) = 0;

 protected:
  ~OperatorActions() = default;
};

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
