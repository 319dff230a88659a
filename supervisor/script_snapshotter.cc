// Script snapshot helper processes and their files: see script_snapshotter.h.
#include "supervisor/script_snapshotter.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include "common/syscall.h"
#include "common/unique_fd.h"

namespace isolated::supervisor {

namespace {

// The helper's exit status when it deliberately wrote no snapshot (and logged why); see
// worker/script_snapshot_main.h.
constexpr int kNoScriptSnapshot = 3;

std::string makePrivateDirectory(const SandboxPlan* sandbox) {
  const char* tmp = std::getenv("TMPDIR");
  std::string templ = std::string(tmp != nullptr && *tmp ? tmp : "/tmp") + "/isolated-XXXXXX";
  // mkdtemp creates the directory with mode 0700.
  checkedSyscall("mkdtemp", templ, [&] { return ::mkdtemp(templ.data()) == nullptr ? -1 : 0; });
  // The sandboxed helper writes here, and sandboxed workers read, as the worker user.
  if (sandbox != nullptr && sandbox->enabled && sandbox->setIdentity) {
    if (::chown(templ.c_str(), sandbox->uid, sandbox->gid) != 0) {
      int err = errno;
      ::rmdir(templ.c_str());
      throw SyscallError("chown", err, templ);
    }
  }
  return templ;
}

// A snapshot file and the list of its sources beside it. Workers that mapped it keep their
// mapping.
void removeSnapshot(const std::string& path) {
  ::unlink(path.c_str());
  ::unlink((path + ".sources").c_str());
}

}  // namespace

ScriptSnapshotter::ScriptSnapshotter(event_base* base, std::vector<std::string> helperCommand,
                                     Logger& logger, std::function<void()> done,
                                     const SandboxPlan* sandbox)
    : loop_(base),
      helperCommand_(std::move(helperCommand)),
      logger_(logger),
      done_(std::move(done)),
      sandbox_(sandbox),
      dir_(makePrivateDirectory(sandbox)),
      timeout_(loop_, [this] {
        logger_.warn("script snapshot helper overran its time; killed",
                     {{"timeout_s", kHelperTimeout.count()}});
        // Reaped, and `done` run, on SIGCHLD.
        if (helper_) helper_->signal(SIGKILL);
      }) {}

ScriptSnapshotter::~ScriptSnapshotter() {
  helper_.reset();  // SIGKILL and reap
  for (const auto& [generation, path] : files_)
    removeSnapshot(path);
  if (!helperOut_.empty()) removeSnapshot(helperOut_);
  ::rmdir(dir_.c_str());
}

bool ScriptSnapshotter::start(uint64_t generation, bool withBindings) {
  helper_.reset();
  timeout_.cancel();
  if (!helperOut_.empty()) removeSnapshot(helperOut_);
  helperGeneration_ = generation;
  helperOut_ = dir_ + "/script-" + std::to_string(generation) + ".snapshot";
  // A refused reload's generation number comes round again: its file is stale.
  removeSnapshot(helperOut_);
  files_.erase(generation);
  std::vector<std::string> argv = helperCommand_;
  argv.insert(argv.end(), {"--out", helperOut_});
  if (withBindings) argv.push_back("--with-bindings");
  try {
    // The helper gets /dev/null as its fd 3: it has no channel, only its exit status.
    UniqueFd devNull(checkedSyscall("open", "/dev/null",
                                    [] { return ::open("/dev/null", O_RDONLY | O_CLOEXEC); }));
    helper_ = ChildProcess::spawn(argv, devNull, sandbox_);
  } catch (const SyscallError& e) {
    logger_.warn("script snapshot off: cannot start the helper", {{"error", e.what()}});
    helperOut_.clear();
    return false;
  }
  helperStarted_ = std::chrono::steady_clock::now();
  timeout_.arm(static_cast<uint32_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(kHelperTimeout).count()));
  logger_.debug("script snapshot helper started",
                {{"pid", helper_->pid()}, {"generation", generation}});
  return true;
}

bool ScriptSnapshotter::reaped(pid_t pid, int status) {
  if (!helper_ || helper_->pid() != pid) return false;
  helper_->markReaped();
  bool written = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (!written && !(WIFEXITED(status) && WEXITSTATUS(status) == kNoScriptSnapshot)) {
    logger_.warn("script snapshot off: the helper failed; workers evaluate the script",
                 {{"status", describeExitStatus(status)}});
  }
  finish(written);
  return true;
}

void ScriptSnapshotter::finish(bool written) {
  helper_.reset();
  timeout_.cancel();
  if (written) {
    files_[helperGeneration_] = helperOut_;
    // Keep this generation's file and the one before it.
    while (files_.size() > 2) {
      removeSnapshot(files_.begin()->second);
      files_.erase(files_.begin());
    }
    logger_.debug("script snapshot in use",
                  {{"generation", helperGeneration_},
                   {"path", helperOut_},
                   {"ms", std::chrono::duration<double, std::milli>(
                              std::chrono::steady_clock::now() - helperStarted_)
                              .count()}});
  } else {
    removeSnapshot(helperOut_);
    files_.erase(helperGeneration_);
  }
  helperOut_.clear();
  done_();
}

std::string ScriptSnapshotter::pathFor(uint64_t generation) const {
  auto it = files_.find(generation);
  return it == files_.end() ? std::string() : it->second;
}

}  // namespace isolated::supervisor
