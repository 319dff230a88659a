// Serve flags for tests that are not about the CPU limit but whose first requests compile a lot.
// V8 compiles the runtime's request path during an app's first request in a fresh isolate, and
// a lazily loaded module during its first use. Measured on the 2-core VM, for
// tests/scripts/front.js's first request, 15-20 ms of CPU. For a request body piped through
// three stream transforms (web-streams-polyfill's first use), 25-30 ms, and 40-55 ms under ASan.
// It counted against the app's CPU limit (50 ms by default), which a loaded CI machine then
// exceeded: the test got a 503 `cpu-limit` for a handler that does nearly nothing. The worker now
// warms up such contexts and does not charge a runtime module's first load (docs/limits.md, "What
// the CPU limit does not charge"), which takes these figures to about 2 ms and 13-16 ms; the room
// stays for what is still charged (the streams' methods compiled on their first call) on slower
// machines and under ASan. Tests about the limit set their own.
#pragma once

#include <string>
#include <vector>

namespace isolated::testing {

inline std::vector<std::string> withCpuRoomForFirstUse(std::vector<std::string> flags) {
  flags.insert(flags.end(), {"--cpu-limit", "1000"});
  return flags;
}

}  // namespace isolated::testing
