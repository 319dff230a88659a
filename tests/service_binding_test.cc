// Integration tests of service bindings (`services = { BACK = "back" }` in an [[app]] table)
// through the real binary: app front calls app back without the network. Status, headers and
// body arrive as sent; bodies larger than a credit window stream both ways; back's errors (a
// thrown script, its wall limit, its max_concurrent) arrive at front as responses; a loop
// front -> back -> front ... ends at the depth bound with an error.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "cpu_room.h"
#include "http_client.h"
#include "server_process.h"
#include "temp_dir.h"

namespace isolated::test {
namespace {

using namespace std::chrono_literals;
const std::string kScripts = ISOLATED_TEST_SCRIPTS;

class ServiceServer {
 public:
  ServiceServer() {
    config_ = dir_.write("isolated.toml",
                         "[[app]]\n"
                         "name = \"front\"\n"
                         "script = \"" +
                             kScripts +
                             "/service_front.js\"\n"
                             "routes = [\"front.test/*\"]\n"
                             "services = { BACK = \"back\", BUSY = \"busy\" }\n"
                             "\n[[app]]\n"
                             "name = \"back\"\n"
                             "script = \"" +
                             kScripts +
                             "/service_back.js\"\n"
                             "routes = [\"back.test/*\"]\n"
                             "services = { FRONT = \"front\" }\n"
                             "wall_limit = 2000\n"
                             "\n[[app]]\n"
                             "name = \"busy\"\n"
                             "script = \"" +
                             kScripts +
                             "/service_back.js\"\n"
                             "routes = [\"busy.test/*\"]\n"
                             "max_concurrent = 1\n");
    // Each app's first request streams a body through the streams' first use
    // (tests/cpu_room.h): in CI it once went past the default limit.
    server_ = std::make_unique<ServerProcess>(
        "", isolated::testing::withCpuRoomForFirstUse({"--config", config_, "--workers", "2"}));
    port_ = server_->waitReady();
  }
  bool ready() const { return port_ != 0; }
  ServerProcess& process() { return *server_; }
  HttpResult front(const std::string& method, const std::string& path, const std::string& body = "",
                   std::map<std::string, std::string> headers = {},
                   std::chrono::milliseconds timeout = 30s) {
    headers["Host"] = "front.test";
    return httpRequest(method, server_->baseUrl() + path, body, headers, timeout);
  }

 private:
  TempDir dir_;
  std::string config_;
  std::unique_ptr<ServerProcess> server_;
  uint16_t port_ = 0;
};

TEST(ServiceBindings, StatusHeadersAndBodyArriveAsSent) {
  ServiceServer server;
  ASSERT_TRUE(server.ready()) << server.process().output();
  auto result = server.front("POST", "/hello?q=1", "", {{"x-test", "passed along"}});
  EXPECT_EQ(result.status, 201) << result.body;
  EXPECT_EQ(result.body, "back saw POST /hello?q=1");
  EXPECT_EQ(result.headers["x-back"], "yes");
  EXPECT_EQ(result.headers["x-seen"], "passed along");
}

TEST(ServiceBindings, BodiesLargerThanAWindowStreamBothWays) {
  ServiceServer server;
  ASSERT_TRUE(server.ready()) << server.process().output();
  // Upload: front passes its request body on as a stream; back echoes it.
  std::string upload(700 * 1024, 'u');
  for (size_t i = 0; i < upload.size(); i += 997)
    upload[i] = static_cast<char>('a' + (i % 26));
  auto echoed = server.front("POST", "/echo", upload);
  ASSERT_EQ(echoed.status, 200) << echoed.body.substr(0, 200);
  EXPECT_EQ(echoed.headers["x-length"], std::to_string(upload.size()));
  EXPECT_TRUE(echoed.body == upload) << "echoed " << echoed.body.size() << " bytes";
  // Download: back streams 16 pieces of 64 KiB (four credit windows).
  auto streamed = server.front("GET", "/stream?pieces=16");
  ASSERT_EQ(streamed.status, 200);
  ASSERT_EQ(streamed.body.size(), 16u * 65536);
  for (size_t piece = 0; piece < 16; ++piece) {
    EXPECT_EQ(streamed.body[piece * 65536], static_cast<char>('a' + piece)) << piece;
    EXPECT_EQ(streamed.body[piece * 65536 + 65535], static_cast<char>('a' + piece)) << piece;
  }
}

TEST(ServiceBindings, TheCalleesErrorsArriveAsResponses) {
  ServiceServer server;
  ASSERT_TRUE(server.ready()) << server.process().output();
  auto thrown = server.front("GET", "/throw");
  EXPECT_EQ(thrown.status, 500);
  EXPECT_EQ(thrown.headers["isolated-error"], "script-threw");
  // Back's own wall limit (2 s) answers 504 to front, whose limit is longer.
  auto started = std::chrono::steady_clock::now();
  auto slow = server.front("GET", "/hold?ms=10000");
  EXPECT_EQ(slow.status, 504) << slow.body;
  EXPECT_EQ(slow.headers["isolated-error"], "wall-limit");
  EXPECT_LT(std::chrono::steady_clock::now() - started, 8s);
  // The busy app takes one request at a time (max_concurrent = 1): while one is held, the next
  // call gets its 503, as a response front can read.
  // (The holder itself may meet a probe in flight and get the 503: it tries again.)
  std::atomic<bool> seen{false};
  auto deadline = std::chrono::steady_clock::now() + 10s;
  std::thread holder([&] {
    while (!seen && std::chrono::steady_clock::now() < deadline) {
      server.front("GET", "/busy/hold?ms=1000");
    }
  });
  HttpResult overloaded;
  do {
    overloaded = server.front("GET", "/busy/hello");
  } while (overloaded.status != 503 && std::chrono::steady_clock::now() < deadline);
  seen = true;
  holder.join();
  EXPECT_EQ(overloaded.status, 503) << overloaded.body;
  EXPECT_EQ(overloaded.headers["isolated-error"], "app-overloaded");
  EXPECT_NE(overloaded.body.find("'busy'"), std::string::npos) << overloaded.body;
  // And the app serves again once the held request is done.
  EXPECT_EQ(server.front("GET", "/busy/hello").status, 201);
}

TEST(ServiceBindings, ACallerThatGoesAwayCancelsTheCalleesRequest) {
  ServiceServer server;
  ASSERT_TRUE(server.ready()) << server.process().output();
  // busy (max_concurrent = 1, a 30 s wall limit) would be held for 20 s by this call; its
  // client gives up after half a second, which cancels front's request and so busy's.
  auto gaveUp = server.front("GET", "/busy/hold?ms=20000", "", {}, 500ms);
  EXPECT_EQ(gaveUp.status, 0) << "the client was meant to time out";
  auto deadline = std::chrono::steady_clock::now() + 8s;
  HttpResult next;
  do {
    next = server.front("GET", "/busy/hello");
  } while (next.status != 201 && std::chrono::steady_clock::now() < deadline);
  EXPECT_EQ(next.status, 201) << "busy is still held: " << next.body;
}

TEST(ServiceBindings, ALoopBetweenAppsEndsAtTheDepthBound) {
  ServiceServer server;
  ASSERT_TRUE(server.ready()) << server.process().output();
  auto started = std::chrono::steady_clock::now();
  auto looped = server.front("GET", "/loop");
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
  // The innermost caller's fetch() was refused; its 508 travelled back through every hop.
  EXPECT_EQ(looped.status, 508) << looped.body;
  EXPECT_NE(looped.body.find("more than 16 nested service calls"), std::string::npos)
      << looped.body;
  EXPECT_TRUE(server.process().waitForLine([](const std::string& line) {
    return line.find("service binding depth limit") != std::string::npos &&
           line.find("depth=17") != std::string::npos;
  }));
  // Nothing is left in flight: both apps still answer.
  EXPECT_EQ(server.front("GET", "/hello").status, 201);
}

}  // namespace
}  // namespace isolated::test
