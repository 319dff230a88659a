// Regression tests, against the real binary, for the pool and control-socket defects of issue
// 12: outside kills mistaken for a crash loop (5), a failed spawn never retried (1), a worker
// that never says Hello (10), a control socket locked by silent clients (9), and a worker binary
// the sandbox's user cannot execute (the start-up probe). Each waits on a condition (a log
// line, a process count, a reply) with a deadline, never on a fixed sleep.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <thread>

#include "eventually.h"
#include "http_client.h"
#include "server_process.h"
#include "staged_binary.h"

namespace isolated::test {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

// A script in a fresh directory that the sandbox's user can read.
class ScriptDir {
 public:
  explicit ScriptDir(const std::string& source) {
    char pattern[] = "/tmp/isolated-pool-XXXXXX";
    dir_ = mkdtemp(pattern);
    std::filesystem::permissions(dir_, std::filesystem::perms(0755));
    path_ = dir_ + "/worker.js";
    std::ofstream(path_) << source;
  }
  ~ScriptDir() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  const std::string& dir() const { return dir_; }
  const std::string& path() const { return path_; }

 private:
  std::string dir_;
  std::string path_;
};

const char* const kHello = "export default { fetch() { return new Response('ok\\n'); } };\n";

// A connected Unix stream socket to `path`, or -1.
int connectUnix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// One control request on a fresh connection; a null json when there is no reply in time.
json control(const std::string& socket, const std::string& request,
             std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  int fd = connectUnix(socket);
  if (fd < 0) return nullptr;
  std::string line = request + "\n";
  if (::send(fd, line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size())) {
    ::close(fd);
    return nullptr;
  }
  std::string got;
  auto deadline = Clock::now() + timeout;
  while (got.find('\n') == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    char buf[65536];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  auto nl = got.find('\n');
  if (nl == std::string::npos) return nullptr;
  return json::parse(got.substr(0, nl), nullptr, false);
}

// The workers the control socket reports, or an empty array.
json workers(const ServerProcess& server) {
  json reply = control(server.controlSocket(), R"({"cmd":"workers"})");
  if (reply.is_object() && reply.value("ok", false)) return reply["workers"];
  return json::array();
}

size_t readyWorkers(const ServerProcess& server) {
  size_t n = 0;
  for (const auto& w : workers(server)) {
    // "retiring" holds the reason a worker is being recycled, empty when it is not.
    if (w.value("state", "") == "ready" && w.value("retiring", "").empty()) ++n;
  }
  return n;
}

// Children of `parent` that are not zombies, as the kernel lists them.
std::set<pid_t> childrenOf(pid_t parent) {
  std::set<pid_t> out;
  std::error_code ec;
  for (const auto& task :
       std::filesystem::directory_iterator("/proc/" + std::to_string(parent) + "/task", ec)) {
    std::ifstream children(task.path() / "children");
    pid_t pid = 0;
    while (children >> pid) {
      // getline, not istreambuf_iterator: a child that exits between the open and the read
      // makes read() fail (ESRCH), which libstdc++'s filebuf throws and only a stream's own
      // extraction catches.
      std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
      std::string text;
      std::getline(stat, text);
      auto close = text.rfind(')');
      if (close == std::string::npos || close + 2 >= text.size()) continue;
      if (text[close + 2] != 'Z') out.insert(pid);
    }
  }
  return out;
}

bool isWorker(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline");
  std::string cmdline;
  std::getline(in, cmdline);  // NUL-separated, no newline: all of it (and no throw, as above)
  return cmdline.find("__worker") != std::string::npos;
}

size_t workerProcesses(pid_t server) {
  size_t n = 0;
  for (pid_t pid : childrenOf(server)) {
    if (isWorker(pid)) ++n;
  }
  return n;
}

// Defect 5: kill -9 of healthy workers every 200 ms (an operator, the OOM killer) is not a crash
// loop: each is replaced at once, the pool is never left empty, and it is full again promptly.
TEST(PoolResilienceTest, OutsideKillsAreReplacedAtOnceAndThePoolNeverEmpties) {
  ScriptDir script(kHello);
  ServerProcess server(script.path(), {"--workers", "2"});
  ASSERT_NE(server.waitReady(), 0) << server.output();

  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  for (int i = 0; i < 2; ++i) {
    clients.emplace_back([&] {
      while (!stop)
        httpGet(server.baseUrl() + "/");
    });
  }
  std::atomic<int> kills{0};
  std::atomic<bool> killerDone{false};
  std::thread killer([&] {
    auto until = Clock::now() + std::chrono::seconds(4);
    while (Clock::now() < until) {
      // The healthy worker that has served longest: ready, with requests answered.
      pid_t victim = 0;
      double oldest = -1;
      for (const auto& w : workers(server)) {
        if (w.value("state", "") != "ready" || w.value("requests_served", 0) == 0) continue;
        if (w.value("uptime_s", 0.0) > oldest) {
          oldest = w.value("uptime_s", 0.0);
          victim = w.value("pid", 0);
        }
      }
      if (victim > 0 && ::kill(victim, SIGKILL) == 0) ++kills;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    killerDone = true;
  });
  // Sample the worker processes; after the first few kills, measure the longest stretch with
  // none at all.
  Clock::duration longestEmpty{};
  std::optional<Clock::time_point> emptySince;
  while (!killerDone) {
    auto now = Clock::now();
    if (kills >= 3 && workerProcesses(server.pid()) == 0) {
      if (!emptySince) emptySince = now;
      longestEmpty = std::max(longestEmpty, now - *emptySince);
    } else {
      emptySince.reset();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  killer.join();
  stop = true;
  for (auto& t : clients)
    t.join();
  // Enough kills that the measurement (from the third) covers several replacements.
  ASSERT_GE(kills.load(), 5) << server.output();
  EXPECT_LT(longestEmpty, std::chrono::seconds(1))
      << "the pool had no worker for "
      << std::chrono::duration_cast<std::chrono::milliseconds>(longestEmpty).count() << " ms\n"
      << server.output();
  // Every victim had answered requests: none of them counts toward the crash-loop backoff.
  EXPECT_EQ(server.countLines("worker restart backed off"), 0u) << server.output();
  // Full again promptly once the kills stop.
  EXPECT_TRUE(eventually([&] { return readyWorkers(server) == 2; }, std::chrono::seconds(5)))
      << workers(server).dump() << "\n"
      << server.output();
  EXPECT_EQ(httpGet(server.baseUrl() + "/").status, 200);
}

// Defect 1, spawn part: a spawn that fails (here EMFILE from socketpair, the supervisor's
// descriptor limit lowered from outside) is retried with backoff, and the pool refills once
// descriptors are available again.
TEST(PoolResilienceTest, FailedSpawnIsRetriedUntilThePoolRefills) {
  ScriptDir script(kHello);
  ServerProcess server(script.path(), {"--workers", "2", "--restart-backoff-max", "400"});
  ASSERT_NE(server.waitReady(), 0) << server.output();
  auto live = server.liveWorkerPids();
  ASSERT_EQ(live.size(), 2u);

  rlimit original{};
  ASSERT_EQ(::prlimit(server.pid(), RLIMIT_NOFILE, nullptr, &original), 0);
  // No new descriptor above stdio: every socketpair fails with EMFILE. (Nothing connects to
  // the server meanwhile, so no accept() meets the limit.)
  rlimit low = original;
  low.rlim_cur = 3;
  ASSERT_EQ(::prlimit(server.pid(), RLIMIT_NOFILE, &low, nullptr), 0);
  ::kill(live[0], SIGKILL);
  // Retried, not given up after the first failure.
  bool retried = server.waitForCount("cannot spawn a worker", 2, std::chrono::seconds(10));
  ASSERT_EQ(::prlimit(server.pid(), RLIMIT_NOFILE, &original, nullptr), 0);
  ASSERT_TRUE(retried) << server.output();
  EXPECT_NE(server.output().find("Too many open files"), std::string::npos) << server.output();

  // The next attempt, at most the backoff cap later, succeeds.
  EXPECT_TRUE(server.waitForCount("msg=\"worker ready\"", 3, std::chrono::seconds(10)))
      << server.output();
  EXPECT_TRUE(eventually([&] { return readyWorkers(server) == 2; }, std::chrono::seconds(5)))
      << server.output();
  EXPECT_EQ(httpGet(server.baseUrl() + "/").status, 200);
}

// Defect 10: a worker that never says Hello (here stopped by SIGSTOP right after its spawn) is
// killed at --worker-start-timeout, logged, and replaced.
TEST(PoolResilienceTest, WorkerThatNeverSaysHelloIsKilledAndReplaced) {
  ScriptDir script(kHello);
  ServerProcess server(script.path(), {"--workers", "1", "--worker-start-timeout", "1500",
                                       "--restart-backoff-max", "400", "--snapshot-script", "off"});
  ASSERT_NE(server.waitReady(), 0) << server.output();

  pid_t stopped = 0;
  // Kill the worker and stop its replacement before it says Hello; should the replacement win
  // the race, try again with the next one.
  for (int attempt = 0; attempt < 5 && stopped == 0; ++attempt) {
    auto known = childrenOf(server.pid());
    auto live = server.liveWorkerPids();
    ASSERT_FALSE(live.empty()) << server.output();
    ::kill(live.back(), SIGKILL);
    pid_t fresh = 0;
    auto deadline = Clock::now() + std::chrono::seconds(10);
    while (fresh == 0 && Clock::now() < deadline) {
      for (pid_t pid : childrenOf(server.pid())) {
        if (!known.contains(pid)) fresh = pid;
      }
      if (fresh == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    ASSERT_NE(fresh, 0) << "no replacement was spawned\n" << server.output();
    ::kill(fresh, SIGSTOP);
    std::string pidField = "pid=" + std::to_string(fresh) + " ";
    auto outcome = server.waitForLine([&](const std::string& l) {
      return l.find(pidField) != std::string::npos &&
             (l.find("msg=\"worker ready\"") != std::string::npos ||
              l.find("did not start in time") != std::string::npos);
    });
    ASSERT_TRUE(outcome) << server.output();
    if (outcome->find("did not start in time") != std::string::npos) {
      stopped = fresh;
      EXPECT_EQ(logField(*outcome, "timeout_ms"), "1500") << *outcome;
    } else {
      ::kill(fresh, SIGCONT);  // It said Hello before it was stopped: try the next one.
    }
  }
  ASSERT_NE(stopped, 0) << "every replacement said Hello before it could be stopped\n"
                        << server.output();
  // Killed (reaped), and a replacement serves.
  std::string pidField = "pid=" + std::to_string(stopped) + " ";
  EXPECT_TRUE(server.waitForLine([&](const std::string& l) {
    return l.find("msg=\"worker exited\"") != std::string::npos &&
           l.find(pidField) != std::string::npos;
  })) << server.output();
  EXPECT_TRUE(eventually([&] { return readyWorkers(server) == 1; }, std::chrono::seconds(10)))
      << server.output();
  EXPECT_EQ(httpGet(server.baseUrl() + "/").status, 200);
}

// Defect 9: 200 connections that send nothing do not lock the operator out: `isolated ctl
// status` gets through at once, and the silent connections are closed within seconds.
TEST(PoolResilienceTest, SilentControlConnectionsDoNotLockTheOperatorOut) {
  ScriptDir script(kHello);
  ServerProcess server(script.path(), {"--workers", "1"});
  ASSERT_NE(server.waitReady(), 0) << server.output();
  std::vector<int> silent;
  for (int i = 0; i < 200; ++i) {
    int fd = connectUnix(server.controlSocket());
    ASSERT_GE(fd, 0) << "connection " << i;
    silent.push_back(fd);
  }
  auto started = Clock::now();
  std::string command = std::string(ISOLATED_BINARY) + " ctl --socket " + server.controlSocket() +
                        " --json status 2>&1";
  FILE* ctl = ::popen(command.c_str(), "r");
  ASSERT_NE(ctl, nullptr);
  std::string out;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, ctl))
    out.append(buf, n);
  int status = ::pclose(ctl);
  auto took = Clock::now() - started;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << "\n" << out;
  EXPECT_NE(out.find("\"workers\""), std::string::npos) << out;
  EXPECT_LT(took, std::chrono::seconds(3));

  // Every silent connection is closed by the server (EOF) within its first-line deadline.
  auto deadline = Clock::now() + std::chrono::seconds(6);
  size_t closed = 0;
  for (int fd : silent) {
    pollfd p{fd, POLLIN, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (::poll(&p, 1, static_cast<int>(std::max<long>(0, left.count()))) == 1) {
      char c;
      if (::read(fd, &c, 1) == 0) ++closed;
    }
    ::close(fd);
  }
  EXPECT_EQ(closed, silent.size());
  EXPECT_TRUE(control(server.controlSocket(), R"({"cmd":"status"})").is_object());
}

// The start-up probe: sandboxed workers exec the supervisor's binary as --user (nobody); a
// binary that user cannot reach fails start-up with a message naming the binary and the user,
// not with "worker exited before it was ready".
TEST(PoolResilienceTest, BinaryTheWorkerUserCannotExecuteIsNamedAtStartup) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: the sandbox's user change";
  ScriptDir script(kHello);
  char pattern[] = "/tmp/isolated-private-XXXXXX";
  std::string privateDir = mkdtemp(pattern);
  std::filesystem::permissions(privateDir, std::filesystem::perms(0700));
  // Hard links (instant, same file system) or else copies of the binary and its private libnode,
  // under a directory only root reaches.
  std::string binary = stageBinary(privateDir);
  ASSERT_FALSE(binary.empty());
  std::error_code ec;
  std::string command = "ISOLATED_SANDBOX=on " + binary + " serve " + script.path() +
                        " --listen 127.0.0.1:0 --workers 1 --control-socket " + privateDir +
                        "/ctl.sock 2>&1";
  FILE* serve = ::popen(command.c_str(), "r");
  ASSERT_NE(serve, nullptr);
  std::string out;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, serve))
    out.append(buf, n);
  int status = ::pclose(serve);
  std::filesystem::remove_all(privateDir, ec);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status << "\n" << out;
  EXPECT_NE(out.find("cannot execute " + binary), std::string::npos) << out;
  EXPECT_NE(out.find("nobody"), std::string::npos) << out;
  EXPECT_EQ(out.find("exited before it was ready"), std::string::npos) << out;
}

}  // namespace
}  // namespace isolated::test
