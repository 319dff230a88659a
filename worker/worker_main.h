// The hidden worker mode: `isolated __worker ...`, exec'd by the supervisor with its end of the
// socketpair as fd 3. Loads the script into one persistent isolate, says Hello (or LoadError),
// then serves requests until Shutdown or until the channel closes.
#pragma once

#include <string>
#include <vector>

namespace isolated::worker {

// The channel's fd number in the worker, set up by the supervisor between fork and exec.
constexpr int kChannelFd = 3;

// Runs the worker; returns the process exit code. `args` follow `__worker`.
int workerMain(const char* argv0, const std::vector<std::string>& args);

}  // namespace isolated::worker
