// The hidden worker mode: `isolated __worker [--log-level L] [--log-format F]
// [--no-builtins-snapshot] [--shared-isolate [--shared-isolate-heap-mb N]]`, exec'd by the
// supervisor with its end of the socketpair as fd 3. Waits for Configure, says Hello, then holds
// the apps the supervisor defines (LoadApp), an isolate per loaded app (worker/isolate_registry.h),
// and serves their requests until Shutdown or until the channel closes.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/logger.h"
#include "worker/startup_snapshot.h"

namespace isolated::worker {

// The channel's fd number in the worker, set up by the supervisor between fork and exec.
constexpr int kChannelFd = 3;

// The snapshot a worker's isolates start from: the script snapshot at `scriptSnapshotPath` (if
// given and usable), else the built-ins. Null, with a warning logged, when neither is usable:
// the worker then evaluates everything per context.
std::unique_ptr<StartupSnapshot> loadStartupSnapshot(const std::string& scriptSnapshotPath,
                                                     Logger& logger);

// Runs the worker; returns the process exit code. `args` follow `__worker`.
int workerMain(const char* argv0, const std::vector<std::string>& args);

}  // namespace isolated::worker
