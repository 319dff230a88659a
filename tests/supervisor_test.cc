// The Supervisor class in-process, with fake workers that corrupt the IPC channel: the broken
// channel is closed, logged and the worker replaced; the supervisor itself never crashes.
#include "supervisor/supervisor.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "common/event_handles.h"
#include "common/logger.h"
#include "temp_dir.h"

namespace isolated::supervisor {
namespace {

using namespace std::chrono_literals;

// Collects what a Logger writes to a pipe, line by line, on a reader thread.
class LogCapture {
 public:
  LogCapture() {
    int fds[2];
    EXPECT_EQ(pipe2(fds, O_CLOEXEC), 0);
    readFd_ = fds[0];
    writeFd_ = fds[1];
    reader_ = std::thread([this] {
      char buffer[4096];
      ssize_t n;
      while ((n = read(readFd_, buffer, sizeof buffer)) > 0) {
        std::lock_guard lock(mutex_);
        text_.append(buffer, static_cast<size_t>(n));
        changed_.notify_all();
      }
    });
  }
  ~LogCapture() {
    close(writeFd_);
    reader_.join();
    close(readFd_);
  }
  int fd() const { return writeFd_; }
  size_t count(const std::string& needle) {
    std::lock_guard lock(mutex_);
    size_t n = 0;
    for (size_t at = text_.find(needle); at != std::string::npos; at = text_.find(needle, at + 1)) {
      ++n;
    }
    return n;
  }
  bool waitFor(const std::string& needle, size_t times, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] {
      size_t n = 0;
      for (size_t at = text_.find(needle); at != std::string::npos;
           at = text_.find(needle, at + 1)) {
        ++n;
      }
      return n >= times;
    });
  }
  std::string text() {
    std::lock_guard lock(mutex_);
    return text_;
  }

 private:
  int readFd_ = -1;
  int writeFd_ = -1;
  std::thread reader_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::string text_;
};

ServeConfig testConfig(uint32_t workers) {
  ServeConfig config;
  AppConfig app;
  app.name = "fake";
  app.scriptPath = "/dev/null";
  app.routes = {"*/*"};
  config.apps.push_back(app);
  config.listenPort = 0;
  config.workers = workers;
  config.drainTimeoutSec = 5;
  return config;
}

TEST(SupervisorTest, CorruptFrameBeforeHelloFailsBootCleanly) {
  LogCapture log;
  Logger logger(LogLevel::kDebug, LogFormat::kText, log.fd());
  EventBasePtr base(event_base_new());
  ServeConfig config = testConfig(1);
  Supervisor supervisor(base.get(), config, {FAKE_WORKER, "garbage-first"}, logger);
  EXPECT_EQ(supervisor.run(), 1);
  EXPECT_TRUE(log.waitFor("msg=\"stopped\"", 1, 5s)) << log.text();
  EXPECT_GE(log.count("protocol error"), 1u) << log.text();
  EXPECT_GE(log.count("segments"), 1u) << log.text();
  EXPECT_EQ(log.count("msg=\"ready\""), 0u);
}

void expectReplacedAfterCorruption(const char* mode, const char* reasonFragment) {
  LogCapture log;
  Logger logger(LogLevel::kDebug, LogFormat::kText, log.fd());
  EventBasePtr base(event_base_new());
  ServeConfig config = testConfig(1);
  Supervisor supervisor(base.get(), config, {FAKE_WORKER, mode}, logger);
  std::atomic<bool> sawReplacement{false};
  // Once the first worker was lost to the corrupt message and a replacement was spawned and
  // greeted, stop the supervisor the way an operator would.
  std::thread watcher([&] {
    sawReplacement =
        log.waitFor("msg=\"worker ready\"", 2, 20s) && log.waitFor(reasonFragment, 1, 1s);
    kill(getpid(), SIGTERM);
  });
  int code = supervisor.run();
  watcher.join();
  EXPECT_TRUE(sawReplacement) << log.text();
  EXPECT_EQ(code, 0) << log.text();
  // The log is read on another thread: wait for the last line rather than race it.
  EXPECT_TRUE(log.waitFor("msg=\"stopped\"", 1, 5s)) << log.text();
  EXPECT_GE(log.count("msg=\"worker lost\""), 1u);
}

TEST(SupervisorTest, MalformedMessageAfterHelloReplacesTheWorker) {
  expectReplacedAfterCorruption("hello-then-garbage", "malformed message");
}

TEST(SupervisorTest, OversizedFrameAfterHelloReplacesTheWorker) {
  expectReplacedAfterCorruption("hello-then-oversize", "exceeds the limit");
}

TEST(SupervisorTest, AWorkerSendingPastItsBodyWindowIsReplaced) {
  // As in `isolated serve` (cli/main.cc): writing to the closed client must not kill us.
  ::signal(SIGPIPE, SIG_IGN);
  LogCapture log;
  Logger logger(LogLevel::kDebug, LogFormat::kText, log.fd());
  EventBasePtr base(event_base_new());
  ServeConfig config = testConfig(1);
  Supervisor supervisor(base.get(), config, {FAKE_WORKER, "window-overrun"}, logger);
  std::thread client([&] {
    // A client that asks and never reads: the supervisor stops crediting the worker once the
    // answer backs up, so a worker that keeps sending overruns its window.
    int fd = -1;
    if (log.waitFor("msg=\"ready\"", 1, 20s)) {
      fd = socket(AF_INET, SOCK_STREAM, 0);
      int small = 16 << 10;
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
      sockaddr_in address{};
      address.sin_family = AF_INET;
      address.sin_port = htons(supervisor.port());
      address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
        static constexpr char kRequest[] = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";
        EXPECT_EQ(write(fd, kRequest, sizeof kRequest - 1),
                  static_cast<ssize_t>(sizeof kRequest - 1));
      }
      log.waitFor("beyond its credit window", 1, 20s);
    }
    kill(getpid(), SIGTERM);
    if (fd >= 0) close(fd);
  });
  supervisor.run();
  client.join();
  EXPECT_GE(log.count("beyond its credit window"), 1u) << log.text();
  EXPECT_GE(log.count("msg=\"worker lost\""), 1u) << log.text();
}

// Rule 22's pinning, with a worker that says which text it loaded: the supervisor pins a
// version only to text that is the file's own, so a worker taken over by a script cannot hand
// the other workers code of its choosing. Returns the log once the verdict is in it.
std::string pinWith(const std::string& file, const std::string& claimedText,
                    const std::string& verdict) {
  LogCapture log;
  Logger logger(LogLevel::kDebug, LogFormat::kText, log.fd());
  EventBasePtr base(event_base_new());
  ServeConfig config = testConfig(1);
  config.apps[0].scriptPath = file;
  Supervisor supervisor(base.get(), config, {FAKE_WORKER, "pin-module", file, claimedText}, logger);
  std::thread watcher([&] {
    log.waitFor(verdict, 1, 20s);
    kill(getpid(), SIGTERM);
  });
  supervisor.run();
  watcher.join();
  return log.text();
}

class PinningTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    file_ = dir_.write("app.js", kText);
  }
  static constexpr const char* kText =
      "export default { fetch() { return new Response('x'); } };\n";
  TempDir dir_;
  std::string file_;
};

TEST_F(PinningTest, TheFilesOwnTextIsPinned) {
  std::string log = pinWith(file_, kText, "msg=\"version pinned\"");
  EXPECT_NE(log.find("msg=\"version pinned\""), std::string::npos) << log;
  EXPECT_EQ(log.find("version not pinned"), std::string::npos) << log;
}

TEST_F(PinningTest, TextThatIsNotTheFilesIsNotPinned) {
  std::string log = pinWith(file_, "export default { fetch() { return fetch('http://evil'); } };\n",
                            "version not pinned");
  EXPECT_NE(log.find("version not pinned"), std::string::npos) << log;
  EXPECT_NE(log.find(file_), std::string::npos) << log;
  EXPECT_EQ(log.find("msg=\"version pinned\""), std::string::npos) << log;
}

TEST_F(PinningTest, ADeviceIsNeverReadAsAModule) {
  // /dev/zero would never end: it is not a regular file, so it is not read at all.
  std::string log = pinWith("/dev/zero", "", "version not pinned");
  EXPECT_NE(log.find("version not pinned"), std::string::npos) << log;
}

}  // namespace
}  // namespace isolated::supervisor
