// Resolves the worker sandbox once at start-up, before any worker exists: looks up --user and
// --group, finds out which namespaces the kernel grants (by starting a probe child that applies
// the whole plan, then retrying without what was refused), and checks that the worker user can
// execute the binary workers are started from and read the script. The result goes into
// ServeConfig::workerSandbox, which every spawn applies.
//
// Threading: call from the main thread before the supervisor starts threads.
#pragma once

#include <optional>
#include <string>

#include "common/logger.h"
#include "common/serve_config.h"

namespace isolated::sandbox {

// Fills config.workerSandbox. `executable` is the binary workers exec. Returns a message when
// the sandbox cannot be set up as asked (an unknown user, a binary the worker user cannot
// execute, a script it cannot read); namespaces the kernel refuses are not an error: they are
// left out with one warning.
std::optional<std::string> prepareWorkerSandbox(ServeConfig& config, const std::string& executable,
                                                Logger& logger);

}  // namespace isolated::sandbox
