// The seccomp self-test; see selftest.h.
#include "sandbox/selftest.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <thread>

#include "common/logger.h"
#include "sandbox/child_setup.h"
#include "sandbox/seccomp_filter.h"

namespace isolated::sandbox {

namespace {

enum class Expect { kKilled, kErrno, kAllowed };

struct Case {
  const char* name;
  Expect expect;
  int errnoValue;  // for kErrno
  // Returns the call's result; -1 with errno on failure, as system calls do.
  std::function<long()> call;
};

const char* kScratch = "/tmp/isolated-sandbox-selftest-scratch";

std::vector<Case> cases() {
  return {
      // Networking: a worker has none.
      {"socket", Expect::kKilled, 0, [] { return syscall(SYS_socket, AF_INET, SOCK_STREAM, 0); }},
      {"socketpair", Expect::kKilled, 0,
       [] {
         int fds[2];
         return syscall(SYS_socketpair, AF_UNIX, SOCK_STREAM, 0, fds);
       }},
      {"connect", Expect::kKilled, 0, [] { return syscall(SYS_connect, -1, nullptr, 0); }},
      {"bind", Expect::kKilled, 0, [] { return syscall(SYS_bind, -1, nullptr, 0); }},
      {"listen", Expect::kKilled, 0, [] { return syscall(SYS_listen, -1, 1); }},
      {"accept4", Expect::kKilled, 0, [] { return syscall(SYS_accept4, -1, nullptr, nullptr, 0); }},
      // Files: read-only opens only, nothing changed on disk.
      {"openat O_WRONLY|O_CREAT", Expect::kKilled, 0,
       [] { return syscall(SYS_openat, AT_FDCWD, kScratch, O_WRONLY | O_CREAT, 0600); }},
      {"openat O_RDWR", Expect::kKilled, 0,
       [] { return syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDWR); }},
      {"openat O_RDONLY|O_TRUNC", Expect::kKilled, 0,
       [] { return syscall(SYS_openat, AT_FDCWD, kScratch, O_RDONLY | O_TRUNC); }},
      {"openat O_RDONLY|O_APPEND", Expect::kKilled, 0,
       [] { return syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDONLY | O_APPEND); }},
      {"openat O_TMPFILE", Expect::kKilled, 0,
       [] { return syscall(SYS_openat, AT_FDCWD, "/tmp", O_TMPFILE | O_RDWR, 0600); }},
      {"open O_WRONLY", Expect::kKilled, 0,
       [] { return syscall(SYS_open, "/dev/null", O_WRONLY); }},
      {"creat", Expect::kKilled, 0, [] { return syscall(SYS_creat, kScratch, 0600); }},
      {"openat2", Expect::kErrno, ENOSYS,
       [] { return syscall(SYS_openat2, AT_FDCWD, "/dev/null", nullptr, 0); }},
      {"unlink", Expect::kKilled, 0, [] { return syscall(SYS_unlink, kScratch); }},
      {"unlinkat", Expect::kKilled, 0, [] { return syscall(SYS_unlinkat, AT_FDCWD, kScratch, 0); }},
      {"rename", Expect::kKilled, 0, [] { return syscall(SYS_rename, kScratch, kScratch); }},
      {"mkdir", Expect::kKilled, 0, [] { return syscall(SYS_mkdir, kScratch, 0700); }},
      {"chmod", Expect::kKilled, 0, [] { return syscall(SYS_chmod, kScratch, 0777); }},
      {"chown", Expect::kKilled, 0, [] { return syscall(SYS_chown, kScratch, 0, 0); }},
      {"truncate", Expect::kKilled, 0, [] { return syscall(SYS_truncate, kScratch, 0); }},
      {"symlink", Expect::kKilled, 0, [] { return syscall(SYS_symlink, "/", kScratch); }},
      {"mknod", Expect::kKilled, 0, [] { return syscall(SYS_mknod, kScratch, 0600, 0); }},
      // Processes: threads only.
      {"execve", Expect::kKilled, 0,
       [] {
         char* const noArgs[] = {const_cast<char*>("/bin/true"), nullptr};
         return syscall(SYS_execve, "/bin/true", noArgs, nullptr);
       }},
      {"fork", Expect::kKilled, 0, [] { return syscall(SYS_fork); }},
      {"vfork", Expect::kKilled, 0, [] { return syscall(SYS_vfork); }},
      {"clone (process)", Expect::kKilled, 0,
       [] { return syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0); }},
      {"clone (glibc fork())", Expect::kKilled, 0, [] { return static_cast<long>(fork()); }},
      {"clone3", Expect::kErrno, ENOSYS, [] { return syscall(SYS_clone3, nullptr, 0); }},
      {"kill (another process)", Expect::kKilled, 0,
       [] { return syscall(SYS_kill, getpid() + 1, 0); }},
      {"ptrace", Expect::kKilled, 0, [] { return syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0); }},
      {"process_vm_readv", Expect::kKilled, 0,
       [] { return syscall(SYS_process_vm_readv, 1, nullptr, 0, nullptr, 0, 0); }},
      // Privileges and the kernel's attack surface.
      {"setuid", Expect::kKilled, 0, [] { return syscall(SYS_setuid, 0); }},
      {"setresuid", Expect::kKilled, 0, [] { return syscall(SYS_setresuid, 0, 0, 0); }},
      {"unshare", Expect::kKilled, 0, [] { return syscall(SYS_unshare, CLONE_NEWUSER); }},
      {"setns", Expect::kKilled, 0, [] { return syscall(SYS_setns, -1, 0); }},
      {"mount", Expect::kKilled, 0,
       [] { return syscall(SYS_mount, "none", "/tmp", "tmpfs", 0, nullptr); }},
      {"umount2", Expect::kKilled, 0, [] { return syscall(SYS_umount2, "/tmp", 0); }},
      {"chroot", Expect::kKilled, 0, [] { return syscall(SYS_chroot, "/"); }},
      {"pivot_root", Expect::kKilled, 0, [] { return syscall(SYS_pivot_root, "/", "/"); }},
      {"bpf", Expect::kKilled, 0, [] { return syscall(SYS_bpf, 0, nullptr, 0); }},
      {"perf_event_open", Expect::kKilled, 0,
       [] { return syscall(SYS_perf_event_open, nullptr, 0, -1, -1, 0); }},
      {"io_uring_setup", Expect::kKilled, 0,
       [] { return syscall(SYS_io_uring_setup, 1, nullptr); }},
      {"userfaultfd", Expect::kKilled, 0, [] { return syscall(SYS_userfaultfd, 0); }},
      {"keyctl", Expect::kKilled, 0, [] { return syscall(SYS_keyctl, 0, 0, 0, 0, 0); }},
      {"add_key", Expect::kKilled, 0,
       [] { return syscall(SYS_add_key, "user", "x", nullptr, 0, 0); }},
      {"init_module", Expect::kKilled, 0, [] { return syscall(SYS_init_module, nullptr, 0, ""); }},
      {"kexec_load", Expect::kKilled, 0, [] { return syscall(SYS_kexec_load, 0, 0, nullptr, 0); }},
      {"reboot", Expect::kKilled, 0, [] { return syscall(SYS_reboot, 0, 0, 0, nullptr); }},
      {"memfd_create", Expect::kKilled, 0, [] { return syscall(SYS_memfd_create, "x", 0); }},
      {"personality", Expect::kKilled, 0, [] { return syscall(SYS_personality, 0xffffffff); }},
      {"seccomp", Expect::kKilled, 0, [] { return syscall(SYS_seccomp, 0, 0, nullptr); }},
      {"setrlimit", Expect::kKilled, 0, [] { return syscall(SYS_setrlimit, 0, nullptr); }},
      {"prlimit64 (set)", Expect::kKilled, 0,
       [] {
         rlimit limit{};
         return syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &limit, nullptr);
       }},
      {"prctl PR_SET_DUMPABLE", Expect::kKilled, 0,
       [] { return syscall(SYS_prctl, PR_SET_DUMPABLE, 1, 0, 0, 0); }},
      {"ioctl TIOCSTI", Expect::kKilled, 0,
       [] {
         char c = 'x';
         return syscall(SYS_ioctl, 0, TIOCSTI, &c);
       }},
      {"settimeofday", Expect::kKilled, 0,
       [] { return syscall(SYS_settimeofday, nullptr, nullptr); }},
      // What a worker needs must still work under the filter.
      {"read-only open", Expect::kAllowed, 0,
       [] {
         long fd = syscall(SYS_openat, AT_FDCWD, "/proc/self/status", O_RDONLY | O_CLOEXEC);
         if (fd >= 0) close(static_cast<int>(fd));
         return fd;
       }},
      {"thread", Expect::kAllowed, 0,
       [] {
         int value = 0;
         std::thread([&value] { value = 1; }).join();
         return value == 1 ? 0L : -1L;
       }},
      {"executable memory", Expect::kAllowed, 0,
       [] {
         void* p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
         if (p == MAP_FAILED) return -1L;
         long rc = mprotect(p, 4096, PROT_READ | PROT_EXEC);
         munmap(p, 4096);
         return rc;
       }},
      {"getrandom", Expect::kAllowed, 0,
       [] {
         char buf[16];
         return syscall(SYS_getrandom, buf, sizeof buf, 0);
       }},
      {"kill (itself, signal 0)", Expect::kAllowed, 0,
       [] { return syscall(SYS_kill, getpid(), 0); }},
  };
}

// Exit codes of a case's child when the call returned.
constexpr int kReturnedOk = 0;
constexpr int kReturnedErrnoBase = 10;  // + errno, capped
constexpr int kSetupFailed = 3;

std::string describe(int status) {
  if (WIFSIGNALED(status)) {
    return std::string("killed by ") + (sigabbrev_np(WTERMSIG(status)) ? "SIG" : "signal ") +
           (sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status))
                                           : std::to_string(WTERMSIG(status)).c_str());
  }
  if (WIFEXITED(status)) {
    int code = WEXITSTATUS(status);
    if (code == kReturnedOk) return "returned success";
    if (code == kSetupFailed) return "could not install the filter";
    return "failed with " + std::string(strerrorname_np(code - kReturnedErrnoBase)
                                            ? strerrorname_np(code - kReturnedErrnoBase)
                                            : "an errno");
  }
  return "status " + std::to_string(status);
}

}  // namespace

int selftestMain(const std::vector<std::string>& args) {
  const bool verbose = !args.empty() && args.front() == "--verbose";
  int failures = 0;
  int count = 0;
  SandboxPlan plan;
  plan.enabled = true;
  plan.cloneFlags = geteuid() == 0 ? CLONE_NEWPID : CLONE_NEWUSER | CLONE_NEWPID;
  for (const auto& c : cases()) {
    ++count;
    std::fflush(stdout);
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) {
      std::perror("pipe2");
      return 1;
    }
    // As a worker is: pid 1 of its own pid namespace where the kernel allows, since a
    // process that is pid 1 ignores signals it sends itself and the reporter must still die.
    pid_t pid = cloneChild(&plan);
    if (pid < 0 && plan.cloneFlags != 0) {
      plan.cloneFlags = 0;
      pid = fork();
    }
    if (pid < 0) {
      std::perror("fork");
      return 1;
    }
    if (pid == 0) {
      // The SIGSYS reporter's line goes to the parent, which checks that it names the call.
      dup2(report[1], 2);
      if (auto error = installWorkerSeccomp(LogFormat::kText)) {
        std::fprintf(stderr, "%s\n", error->c_str());
        _exit(kSetupFailed);
      }
      errno = 0;
      long rc = c.call();
      _exit(rc >= 0 ? kReturnedOk : kReturnedErrnoBase + std::min(errno, 200));
    }
    close(report[1]);
    std::string reported;
    char buf[512];
    for (ssize_t n; (n = read(report[0], buf, sizeof buf)) != 0;) {
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) break;
      reported.append(buf, static_cast<size_t>(n));
    }
    close(report[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (verbose) std::fputs(reported.c_str(), stderr);
    bool ok = false;
    switch (c.expect) {
      case Expect::kKilled: {
        // The case's name starts with the system call's.
        std::string call(c.name, std::strcspn(c.name, " "));
        ok = WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS &&
             reported.find("syscall=" + call + " ") != std::string::npos;
        break;
      }
      case Expect::kErrno:
        ok = WIFEXITED(status) && WEXITSTATUS(status) == kReturnedErrnoBase + c.errnoValue;
        break;
      case Expect::kAllowed:
        ok = WIFEXITED(status) && WEXITSTATUS(status) == kReturnedOk;
        break;
    }
    if (!ok) ++failures;
    std::printf("%s %-28s %s\n", ok ? "ok  " : "FAIL", c.name, describe(status).c_str());
  }
  std::printf("%d of %d sandbox cases behaved as designed (%s)\n", count - failures, count,
              plan.cloneFlags != 0 ? "each as pid 1 of a new pid namespace"
                                   : "without a pid namespace: the kernel refused one");
  return failures == 0 ? 0 : 1;
}

}  // namespace isolated::sandbox
