// The worker's side of protocol v2 (ipc/protocol.h rules 0-2 and 21): the real
// `isolated __worker`, with a socketpair as its fd 3, driven by this test playing the
// supervisor. Apps are written to a private temporary directory, so the suite is hermetic.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <event2/buffer.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/event_handles.h"
#include "ipc/framing.h"
#include "ipc/messages.capnp.h"
#include "ipc/protocol.h"

namespace isolated::test {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// A module app: counts its requests in a module variable and marks a global, so that state
// shared between apps would show; /loop spins into the CPU limit; /wait answers after 300 ms
// (or ?ms=N);
// /fetch starts an outbound fetch and answers with how it ended.
std::string appScript(const std::string& name) {
  return R"(let count = 0;
globalThis.marks = (globalThis.marks ?? '') + ')" +
         name + R"(';
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === '/loop') for (;;) {}
    if (url.pathname === '/wait') {
      await new Promise((r) => setTimeout(r, Number(url.searchParams.get('ms') ?? 300)));
    }
    if (url.pathname === '/fetch') {
      try { await fetch('http://127.0.0.1:9/x'); return new Response('fetched'); }
      catch (e) { return new Response('fetch failed: ' + e.message); }
    }
    count++;
    console.log(')" +
         name + R"( served ' + count);
    return new Response(')" +
         name + R"( ' + env.NAME + ' count=' + count + ' marks=' + globalThis.marks);
  },
};
)";
}

struct Frame {
  explicit Frame(kj::Array<capnp::word> w) : words(std::move(w)), reader(words) {}
  ipc::Envelope::Reader envelope() { return reader.getRoot<ipc::Envelope>(); }
  kj::Array<capnp::word> words;
  capnp::FlatArrayMessageReader reader;
};

struct AppSpec {
  uint32_t id = 0;
  std::string script;
  std::string envName;
  uint32_t cpuLimitMs = 0;
  bool preload = false;
};

// `isolated __worker` with a socketpair as its fd 3 and its stderr in a file. The destructor
// kills and reaps it.
class Worker {
 public:
  explicit Worker(const std::filesystem::path& dir, const std::vector<std::string>& extraArgs = {})
      : stderrPath_(dir / "worker.stderr") {
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
      throw std::runtime_error("socketpair");
    }
    std::vector<std::string> args = {ISOLATED_BINARY, "__worker", "--log-level", "info"};
    args.insert(args.end(), extraArgs.begin(), extraArgs.end());
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    int errFd = open(stderrPath_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    pid_ = fork();
    if (pid_ == 0) {
      dup2(errFd, 2);
      // dup2 clears close-on-exec on fd 3; if the socket already is fd 3, clear it by hand.
      if (fds[1] == 3) {
        fcntl(3, F_SETFD, 0);
      } else {
        dup2(fds[1], 3);
      }
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(errFd);
    close(fds[1]);
    fd_ = fds[0];
  }
  ~Worker() {
    close(fd_);
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
  }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void send(capnp::MessageBuilder& message) {
    EvbufferPtr out(evbuffer_new());
    ipc::encodeFrame(message, out.get());
    while (evbuffer_get_length(out.get()) > 0) {
      if (evbuffer_write(out.get(), fd_) < 0) return;
    }
  }

  void configure(uint32_t version, uint32_t maxIsolates = 0, uint32_t idleTimeoutMs = 0) {
    capnp::MallocMessageBuilder message;
    auto configure = message.initRoot<ipc::Envelope>().initConfigure();
    configure.setProtocolVersion(version);
    configure.setMaxIsolates(maxIsolates);
    configure.setIsolateIdleTimeoutMs(idleTimeoutMs);
    send(message);
  }

  void loadApp(const AppSpec& spec) {
    capnp::MallocMessageBuilder message;
    auto load = message.initRoot<ipc::Envelope>().initLoadApp();
    load.setApp(spec.id);
    load.setName("app" + std::to_string(spec.id));
    load.setVersion(1);
    load.setScriptPath(spec.script);
    auto bindings = load.initBindings(1);
    bindings[0].setName("NAME");
    bindings[0].setValue(spec.envName);
    load.setCpuLimitMs(spec.cpuLimitMs);
    load.setHeapLimitMb(64);
    load.setPreload(spec.preload);
    send(message);
  }

  void request(uint64_t id, uint32_t app, const std::string& path) {
    capnp::MallocMessageBuilder message;
    auto start = message.initRoot<ipc::Envelope>().initRequestStart();
    start.setId(id);
    start.setApp(app);
    start.setMethod("GET");
    start.setUrl("http://test" + path);
    send(message);
  }

  void ping(uint64_t seq) {
    message([seq](ipc::Envelope::Builder e) { e.initPing().setSeq(seq); });
  }

  template <typename Fill>
  void message(Fill fill) {
    capnp::MallocMessageBuilder message;
    fill(message.initRoot<ipc::Envelope>());
    send(message);
  }

  // The next message that is not a Log (Logs are kept in logs()), or nullptr on EOF or after
  // `timeout`.
  std::unique_ptr<Frame> next(std::chrono::milliseconds timeout = 20s) {
    auto deadline = Clock::now() + timeout;
    for (;;) {
      auto decoded = ipc::decodeFrame(in_.get(), ipc::FrameLimits{});
      if (decoded.status == ipc::DecodeStatus::kError) return nullptr;
      if (decoded.status == ipc::DecodeStatus::kFrame) {
        auto frame = std::make_unique<Frame>(std::move(decoded.words));
        if (frame->envelope().isLog()) {
          auto log = frame->envelope().getLog();
          logs_.emplace_back(log.getApp(), log.getMessage().cStr());
          continue;
        }
        return frame;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return nullptr;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      if (evbuffer_read(in_.get(), fd_, 65536) <= 0) return nullptr;
    }
  }

  // Waits for the process to exit; its status, or nullopt after `timeout`.
  std::optional<int> waitExit(std::chrono::milliseconds timeout = 10s) {
    auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return status;
      }
      pollfd p{fd_, POLLIN, 0};
      poll(&p, 1, 20);
      char sink[4096];
      if ((p.revents & POLLIN) != 0 && read(fd_, sink, sizeof sink) < 0) break;
    }
    return std::nullopt;
  }

  std::string stderrText() const {
    std::ifstream in(stderrPath_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  const std::vector<std::pair<uint32_t, std::string>>& logs() const { return logs_; }

  // Waits (up to 20 s) until the worker's stderr holds `count` lines containing `text`.
  bool waitForLogCount(std::string_view text, size_t count) const {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      std::string err = stderrText();
      size_t found = 0;
      for (size_t at = err.find(text); at != std::string::npos; at = err.find(text, at + 1))
        ++found;
      if (found >= count) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

 private:
  std::filesystem::path stderrPath_;
  pid_t pid_ = -1;
  int fd_ = -1;
  EvbufferPtr in_{evbuffer_new()};
  std::vector<std::pair<uint32_t, std::string>> logs_;
};

std::string bodyOf(ipc::Response::Reader response) {
  return std::string(response.getBody().asChars().begin(), response.getBody().size());
}

class WorkerProtocolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/isolated-worker-protocol-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    write("a.mjs", appScript("A"));
    write("b.mjs", appScript("B"));
    write("broken.mjs", "export default { fetch() { return new Response('x') }\n");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return (dir_ / name).string();
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // A configured worker whose Hello has been read.
  std::unique_ptr<Worker> start(uint32_t maxIsolates = 0, uint32_t idleTimeoutMs = 0,
                                const std::vector<std::string>& extraArgs = {}) {
    auto worker = std::make_unique<Worker>(dir_, extraArgs);
    worker->configure(ipc::kProtocolVersion, maxIsolates, idleTimeoutMs);
    auto hello = worker->next();
    if (!hello || !hello->envelope().isHello()) return nullptr;
    EXPECT_EQ(hello->envelope().getHello().getProtocolVersion(), ipc::kProtocolVersion);
    EXPECT_GT(hello->envelope().getHello().getPid(), 0u);
    return worker;
  }

  // Expects AppLoaded for `app` next.
  static void expectLoaded(Worker& worker, uint32_t app, bool coldStart) {
    auto frame = worker.next();
    ASSERT_TRUE(frame && frame->envelope().isAppLoaded())
        << (frame ? static_cast<int>(frame->envelope().which()) : -1);
    EXPECT_EQ(frame->envelope().getAppLoaded().getApp(), app);
    EXPECT_EQ(frame->envelope().getAppLoaded().getColdStart(), coldStart);
    EXPECT_GT(frame->envelope().getAppLoaded().getLoadMs(), 0.0);
  }
  static void expectEvicted(Worker& worker, uint32_t app, const std::string& reason,
                            std::chrono::milliseconds timeout = 20s) {
    auto frame = worker.next(timeout);
    ASSERT_TRUE(frame && frame->envelope().isAppEvicted())
        << (frame ? static_cast<int>(frame->envelope().which()) : -1);
    EXPECT_EQ(frame->envelope().getAppEvicted().getApp(), app);
    EXPECT_EQ(frame->envelope().getAppEvicted().getReason().cStr(), reason);
  }
  // Expects the Response to `id` next; returns its body.
  static std::string expectResponse(Worker& worker, uint64_t id, uint16_t status = 200,
                                    const std::string& runtimeError = "") {
    auto frame = worker.next();
    if (!frame || !frame->envelope().isResponse()) {
      ADD_FAILURE() << "no Response to " << id << ", got "
                    << (frame ? static_cast<int>(frame->envelope().which()) : -1);
      return {};
    }
    auto response = frame->envelope().getResponse();
    EXPECT_EQ(response.getId(), id);
    EXPECT_EQ(response.getStatus(), status) << bodyOf(response);
    EXPECT_EQ(response.getRuntimeError().cStr(), runtimeError);
    return bodyOf(response);
  }

  void defineAB(Worker& worker, uint32_t cpuLimitMs = 0) {
    worker.loadApp({1, path("a.mjs"), "alpha", cpuLimitMs, false});
    worker.loadApp({2, path("b.mjs"), "beta", cpuLimitMs, false});
  }

  std::filesystem::path dir_;
};

TEST_F(WorkerProtocolTest, RefusesAnotherProtocolVersion) {
  Worker worker(dir_);
  worker.configure(ipc::kProtocolVersion + 7);
  EXPECT_EQ(worker.next(5s), nullptr) << "a worker of another version must not say Hello";
  auto status = worker.waitExit();
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_NE(WEXITSTATUS(*status), 0);
  std::string err = worker.stderrText();
  EXPECT_NE(err.find("protocol version mismatch"), std::string::npos) << err;
  EXPECT_NE(err.find("version " + std::to_string(ipc::kProtocolVersion)), std::string::npos) << err;
  EXPECT_NE(err.find("version " + std::to_string(ipc::kProtocolVersion + 7)), std::string::npos)
      << err;
}

TEST_F(WorkerProtocolTest, EachAppAnswersWithItsOwnScriptStateAndEnv) {
  auto worker = start();
  ASSERT_NE(worker, nullptr);
  defineAB(*worker);
  worker->request(1, 1, "/");
  expectLoaded(*worker, 1, /*coldStart=*/true);
  EXPECT_EQ(expectResponse(*worker, 1), "A alpha count=1 marks=A");
  worker->request(2, 2, "/");
  expectLoaded(*worker, 2, /*coldStart=*/true);
  EXPECT_EQ(expectResponse(*worker, 2), "B beta count=1 marks=B");
  // Warm: no AppLoaded, the module state of each app kept and separate.
  worker->request(3, 1, "/");
  EXPECT_EQ(expectResponse(*worker, 3), "A alpha count=2 marks=A");
  worker->request(4, 2, "/");
  EXPECT_EQ(expectResponse(*worker, 4), "B beta count=2 marks=B");

  // Console lines carry their app.
  worker->ping(1);
  auto pong = worker->next();
  ASSERT_TRUE(pong && pong->envelope().isPong());
  bool sawA = false;
  bool sawB = false;
  for (const auto& [app, text] : worker->logs()) {
    if (text == "A served 2") sawA = app == 1;
    if (text == "B served 2") sawB = app == 2;
  }
  EXPECT_TRUE(sawA && sawB);
  auto pongReader = pong->envelope().getPong();
  EXPECT_EQ(pongReader.getIsolatesLoaded(), 2u);
  EXPECT_TRUE(pongReader.getProbeOk());
  EXPECT_EQ(pongReader.getRequestsServed(), 4u);
  std::map<uint32_t, uint64_t> cpu;
  for (auto usage : pongReader.getApps()) {
    cpu[usage.getApp()] = usage.getCpuMicros();
    EXPECT_GT(usage.getHeapUsedBytes(), 0u);
  }
  EXPECT_GT(cpu[1], 0u);
  EXPECT_GT(cpu[2], 0u);
  // Usage is since the previous Pong: nothing ran in between.
  worker->ping(2);
  pong = worker->next();
  ASSERT_TRUE(pong && pong->envelope().isPong());
  EXPECT_EQ(pong->envelope().getPong().getApps().size(), 0u);
}

TEST_F(WorkerProtocolTest, PreloadAnswersAppLoadedAtOnce) {
  auto worker = start();
  ASSERT_NE(worker, nullptr);
  worker->loadApp({5, path("a.mjs"), "pre", 0, /*preload=*/true});
  expectLoaded(*worker, 5, /*coldStart=*/false);
  worker->request(1, 5, "/");
  EXPECT_EQ(expectResponse(*worker, 1), "A pre count=1 marks=A");
}

TEST_F(WorkerProtocolTest, BrokenAppFailsAloneAndIsTriedAgain) {
  auto worker = start();
  ASSERT_NE(worker, nullptr);
  defineAB(*worker);
  worker->loadApp({3, path("broken.mjs"), "x", 0, false});
  worker->request(1, 3, "/");
  auto failed = worker->next();
  ASSERT_TRUE(failed && failed->envelope().isLoadError());
  EXPECT_EQ(failed->envelope().getLoadError().getApp(), 3u);
  EXPECT_EQ(failed->envelope().getLoadError().getFile().cStr(), path("broken.mjs"));
  EXPECT_NE(std::string(failed->envelope().getLoadError().getMessage().cStr()), "");
  expectResponse(*worker, 1, 503, "app-failed");
  // Other apps serve.
  worker->request(2, 1, "/");
  expectLoaded(*worker, 1, true);
  EXPECT_EQ(expectResponse(*worker, 2), "A alpha count=1 marks=A");
  // The definition stays, and the next request tries again (the same source: a definition
  // pins the script text it first read, as a version).
  worker->request(3, 3, "/");
  failed = worker->next();
  ASSERT_TRUE(failed && failed->envelope().isLoadError());
  expectResponse(*worker, 3, 503, "app-failed");
  // A preload that fails says so at once; a file that could not be read is read again.
  worker->loadApp({4, path("late.mjs"), "x", 0, /*preload=*/true});
  failed = worker->next();
  ASSERT_TRUE(failed && failed->envelope().isLoadError());
  EXPECT_EQ(failed->envelope().getLoadError().getApp(), 4u);
  write("late.mjs", "export default { fetch() { return new Response('late') } }\n");
  worker->request(4, 4, "/");
  expectLoaded(*worker, 4, true);
  EXPECT_EQ(expectResponse(*worker, 4), "late");
}

// A script that can no longer load when its context is rebuilt after a CPU-limit breach: the
// app is failed (LoadError, later requests 503 app-failed until a load succeeds), never the
// worker. The script's top level throws once a wall-clock instant has passed; its handler
// loops in a promise job, where a CPU stop always rebuilds (docs/limits.md).
TEST_F(WorkerProtocolTest, FailedRebuildFailsOnlyThatApp) {
  auto until = std::chrono::system_clock::now() + 1500ms;
  auto untilMs =
      std::chrono::duration_cast<std::chrono::milliseconds>(until.time_since_epoch()).count();
  write("expiring.mjs", "if (Date.now() > " + std::to_string(untilMs) +
                            ") throw new Error('expired');\n" +
                            "export default { async fetch() { await null; for (;;) {} } };\n");
  auto worker = start();
  ASSERT_NE(worker, nullptr);
  worker->loadApp({1, path("expiring.mjs"), "x", 100, /*preload=*/true});
  expectLoaded(*worker, 1, false);
  worker->loadApp({2, path("b.mjs"), "beta", 100, /*preload=*/true});
  expectLoaded(*worker, 2, false);
  // The condition is the wall clock itself: wait for the instant the script checks.
  std::this_thread::sleep_until(until + 50ms);
  worker->request(1, 1, "/");
  expectResponse(*worker, 1, 503, "cpu-limit");
  auto failed = worker->next();
  ASSERT_TRUE(failed && failed->envelope().isLoadError());
  EXPECT_EQ(failed->envelope().getLoadError().getApp(), 1u);
  EXPECT_NE(std::string(failed->envelope().getLoadError().getMessage().cStr()).find("expired"),
            std::string::npos);
  worker->request(2, 1, "/");
  failed = worker->next();
  ASSERT_TRUE(failed && failed->envelope().isLoadError());
  expectResponse(*worker, 2, 503, "app-failed");
  worker->request(3, 2, "/");
  EXPECT_EQ(expectResponse(*worker, 3), "B beta count=1 marks=B");
}

TEST_F(WorkerProtocolTest, CpuLimitInOneAppDoesNotFailAnother) {
  auto worker = start();
  ASSERT_NE(worker, nullptr);
  defineAB(*worker, /*cpuLimitMs=*/100);
  worker->request(1, 1, "/");
  expectLoaded(*worker, 1, true);
  expectResponse(*worker, 1);
  worker->request(2, 2, "/wait");
  expectLoaded(*worker, 2, true);
  // B's request is parked on a timer while A spins into its limit.
  worker->request(3, 1, "/loop");
  expectResponse(*worker, 3, 503, "cpu-limit");
  EXPECT_EQ(expectResponse(*worker, 2), "B beta count=1 marks=B");
  // A's loop was stopped in its own code: only that request failed, A's context (and its
  // count) carries on; B's state is intact.
  worker->request(4, 1, "/");
  EXPECT_EQ(expectResponse(*worker, 4), "A alpha count=2 marks=A");
  worker->request(5, 2, "/");
  EXPECT_EQ(expectResponse(*worker, 5), "B beta count=2 marks=B");
  worker->ping(1);
  auto pong = worker->next();
  ASSERT_TRUE(pong && pong->envelope().isPong());
  EXPECT_EQ(pong->envelope().getPong().getCpuLimitTerminations(), 1u);
  bool charged = false;
  for (auto usage : pong->envelope().getPong().getApps()) {
    if (usage.getApp() == 1) {
      charged = usage.getCpuLimitTerminations() == 1 && usage.getCpuMicros() >= 50'000;
    }
    if (usage.getApp() == 2) {
      EXPECT_EQ(usage.getCpuLimitTerminations(), 0u);
    }
  }
  EXPECT_TRUE(charged);
}

TEST_F(WorkerProtocolTest, MaxIsolatesEvictsTheLeastRecentlyUsed) {
  auto worker = start(/*maxIsolates=*/2);
  ASSERT_NE(worker, nullptr);
  defineAB(*worker);
  worker->loadApp({3, path("a.mjs"), "gamma", 0, false});
  worker->request(1, 1, "/");
  expectLoaded(*worker, 1, true);
  expectResponse(*worker, 1);
  worker->request(2, 2, "/");
  expectLoaded(*worker, 2, true);
  expectResponse(*worker, 2);
  worker->request(3, 1, "/");  // 1 is now more recent than 2
  EXPECT_EQ(expectResponse(*worker, 3), "A alpha count=2 marks=A");
  worker->request(4, 3, "/");
  expectEvicted(*worker, 2, "lru");
  expectLoaded(*worker, 3, true);
  EXPECT_EQ(expectResponse(*worker, 4), "A gamma count=1 marks=A");
  // App 2 comes back from its definition, with fresh state.
  worker->request(5, 2, "/");
  expectEvicted(*worker, 1, "lru");
  expectLoaded(*worker, 2, true);
  EXPECT_EQ(expectResponse(*worker, 5), "B beta count=1 marks=B");
  worker->ping(1);
  auto pong = worker->next();
  ASSERT_TRUE(pong && pong->envelope().isPong());
  EXPECT_EQ(pong->envelope().getPong().getIsolatesLoaded(), 2u);
  // Evicted isolates' requests still count.
  EXPECT_EQ(pong->envelope().getPong().getRequestsServed(), 5u);
}

TEST_F(WorkerProtocolTest, BusyIsolatesAreNotEvictedTheBoundIsExceeded) {
  auto worker = start(/*maxIsolates=*/1);
  ASSERT_NE(worker, nullptr);
  defineAB(*worker);
  // Long enough that app 1 is still busy when app 2 needs an isolate, even on a loaded machine.
  worker->request(1, 1, "/wait?ms=2000");
  expectLoaded(*worker, 1, true);
  worker->request(2, 2, "/");
  expectLoaded(*worker, 2, true);
  EXPECT_EQ(expectResponse(*worker, 2), "B beta count=1 marks=B");
  EXPECT_EQ(expectResponse(*worker, 1), "A alpha count=1 marks=A");
}

TEST_F(WorkerProtocolTest, IdleIsolatesAreEvictedAndColdStartAgain) {
  auto worker = start(/*maxIsolates=*/0, /*idleTimeoutMs=*/300);
  ASSERT_NE(worker, nullptr);
  defineAB(*worker);
  auto sent = Clock::now();
  worker->request(1, 1, "/");
  expectLoaded(*worker, 1, true);
  expectResponse(*worker, 1);
  expectEvicted(*worker, 1, "idle", 5s);
  EXPECT_GE(Clock::now() - sent, 290ms);
  worker->request(2, 1, "/");
  expectLoaded(*worker, 1, true);
  EXPECT_EQ(expectResponse(*worker, 2), "A alpha count=1 marks=A");
  // A request in flight is not idleness: the eviction comes only after the answer.
  worker->request(3, 1, "/wait");
  EXPECT_EQ(expectResponse(*worker, 3), "A alpha count=2 marks=A");
  expectEvicted(*worker, 1, "idle", 5s);
}

TEST_F(WorkerProtocolTest, EvictIdleDropsEveryIdleIsolate) {
  auto worker = start();
  ASSERT_NE(worker, nullptr);
  defineAB(*worker);
  worker->request(1, 1, "/");
  expectLoaded(*worker, 1, true);
  expectResponse(*worker, 1);
  worker->request(2, 2, "/wait?ms=2000");
  expectLoaded(*worker, 2, true);
  worker->message([](ipc::Envelope::Builder e) { e.initEvictIdle(); });
  expectEvicted(*worker, 1, "memory");
  // App 2 was busy and stays.
  expectResponse(*worker, 2);
  worker->ping(1);
  auto pong = worker->next();
  ASSERT_TRUE(pong && pong->envelope().isPong());
  EXPECT_EQ(pong->envelope().getPong().getIsolatesLoaded(), 1u);
}

TEST_F(WorkerProtocolTest, UnloadWaitsForRequestsThenForgetsTheApp) {
  auto worker = start();
  ASSERT_NE(worker, nullptr);
  defineAB(*worker);
  worker->request(1, 1, "/wait");
  expectLoaded(*worker, 1, true);
  worker->message([](ipc::Envelope::Builder e) { e.initUnloadApp().setApp(1); });
  // The request in flight finishes first.
  expectResponse(*worker, 1);
  expectEvicted(*worker, 1, "unload");
  // An app without an isolate goes silently.
  worker->message([](ipc::Envelope::Builder e) { e.initUnloadApp().setApp(2); });
  worker->ping(1);
  auto pong = worker->next();
  ASSERT_TRUE(pong && pong->envelope().isPong());
  EXPECT_EQ(pong->envelope().getPong().getIsolatesLoaded(), 0u);
  EXPECT_TRUE(pong->envelope().getPong().getProbeOk());
  // A request for an unloaded app breaks the protocol: the worker closes the channel.
  worker->request(2, 1, "/");
  EXPECT_EQ(worker->next(5s), nullptr);
  EXPECT_NE(worker->stderrText().find("names app 1"), std::string::npos) << worker->stderrText();
}

// A cold start takes the worker's spare isolate (worker/spare_isolate.h), which was warmed up
// with a throwaway fetch listener: apps bound to spares see none of it. A service-worker script
// gets only its own listener, and a script without a handler still fails to load.
TEST_F(WorkerProtocolTest, IdleIsolatesReleaseMemoryAndKeepTheirState) {
  auto worker = start(0, 0, {"--log-level", "debug", "--release-idle-after-ms", "100"});
  ASSERT_NE(worker, nullptr);
  worker->loadApp({1, path("a.mjs"), "alpha", 0, false});
  worker->request(1, 1, "/");
  expectLoaded(*worker, 1, true);
  EXPECT_EQ(expectResponse(*worker, 1), "A alpha count=1 marks=A");
  worker->ping(1);
  auto pong = worker->next();
  ASSERT_TRUE(pong && pong->envelope().isPong());
  uint64_t usedBefore = pong->envelope().getPong().getHeapUsedBytes();
  // The isolate has been idle for 100 ms: its heap is collected and compacted, off any request.
  auto deadline = Clock::now() + 20s;
  while (Clock::now() < deadline &&
         worker->stderrText().find("released idle isolates' memory") == std::string::npos) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_NE(worker->stderrText().find("released idle isolates' memory"), std::string::npos)
      << worker->stderrText();
  worker->ping(2);
  pong = worker->next();
  ASSERT_TRUE(pong && pong->envelope().isPong());
  EXPECT_LT(pong->envelope().getPong().getHeapUsedBytes(), usedBefore);
  // Nothing of the app's state went with the garbage.
  worker->request(2, 1, "/");
  EXPECT_EQ(expectResponse(*worker, 2), "A alpha count=2 marks=A");
}

TEST_F(WorkerProtocolTest, ColdStartsTakeTheWarmSpareAndSeeNothingOfItsWarmUp) {
  auto worker = start(0, 0, {"--log-level", "debug"});
  ASSERT_NE(worker, nullptr);
  write("sw.js",
        "addEventListener('fetch', (event) => event.respondWith(new Response("
        "'sw ' + typeof globalThis.marks)));\n");
  write("none.js", "globalThis.defined = true;\n");
  worker->loadApp({1, path("a.mjs"), "alpha", 0, false});
  worker->loadApp({3, path("sw.js"), "sw", 0, false});
  worker->loadApp({4, path("none.js"), "none", 0, false});
  // The spare is made once the worker is idle after its first LoadApp.
  auto spareMade = [&](size_t count) {
    return worker->waitForLogCount("spare isolate made", count);
  };
  ASSERT_TRUE(spareMade(1)) << worker->stderrText();
  worker->request(1, 3, "/");
  expectLoaded(*worker, 3, true);
  EXPECT_EQ(expectResponse(*worker, 1), "sw undefined");
  ASSERT_TRUE(spareMade(2)) << worker->stderrText();
  worker->request(2, 4, "/");
  auto failed = worker->next();
  ASSERT_TRUE(failed && failed->envelope().isLoadError());
  EXPECT_NE(
      std::string(failed->envelope().getLoadError().getMessage().cStr()).find("no fetch handler"),
      std::string::npos)
      << failed->envelope().getLoadError().getMessage().cStr();
  expectResponse(*worker, 2, 503, "app-failed");
  ASSERT_TRUE(spareMade(3)) << worker->stderrText();
  worker->request(3, 1, "/");
  expectLoaded(*worker, 1, true);
  expectResponse(*worker, 3);
  // Both successful cold starts (and the failed one) were bound to spares.
  std::string err = worker->stderrText();
  size_t fromSpares = 0;
  for (size_t at = err.find(" spare=1 "); at != std::string::npos;
       at = err.find(" spare=1 ", at + 1))
    ++fromSpares;
  EXPECT_EQ(fromSpares, 3u) << err;
}

TEST_F(WorkerProtocolTest, FetchIdsNameTheirAppAndRouteBack) {
  auto worker = start();
  ASSERT_NE(worker, nullptr);
  defineAB(*worker);
  worker->request(1, 2, "/fetch");
  expectLoaded(*worker, 2, true);
  auto fetch = worker->next();
  ASSERT_TRUE(fetch && fetch->envelope().isFetchStart());
  auto start = fetch->envelope().getFetchStart();
  EXPECT_EQ(start.getApp(), 2u);
  EXPECT_EQ(start.getParentId(), 1u);
  EXPECT_EQ(start.getFetchId() >> 32, 2u);
  uint64_t fetchId = start.getFetchId();
  worker->message([fetchId](ipc::Envelope::Builder e) {
    auto failed = e.initFetchFailed();
    failed.setFetchId(fetchId);
    failed.setMessage("refused by the test");
  });
  EXPECT_EQ(expectResponse(*worker, 1), "fetch failed: refused by the test");
}

// --shared-isolate: apps are contexts of one isolate, still with their own globals, env and
// CPU limit; eviction drops the context.
TEST_F(WorkerProtocolTest, SharedIsolateKeepsAppsApart) {
  auto worker =
      start(/*maxIsolates=*/2, 0, {"--shared-isolate", "--shared-isolate-heap-mb", "256"});
  ASSERT_NE(worker, nullptr);
  defineAB(*worker, /*cpuLimitMs=*/100);
  worker->loadApp({3, path("a.mjs"), "gamma", 100, false});
  worker->request(1, 1, "/");
  expectLoaded(*worker, 1, true);
  EXPECT_EQ(expectResponse(*worker, 1), "A alpha count=1 marks=A");
  worker->request(2, 2, "/wait");
  expectLoaded(*worker, 2, true);
  worker->request(3, 1, "/loop");
  expectResponse(*worker, 3, 503, "cpu-limit");
  EXPECT_EQ(expectResponse(*worker, 2), "B beta count=1 marks=B");
  worker->request(4, 1, "/");
  EXPECT_EQ(expectResponse(*worker, 4), "A alpha count=2 marks=A");
  worker->request(5, 3, "/");
  expectEvicted(*worker, 2, "lru");
  expectLoaded(*worker, 3, true);
  EXPECT_EQ(expectResponse(*worker, 5), "A gamma count=1 marks=A");
  worker->ping(1);
  auto pong = worker->next();
  ASSERT_TRUE(pong && pong->envelope().isPong());
  EXPECT_EQ(pong->envelope().getPong().getIsolatesLoaded(), 2u);
  EXPECT_TRUE(pong->envelope().getPong().getProbeOk());
  EXPECT_EQ(pong->envelope().getPong().getHeapLimitBytes() >> 20, 256u);
}

// In the shared isolate, spares are warmed-up contexts: a cold start binds the app to one, and
// apps still see nothing of each other or of the warm-up.
TEST_F(WorkerProtocolTest, SharedIsolateColdStartsTakeAWarmSpareContext) {
  auto worker = start(0, 0, {"--shared-isolate", "--log-level", "debug"});
  ASSERT_NE(worker, nullptr);
  defineAB(*worker);
  auto spareMade = [&](size_t count) {
    return worker->waitForLogCount("spare isolate made", count);
  };
  ASSERT_TRUE(spareMade(1)) << worker->stderrText();
  worker->request(1, 1, "/");
  expectLoaded(*worker, 1, true);
  EXPECT_EQ(expectResponse(*worker, 1), "A alpha count=1 marks=A");
  ASSERT_TRUE(spareMade(2)) << worker->stderrText();
  worker->request(2, 2, "/");
  expectLoaded(*worker, 2, true);
  EXPECT_EQ(expectResponse(*worker, 2), "B beta count=1 marks=B");
  worker->request(3, 1, "/");
  EXPECT_EQ(expectResponse(*worker, 3), "A alpha count=2 marks=A");
  std::string err = worker->stderrText();
  size_t fromSpares = 0;
  for (size_t at = err.find(" spare=1 "); at != std::string::npos;
       at = err.find(" spare=1 ", at + 1))
    ++fromSpares;
  EXPECT_EQ(fromSpares, 2u) << err;
}

// A heap-limit breach in the shared isolate replaces it, with every app in it: each is evicted
// (reason memory) and cold-starts again on its next request.
TEST_F(WorkerProtocolTest, SharedIsolateHeapLimitReplacesTheIsolate) {
  write("bomb.mjs", R"(const hoard = [];
export default { fetch() { for (;;) hoard.push(new Array(100000).fill(Math.random())); } };
)");
  auto worker = start(0, 0, {"--shared-isolate", "--shared-isolate-heap-mb", "64"});
  ASSERT_NE(worker, nullptr);
  worker->loadApp({1, path("a.mjs"), "alpha", 20000, /*preload=*/true});
  expectLoaded(*worker, 1, false);
  worker->loadApp({2, path("bomb.mjs"), "x", 20000, /*preload=*/true});
  expectLoaded(*worker, 2, false);
  worker->request(1, 2, "/");
  expectResponse(*worker, 1, 503, "memory-limit");
  std::set<uint32_t> evicted;
  for (int i = 0; i < 2; ++i) {
    auto frame = worker->next();
    ASSERT_TRUE(frame && frame->envelope().isAppEvicted());
    EXPECT_EQ(frame->envelope().getAppEvicted().getReason().cStr(), std::string("memory"));
    evicted.insert(frame->envelope().getAppEvicted().getApp());
  }
  EXPECT_EQ(evicted, (std::set<uint32_t>{1, 2}));
  worker->request(2, 1, "/");
  expectLoaded(*worker, 1, true);
  EXPECT_EQ(expectResponse(*worker, 2), "A alpha count=1 marks=A");
  worker->ping(1);
  auto pong = worker->next();
  ASSERT_TRUE(pong && pong->envelope().isPong());
  EXPECT_EQ(pong->envelope().getPong().getMemoryLimitTerminations(), 1u);
  EXPECT_LT(pong->envelope().getPong().getHeapUsedBytes(), 32u << 20);
}

TEST_F(WorkerProtocolTest, RequestForAnUndefinedAppBreaksTheProtocol) {
  auto worker = start();
  ASSERT_NE(worker, nullptr);
  worker->request(1, 9, "/");
  EXPECT_EQ(worker->next(5s), nullptr);
  auto status = worker->waitExit();
  ASSERT_TRUE(status.has_value());
  EXPECT_NE(worker->stderrText().find("does not hold"), std::string::npos);
}

}  // namespace
}  // namespace isolated::test
