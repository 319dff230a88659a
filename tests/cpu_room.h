// Serve flags for tests that are not about the CPU limit but whose first requests compile a lot.
// V8 compiles the runtime's request path during an app's first request in a fresh isolate, and
// a lazily loaded module during its first use. Measured on the 2-core VM, for
// tests/scripts/front.js's first request, 15-20 ms of CPU. For a request body piped through
// three stream transforms (web-streams-polyfill's first use), 25-30 ms, and 40-55 ms under ASan.
// All of it counts against the app's CPU limit (50 ms by default), which a loaded CI machine then
// exceeds: the test gets a 503 `cpu-limit` for a handler that does nearly nothing. Tests about the
// limit set their own. Why the compiled code cannot simply come with the script snapshot is in
// docs/architecture.md ("Script snapshot").
#pragma once

#include <string>
#include <vector>

namespace isolated::testing {

inline std::vector<std::string> withCpuRoomForFirstUse(std::vector<std::string> flags) {
  flags.insert(flags.end(), {"--cpu-limit", "1000"});
  return flags;
}

}  // namespace isolated::testing
