// Start-up resolution of the worker sandbox; see prepare.h.
#include "sandbox/prepare.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "common/syscall.h"
#include "common/unique_fd.h"
#include "sandbox/child_setup.h"

namespace isolated::sandbox {

namespace {

// Descriptors a worker needs: stdio, its channel, the event loop's epoll, timerfd and signal
// fds, V8's and OpenSSL's brief file reads. Tight, with room to spare.
constexpr uint64_t kWorkerNofile = 64;
// Tasks (threads) one worker may have when it has a user namespace of its own, where the
// kernel counts RLIMIT_NPROC per namespace: the main thread, V8's platform threads, the CPU
// watchdog.
constexpr uint64_t kWorkerNproc = 64;

struct Namespace {
  int flag;
  const char* name;
};
constexpr Namespace kNamespaces[] = {{CLONE_NEWUSER, "user"},
                                     {CLONE_NEWPID, "pid"},
                                     {CLONE_NEWNET, "net"},
                                     {CLONE_NEWIPC, "ipc"},
                                     {CLONE_NEWNS, "mount"}};

std::string namespaceNames(int flags) {
  std::string out;
  for (const auto& ns : kNamespaces) {
    if ((flags & ns.flag) == 0) continue;
    if (!out.empty()) out += ",";
    out += ns.name;
  }
  return out.empty() ? "none" : out;
}

// The outcome of one probe child.
struct ProbeResult {
  int cloneError = 0;      // clone() itself failed: a namespace was refused
  std::string failedStep;  // empty when the plan applied
  int stepError = 0;
  int scriptError = 0;  // errno of opening a script as the worker
  size_t script = 0;    // which script (an index into the probe's list)
  int execError = 0;    // errno of checking the worker binary as executable by the worker
};

// `scripts`: every app's script, each opened as the worker user would. `executable`: the
// binary workers exec, checked for execute permission (its directories searchable) as that
// user: without it every worker would die at exec, and the pool would report only that its
// workers exited before they were ready.
ProbeResult probe(const SandboxPlan& plan, const std::string& executable,
                  const std::vector<std::string>& scripts) {
  ProbeResult result;
  int fds[2];
  checkedSyscall("pipe2", "sandbox probe", [&] { return ::pipe2(fds, O_CLOEXEC); });
  UniqueFd readEnd(fds[0]);
  UniqueFd writeEnd(fds[1]);
  pid_t pid = cloneChild(&plan);
  if (pid < 0) {
    result.cloneError = errno;
    return result;
  }
  if (pid == 0) {
    // Child: report "step errno script-errno" on the pipe, then exit.
    const char* step = "-";
    int err = applyInChild(plan, &step);
    int scriptErr = 0;
    int execErr = 0;
    size_t failed = 0;
    if (err == 0 && ::faccessat(AT_FDCWD, executable.c_str(), X_OK, AT_EACCESS) != 0) {
      execErr = errno;
    }
    for (size_t i = 0; err == 0 && scriptErr == 0 && i < scripts.size(); ++i) {
      int fd = ::open(scripts[i].c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        scriptErr = errno;
        failed = i;
      } else {
        ::close(fd);
      }
    }
    char line[200];
    int n = snprintf(line, sizeof line, "%s %d %d %zu %d", err == 0 ? "-" : step, err, scriptErr,
                     failed, execErr);
    ssize_t ignored = ::write(fds[1], line, static_cast<size_t>(n));
    (void)ignored;
    _exit(0);
  }
  writeEnd.reset();
  char buf[200] = {};
  size_t got = 0;
  while (got < sizeof buf - 1) {
    long n = trySyscall([&] { return ::read(readEnd.get(), buf + got, sizeof buf - 1 - got); });
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  int status = 0;
  trySyscall([&] { return ::waitpid(pid, &status, 0); });
  char step[160] = {};
  if (sscanf(buf, "%159s %d %d %zu %d", step, &result.stepError, &result.scriptError,
             &result.script, &result.execError) != 5) {
    result.failedStep = "probe";
    result.stepError = EIO;
    return result;
  }
  if (std::strcmp(step, "-") != 0) result.failedStep = step;
  return result;
}

std::optional<std::string> resolveIdentity(const ServeConfig& config, SandboxPlan& plan,
                                           std::string& userName) {
  std::vector<char> buf(16384);
  if (geteuid() != 0) {
    if (!config.sandboxUser.empty() || !config.sandboxGroup.empty()) {
      passwd pw{};
      passwd* found = nullptr;
      getpwuid_r(geteuid(), &pw, buf.data(), buf.size(), &found);
      if (found == nullptr || config.sandboxUser != found->pw_name ||
          !config.sandboxGroup.empty()) {
        return std::string("--user and --group need the supervisor to run as root");
      }
    }
    userName = "(unchanged)";
    return std::nullopt;
  }
  userName = config.sandboxUser.empty() ? "nobody" : config.sandboxUser;
  passwd pw{};
  passwd* found = nullptr;
  getpwnam_r(userName.c_str(), &pw, buf.data(), buf.size(), &found);
  if (found == nullptr) return "--user: no such user '" + userName + "'";
  if (found->pw_uid == 0) {
    return std::string("--user: workers must not run as uid 0 (use --sandbox off to keep root)");
  }
  plan.setIdentity = true;
  plan.uid = found->pw_uid;
  plan.gid = found->pw_gid;
  if (!config.sandboxGroup.empty()) {
    group gr{};
    group* g = nullptr;
    std::vector<char> gbuf(16384);
    getgrnam_r(config.sandboxGroup.c_str(), &gr, gbuf.data(), gbuf.size(), &g);
    if (g == nullptr) return "--group: no such group '" + config.sandboxGroup + "'";
    if (g->gr_gid == 0) return std::string("--group: workers must not run as gid 0");
    plan.gid = g->gr_gid;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> prepareWorkerSandbox(ServeConfig& config, const std::string& executable,
                                                Logger& logger) {
  SandboxPlan plan;
  config.workerSandbox = plan;
  if (!config.sandbox) {
    logger.warn(
        "worker sandbox off: workers keep the supervisor's user, capabilities and "
        "namespaces (--sandbox off)");
    return std::nullopt;
  }
  plan.enabled = true;
  plan.nofile = kWorkerNofile;
  std::string userName;
  if (auto error = resolveIdentity(config, plan, userName)) return error;

  const bool root = geteuid() == 0;
  const int wanted = CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWNS;
  plan.cloneFlags = root ? wanted : wanted | CLONE_NEWUSER;
  plan.userNamespaceAfterIdentity = root;
  std::string refused;
  auto note = [&](const std::string& what, int err) {
    if (!refused.empty()) refused += "; ";
    refused += what + ": " + errnoText(err);
  };

  std::vector<std::string> scripts;
  for (const auto& app : config.apps) {
    // A registry app's files come with it (AppConfig::modules): the worker opens none.
    if (app.modules.empty()) scripts.push_back(app.scriptPath);
  }
  ProbeResult result = probe(plan, executable, scripts);
  if (result.cloneError != 0) {
    // Keep each namespace the kernel grants on its own (non-root: only with a user namespace).
    int granted = 0;
    int lastError = result.cloneError;
    for (const auto& ns : kNamespaces) {
      if ((plan.cloneFlags & ns.flag) == 0) continue;
      SandboxPlan one = plan;
      one.cloneFlags = ns.flag | (root ? 0 : (plan.cloneFlags & CLONE_NEWUSER));
      if (!root && ns.flag != CLONE_NEWUSER && (granted & CLONE_NEWUSER) == 0) continue;
      ProbeResult r = probe(one, executable, scripts);
      if (r.cloneError == 0) {
        granted |= ns.flag;
      } else {
        lastError = r.cloneError;
      }
    }
    note("namespaces " + namespaceNames(plan.cloneFlags & ~granted), lastError);
    plan.cloneFlags = granted;
    result = probe(plan, executable, scripts);
  }
  if (result.failedStep == "unshare(CLONE_NEWUSER)") {
    note("user namespace", result.stepError);
    plan.userNamespaceAfterIdentity = false;
    result = probe(plan, executable, scripts);
  }
  if (result.cloneError != 0) {
    note("namespaces " + namespaceNames(plan.cloneFlags), result.cloneError);
    plan.cloneFlags = 0;
    result = probe(plan, executable, scripts);
  }
  if (result.cloneError != 0) {
    return "worker sandbox: cannot start a probe process: " + errnoText(result.cloneError);
  }
  if (!result.failedStep.empty()) {
    return "worker sandbox: " + result.failedStep + " failed: " + errnoText(result.stepError) +
           " (--sandbox off runs workers without it)";
  }
  if (result.execError != 0) {
    return "worker sandbox: the worker user " + userName + " cannot execute " + executable + " (" +
           errnoText(result.execError) +
           "): workers are started from this binary as that user, so it and every directory "
           "above it must be executable by that user (install it under /usr/local/bin, say), "
           "or choose another --user, or --sandbox off";
  }
  if (result.scriptError != 0) {
    return "worker sandbox: the worker user " + userName + " cannot read " +
           scripts[result.script] + " (" + errnoText(result.scriptError) +
           "): make the script and its directories readable by that user or group, choose "
           "another --user, or --sandbox off";
  }
  const bool ownUserNamespace =
      plan.userNamespaceAfterIdentity || (plan.cloneFlags & CLONE_NEWUSER) != 0;
  if (ownUserNamespace) plan.nproc = kWorkerNproc;
  if (!refused.empty()) {
    logger.warn("worker sandbox: the kernel refused part of it; workers run without that part",
                {{"refused", refused}});
  }
  config.workerSandbox = plan;
  logger.info(
      "worker sandbox",
      {{"user", userName},
       {"uid", root ? std::to_string(plan.uid) : std::to_string(geteuid())},
       {"gid", root ? std::to_string(plan.gid) : std::to_string(getegid())},
       {"namespaces",
        namespaceNames(plan.cloneFlags | (plan.userNamespaceAfterIdentity ? CLONE_NEWUSER : 0))},
       {"nofile", plan.nofile},
       {"nproc", plan.nproc}});
  return std::nullopt;
}

}  // namespace isolated::sandbox
