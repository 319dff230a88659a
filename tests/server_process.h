// A real `isolated serve` process for integration tests. It is started with port 0, its stderr
// is collected line by line on a reader thread, and the destructor kills and reaps it, so a
// failing test never leaks a server. Waiting is always for a condition (a log line, an exit)
// with a deadline, never a fixed sleep.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace isolated::test {

using namespace std::chrono_literals;

class ServerProcess {
 public:
  // Starts `isolated serve SCRIPT --listen 127.0.0.1:0 ARGS...` with `env` added to the
  // environment; with an empty SCRIPT, ARGS name the apps (`--config FILE`).
  ServerProcess(const std::string& script, std::vector<std::string> args = {},
                std::map<std::string, std::string> env = {});
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  pid_t pid() const { return pid_; }
  // The control socket: the one given in ARGS, or a fresh one in a private temporary directory.
  const std::string& controlSocket() const { return controlSocket_; }

  // Waits for the `ready` log line and returns the bound port (0 if it never came).
  uint16_t waitReady(std::chrono::milliseconds timeout = 20s);
  uint16_t port() const { return port_; }
  std::string baseUrl() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // Waits until a stderr line satisfies `match`; returns it.
  std::optional<std::string> waitForLine(const std::function<bool(const std::string&)>& match,
                                         std::chrono::milliseconds timeout = 20s);
  // Waits until at least `count` lines contain `needle`.
  bool waitForCount(const std::string& needle, size_t count,
                    std::chrono::milliseconds timeout = 20s);
  size_t countLines(const std::string& needle) const;
  std::string output() const;

  void signal(int sig) const;
  // Waits for the process to exit; returns its waitpid status, or nullopt on timeout.
  std::optional<int> waitExit(std::chrono::milliseconds timeout = 30s);

  // Pids of workers announced by `worker ready` lines and not yet reported as exited.
  std::vector<pid_t> liveWorkerPids() const;

 private:
  void readLoop(int fd);

  pid_t pid_ = -1;
  bool reaped_ = false;
  std::string tempDir_;
  std::string controlSocket_;
  uint16_t port_ = 0;
  std::thread reader_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::string> lines_;
  bool eof_ = false;
};

// Whether sandboxed workers can run: as root, the sandbox's user (`nobody`) must be able to reach
// and run the binary, ISOLATED_BINARY or its staged copy (serverBinary()). False only when a
// checkout under a private directory could not be staged.
bool sandboxUsable();

// The value of `key=VALUE` in a logfmt line ("" when absent).
std::string logField(const std::string& line, const std::string& key);

}  // namespace isolated::test
