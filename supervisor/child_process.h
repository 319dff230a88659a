// A spawned child process, owned. If it has not been reaped when its owner lets go, the
// destructor kills it with SIGKILL and reaps it, so a pid is never leaked or left running.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/sandbox_plan.h"
#include "common/unique_fd.h"

namespace isolated::supervisor {

class ChildProcess {
 public:
  ChildProcess() = default;
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ~ChildProcess();

  // fork + exec of `argv` (argv[0] is the executable path) with `channel` as the child's fd 3
  // and no other descriptor beyond stdio. With a sandbox `plan` (sandbox/child_setup.h) the
  // child starts in its namespaces and drops its privileges before exec. Everything the child
  // needs is prepared before fork: between fork and exec it only calls async-signal-safe
  // functions.
  static ChildProcess spawn(const std::vector<std::string>& argv, const UniqueFd& channel,
                            const SandboxPlan* plan = nullptr);

  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0 && !reaped_; }
  // Sends a signal; a no-op once reaped.
  void signal(int sig) const;
  // Records that waitpid() returned this child.
  void markReaped() { reaped_ = true; }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
};

// Describes a waitpid() status: "exited with status 1", "killed by signal 9 (Killed)".
std::string describeExitStatus(int status);

}  // namespace isolated::supervisor
