// An incoming request's signal against the real binary: it aborts when the client closes its
// connection while the worker holds the request (the supervisor watches the connection of every
// request it holds, queued or sent to a worker) and when the wall limit cancels the request. A
// queued request whose client leaves never reaches a worker. Watching must not disturb
// keep-alive or pipelined requests on the same connection.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "http_client.h"
#include "raw_client.h"
#include "server_process.h"

namespace isolated::test {
namespace {

const std::string kScript = std::string(ISOLATED_TEST_SCRIPTS) + "/request_signal.js";

// Complete answers (with Content-Length bodies) at the start of `text`.
size_t completeAnswers(const std::string& text) {
  size_t count = 0;
  size_t pos = 0;
  for (;;) {
    size_t end = text.find("\r\n\r\n", pos);
    if (end == std::string::npos) return count;
    size_t length = 0;
    size_t header = text.find("Content-Length: ", pos);
    if (header != std::string::npos && header < end) length = std::stoul(text.substr(header + 16));
    if (text.size() < end + 4 + length) return count;
    pos = end + 4 + length;
    ++count;
  }
}

// Reads until `count` more complete answers have arrived (or the connection ends, or 10 s pass);
// returns what arrived since the previous call.
std::string readAnswers(RawClient& client, size_t count) {
  size_t from = client.received().size();
  std::string all =
      client.read([&](const std::string& r) { return completeAnswers(r.substr(from)) >= count; });
  return all.substr(from);
}

std::string get(const std::string& path) {
  return "GET " + path + " HTTP/1.1\r\nHost: test\r\n\r\n";
}

class ClientLeavesTest : public ::testing::TestWithParam<const char*> {};

TEST_P(ClientLeavesTest, AClientThatLeavesAbortsTheSignal) {
  ServerProcess server(kScript, {"--workers", "1", "--isolation", GetParam()});
  ASSERT_NE(server.waitReady(), 0) << server.output();
  {
    RawClient client(server.port());
    ASSERT_TRUE(client.connected());
    ASSERT_TRUE(client.send(get("/wait-abort?tag=gone")));
    ASSERT_TRUE(server.waitForCount("waiting gone", 1)) << server.output();
    client.close();
  }
  ASSERT_TRUE(server.waitForCount("aborted gone AbortError true", 1)) << server.output();
  EXPECT_EQ(server.countLines("client went away"), 1u) << server.output();
  // The worker keeps serving, and the abandoned answer went nowhere.
  HttpResult next = httpGet(server.baseUrl() + "/after");
  EXPECT_EQ(next.status, 200) << next.error;
  EXPECT_EQ(next.body, "ok /after");
  EXPECT_EQ(server.countLines("worker lost"), 0u);
}

INSTANTIATE_TEST_SUITE_P(Isolation, ClientLeavesTest,
                         ::testing::Values("shared", "context", "isolate"));

TEST(RequestSignalTest, TheWallLimitAbortsTheSignal) {
  ServerProcess server(kScript, {"--workers", "1", "--wall-limit", "300"});
  ASSERT_NE(server.waitReady(), 0) << server.output();
  HttpResult timedOut = httpGet(server.baseUrl() + "/wait-abort?tag=late");
  EXPECT_EQ(timedOut.status, 504);
  ASSERT_TRUE(server.waitForCount("aborted late AbortError true", 1)) << server.output();
  EXPECT_EQ(httpGet(server.baseUrl() + "/again").body, "ok /again");
}

TEST(RequestSignalTest, AClientThatLeavesWhileQueuedIsDropped) {
  // One request at a time on the only worker: the second waits in the supervisor's queue.
  ServerProcess server(kScript, {"--workers", "1", "--worker-queue-size", "1"});
  ASSERT_NE(server.waitReady(), 0) << server.output();
  RawClient holder(server.port());
  ASSERT_TRUE(holder.send(get("/wait-abort?tag=holder")));
  ASSERT_TRUE(server.waitForCount("waiting holder", 1)) << server.output();
  {
    RawClient queued(server.port());
    ASSERT_TRUE(queued.send(get("/wait-abort?tag=queued")));
    queued.close();
  }
  ASSERT_TRUE(server.waitForCount("client went away while queued", 1)) << server.output();
  holder.close();
  ASSERT_TRUE(server.waitForCount("aborted holder", 1)) << server.output();
  // The queue is first in, first out: had the dropped request stayed, it would run first.
  HttpResult next = httpGet(server.baseUrl() + "/next");
  EXPECT_EQ(next.body, "ok /next");
  EXPECT_EQ(server.countLines("waiting queued"), 0u) << server.output();
}

TEST(RequestSignalTest, KeepAliveAndPipelinedRequestsStillWork) {
  ServerProcess server(kScript, {"--workers", "1"});
  ASSERT_NE(server.waitReady(), 0) << server.output();
  RawClient client(server.port());
  ASSERT_TRUE(client.connected());
  // One after another on one connection.
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(client.send(get("/seq" + std::to_string(i))));
    std::string answer = readAnswers(client, 1);
    EXPECT_NE(answer.find("ok /seq" + std::to_string(i)), std::string::npos) << answer;
  }
  // Two in one write.
  ASSERT_TRUE(client.send(get("/p1") + get("/p2")));
  std::string both = readAnswers(client, 2);
  size_t first = both.find("ok /p1");
  size_t second = both.find("ok /p2");
  EXPECT_NE(first, std::string::npos) << both;
  EXPECT_NE(second, std::string::npos) << both;
  EXPECT_LT(first, second) << both;
  // The next request arrives while the worker holds the first: it waits its turn.
  ASSERT_TRUE(client.send(get("/slow")));
  ASSERT_TRUE(server.waitForCount("slow started", 1)) << server.output();
  ASSERT_TRUE(client.send(get("/behind")));
  std::string ordered = readAnswers(client, 2);
  size_t slow = ordered.find("\r\n\r\nslow");
  size_t behind = ordered.find("ok /behind");
  EXPECT_NE(slow, std::string::npos) << ordered;
  EXPECT_NE(behind, std::string::npos) << ordered;
  EXPECT_LT(slow, behind) << ordered;
  EXPECT_EQ(server.countLines("client went away"), 0u) << server.output();
  EXPECT_EQ(server.countLines("worker lost"), 0u);
}

}  // namespace
}  // namespace isolated::test
