// The worker's seccomp allow-list and its SIGSYS reporter; see seccomp_filter.h.
#include "sandbox/seccomp_filter.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <termios.h>
#include <ucontext.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace isolated::sandbox {

namespace {

// siginfo's si_code for a SIGSYS raised by a seccomp filter (asm-generic/siginfo.h; glibc's
// headers do not define it for user space).
constexpr int kSigsysFromSeccomp = 1;

// Syscall numbers below this get a name in the report; larger ones are reported by number.
constexpr int kNamedSyscalls = 512;

// What the SIGSYS handler needs, prepared before the filter is loaded because the handler may
// not allocate. A signal handler can only reach it through a global: this pointer is set once,
// before the filter exists, and never changed.
struct Reporter {
  std::array<std::array<char, 32>, kNamedSyscalls> names{};
  bool json = false;
};
const Reporter* gReporter = nullptr;

size_t append(char* out, size_t at, size_t cap, const char* s) {
  while (*s != '\0' && at < cap)
    out[at++] = *s++;
  return at;
}

size_t appendNumber(char* out, size_t at, size_t cap, long value) {
  char digits[24];
  int n = 0;
  unsigned long v =
      value < 0 ? static_cast<unsigned long>(-value) : static_cast<unsigned long>(value);
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  if (value < 0 && at < cap) out[at++] = '-';
  while (n > 0 && at < cap)
    out[at++] = digits[--n];
  return at;
}

void onSigsys(int, siginfo_t* info, void* context) {
  // A SIGSYS sent with kill() is not the filter's: nothing to report (SA_RESETHAND has made
  // the next one fatal, as SIGSYS is by default).
  if (info->si_code != kSigsysFromSeccomp) return;
  const int nr = info->si_syscall;
  const char* name = "unknown";
  if (gReporter != nullptr && nr >= 0 && nr < kNamedSyscalls && gReporter->names[nr][0] != '\0') {
    name = gReporter->names[nr].data();
  }
  char line[256];
  size_t n = 0;
  const size_t cap = sizeof line - 1;
  if (gReporter != nullptr && gReporter->json) {
    n = append(line, n, cap,
               "{\"level\":\"error\",\"msg\":\"worker: the sandbox denied a system call; the "
               "worker dies\",\"syscall\":\"");
    n = append(line, n, cap, name);
    n = append(line, n, cap, "\",\"nr\":");
    n = appendNumber(line, n, cap, nr);
    n = append(line, n, cap, "}");
  } else {
    n = append(line, n, cap,
               "level=error msg=\"worker: the sandbox denied a system call; the worker dies\" "
               "syscall=");
    n = append(line, n, cap, name);
    n = append(line, n, cap, " nr=");
    n = appendNumber(line, n, cap, nr);
  }
  line[n++] = '\n';
  ssize_t ignored = write(2, line, n);
  (void)ignored;
  // SA_RESETHAND has restored the default action. Make the same call again: the filter traps
  // it again and the kernel, finding no handler, kills the process with SIGSYS, even when it
  // is pid 1 of its namespace (which ignores a plain kill() of itself).
  const auto* uc = static_cast<const ucontext_t*>(context);
  const greg_t* r = uc->uc_mcontext.gregs;
  syscall(nr, r[REG_RDI], r[REG_RSI], r[REG_RDX], r[REG_R10], r[REG_R8], r[REG_R9]);
  _exit(128 + SIGSYS);
}

struct FilterDeleter {
  void operator()(scmp_filter_ctx ctx) const { seccomp_release(ctx); }
};
using Filter = std::unique_ptr<void, FilterDeleter>;

// System calls a worker makes once it is serving, found by tracing workers in every isolation
// mode (docs/sandbox.md), plus their close relatives that libc may pick instead.
constexpr int kAllowed[] = {
    // The channel and other descriptors already open.
    SCMP_SYS(read),
    SCMP_SYS(readv),
    SCMP_SYS(pread64),
    SCMP_SYS(preadv),
    SCMP_SYS(write),
    SCMP_SYS(writev),
    SCMP_SYS(recvmsg),
    SCMP_SYS(sendmsg),
    SCMP_SYS(recvfrom),
    SCMP_SYS(sendto),
    SCMP_SYS(shutdown),
    SCMP_SYS(close),
    SCMP_SYS(dup),
    SCMP_SYS(dup3),
    SCMP_SYS(fcntl),
    SCMP_SYS(fstat),
    SCMP_SYS(newfstatat),
    SCMP_SYS(statx),
    SCMP_SYS(lseek),
    SCMP_SYS(getsockopt),
    SCMP_SYS(readlink),
    SCMP_SYS(readlinkat),
    SCMP_SYS(access),
    SCMP_SYS(faccessat),
    SCMP_SYS(faccessat2),
    SCMP_SYS(getdents64),
    SCMP_SYS(pipe2),
    SCMP_SYS(getcwd),
    // Memory.
    SCMP_SYS(brk),
    SCMP_SYS(mmap),
    SCMP_SYS(munmap),
    SCMP_SYS(mprotect),
    SCMP_SYS(madvise),
    SCMP_SYS(mremap),
    SCMP_SYS(mincore),
    SCMP_SYS(pkey_alloc),
    SCMP_SYS(pkey_free),
    SCMP_SYS(pkey_mprotect),
    SCMP_SYS(membarrier),
    // Threads and synchronisation.
    SCMP_SYS(futex),
    SCMP_SYS(set_robust_list),
    SCMP_SYS(get_robust_list),
    SCMP_SYS(rseq),
    SCMP_SYS(sched_yield),
    SCMP_SYS(sched_getaffinity),
    SCMP_SYS(sched_getparam),
    SCMP_SYS(sched_getscheduler),
    SCMP_SYS(sched_get_priority_max),
    SCMP_SYS(sched_get_priority_min),
    SCMP_SYS(set_tid_address),
    // Clocks, timers, the event loop.
    SCMP_SYS(clock_gettime),
    SCMP_SYS(clock_getres),
    SCMP_SYS(clock_nanosleep),
    SCMP_SYS(nanosleep),
    SCMP_SYS(gettimeofday),
    SCMP_SYS(time),
    SCMP_SYS(timerfd_create),
    SCMP_SYS(timerfd_settime),
    SCMP_SYS(timerfd_gettime),
    SCMP_SYS(epoll_create1),
    SCMP_SYS(epoll_ctl),
    SCMP_SYS(epoll_wait),
    SCMP_SYS(epoll_pwait),
    SCMP_SYS(epoll_pwait2),
    SCMP_SYS(poll),
    SCMP_SYS(ppoll),
    SCMP_SYS(select),
    SCMP_SYS(pselect6),
    SCMP_SYS(eventfd2),
    // Signals (to itself: see the kill rules below).
    SCMP_SYS(rt_sigaction),
    SCMP_SYS(rt_sigprocmask),
    SCMP_SYS(rt_sigreturn),
    SCMP_SYS(sigaltstack),
    SCMP_SYS(rt_sigpending),
    SCMP_SYS(rt_sigtimedwait),
    SCMP_SYS(restart_syscall),
    // Identity and facts about the machine.
    SCMP_SYS(getpid),
    SCMP_SYS(gettid),
    SCMP_SYS(getppid),
    SCMP_SYS(getuid),
    SCMP_SYS(geteuid),
    SCMP_SYS(getgid),
    SCMP_SYS(getegid),
    SCMP_SYS(getresuid),
    SCMP_SYS(getresgid),
    SCMP_SYS(getgroups),
    SCMP_SYS(uname),
    SCMP_SYS(getrandom),
    SCMP_SYS(getrusage),
    SCMP_SYS(sysinfo),
    SCMP_SYS(getrlimit),
    SCMP_SYS(times),
    // The end.
    SCMP_SYS(exit),
    SCMP_SYS(exit_group),
};

// Open flags that create, truncate or write.
// (O_TMPFILE includes O_DIRECTORY, which a read-only open of a directory may carry.)
constexpr uint64_t kWritingOpenFlags =
    O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND | (O_TMPFILE & ~O_DIRECTORY);

std::optional<std::string> failed(const char* what, int rc) {
  return std::string("seccomp: ") + what + ": " + std::strerror(-rc);
}

}  // namespace

std::optional<std::string> installWorkerSeccomp(LogFormat format) {
  Filter filter(seccomp_init(SCMP_ACT_TRAP));
  if (!filter) return std::string("seccomp: cannot allocate a filter");
  scmp_filter_ctx ctx = filter.get();
  // A system call of another architecture (i386 through int 0x80, x32) is refused outright.
  if (int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS); rc != 0) {
    return failed("bad-arch action", rc);
  }
  // Threads made before the filter (V8's platform threads, the CPU watchdog) get it too.
  if (int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1); rc != 0) {
    return failed("thread sync", rc);
  }
  for (int nr : kAllowed) {
    if (int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0); rc != 0) {
      return failed("allow rule", rc);
    }
  }
  const pid_t self = getpid();
  struct Rule {
    const char* what;
    int rc;
  };
  const Rule rules[] = {
      // Read-only opens only.
      {"openat", seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
                                  SCMP_A2(SCMP_CMP_MASKED_EQ, kWritingOpenFlags, 0))},
      {"open", seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(open), 1,
                                SCMP_A1(SCMP_CMP_MASKED_EQ, kWritingOpenFlags, 0))},
      {"openat2", seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(openat2), 0)},
      // Threads, never processes. glibc's pthread_create tries clone3 first and falls back to
      // clone on ENOSYS; clone3's flags are in memory, where a filter cannot look.
      {"clone", seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                                 SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD))},
      {"clone3", seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0)},
      // Signals to itself only (abort(), raise()).
      {"kill", seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1,
                                SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(self)))},
      {"tgkill", seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
                                  SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(self)))},
      // Reading its own limits, never setting any.
      {"prlimit64", seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 2,
                                     SCMP_A0(SCMP_CMP_EQ, 0), SCMP_A2(SCMP_CMP_EQ, 0))},
      // Terminal and socket queries libraries make; any other request fails as on a file.
      {"ioctl TCGETS",
       seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, SCMP_A1(SCMP_CMP_EQ, TCGETS))},
      {"ioctl FIONREAD",
       seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, SCMP_A1(SCMP_CMP_EQ, FIONREAD))},
      {"ioctl FIONBIO",
       seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, SCMP_A1(SCMP_CMP_EQ, FIONBIO))},
      {"ioctl FIOCLEX",
       seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, SCMP_A1(SCMP_CMP_EQ, FIOCLEX))},
      {"ioctl TIOCGWINSZ",
       seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, SCMP_A1(SCMP_CMP_EQ, TIOCGWINSZ))},
      // Thread names.
      {"prctl PR_SET_NAME", seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
                                             SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME))},
      {"prctl PR_GET_NAME", seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
                                             SCMP_A0(SCMP_CMP_EQ, PR_GET_NAME))},
  };
  for (const auto& rule : rules) {
    if (rule.rc != 0) return failed(rule.what, rule.rc);
  }

  auto reporter = std::make_unique<Reporter>();
  reporter->json = format == LogFormat::kJson;
  for (int nr = 0; nr < kNamedSyscalls; ++nr) {
    if (char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr)) {
      std::strncpy(reporter->names[nr].data(), name, reporter->names[nr].size() - 1);
      std::free(name);
    }
  }
  // Leaked on purpose: the handler may run until the process ends.
  gReporter = reporter.release();
  struct sigaction action {};
  action.sa_sigaction = onSigsys;
  action.sa_flags = SA_SIGINFO | SA_RESETHAND;
  sigemptyset(&action.sa_mask);
  if (sigaction(SIGSYS, &action, nullptr) != 0) {
    return std::string("seccomp: sigaction(SIGSYS): ") + std::strerror(errno);
  }
  // Nothing may read this process's memory through ptrace or /proc/PID/mem, nor dump it.
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    return std::string("seccomp: PR_SET_DUMPABLE: ") + std::strerror(errno);
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return std::string("seccomp: PR_SET_NO_NEW_PRIVS: ") + std::strerror(errno);
  }
  if (int rc = seccomp_load(ctx); rc != 0) return failed("load", rc);
  return std::nullopt;
}

}  // namespace isolated::sandbox
