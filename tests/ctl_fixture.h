// The control socket tests' helpers: a server with its own socket in a fresh temporary
// directory (CtlTest), `isolated ctl` run as a process (CtlProcess), a hand-driven connection
// (RawConnection) and readers of its tables and replies. Shared by ctl_test.cc and
// ctl_socket_test.cc.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "eventually.h"
#include "http_client.h"
#include "sanitizer.h"
#include "server_process.h"
#include "temp_dir.h"

extern char** environ;

namespace isolated::test {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// ---- helpers -------------------------------------------------------------------------------

struct CtlResult {
  int exitCode = -1;  // -1: did not exit in time (it was killed)
  std::string out;
  std::string err;
};

// `isolated ctl ARGS...` as a child process with stdout and stderr captured (stdout optionally
// on a pseudo-terminal). The destructor kills and reaps it, so a failing test leaks nothing.
class CtlProcess {
 public:
  explicit CtlProcess(const std::vector<std::string>& args,
                      const std::map<std::string, std::string>& env = {}, bool ttyStdout = false) {
    std::vector<std::string> argv = {ISOLATED_BINARY, "ctl"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<std::string> envStrings;
    for (char** e = environ; *e != nullptr; ++e) {
      std::string entry = *e;
      if (entry.rfind("ISOLATED_CONTROL_SOCKET=", 0) == 0) continue;
      envStrings.push_back(entry);
    }
    for (const auto& [k, v] : env)
      envStrings.push_back(k + "=" + v);
    std::vector<char*> cargv, cenv;
    for (auto& a : argv)
      cargv.push_back(a.data());
    cargv.push_back(nullptr);
    for (auto& e : envStrings)
      cenv.push_back(e.data());
    cenv.push_back(nullptr);

    int outPipe[2] = {-1, -1}, errPipe[2];
    int ttySlave = -1;
    if (ttyStdout) {
      outPipe[0] = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
      if (outPipe[0] < 0 || grantpt(outPipe[0]) != 0 || unlockpt(outPipe[0]) != 0) {
        throw std::runtime_error("posix_openpt failed");
      }
      ttySlave = open(ptsname(outPipe[0]), O_RDWR | O_NOCTTY | O_CLOEXEC);
      if (ttySlave < 0) throw std::runtime_error("cannot open the pty slave");
      outPipe[1] = ttySlave;
    } else if (pipe2(outPipe, O_CLOEXEC) != 0) {
      throw std::runtime_error("pipe2 failed");
    }
    if (pipe2(errPipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      dup2(outPipe[1], 1);
      dup2(errPipe[1], 2);
      int devNull = open("/dev/null", O_RDONLY);
      dup2(devNull, 0);
      execve(cargv[0], cargv.data(), cenv.data());
      _exit(127);
    }
    close(outPipe[1]);
    close(errPipe[1]);
    outFd_ = outPipe[0];
    errFd_ = errPipe[0];
  }
  ~CtlProcess() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (outFd_ >= 0) close(outFd_);
    if (errFd_ >= 0) close(errFd_);
  }
  CtlProcess(const CtlProcess&) = delete;
  CtlProcess& operator=(const CtlProcess&) = delete;

  void signal(int sig) const { kill(pid_, sig); }

  // Reads output until stdout contains `needle` `count` times, or the deadline passes.
  bool waitForStdout(const std::string& needle, size_t count = 1,
                     std::chrono::milliseconds timeout = 20s) {
    auto deadline = Clock::now() + timeout;
    while (occurrences(result_.out, needle) < count) {
      if (!pump(deadline)) return false;
    }
    return true;
  }

  // Reads until both streams end and the process exits; kills it after `timeout`.
  CtlResult finish(std::chrono::milliseconds timeout = 30s) {
    auto deadline = Clock::now() + timeout;
    while (outFd_ >= 0 || errFd_ >= 0) {
      if (!pump(deadline)) break;
    }
    for (;;) {
      int status = 0;
      pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        reaped_ = true;
        result_.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        break;
      }
      if (Clock::now() >= deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
        reaped_ = true;
        break;
      }
      // The streams are closed, so the exit is imminent; there is no descriptor to wait on.
      std::this_thread::sleep_for(5ms);
    }
    return result_;
  }

 private:
  static size_t occurrences(const std::string& text, const std::string& needle) {
    size_t n = 0;
    for (size_t at = text.find(needle); at != std::string::npos;
         at = text.find(needle, at + needle.size()))
      ++n;
    return n;
  }

  // One poll over the open streams; false when nothing is open or the deadline passed.
  bool pump(Clock::time_point deadline) {
    std::vector<pollfd> fds;
    if (outFd_ >= 0) fds.push_back({outFd_, POLLIN, 0});
    if (errFd_ >= 0) fds.push_back({errFd_, POLLIN, 0});
    if (fds.empty()) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    if (poll(fds.data(), fds.size(), static_cast<int>(left.count())) <= 0) return false;
    for (const auto& p : fds) {
      if (p.revents == 0) continue;
      int& fd = p.fd == outFd_ ? outFd_ : errFd_;
      std::string& sink = p.fd == outFd_ ? result_.out : result_.err;
      char buffer[65536];
      ssize_t n = read(fd, buffer, sizeof buffer);
      if (n > 0) {
        sink.append(buffer, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        // EOF, or EIO from a pty whose slave side is gone.
        close(fd);
        fd = -1;
      }
    }
    return true;
  }

  pid_t pid_ = -1;
  bool reaped_ = false;
  int outFd_ = -1;
  int errFd_ = -1;
  CtlResult result_;
};

inline CtlResult runCtl(const std::vector<std::string>& args,
                        const std::map<std::string, std::string>& env = {}) {
  CtlProcess process(args, env);
  return process.finish();
}

// Whether `reply` is an object with "ok": true (false for a missing or unparsable reply).
inline bool isOk(const json& reply) {
  return reply.is_object() && reply.contains("ok") && reply["ok"] == true;
}

// Whether `reply` is a failure as the protocol defines it: "ok": false with an error text.
inline bool isFailure(const json& reply) {
  return reply.is_object() && reply.contains("ok") && reply["ok"] == false &&
         reply.contains("error") && reply["error"].is_string() &&
         !reply["error"].get<std::string>().empty();
}

inline json parseLine(const std::string& line) {
  return json::parse(line, nullptr, false);
}

inline std::string describe(const CtlResult& r) {
  return "exit " + std::to_string(r.exitCode) + "\nstdout:\n" + r.out + "\nstderr:\n" + r.err;
}

// A hand-driven connection to the control socket, for what `isolated ctl` never sends.
class RawConnection {
 public:
  explicit RawConnection(const std::string& path) {
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::snprintf(address.sun_path, sizeof address.sun_path, "%s", path.c_str());
    if (connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      throw std::runtime_error("cannot connect to " + path);
    }
  }
  ~RawConnection() { close(fd_); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  // Writes everything; false if the peer is gone.
  bool send(const std::string& bytes) {
    size_t sent = 0;
    while (sent < bytes.size()) {
      ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      sent += static_cast<size_t>(n);
    }
    return true;
  }
  void shutdownWrite() { shutdown(fd_, SHUT_WR); }

  // The next line without its newline; nullopt on EOF or timeout.
  std::optional<std::string> readLine(std::chrono::milliseconds timeout = 10s) {
    auto deadline = Clock::now() + timeout;
    for (;;) {
      if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      if (!fill(deadline)) return std::nullopt;
    }
  }

  // Sends one request line and parses the reply (a discarded json when there is none).
  json request(const std::string& line) {
    if (!send(line + "\n")) return json(json::value_t::discarded);
    auto reply = readLine();
    if (!reply) return json(json::value_t::discarded);
    return json::parse(*reply, nullptr, false);
  }

  // Whether the server closes the connection within `timeout` (data before EOF is discarded).
  bool closedWithin(std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (!eof_) {
      if (!fill(deadline) && !eof_) return false;
    }
    return true;
  }

 private:
  bool fill(Clock::time_point deadline) {
    if (eof_) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char chunk[65536];
    ssize_t n = read(fd_, chunk, sizeof chunk);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  std::string buffer_;
  bool eof_ = false;
};

// The handler every test serves. Routes: /ok; /flood?n=N logs N long lines, then answers.
inline constexpr const char* kScript = R"JS(
function param(url, name, fallback) {
  const match = new RegExp(`[?&]${name}=(\\d+)`).exec(url);
  return match ? Number(match[1]) : fallback;
}
const pad = 'x'.repeat(100);
export default {
  async fetch(request) {
    const url = request.url;
    const path = url.slice(url.indexOf('/', url.indexOf('//') + 2)).split('?')[0];
    if (path === '/flood') {
      const n = param(url, 'n', 20000);
      for (let i = 0; i < n; i++) console.log(`flood-line ${i} ${pad}`);
      return new Response(`flooded ${n}\n`);
    }
    if (path === '/ok') return new Response('ok\n');
    return new Response('not found\n', { status: 404 });
  },
};
)JS";

// One server per test, on port 0, with its control socket in a fresh directory.
class CtlTest : public ::testing::Test {
 protected:
  // Health pings stay at their default (30 s) unless a test needs what a Pong reports (heap,
  // lag, health, dropped log lines): then it passes a short --health-interval in `extra`.
  void start(std::vector<std::string> extra = {}, uint32_t workers = 2) {
    script_ = dir_.write("worker.js", kScript);
    socket_ = dir_.path().string() + "/ctl.sock";
    std::vector<std::string> args = {"--workers", std::to_string(workers), "--control-socket",
                                     socket_};
    args.insert(args.end(), extra.begin(), extra.end());
    server_ = std::make_unique<ServerProcess>(script_, args);
    ASSERT_NE(server_->waitReady(), 0) << server_->output();
  }

  CtlResult ctl(std::vector<std::string> args) {
    args.insert(args.begin(), {"--socket", socket_});
    return runCtl(args);
  }

  // `ctl --json CMD`, parsed; fails the test unless it exits 0 with an "ok":true object.
  json ctlJson(std::vector<std::string> args) {
    args.insert(args.begin(), "--json");
    CtlResult r = ctl(args);
    EXPECT_EQ(r.exitCode, 0) << describe(r);
    json reply = parseLine(r.out);
    EXPECT_TRUE(isOk(reply)) << describe(r);
    return isOk(reply) ? reply : json::object();
  }

  // The status object and the workers array; empty (and a recorded failure) when ctl failed.
  json status() { return ctlJson({"status"}).value("status", json::object()); }
  json workers() { return ctlJson({"workers"}).value("workers", json::array()); }

  // Workers in `state`, from `ctl --json workers`.
  size_t countWorkers(const std::string& state) {
    json list = workers();
    if (!list.is_array()) return 0;
    return static_cast<size_t>(std::count_if(
        list.begin(), list.end(), [&](const json& w) { return w.value("state", "") == state; }));
  }

  // Waits for the admin listener's log line and returns its base URL.
  std::string adminUrl() {
    auto line = server_->waitForLine([](const std::string& l) {
      return l.find("msg=\"admin listening\"") != std::string::npos;
    });
    if (!line) {
      ADD_FAILURE() << "no 'admin listening' line\n" << server_->output();
      return {};
    }
    return "http://" + logField(*line, "address");
  }

  TempDir dir_;
  std::string script_;
  std::string socket_;
  std::unique_ptr<ServerProcess> server_;
};

// Data rows of a rendered workers table: the lines after the header, up to the first blank.
inline std::vector<std::string> tableRows(const std::string& table) {
  std::vector<std::string> rows;
  std::istringstream in(table);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line) && !line.empty())
    rows.push_back(line);
  return rows;
}

inline std::vector<std::string> words(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  for (std::string w; in >> w;)
    out.push_back(w);
  return out;
}

const std::vector<std::string> kWorkerHeader = {"ID",        "SLOT",      "PID",
                                                "STATE",     "UPTIME",    "SERVED",
                                                "INFLIGHT",  "RSS",       "HEAP(used/limit)",
                                                "HEALTH",    "LAG",       "RESTARTS",
                                                "LAST-EXIT", "CPU-KILLS", "MEM-KILLS",
                                                "ISOLATES"};

// ---- every command, table and JSON ---------------------------------------------------------

}  // namespace isolated::test
