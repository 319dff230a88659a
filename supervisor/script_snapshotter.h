// Makes the script snapshots that workers start from (--snapshot-script): for each script
// generation (pool start, then every reload) it runs `isolated __snapshot-script` in a helper
// process, since the supervisor never runs V8, and owns the private directory (mode 0700) and
// the files (mode 0600) the helper writes there. Workers map a file read-only.
//
// A generation has a snapshot only if its helper exited 0. Otherwise (the script is not safe to
// snapshot, does not load, or the helper crashed or overran kHelperTimeout) its workers start
// from the built-ins and evaluate the script, as without the flag; the helper logs why once.
//
// Lifetime: owned by the Supervisor. Its destructor kills a helper still running and removes
// the directory. Threading: the supervisor's loop thread only.
#pragma once

#include <event2/event.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/logger.h"
#include "event/dispatcher.h"
#include "supervisor/child_process.h"

namespace isolated::supervisor {

class ScriptSnapshotter {
 public:
  static constexpr std::chrono::seconds kHelperTimeout{30};

  // `helperCommand`: the binary, `__snapshot-script` and its arguments except --out. `done` runs
  // on the loop when a helper started by start() has ended, whatever the outcome. Throws
  // SyscallError when the private directory cannot be made.
  // `sandbox`: the workers' plan, which the helper runs under too (it runs the user's script),
  // so that its files belong to the worker user who maps them; it must outlive this object.
  ScriptSnapshotter(event_base* base, std::vector<std::string> helperCommand, Logger& logger,
                    std::function<void()> done, const SandboxPlan* sandbox = nullptr);
  ~ScriptSnapshotter();
  ScriptSnapshotter(const ScriptSnapshotter&) = delete;
  ScriptSnapshotter& operator=(const ScriptSnapshotter&) = delete;

  // Starts the helper for `generation`, killing one still running. `withBindings`: the workers
  // give the script environment bindings (a classic script's top level sees them as globals,
  // which the helper does not have). False (logged) when it cannot be started: that generation
  // has no snapshot and `done` will not run for it.
  bool start(uint64_t generation, bool withBindings);
  // Whether a helper is running.
  bool busy() const { return helper_.has_value(); }
  // The snapshot file of `generation`; empty when it has none.
  std::string pathFor(uint64_t generation) const;
  // For the supervisor's SIGCHLD reaper: true, once handled, when `pid` was the helper.
  bool reaped(pid_t pid, int status);

  const std::string& directory() const { return dir_; }

 private:
  void finish(bool written);

  event::Dispatcher loop_;  // borrowed base
  std::vector<std::string> helperCommand_;
  Logger& logger_;
  std::function<void()> done_;
  const SandboxPlan* sandbox_;
  std::string dir_;
  std::optional<ChildProcess> helper_;
  uint64_t helperGeneration_ = 0;
  std::string helperOut_;
  std::chrono::steady_clock::time_point helperStarted_;
  event::Timer timeout_;
  // Snapshot files by generation: the newest two are kept, so that a refused reload falls back
  // to the previous generation's file.
  std::map<uint64_t, std::string> files_;
};

}  // namespace isolated::supervisor
