// `isolated __bench-startup --apps N [options] SCRIPT`: the memory and time one more loaded app
// costs a worker. Creates N isolates from the built-ins snapshot, each with its own context and
// SCRIPT loaded (as an IsolateRegistry does on a cold start, code cache included), keeps them
// all alive, and prints the process's RSS growth per app and the mean creation time. Options
// try the levers of docs/multi-tenancy.md:
//   --young-kb K          initial and maximum young generation per isolate (0: V8's default)
//   --idle MODE           after loading, tell each isolate: none, background
//                         (IsolateInBackgroundNotification), low-memory (LowMemoryNotification),
//                         pressure or moderate (MemoryPressureNotification critical / moderate),
//                         idle-deadline (IdleNotificationDeadline) or pressure-background
//   --warm                warm each app's context up as a spare isolate is, before its script
//   --request             each app answers one GET request after loading (as after its first)
//   --stage S             stop each app at: isolate (no context), context (deserialised),
//                         runtime (installed) or app (script loaded, the default)
//   --v8-flags "..."      V8 flags, set before V8 starts
//   --shared-isolate      one isolate, one context per app (the opt-in mode's figure)
//   --no-code-cache       compile every app's script from source
#pragma once

#include <string>
#include <vector>

namespace isolated::worker {

int benchTenantsMain(const char* argv0, const std::vector<std::string>& args);

}  // namespace isolated::worker
