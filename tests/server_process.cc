// ServerProcess: spawn, stderr capture and teardown of a real server under test.
#include "server_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <set>
#include <stdexcept>

#include "staged_binary.h"

extern char** environ;

namespace isolated::test {

bool sandboxUsable() {
  return !serverBinary().empty();
}

ServerProcess::ServerProcess(const std::string& script, std::vector<std::string> args,
                             std::map<std::string, std::string> env) {
  // An empty script: the arguments name the apps (--config FILE).
  const std::string& binary = serverBinary();
  std::vector<std::string> argv = {binary.empty() ? ISOLATED_BINARY : binary, "serve"};
  if (!script.empty()) argv.push_back(script);
  argv.insert(argv.end(), {"--listen", "127.0.0.1:0"});
  // Every server gets a directory of its own, removed with this object: its control socket
  // (unless the test names one), so tests can run side by side, and its TMPDIR, where the
  // supervisor keeps script snapshots. A server killed with SIGKILL (the destructor's way)
  // cannot remove those itself. Sandboxed workers map the snapshots as another user: o+x.
  char pattern[] = "/tmp/isolated-srv-XXXXXX";
  if (mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
  tempDir_ = pattern;
  std::filesystem::permissions(tempDir_, std::filesystem::perms::others_exec,
                               std::filesystem::perm_options::add);
  auto given = std::find(args.begin(), args.end(), "--control-socket");
  if (given != args.end() && given + 1 != args.end()) {
    controlSocket_ = *(given + 1);
  } else {
    controlSocket_ = tempDir_ + "/ctl.sock";
    argv.insert(argv.end(), {"--control-socket", controlSocket_});
  }
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<std::string> envStrings;
  for (char** e = environ; *e != nullptr; ++e)
    envStrings.emplace_back(*e);
  for (const auto& [k, v] : env)
    envStrings.push_back(k + "=" + v);
  if (!env.contains("TMPDIR")) {
    std::erase_if(envStrings, [](const std::string& e) { return e.starts_with("TMPDIR="); });
    envStrings.push_back("TMPDIR=" + tempDir_);
  }
  // Sandboxed workers exec the binary and read the scripts as the sandbox's user. In a checkout
  // that user cannot reach (under /root, say) the scripts, and those a --config names, are out
  // of its reach too: such servers run without the sandbox unless the test chose it. The
  // sandbox's own tests do, with scripts copied to a readable directory, and their binary is a
  // staged copy (serverBinary()). A script the user cannot read runs without the sandbox too.
  bool sandboxChosen = env.contains("ISOLATED_SANDBOX") || env.contains("ISOLATED_USER") ||
                       std::find(args.begin(), args.end(), "--sandbox") != args.end() ||
                       std::find(args.begin(), args.end(), "--user") != args.end();
  // As root, the binary is staged (or could not be) exactly when the checkout is private.
  const bool privateCheckout = binary != ISOLATED_BINARY;
  if (::geteuid() == 0 && !sandboxChosen &&
      (privateCheckout || (!script.empty() && !reachableByOthers(script, false)))) {
    envStrings.push_back("ISOLATED_SANDBOX=off");
  }

  std::vector<char*> cargv;
  for (auto& a : argv)
    cargv.push_back(a.data());
  cargv.push_back(nullptr);
  std::vector<char*> cenv;
  for (auto& e : envStrings)
    cenv.push_back(e.data());
  cenv.push_back(nullptr);

  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    dup2(fds[1], 2);
    execve(cargv[0], cargv.data(), cenv.data());
    _exit(127);
  }
  close(fds[1]);
  reader_ = std::thread([this, fd = fds[0]] { readLoop(fd); });
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0 && !reaped_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  // Workers die with their supervisor (PR_SET_PDEATHSIG), which closes the pipe's last writer.
  if (reader_.joinable()) reader_.join();
  if (!tempDir_.empty()) std::filesystem::remove_all(tempDir_);
}

void ServerProcess::readLoop(int fd) {
  std::string pending;
  char buffer[4096];
  for (;;) {
    ssize_t n = read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(buffer, static_cast<size_t>(n));
    size_t newline;
    std::vector<std::string> complete;
    while ((newline = pending.find('\n')) != std::string::npos) {
      complete.push_back(pending.substr(0, newline));
      pending.erase(0, newline + 1);
    }
    if (!complete.empty()) {
      std::lock_guard lock(mutex_);
      for (auto& line : complete)
        lines_.push_back(std::move(line));
      changed_.notify_all();
    }
  }
  close(fd);
  std::lock_guard lock(mutex_);
  if (!pending.empty()) lines_.push_back(pending);
  eof_ = true;
  changed_.notify_all();
}

std::optional<std::string> ServerProcess::waitForLine(
    const std::function<bool(const std::string&)>& match, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  size_t checked = 0;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    for (; checked < lines_.size(); ++checked) {
      if (match(lines_[checked])) return lines_[checked];
    }
    if (eof_) return std::nullopt;
    if (changed_.wait_until(lock, deadline) == std::cv_status::timeout) return std::nullopt;
  }
}

bool ServerProcess::waitForCount(const std::string& needle, size_t count,
                                 std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] {
    size_t n = std::count_if(lines_.begin(), lines_.end(), [&](const std::string& l) {
      return l.find(needle) != std::string::npos;
    });
    return n >= count || eof_;
  }) && std::count_if(lines_.begin(), lines_.end(), [&](const std::string& l) {
          return l.find(needle) != std::string::npos;
        }) >= static_cast<long>(count);
}

size_t ServerProcess::countLines(const std::string& needle) const {
  std::lock_guard lock(mutex_);
  return static_cast<size_t>(std::count_if(lines_.begin(), lines_.end(), [&](const auto& l) {
    return l.find(needle) != std::string::npos;
  }));
}

uint16_t ServerProcess::waitReady(std::chrono::milliseconds timeout) {
  auto listening = waitForLine(
      [](const std::string& l) { return l.find("msg=\"listening\"") != std::string::npos; },
      timeout);
  if (!listening) return 0;
  std::string address = logField(*listening, "address");
  port_ = static_cast<uint16_t>(std::stoi(address.substr(address.rfind(':') + 1)));
  auto ready = waitForLine(
      [](const std::string& l) { return l.find("msg=\"ready\"") != std::string::npos; }, timeout);
  return ready ? port_ : 0;
}

std::string ServerProcess::output() const {
  std::lock_guard lock(mutex_);
  std::string all;
  for (const auto& l : lines_)
    all += l + "\n";
  return all;
}

void ServerProcess::signal(int sig) const {
  if (pid_ > 0 && !reaped_) ::kill(pid_, sig);
}

std::optional<int> ServerProcess::waitExit(std::chrono::milliseconds timeout) {
  if (reaped_) return std::nullopt;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  for (;;) {
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      // Its last lines may still be in the pipe: wait for EOF (workers die with the supervisor,
      // so the pipe's last writer goes soon), bounded by the same deadline.
      std::unique_lock lock(mutex_);
      changed_.wait_until(lock, std::max(deadline, std::chrono::steady_clock::now() + 5s),
                          [&] { return eof_; });
      return status;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    // Exit is a state of another process with no fd to wait on; the stderr EOF usually comes
    // first, so wait for that, then poll briefly.
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, 10ms, [&] { return eof_; });
  }
}

std::vector<pid_t> ServerProcess::liveWorkerPids() const {
  std::lock_guard lock(mutex_);
  std::vector<pid_t> ready;
  std::set<pid_t> exited;
  for (const auto& l : lines_) {
    if (l.find("msg=\"worker ready\"") != std::string::npos) {
      ready.push_back(std::stoi(logField(l, "pid")));
    } else if (l.find("msg=\"worker exited\"") != std::string::npos ||
               l.find("msg=\"worker lost\"") != std::string::npos) {
      exited.insert(std::stoi(logField(l, "pid")));
    }
  }
  std::erase_if(ready, [&](pid_t p) { return exited.contains(p); });
  return ready;
}

std::string logField(const std::string& line, const std::string& key) {
  std::string needle = " " + key + "=";
  auto at = line.find(needle);
  if (at == std::string::npos) return {};
  at += needle.size();
  if (at < line.size() && line[at] == '"') {
    auto end = line.find('"', at + 1);
    return line.substr(at + 1, end - at - 1);
  }
  auto end = line.find(' ', at);
  return line.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

}  // namespace isolated::test
