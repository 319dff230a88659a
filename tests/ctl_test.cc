// Integration tests of the control socket and `isolated ctl` with the real binary: every command
// in table and JSON form, their effects on the pool, the wire protocol's error handling and
// limits, the socket's permissions, the admin listener (/metrics through the Prometheus parser,
// /healthz, /readyz) and a log flood. Each test runs its own server with its own socket in a
// fresh temporary directory, and waits on log lines, replies or exits, never on fixed sleeps.
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

#include "http_client.h"
#include "sanitizer.h"
#include "server_process.h"

extern char** environ;

namespace isolated::test {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// ---- helpers -------------------------------------------------------------------------------

// A fresh directory under /tmp, removed with everything in it. Paths stay short, well within
// the 108 bytes of a Unix socket address.
class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/isolated-ctl-XXXXXX";
    if (mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
    // Sandboxed workers run as nobody and must be able to read scripts written here.
    std::filesystem::permissions(path_, std::filesystem::perms(0755));
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name, const std::string& content) const {
    std::string p = path_ + "/" + name;
    std::ofstream(p) << content;
    return p;
  }

 private:
  std::string path_;
};

// Polls `condition` until it holds or `timeout` passes. For state that has no event to wait on
// (a worker count, a listener's state); the interval is short and the deadline is the bound.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 20s) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(50ms);
  }
}

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

CtlResult runCtl(const std::vector<std::string>& args,
                 const std::map<std::string, std::string>& env = {}) {
  CtlProcess process(args, env);
  return process.finish();
}

// Whether `reply` is an object with "ok": true (false for a missing or unparsable reply).
bool isOk(const json& reply) {
  return reply.is_object() && reply.contains("ok") && reply["ok"] == true;
}

// Whether `reply` is a failure as the protocol defines it: "ok": false with an error text.
bool isFailure(const json& reply) {
  return reply.is_object() && reply.contains("ok") && reply["ok"] == false &&
         reply.contains("error") && reply["error"].is_string() &&
         !reply["error"].get<std::string>().empty();
}

json parseLine(const std::string& line) {
  return json::parse(line, nullptr, false);
}

std::string describe(const CtlResult& r) {
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
constexpr const char* kScript = R"JS(
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
    script_ = dir_.file("worker.js", kScript);
    socket_ = dir_.path() + "/ctl.sock";
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
std::vector<std::string> tableRows(const std::string& table) {
  std::vector<std::string> rows;
  std::istringstream in(table);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line) && !line.empty())
    rows.push_back(line);
  return rows;
}

std::vector<std::string> words(const std::string& line) {
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

TEST_F(CtlTest, StatusTableAndJson) {
  start();
  ASSERT_EQ(httpGet(server_->baseUrl() + "/ok").status, 200);

  CtlResult table = ctl({"status"});
  ASSERT_EQ(table.exitCode, 0) << describe(table);
  EXPECT_TRUE(table.err.empty()) << table.err;
  for (const char* key :
       {"state:", "uptime:", "workers:", "responses:", "restarts:", "pid:", "dropped log lines:"}) {
    EXPECT_NE(table.out.find(key), std::string::npos) << key << "\n" << table.out;
  }
  EXPECT_NE(table.out.find("serving"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find(std::to_string(server_->pid())), std::string::npos) << table.out;

  json s = status();
  EXPECT_EQ(s.value("state", ""), "serving");
  EXPECT_EQ(s.value("pid", 0), server_->pid());
  EXPECT_EQ(s.value("workers", 0), 2);
  EXPECT_EQ(s.value("target", 0), 2);
  EXPECT_EQ(s.value("version", ""), "0.1.0");
  EXPECT_NE(s.value("listen", "").find(std::to_string(server_->port())), std::string::npos);
  EXPECT_GE(s.value("requests_total", 0), 1);
  ASSERT_TRUE(s.contains("responses") && s["responses"].is_object()) << s.dump();
  EXPECT_GE(s["responses"].value("2xx", 0), 1);
  for (const char* key : {"uptime_s", "script", "isolation", "min_workers", "max_workers",
                          "in_flight", "queued", "restarts", "dropped_log_lines"}) {
    EXPECT_TRUE(s.contains(key)) << key << " missing from " << s.dump();
  }
  EXPECT_EQ(s.value("script", ""), std::filesystem::canonical(script_).string());
}

TEST_F(CtlTest, WorkersTableAndJson) {
  start({"--health-interval", "200"});
  // Health needs one Pong before it reads "ok" (with --health-interval 200, within a second);
  // RSS is sampled once a second.
  ASSERT_TRUE(eventually([&] {
    json list = workers();
    return list.is_array() && list.size() == 2 &&
           std::all_of(list.begin(), list.end(), [](const json& w) {
             return w.value("health", "") == "ok" && w.value("rss_bytes", 0ull) > 0;
           });
  })) << workers().dump();

  std::set<pid_t> pids;
  for (pid_t p : server_->liveWorkerPids())
    pids.insert(p);

  json list = workers();
  ASSERT_EQ(list.size(), 2u);
  for (const auto& w : list) {
    for (const char* key :
         {"id", "slot", "pid", "state", "uptime_s", "requests_served", "in_flight", "rss_bytes",
          "heap_used_bytes", "heap_limit_bytes", "health", "event_loop_lag_ms", "restarts",
          "last_exit_reason", "cpu_limit_terminations", "memory_limit_terminations", "retiring"}) {
      EXPECT_TRUE(w.contains(key)) << key << " missing from " << w.dump();
    }
    EXPECT_EQ(w.value("state", ""), "ready");
    EXPECT_TRUE(pids.contains(w.value("pid", 0))) << w.dump();
    EXPECT_GT(w.value("rss_bytes", 0ull), 1ull << 20) << w.dump();
    EXPECT_GT(w.value("heap_limit_bytes", 0ull), w.value("heap_used_bytes", 0ull)) << w.dump();
    EXPECT_GT(w.value("heap_used_bytes", 0ull), 0ull) << w.dump();
  }
  std::set<int> slots = {list[0].value("slot", 0), list[1].value("slot", 0)};
  EXPECT_EQ(slots, (std::set<int>{1, 2}));

  CtlResult table = ctl({"workers"});
  ASSERT_EQ(table.exitCode, 0) << describe(table);
  std::string header = table.out.substr(0, table.out.find('\n'));
  EXPECT_EQ(words(header), kWorkerHeader) << table.out;
  auto rows = tableRows(table.out);
  ASSERT_EQ(rows.size(), 2u) << table.out;
  std::set<pid_t> tablePids;
  for (const auto& row : rows) {
    auto cells = words(row);
    ASSERT_EQ(cells.size(), kWorkerHeader.size()) << row;
    tablePids.insert(std::stoi(cells[2]));
    EXPECT_EQ(cells[3], "ready") << row;
    EXPECT_EQ(cells[9], "ok") << row;
    EXPECT_NE(cells[7].find('.'), std::string::npos) << "RSS in MiB with a decimal: " << row;
  }
  EXPECT_EQ(tablePids, pids);
}

TEST_F(CtlTest, MetricsIsPrometheusTextInBothModes) {
  start();
  ASSERT_EQ(httpGet(server_->baseUrl() + "/ok").status, 200);
  for (bool asJson : {false, true}) {
    CtlResult r = asJson ? ctl({"--json", "metrics"}) : ctl({"metrics"});
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_NE(r.out.find("# TYPE isolated_requests_total counter"), std::string::npos) << r.out;
    EXPECT_TRUE(json::parse(r.out, nullptr, false).is_discarded()) << "metrics printed as JSON";
  }
}

TEST_F(CtlTest, ReloadReplacesEveryWorker) {
  start();
  auto before = server_->liveWorkerPids();
  ASSERT_EQ(before.size(), 2u);

  CtlResult r = ctl({"reload"});
  ASSERT_EQ(r.exitCode, 0) << describe(r);
  EXPECT_FALSE(r.out.empty());
  ASSERT_TRUE(server_->waitForLine([](const std::string& l) {
    return l.find("msg=\"reload complete\"") != std::string::npos;
  })) << server_->output();

  ASSERT_TRUE(eventually([&] { return countWorkers("ready") == 2 && workers().size() == 2; }))
      << workers().dump();
  for (const auto& w : workers()) {
    EXPECT_EQ(std::count(before.begin(), before.end(), w.value("pid", 0)), 0)
        << "worker " << w.dump() << " survived the reload";
    EXPECT_EQ(w.value("last_exit_reason", ""), "reload") << w.dump();
    EXPECT_GE(w.value("restarts", 0), 1) << w.dump();
  }
  EXPECT_EQ(status().value("restarts", json::object()).value("reload", 0), 2) << status().dump();
  EXPECT_EQ(httpGet(server_->baseUrl() + "/ok").status, 200);
}

TEST_F(CtlTest, RestartRecyclesOneWorker) {
  start();
  json list = workers();
  ASSERT_EQ(list.size(), 2u);
  int id = list[0].value("id", 0);
  int slot = list[0].value("slot", 0);
  int otherPid = list[1].value("pid", 0);

  CtlResult r = ctl({"restart", std::to_string(id)});
  ASSERT_EQ(r.exitCode, 0) << describe(r);
  ASSERT_TRUE(server_->waitForLine([](const std::string& l) {
    return l.find("msg=\"recycling worker\"") != std::string::npos;
  })) << server_->output();

  // The replacement takes the slot; the other worker is untouched.
  ASSERT_TRUE(eventually([&] {
    json now = workers();
    bool gone =
        std::none_of(now.begin(), now.end(), [&](const json& w) { return w.value("id", 0) == id; });
    return gone && now.size() == 2 && countWorkers("ready") == 2;
  })) << workers().dump();
  for (const auto& w : workers()) {
    if (w.value("slot", 0) == slot) {
      EXPECT_EQ(w.value("restarts", 0), 1) << w.dump();
      EXPECT_FALSE(w.value("last_exit_reason", "").empty()) << w.dump();
    } else {
      EXPECT_EQ(w.value("pid", 0), otherPid) << w.dump();
      EXPECT_EQ(w.value("restarts", 0), 0) << w.dump();
    }
  }

  // No such worker: "ok":false, exit 1, the server's error on stderr; --json still prints it.
  CtlResult missing = ctl({"restart", "9999"});
  EXPECT_EQ(missing.exitCode, 1) << describe(missing);
  EXPECT_EQ(missing.err.rfind("isolated ctl: ", 0), 0u) << missing.err;
  EXPECT_NE(missing.err.find("9999"), std::string::npos) << missing.err;
  CtlResult missingJson = ctl({"--json", "restart", "9999"});
  EXPECT_EQ(missingJson.exitCode, 1) << describe(missingJson);
  json reply = json::parse(missingJson.out, nullptr, false);
  ASSERT_TRUE(reply.is_object()) << missingJson.out;
  EXPECT_TRUE(isFailure(reply)) << reply.dump();
}

TEST_F(CtlTest, ScaleUpAndDown) {
  start();
  CtlResult up = ctl({"scale", "3"});
  ASSERT_EQ(up.exitCode, 0) << describe(up);
  ASSERT_TRUE(server_->waitForLine([](const std::string& l) {
    return l.find("msg=\"scaling\"") != std::string::npos;
  })) << server_->output();
  ASSERT_TRUE(eventually([&] { return countWorkers("ready") == 3; })) << workers().dump();
  json s = status();
  EXPECT_EQ(s.value("target", 0), 3);
  EXPECT_EQ(s.value("workers", 0), 3);
  EXPECT_EQ(tableRows(ctl({"workers"}).out).size(), 3u);

  CtlResult down = ctl({"scale", "1"});
  ASSERT_EQ(down.exitCode, 0) << describe(down);
  ASSERT_TRUE(eventually([&] { return workers().size() == 1; })) << workers().dump();
  EXPECT_EQ(status().value("target", 0), 1);
  EXPECT_EQ(status().value("restarts", json::object()).value("scale-down", 0), 2)
      << status().dump();
  EXPECT_EQ(httpGet(server_->baseUrl() + "/ok").status, 200);

  // Out of range: refused by the server, nothing changes.
  for (const char* n : {"0", "257"}) {
    CtlResult bad = ctl({"scale", n});
    EXPECT_EQ(bad.exitCode, 1) << n << ": " << describe(bad);
    EXPECT_NE(bad.err.find("isolated ctl: "), std::string::npos) << bad.err;
  }
  EXPECT_EQ(status().value("target", 0), 1);
}

TEST_F(CtlTest, DrainRefusesConnectionsAndResumeAcceptsThem) {
  start({"--admin-listen", "127.0.0.1:0"});
  std::string admin = adminUrl();
  ASSERT_EQ(httpGet(server_->baseUrl() + "/ok").status, 200);
  EXPECT_EQ(httpGet(admin + "/readyz").status, 200);

  CtlResult drain = ctl({"drain"});
  ASSERT_EQ(drain.exitCode, 0) << describe(drain);
  EXPECT_EQ(status().value("state", ""), "draining");
  EXPECT_TRUE(eventually([&] { return connectionRefused(server_->port()); }));
  EXPECT_EQ(httpGet(admin + "/readyz").status, 503);
  EXPECT_EQ(httpGet(admin + "/healthz").status, 200);
  // The workers stay up while drained.
  EXPECT_EQ(countWorkers("ready"), 2u);
  // Draining twice is refused.
  EXPECT_EQ(ctl({"drain"}).exitCode, 1);

  CtlResult resume = ctl({"resume"});
  ASSERT_EQ(resume.exitCode, 0) << describe(resume);
  EXPECT_EQ(status().value("state", ""), "serving");
  EXPECT_EQ(httpGet(server_->baseUrl() + "/ok").status, 200);
  EXPECT_EQ(httpGet(admin + "/readyz").status, 200);
  // Resuming what is not drained is refused.
  EXPECT_EQ(ctl({"resume"}).exitCode, 1);
}

TEST_F(CtlTest, TopRefreshesUntilIterationsOrSignal) {
  start();
  CtlResult r = ctl({"top", "--iterations", "2"});
  ASSERT_EQ(r.exitCode, 0) << describe(r);
  size_t headers = 0;
  for (size_t at = r.out.find("ID  SLOT"); at != std::string::npos;
       at = r.out.find("ID  SLOT", at + 1))
    ++headers;
  EXPECT_EQ(headers, 2u) << r.out;
  EXPECT_EQ(r.out.find("\033[2J"), std::string::npos) << "clears the screen of a pipe";

  // --json: one workers reply per refresh, one per line.
  CtlResult asJson = ctl({"--json", "top", "--iterations", "2"});
  ASSERT_EQ(asJson.exitCode, 0) << describe(asJson);
  std::istringstream lines(asJson.out);
  int replies = 0;
  for (std::string line; std::getline(lines, line); ++replies) {
    json reply = parseLine(line);
    EXPECT_TRUE(isOk(reply) && reply["workers"].size() == 2) << line;
  }
  EXPECT_EQ(replies, 2) << asJson.out;

  // Until SIGTERM (or SIGINT): the third table appears, then the signal ends it with status 0.
  CtlProcess endless({"--socket", socket_, "top"});
  ASSERT_TRUE(endless.waitForStdout("ID  SLOT", 3)) << endless.finish().out;
  endless.signal(SIGTERM);
  CtlResult stopped = endless.finish(5s);
  EXPECT_EQ(stopped.exitCode, 0) << describe(stopped);

  CtlProcess interrupted({"--socket", socket_, "top"});
  ASSERT_TRUE(interrupted.waitForStdout("ID  SLOT", 1));
  interrupted.signal(SIGINT);
  EXPECT_EQ(interrupted.finish(5s).exitCode, 0);
}

TEST_F(CtlTest, TopClearsTheScreenOnATerminal) {
  start();
  CtlProcess tty({"--socket", socket_, "top", "--iterations", "2"}, {}, /*ttyStdout=*/true);
  CtlResult r = tty.finish();
  ASSERT_EQ(r.exitCode, 0) << describe(r);
  size_t clears = 0;
  for (size_t at = r.out.find("\033[H\033[2J"); at != std::string::npos;
       at = r.out.find("\033[H\033[2J", at + 1))
    ++clears;
  EXPECT_EQ(clears, 2u) << r.out;
}

TEST_F(CtlTest, SocketFromEnvironment) {
  start();
  CtlResult r = runCtl({"--json", "status"}, {{"ISOLATED_CONTROL_SOCKET", socket_}});
  ASSERT_EQ(r.exitCode, 0) << describe(r);
  EXPECT_EQ(parseLine(r.out).value("status", json::object()).value("pid", 0), server_->pid());
}

// ---- usage and reachability errors ---------------------------------------------------------

TEST(CtlUsage, UsageErrorsExitTwo) {
  for (const auto& args : std::vector<std::vector<std::string>>{{},
                                                                {"bogus"},
                                                                {"restart"},
                                                                {"restart", "x"},
                                                                {"scale"},
                                                                {"status", "extra"},
                                                                {"--no-such-flag", "status"}}) {
    CtlResult r = runCtl(args);
    EXPECT_EQ(r.exitCode, 2) << describe(r);
    EXPECT_EQ(r.err.rfind("isolated ctl: ", 0), 0u) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
  CtlResult help = runCtl({"--help"});
  EXPECT_EQ(help.exitCode, 0);
  EXPECT_NE(help.out.find("restart ID"), std::string::npos) << help.out;
}

TEST(CtlUsage, UnreachableSocketExitsThreeNamingPathAndErrno) {
  TempDir dir;
  std::string missing = dir.path() + "/none.sock";
  CtlResult r = runCtl({"--socket", missing, "status"});
  EXPECT_EQ(r.exitCode, 3) << describe(r);
  EXPECT_EQ(r.err, "isolated ctl: cannot connect to " + missing + ": No such file or directory\n");

  // A socket file nobody listens on.
  std::string stale = dir.path() + "/stale.sock";
  {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::snprintf(address.sun_path, sizeof address.sun_path, "%s", stale.c_str());
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    close(fd);
  }
  r = runCtl({"--socket", stale, "workers"});
  EXPECT_EQ(r.exitCode, 3) << describe(r);
  EXPECT_NE(r.err.find("Connection refused"), std::string::npos) << r.err;
}

TEST(CtlUsage, SilentServerTimesOutWithExitThree) {
  // A listener that accepts (through the backlog) but never answers.
  TempDir dir;
  std::string path = dir.path() + "/mute.sock";
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::snprintf(address.sun_path, sizeof address.sun_path, "%s", path.c_str());
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(listen(fd, 4), 0);
  auto started = Clock::now();
  CtlResult r = runCtl({"--socket", path, "status"});
  auto took = Clock::now() - started;
  close(fd);
  EXPECT_EQ(r.exitCode, 3) << describe(r);
  EXPECT_NE(r.err.find("no reply from " + path), std::string::npos) << r.err;
  EXPECT_GE(took, 9s);
  EXPECT_LT(took, 20s);
}

// ---- the wire protocol ---------------------------------------------------------------------

TEST_F(CtlTest, MalformedRequestsFailAndKeepTheConnection) {
  start();
  RawConnection c(socket_);
  for (const char* bad :
       {"not json", "[1,2]", "\"status\"", "{}", R"({"cmd":42})", R"({"cmd":"frobnicate"})",
        R"({"cmd":"restart"})", R"({"cmd":"restart","id":"one"})", R"({"cmd":"scale","workers":0})",
        R"({"cmd":"scale","workers":-1})", R"({"cmd":"scale"})"}) {
    json reply = c.request(bad);
    ASSERT_TRUE(reply.is_object()) << bad << " got no JSON reply";
    EXPECT_TRUE(isFailure(reply)) << bad << " -> " << reply.dump();
  }
  json ok = c.request(R"({"cmd":"status"})");
  ASSERT_TRUE(isOk(ok)) << ok.dump();
  // Nothing changed.
  EXPECT_EQ(ok["status"].value("target", 0), 2);
}

TEST_F(CtlTest, PipelinedRequestsAreAnsweredInOrder) {
  start();
  RawConnection c(socket_);
  ASSERT_TRUE(c.send("{\"cmd\":\"status\"}\n{\"cmd\":\"bogus\"}\n{\"cmd\":\"workers\"}\n"));
  auto first = c.readLine(), second = c.readLine(), third = c.readLine();
  ASSERT_TRUE(first && second && third);
  EXPECT_TRUE(parseLine(*first).contains("status")) << *first;
  EXPECT_TRUE(isFailure(parseLine(*second))) << *second;
  EXPECT_TRUE(parseLine(*third).contains("workers")) << *third;
}

TEST_F(CtlTest, OverlongLineGetsAnErrorThenClose) {
  start();
  RawConnection c(socket_);
  std::string huge = R"({"cmd":"status","pad":")" + std::string(70 * 1024, 'a') + "\"}\n";
  c.send(huge);  // the server may close before taking all of it
  auto reply = c.readLine();
  ASSERT_TRUE(reply) << "no error reply before close";
  json parsed = json::parse(*reply, nullptr, false);
  EXPECT_TRUE(isFailure(parsed)) << *reply;
  EXPECT_TRUE(c.closedWithin(5s));

  // Without a newline at all: the error comes once the limit is passed.
  RawConnection d(socket_);
  d.send(std::string(65 * 1024 + 10, 'b'));
  auto reply2 = d.readLine();
  ASSERT_TRUE(reply2);
  EXPECT_TRUE(isFailure(parseLine(*reply2))) << *reply2;
  EXPECT_TRUE(d.closedWithin(5s));

  // The server is fine.
  EXPECT_EQ(ctl({"status"}).exitCode, 0);
}

TEST_F(CtlTest, SilentClientDoesNotBlockOthers) {
  start();
  RawConnection silent(socket_);
  RawConnection partial(socket_);
  ASSERT_TRUE(partial.send(R"({"cmd":"sta)"));
  auto started = Clock::now();
  RawConnection other(socket_);
  json reply = other.request(R"({"cmd":"status"})");
  EXPECT_TRUE(isOk(reply)) << reply.dump();
  EXPECT_LT(Clock::now() - started, 2s);
  EXPECT_EQ(ctl({"workers"}).exitCode, 0);
  // The partial request completes normally once the rest arrives.
  ASSERT_TRUE(partial.send("tus\"}\n"));
  auto line = partial.readLine();
  ASSERT_TRUE(line);
  EXPECT_TRUE(isOk(parseLine(*line))) << *line;
}

TEST_F(CtlTest, AConnectionBeyondSixtyFourTakesTheSlotOfTheOldestSilentOne) {
  start();
  std::vector<std::unique_ptr<RawConnection>> held;
  for (int i = 0; i < 64; ++i)
    held.push_back(std::make_unique<RawConnection>(socket_));
  // Every one of the 64 is served...
  json reply = held.back()->request(R"({"cmd":"status"})");
  ASSERT_TRUE(isOk(reply)) << reply.dump();
  // ...and a 65th is served too: the oldest connection that has sent nothing gives way to it,
  // so that silent clients cannot lock the operator out (issue 12, defect 9).
  RawConnection extra(socket_);
  json extraReply = extra.request(R"({"cmd":"status"})");
  EXPECT_TRUE(isOk(extraReply)) << extraReply.dump();
  EXPECT_TRUE(held.front()->closedWithin(5s));
  // The one that spoke keeps its connection.
  EXPECT_TRUE(isOk(held.back()->request(R"({"cmd":"status"})")));
}

TEST_F(CtlTest, IdleConnectionIsClosedAfterThirtySeconds) {
  start();
  RawConnection idle(socket_);
  ASSERT_TRUE(isOk(idle.request(R"({"cmd":"status"})")));
  auto started = Clock::now();
  ASSERT_TRUE(idle.closedWithin(45s));
  EXPECT_GE(Clock::now() - started, 25s);
}

TEST_F(CtlTest, ClientThatHalfClosesStillGetsItsReply) {
  // What `echo '{"cmd":"status"}' | socat - UNIX-CONNECT:...` does: send, then shut down the
  // write side, then read.
  start();
  for (int i = 0; i < 20; ++i) {
    RawConnection c(socket_);
    ASSERT_TRUE(c.send("{\"cmd\":\"workers\"}\n"));
    c.shutdownWrite();
    auto line = c.readLine(5s);
    ASSERT_TRUE(line) << "attempt " << i << ": the reply was lost after the client's EOF";
    EXPECT_TRUE(isOk(parseLine(*line))) << *line;
  }
}

TEST_F(CtlTest, SocketIsPrivate) {
  TempDir parent;
  // A directory isolated creates itself is 0700; the socket 0600.
  std::string nested = parent.path() + "/run/ctl.sock";
  script_ = dir_.file("worker.js", kScript);
  server_ = std::make_unique<ServerProcess>(
      script_, std::vector<std::string>{"--workers", "1", "--control-socket", nested});
  ASSERT_NE(server_->waitReady(), 0) << server_->output();
  struct stat st {};
  ASSERT_EQ(stat(nested.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat((parent.path() + "/run").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  socket_ = nested;
  EXPECT_EQ(ctl({"status"}).exitCode, 0);

  // The file goes away with a clean stop.
  server_->signal(SIGTERM);
  ASSERT_TRUE(server_->waitExit());
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::symlink_status(nested)));
}

// ---- admin listener ------------------------------------------------------------------------

// Runs the Prometheus client library's text parser over `text`; returns
// {family: {"type": ..., "samples": [[name, labels, value], ...]}} or a discarded json.
json parsePrometheus(const std::string& text, std::string& error) {
  TempDir dir;
  std::string input = dir.file("metrics.txt", text);
  std::string output = dir.path() + "/families.json";
  std::string command =
      "/usr/bin/python3 -c 'import sys, json, prometheus_client.parser as p; "
      "fams = list(p.text_string_to_metric_families(sys.stdin.read())); "
      "json.dump({f.name: {\"type\": f.type, \"samples\": "
      "[[s.name, s.labels, s.value] for s in f.samples]} for f in fams}, sys.stdout)' < " +
      input + " > " + output + " 2> " + dir.path() + "/err.txt";
  int rc = std::system(command.c_str());
  if (rc != 0) {
    std::ifstream err(dir.path() + "/err.txt");
    error = std::string(std::istreambuf_iterator<char>(err), {});
    return json(json::value_t::discarded);
  }
  std::ifstream in(output);
  return json::parse(in, nullptr, false);
}

TEST_F(CtlTest, MetricsEndpointParsesAsPrometheusText) {
  start({"--admin-listen", "127.0.0.1:0"});
  std::string admin = adminUrl();
  for (int i = 0; i < 5; ++i)
    ASSERT_EQ(httpGet(server_->baseUrl() + "/ok").status, 200);
  ASSERT_EQ(httpGet(server_->baseUrl() + "/missing").status, 404);

  // Worker RSS is sampled once a second; wait for the first sample of both workers.
  ASSERT_TRUE(eventually([&] {
    json list = workers();
    return list.size() == 2 && std::all_of(list.begin(), list.end(), [](const json& w) {
             return w.value("rss_bytes", 0ull) > 0;
           });
  })) << workers().dump();
  HttpResult metrics = httpGet(admin + "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.headers["content-type"].find("text/plain"), std::string::npos);
  std::string error;
  json families = parsePrometheus(metrics.body, error);
  ASSERT_FALSE(families.is_discarded()) << error << "\n" << metrics.body;

  // The parser drops a counter's _total suffix from the family name.
  const std::map<std::string, std::string> expected = {
      {"isolated_requests", "counter"},
      {"isolated_request_duration_seconds", "histogram"},
      {"isolated_queue_wait_seconds", "histogram"},
      {"isolated_queue_depth", "gauge"},
      {"isolated_worker_in_flight", "gauge"},
      {"isolated_worker_rss_bytes", "gauge"},
      {"isolated_worker_heap_used_bytes", "gauge"},
      {"isolated_worker_restarts", "counter"},
      {"isolated_limit_terminations", "counter"},
      {"isolated_dropped_log_lines", "counter"},
      {"isolated_fetches_in_flight", "gauge"},
      {"isolated_request_records", "gauge"},
      {"isolated_fetches", "counter"},
  };
  for (const auto& [name, type] : expected) {
    ASSERT_TRUE(families.contains(name)) << name << " missing:\n" << metrics.body;
    EXPECT_EQ(families[name].value("type", ""), type) << name;
  }

  double ok = 0, notFound = 0;
  for (const auto& s : families["isolated_requests"]["samples"]) {
    if (s[1].value("code", "") == "2xx") ok = s[2].get<double>();
    if (s[1].value("code", "") == "4xx") notFound = s[2].get<double>();
  }
  EXPECT_GE(ok, 5);
  EXPECT_GE(notFound, 1);
  // One RSS sample per worker, each plausible.
  const auto& rss = families["isolated_worker_rss_bytes"]["samples"];
  EXPECT_EQ(rss.size(), 2u) << rss.dump();
  for (const auto& s : rss)
    EXPECT_GT(s[2].get<double>(), 1 << 20) << s.dump();
  // The histogram counted every answered request.
  double count = 0;
  for (const auto& s : families["isolated_request_duration_seconds"]["samples"]) {
    if (s[0] == "isolated_request_duration_seconds_count") count = s[2].get<double>();
  }
  EXPECT_GE(count, 6);

  // The control socket's metrics are the same exposition.
  std::string viaCtl = ctl({"metrics"}).out;
  error.clear();
  EXPECT_FALSE(parsePrometheus(viaCtl, error).is_discarded()) << error;

  EXPECT_EQ(httpGet(admin + "/healthz").status, 200);
  EXPECT_EQ(httpGet(admin + "/readyz").status, 200);
  EXPECT_EQ(httpGet(admin + "/nope").status, 404);
}

// ---- log flood -----------------------------------------------------------------------------

TEST_F(CtlTest, LogFloodKeepsServerResponsiveAndEveryLineIsLoggedOrCounted) {
  // Workers report their dropped lines in each Pong, so ping often. The CPU limit is lifted: a
  // flood that ran into it (20,000 lines take longer than 50 ms under ASan) would log an error,
  // and the dropped count, which counts every line, the error too, would exceed the flood's.
  start({"--admin-listen", "127.0.0.1:0", "--health-interval", "200", "--cpu-limit", "10000"});
  std::string admin = adminUrl();
  constexpr int kFlooders = 4;
  constexpr int kFloodsEach = 5;
  constexpr int kLinesPerFlood = 20000;

  std::atomic<int> floodsDone{0};
  std::atomic<int> floodOk{0};
  std::vector<std::thread> flooders;
  for (int i = 0; i < kFlooders; ++i) {
    flooders.emplace_back([&] {
      for (int n = 0; n < kFloodsEach; ++n) {
        auto r = httpRequest(
            "GET", server_->baseUrl() + "/flood?n=" + std::to_string(kLinesPerFlood), {}, {}, 60s);
        if (r.status == 200) ++floodOk;
        ++floodsDone;
      }
    });
  }
  // While the floods run, the server, its control socket and its admin listener answer.
  ASSERT_TRUE(server_->waitForLine(
      [](const std::string& l) { return l.find("flood-line") != std::string::npos; }));
  int probes = 0;
  while (floodsDone < kFlooders * kFloodsEach && probes < 20) {
    auto started = Clock::now();
    auto r = httpRequest("GET", server_->baseUrl() + "/ok", {}, {}, 5s);
    EXPECT_EQ(r.status, 200) << r.error;
    EXPECT_EQ(ctl({"status"}).exitCode, 0);
    EXPECT_EQ(httpGet(admin + "/healthz").status, 200);
    EXPECT_LT(Clock::now() - started, 5s);
    ++probes;
  }
  for (auto& t : flooders)
    t.join();
  EXPECT_GE(probes, 1) << "the floods ended before the server could be probed under load";
  EXPECT_EQ(floodOk, kFlooders * kFloodsEach);

  // Every console line is either in the log or counted as dropped, never silently lost, and
  // the log is bounded: the dropped count is what keeps a flood from backing everything up.
  const uint64_t emitted = uint64_t{kFlooders} * kFloodsEach * kLinesPerFlood;
  uint64_t logged = 0, dropped = 0;
  bool balanced = eventually([&] {
    dropped = status().value("dropped_log_lines", uint64_t{0});
    logged = server_->countLines("flood-line");
    return logged + dropped >= emitted;
  });
  EXPECT_TRUE(balanced) << "logged " << logged << " + dropped " << dropped << " < " << emitted;
  EXPECT_LE(logged + dropped, emitted) << "logged " << logged << " dropped " << dropped;
  EXPECT_GT(dropped, 0u) << "a flood of " << emitted << " lines dropped none";
  // The same count is exported as a metric.
  HttpResult metrics = httpGet(admin + "/metrics");
  EXPECT_NE(metrics.body.find("isolated_dropped_log_lines_total " + std::to_string(dropped)),
            std::string::npos)
      << metrics.body;
  EXPECT_EQ(httpGet(server_->baseUrl() + "/ok").status, 200);
}

// The control socket never waits on a worker: with every worker stopped (SIGSTOP) and requests
// stuck on them, status and workers still answer at once.
TEST_F(CtlTest, StatusAnswersWhileEveryWorkerIsHung) {
  start({}, 2);
  json before = workers();
  ASSERT_EQ(before.size(), 2u);
  std::vector<pid_t> pids;
  for (const auto& w : before)
    pids.push_back(w.value("pid", 0));
  for (pid_t pid : pids)
    ASSERT_EQ(::kill(pid, SIGSTOP), 0);
  std::vector<std::thread> stuck;
  for (int i = 0; i < 4; ++i) {
    stuck.emplace_back([&] { httpRequest("GET", server_->baseUrl() + "/ok", {}, {}, 3s); });
  }
  EXPECT_TRUE(eventually([&] { return status().value("in_flight", 0) >= 4; })) << server_->output();
  CtlResult table = ctl({"workers"});
  EXPECT_EQ(table.exitCode, 0) << describe(table);
  for (pid_t pid : pids)
    EXPECT_NE(table.out.find(std::to_string(pid)), std::string::npos);
  for (pid_t pid : pids)
    ::kill(pid, SIGCONT);
  for (auto& t : stuck)
    t.join();
}

}  // namespace
}  // namespace isolated::test
