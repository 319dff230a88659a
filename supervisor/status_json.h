// JSON forms of the status snapshot, as the control socket sends them
// (docs/control-protocol.md).
#pragma once

#include <nlohmann/json.hpp>

#include "supervisor/status.h"

namespace isolated::supervisor {

nlohmann::json toJson(const WorkerStatus& worker);
nlohmann::json toJson(const AppStatus& app);
// The `status` object; workers are left out (the `workers` command lists them).
nlohmann::json toJson(const ServerStatus& status);

}  // namespace isolated::supervisor
