// fork/exec and reaping of worker processes.
#include "supervisor/child_process.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "common/syscall.h"
#include "sandbox/child_setup.h"

namespace isolated::supervisor {

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), reaped_(other.reaped_) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    ChildProcess dying(std::move(*this));
    pid_ = std::exchange(other.pid_, -1);
    reaped_ = other.reaped_;
  }
  return *this;
}

ChildProcess::~ChildProcess() {
  if (!running()) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  trySyscall([&] { return ::waitpid(pid_, &status, 0); });
}

void ChildProcess::signal(int sig) const {
  if (running()) ::kill(pid_, sig);
}

ChildProcess ChildProcess::spawn(const std::vector<std::string>& argv, const UniqueFd& channel,
                                 const SandboxPlan* plan) {
  std::vector<char*> cargv;
  cargv.reserve(argv.size() + 1);
  for (const auto& a : argv)
    cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  const int channelFd = channel.get();
  pid_t parent = getpid();

  pid_t pid = static_cast<pid_t>(
      checkedSyscall("fork", "spawning a worker", [&] { return sandbox::cloneChild(plan); }));
  if (pid == 0) {
    // Child: async-signal-safe calls only.
    if (channelFd == 3) {
      fcntl(3, F_SETFD, 0);  // dup2 onto itself would leave close-on-exec set.
    } else if (dup2(channelFd, 3) < 0) {
      _exit(127);
    }
    sandbox::closeDescriptorsAbove(3);
    if (plan != nullptr) {
      const char* step = "";
      if (int err = sandbox::applyInChild(*plan, &step); err != 0) {
        sandbox::reportChildFailure(step, err);
        _exit(126);
      }
    }
    // Backstop for the EOF rule: should the supervisor vanish, so does the worker. Set after
    // the identity change, which clears it. In a new pid namespace the parent shows as pid 0.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    pid_t expectedParent =
        plan != nullptr && plan->enabled && (plan->cloneFlags & CLONE_NEWPID) ? 0 : parent;
    if (getppid() != expectedParent) _exit(127);
    execv(cargv[0], cargv.data());
    _exit(127);
  }
  return ChildProcess(pid);
}

std::string describeExitStatus(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    const char* name = sigdescr_np(sig);
    std::string text =
        "killed by signal " + std::to_string(sig) + (name ? std::string(" (") + name + ")" : "");
    // The sandbox's seccomp filter: the worker's own line just before names the system call.
    if (sig == SIGSYS) text += ", a system call the sandbox denies";
    return text;
  }
  return "status " + std::to_string(status);
}

}  // namespace isolated::supervisor
