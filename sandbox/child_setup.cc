// Privilege dropping in the child between fork and exec; see child_setup.h.
#include "sandbox/child_setup.h"

#include <linux/capability.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace isolated::sandbox {

namespace {

// The highest capability number any kernel may know; PR_CAPBSET_DROP fails with EINVAL past
// the running kernel's last one.
constexpr int kMaxCapability = 63;

int dropBoundingSet() {
  for (int cap = 0; cap <= kMaxCapability; ++cap) {
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) return errno;
  }
  return 0;
}

int clearCapabilities() {
  __user_cap_header_struct header{};
  header.version = _LINUX_CAPABILITY_VERSION_3;
  header.pid = 0;
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (syscall(SYS_capset, &header, data) != 0) return errno;
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
    return errno;
  }
  return 0;
}

int setLimit(int resource, uint64_t value) {
  rlimit limit{static_cast<rlim_t>(value), static_cast<rlim_t>(value)};
  return setrlimit(resource, &limit) == 0 ? 0 : errno;
}

}  // namespace

pid_t cloneChild(const SandboxPlan* plan) {
  if (plan == nullptr || !plan->enabled || plan->cloneFlags == 0) return fork();
  // Raw clone: glibc's fork() takes no flags. The child runs on a copy of the parent's stack
  // like fork()'s, and execs without touching glibc's thread bookkeeping.
  return static_cast<pid_t>(syscall(SYS_clone, SIGCHLD | plan->cloneFlags, 0, 0, 0, 0));
}

void closeDescriptorsAbove(int keepUpTo) {
  if (syscall(SYS_close_range, keepUpTo + 1, ~0u, 0) == 0) return;
  // Kernels before 5.9: close them one by one up to the descriptor limit.
  rlimit limit{};
  long last = getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY
                  ? static_cast<long>(limit.rlim_cur)
                  : 65536;
  for (long fd = keepUpTo + 1; fd < last; ++fd)
    close(static_cast<int>(fd));
}

int applyInChild(const SandboxPlan& plan, const char** step) {
  if (!plan.enabled) return 0;
  int err = 0;
  // A worker's memory (scripts, secrets) never lands in a core file.
  if ((err = setLimit(RLIMIT_CORE, 0)) != 0) return *step = "setrlimit(RLIMIT_CORE)", err;
  if ((err = setLimit(RLIMIT_NOFILE, plan.nofile)) != 0) {
    return *step = "setrlimit(RLIMIT_NOFILE)", err;
  }
  if (plan.setIdentity) {
    if ((err = dropBoundingSet()) != 0) return *step = "PR_CAPBSET_DROP", err;
    gid_t groups[1] = {plan.gid};
    if (syscall(SYS_setgroups, 1, groups) != 0) return *step = "setgroups", errno;
    if (syscall(SYS_setresgid, plan.gid, plan.gid, plan.gid) != 0)
      return *step = "setresgid", errno;
    if (syscall(SYS_setresuid, plan.uid, plan.uid, plan.uid) != 0)
      return *step = "setresuid", errno;
  }
  if (plan.userNamespaceAfterIdentity && unshare(CLONE_NEWUSER) != 0) {
    return *step = "unshare(CLONE_NEWUSER)", errno;
  }
  // A new user namespace starts with every capability in it, bounding set included: drop them
  // again. Without CAP_SETPCAP (non-root, no user namespace) the bounding set stays as
  // inherited, which no-new-privs makes moot.
  if ((err = dropBoundingSet()) != 0 && err != EPERM) return *step = "PR_CAPBSET_DROP", err;
  if ((err = clearCapabilities()) != 0) return *step = "capset", err;
  // Set after the uid change: set*uid checks RLIMIT_NPROC and the exec would then fail.
  if (plan.nproc != 0 && (err = setLimit(RLIMIT_NPROC, plan.nproc)) != 0) {
    return *step = "setrlimit(RLIMIT_NPROC)", err;
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return *step = "PR_SET_NO_NEW_PRIVS", errno;
  return 0;
}

void reportChildFailure(const char* step, int err) {
  char line[160] = "isolated: worker sandbox: ";
  size_t n = strlen(line);
  auto append = [&](const char* s) {
    while (*s && n < sizeof line - 2)
      line[n++] = *s++;
  };
  append(step);
  append(": errno ");
  char digits[12];
  int d = 0;
  unsigned v = static_cast<unsigned>(err);
  do {
    digits[d++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0 && d < 11);
  while (d > 0 && n < sizeof line - 2)
    line[n++] = digits[--d];
  line[n++] = '\n';
  ssize_t ignored = write(2, line, n);
  (void)ignored;
}

}  // namespace isolated::sandbox
