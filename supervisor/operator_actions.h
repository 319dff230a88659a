// OperatorActions: what an operator can do to a running server, through signals, the control
// socket (ControlCommands) or --watch (WatchReloads). The Supervisor implements it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

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

}  // namespace isolated::supervisor
