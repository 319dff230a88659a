// Process scheduling policy (process_priority.h).
#include "common/process_priority.h"

#include <linux/capability.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

#include "common/syscall.h"

namespace isolated {

bool canRestoreNormalPriority() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (syscall(SYS_capget, &header, data) == 0 &&
      (data[CAP_TO_INDEX(CAP_SYS_NICE)].effective & CAP_TO_MASK(CAP_SYS_NICE)) != 0) {
    return true;
  }
  // RLIMIT_NICE's ceiling is 20 - limit: nice 0 needs a limit of 20 (sched(7)).
  rlimit limit{};
  return getrlimit(RLIMIT_NICE, &limit) == 0 &&
         (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= 20);
}

namespace {

// sched_setscheduler of one thread: 0 or errno; a thread that has ended is no failure.
int setThreadPolicy(pid_t tid, bool background) {
  sched_param param{};
  param.sched_priority = 0;
  long r = trySyscall(
      [&] { return sched_setscheduler(tid, background ? SCHED_IDLE : SCHED_OTHER, &param); });
  return r < 0 && -r != ESRCH ? static_cast<int>(-r) : 0;
}

}  // namespace

int setThreadsBackground(std::span<const pid_t> tids, bool background) {
  int firstError = 0;
  for (pid_t tid : tids) {
    int error = setThreadPolicy(tid, background);
    if (firstError == 0) firstError = error;
  }
  return firstError;
}

int threadsOf(pid_t pid, std::vector<pid_t>& tids) {
  tids.clear();
  std::error_code error;
  std::filesystem::directory_iterator tasks("/proc/" + std::to_string(pid) + "/task", error);
  // Incremented with an error code: a process that exits while its threads are listed ends the
  // listing, it does not throw.
  for (; !error && tasks != std::filesystem::directory_iterator(); tasks.increment(error)) {
    const std::string name = tasks->path().filename().string();
    char* end = nullptr;
    long tid = std::strtol(name.c_str(), &end, 10);
    if (end != name.c_str() && *end == '\0' && tid > 0) tids.push_back(static_cast<pid_t>(tid));
  }
  if (!error) return 0;
  return error.value() == ENOENT ? ESRCH : error.value();
}

int setProcessBackground(pid_t pid, bool background) {
  std::vector<pid_t> tids;
  if (int error = threadsOf(pid, tids); error != 0) return error;
  return setThreadsBackground(tids, background);
}

bool runsInBackground(pid_t tid) {
  return sched_getscheduler(tid) == SCHED_IDLE;
}

}  // namespace isolated
