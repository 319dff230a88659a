// Making startup snapshots with v8::SnapshotCreator (see worker/startup_snapshot.h for the two
// kinds). Both need V8 initialised (V8Runtime) and run in a process of their own: the
// compile-time tool isolated_mksnapshot, and `isolated __snapshot-script`, which the supervisor
// starts at pool start and on reload. A snapshot V8 cannot serialise aborts the process, which
// is why neither runs inside a worker.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <variant>

#include "worker/cpu_watchdog.h"
#include "worker/script_loader.h"
#include "worker/startup_snapshot.h"

namespace isolated::worker {

// The built-ins blob: the runtime (worker/js/) and its native bindings evaluated in a fresh
// context.
std::variant<std::string, ScriptError> buildBuiltinsSnapshot();

struct ScriptSnapshot {
  // The blob; empty when the script cannot be snapshotted safely (`unsafe` says why) or failed
  // to load (`error`).
  std::string blob;
  std::string unsafe;
  std::optional<ScriptError> error;
  // Every file the script loaded: path -> text (see worker/snapshot_sources.h).
  std::map<std::string, std::string> sources;
};

// The script at `path` evaluated at top level on top of `builtins`, under `cpuLimit`. Unsafe,
// and then left to be evaluated per context, is a top level that used the host (console
// output, timers: state a snapshot would lose or share). An ES module is loaded without a
// namespace object, which V8 10.2 cannot serialise; a script that makes one (`import * as`,
// `export * as`) is unsafe. Should one slip through, V8 aborts the process (the helper).
// `withBindings`: the workers give the script environment bindings, which a classic script's
// top level sees as globals; such a script is unsafe (the snapshot would be made without them).
// A module sees them only in its handlers' `env`, which each context gets after deserialising.
ScriptSnapshot buildScriptSnapshot(StartupSnapshot& builtins, const std::string& path,
                                   CpuWatchdog& watchdog, std::chrono::milliseconds cpuLimit,
                                   bool withBindings = false);

}  // namespace isolated::worker
