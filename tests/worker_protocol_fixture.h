// The worker protocol tests' supervisor: the real `isolated __worker`, with a socketpair as its
// fd 3, driven by the test (ipc/protocol.h). Apps are written to a private temporary directory,
// so each suite is hermetic. Shared by worker_protocol_test.cc, worker_eviction_test.cc and
// limits_test.cc.
#pragma once

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
#include "temp_dir.h"

namespace isolated::test {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// A module app: counts its requests in a module variable and marks a global, so that state
// shared between apps would show; /loop spins into the CPU limit; /wait answers after 300 ms
// (or ?ms=N);
// /fetch starts an outbound fetch and answers with how it ended.
inline std::string appScript(const std::string& name) {
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

  pid_t pid() const { return pid_; }

  void send(capnp::MessageBuilder& message) {
    EvbufferPtr out(evbuffer_new());
    ipc::encodeFrame(message, out.get());
    while (evbuffer_get_length(out.get()) > 0) {
      if (evbuffer_write(out.get(), fd_) < 0) return;
    }
  }

  void configure(uint32_t version, uint32_t maxIsolates = 0, uint32_t idleTimeoutMs = 0,
                 uint32_t waitUntilTimeoutMs = 0) {
    capnp::MallocMessageBuilder message;
    auto configure = message.initRoot<ipc::Envelope>().initConfigure();
    configure.setProtocolVersion(version);
    configure.setMaxIsolates(maxIsolates);
    configure.setIsolateIdleTimeoutMs(idleTimeoutMs);
    configure.setWaitUntilTimeoutMs(waitUntilTimeoutMs);
    send(message);
  }

  // `name` empty: "app" and the id.
  void loadApp(const AppSpec& spec, uint32_t heapLimitMb = 64, const std::string& name = "") {
    capnp::MallocMessageBuilder message;
    auto load = message.initRoot<ipc::Envelope>().initLoadApp();
    load.setApp(spec.id);
    load.setName(name.empty() ? "app" + std::to_string(spec.id) : name);
    load.setVersion(1);
    load.setScriptPath(spec.script);
    auto bindings = load.initBindings(1);
    bindings[0].setName("NAME");
    bindings[0].setValue(spec.envName);
    load.setCpuLimitMs(spec.cpuLimitMs);
    load.setHeapLimitMb(heapLimitMb);
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

inline std::string bodyOf(ipc::Response::Reader response) {
  return std::string(response.getBody().asChars().begin(), response.getBody().size());
}

class WorkerProtocolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    write("a.mjs", appScript("A"));
    write("b.mjs", appScript("B"));
    write("broken.mjs", "export default { fetch() { return new Response('x') }\n");
  }
  std::string write(const std::string& name, const std::string& text) {
    return dir_.write(name, text);
  }
  std::string path(const std::string& name) const { return (dir_.path() / name).string(); }

  // A configured worker whose Hello has been read.
  std::unique_ptr<Worker> start(uint32_t maxIsolates = 0, uint32_t idleTimeoutMs = 0,
                                const std::vector<std::string>& extraArgs = {}) {
    auto worker = std::make_unique<Worker>(dir_.path(), extraArgs);
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

  TempDir dir_;
};

}  // namespace isolated::test
