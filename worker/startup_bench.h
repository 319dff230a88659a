// The hidden `isolated __bench-startup SCRIPT [ITERATIONS]` mode behind bench/startup.sh: times
// what a new context and a new isolate cost with no snapshot, with the built-ins snapshot, and
// with a script snapshot (when the script is safe to snapshot), and prints one line per figure.
// Timings live here and in bench/, never in tests.
#pragma once

#include <string>
#include <vector>

namespace isolated::worker {

int benchStartupMain(const char* argv0, const std::vector<std::string>& args);

}  // namespace isolated::worker
