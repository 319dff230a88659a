// --io-threads: client connections served by I/O threads that relay requests to the supervisor's
// loop (supervisor/front/threaded_front.h), against the real binary. The whole front suite, the
// streaming, request-signal and serve suites also run with ISOLATED_IO_THREADS=2
// (tests/CMakeLists.txt, the io2. tests); these check what only the threaded front has: that
// every thread serves, that ids stay unique across threads, order under pipelining through the
// relay, backpressure across the loops, and that pause, resume and drain reach every thread.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <nlohmann/json.hpp>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "eventually.h"
#include "http_client.h"
#include "raw_client.h"
#include "server_process.h"
#include "shell_command.h"

namespace isolated::test {
namespace {

const std::string kFront = std::string(ISOLATED_TEST_SCRIPTS) + "/front.js";
const std::string kStreaming = std::string(ISOLATED_TEST_SCRIPTS) + "/streaming.js";

// Names of the threads of `pid` (/proc/PID/task/TID/comm).
std::vector<std::string> threadNames(pid_t pid) {
  std::vector<std::string> names;
  for (const auto& task :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
    std::ifstream in(task.path() / "comm");
    std::string name;
    std::getline(in, name);
    names.push_back(name);
  }
  return names;
}

std::string answerBody(const std::string& answer) {
  size_t end = answer.find("\r\n\r\n");
  return end == std::string::npos ? "" : answer.substr(end + 4);
}

std::string headerValue(const std::string& answer, const std::string& name) {
  size_t at = answer.find("\r\n" + name + ": ");
  if (at == std::string::npos) return "";
  at += name.size() + 4;
  return answer.substr(at, answer.find("\r\n", at) - at);
}

TEST(IoThreadsTest, EveryThreadServesAndRequestIdsStayUnique) {
  ServerProcess server(kFront, {"--workers", "2", "--io-threads", "3"});
  ASSERT_NE(server.waitReady(), 0) << server.output();
  auto names = threadNames(server.pid());
  EXPECT_EQ(std::count(names.begin(), names.end(), "io"), 3);

  // Each connection is new, so the kernel spreads them over the three listeners by their
  // source port. A thread numbers its requests i + 1, i + 4, ... (ids modulo 3 name the thread).
  std::set<std::string> ids;
  std::set<uint64_t> threadsSeen;
  for (int i = 0; i < 60; ++i) {
    RawClient client(server.port());
    ASSERT_TRUE(client.connected());
    std::string path = "/n" + std::to_string(i);
    client.send("GET " + path + " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    std::string answer = client.read([](const std::string&) { return false; });
    ASSERT_EQ(answer.rfind("HTTP/1.1 200", 0), 0u) << answer;
    EXPECT_EQ(answerBody(answer), "ok " + path);
    std::string id = headerValue(answer, "x-request-id");
    ASSERT_EQ(id.size(), 16u) << answer;
    EXPECT_TRUE(ids.insert(id).second) << "id " << id << " given twice";
    uint64_t value = 0;
    std::from_chars(id.data(), id.data() + id.size(), value, 16);
    threadsSeen.insert(value % 3);
  }
  EXPECT_EQ(threadsSeen.size(), 3u) << "not every I/O thread served a connection";
}

// The sample of `name` (without labels, or with exactly `labels`) in Prometheus text; -1 if absent.
double metricValue(const std::string& text, const std::string& name, const std::string& labels) {
  std::string key = labels.empty() ? name + " " : name + "{" + labels + "} ";
  size_t at = text.find("\n" + key);
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + 1 + key.size()));
}

TEST(IoThreadsTest, MetricsSumTheThreadsConnectionsAndRefusals) {
  ServerProcess server(kFront, {"--workers", "1", "--io-threads", "2"});
  ASSERT_NE(server.waitReady(), 0) << server.output();
  for (int i = 0; i < 10; ++i) {
    RawClient client(server.port());
    client.send("GET /m HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    EXPECT_NE(client.read([](const std::string&) { return false; }).find("ok /m"),
              std::string::npos);
  }
  // Refused by an I/O thread itself, and still counted by the main loop.
  for (int i = 0; i < 3; ++i) {
    RawClient client(server.port());
    client.send("GET /bad HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n");
    EXPECT_EQ(client.read([](const std::string&) { return false; }).rfind("HTTP/1.1 400", 0), 0u);
  }
  RawClient held(server.port());
  held.send("GET /keep HTTP/1.1\r\nHost: t\r\n\r\n");
  held.read([](const std::string& r) { return r.find("ok /keep") != std::string::npos; });
  std::string text;
  ASSERT_TRUE(eventually([&] {
    text = runCtl(server, "metrics").out;
    return metricValue(text, "isolated_http_connections_accepted_total", "") >= 14 &&
           metricValue(text, "isolated_http_refused_total", "status=\"400\"") >= 3 &&
           metricValue(text, "isolated_http_connections_open", "") == 1;
  })) << text;
  EXPECT_EQ(metricValue(text, "isolated_io_threads", ""), 2);
}

TEST(IoThreadsTest, TheConnectionCapHoldsForAllThreadsTogether) {
  // One count of 4 for both threads: never more than 4 open, and 4 reached whichever thread the
  // kernel hands each client. A header timeout of 1 s frees the slots in waves, and each client
  // still waiting (in either thread's backlog) gets one, woken by closes on the other thread
  // too: all 12 are accepted in the end.
  ServerProcess server(kFront, {"--workers", "1", "--io-threads", "2", "--max-connections", "4",
                                "--header-timeout", "1"});
  ASSERT_NE(server.waitReady(), 0) << server.output();
  std::vector<std::unique_ptr<RawClient>> idle;
  for (int i = 0; i < 12; ++i)
    idle.push_back(std::make_unique<RawClient>(server.port()));
  double most = 0;
  ASSERT_TRUE(eventually(
      [&] {
        std::string text = runCtl(server, "metrics").out;
        most = std::max(most, metricValue(text, "isolated_http_connections_open", ""));
        return metricValue(text, "isolated_http_connections_accepted_total", "") >= 12;
      },
      std::chrono::seconds(20)))
      << server.output();
  EXPECT_EQ(most, 4);
  // A request is still served once the idle ones are gone.
  EXPECT_EQ(httpGet(server.baseUrl() + "/after").status, 200);
}

TEST(IoThreadsTest, PipelinedRequestsAreAnsweredInOrderThroughTheRelay) {
  ServerProcess server(kFront, {"--workers", "2", "--io-threads", "2"});
  ASSERT_NE(server.waitReady(), 0) << server.output();
  RawClient client(server.port());
  std::string requests;
  for (int i = 0; i < 50; ++i) {
    requests += "GET /p" + std::to_string(i) + " HTTP/1.1\r\nHost: t\r\n" +
                (i == 49 ? "Connection: close\r\n" : "") + "\r\n";
  }
  ASSERT_TRUE(client.send(requests));
  std::string all = client.read([](const std::string&) { return false; });
  size_t at = 0;
  for (int i = 0; i < 50; ++i) {
    std::string body = "ok /p" + std::to_string(i);
    size_t found = all.find(body, at);
    ASSERT_NE(found, std::string::npos) << "answer " << i << " missing or out of order";
    at = found + body.size();
  }
  EXPECT_TRUE(client.closed());
}

TEST(IoThreadsTest, LargeBodiesStreamBothWaysAcrossTheLoops) {
  // The worker's memory threshold is out of the way: under the sanitizers a worker relaying four
  // large bodies at once passes the default one, and its recycling is not what is tested here.
  ServerProcess server(kStreaming,
                       {"--workers", "2", "--io-threads", "2", "--memory-threshold", "4096"});
  ASSERT_NE(server.waitReady(), 0) << server.output();
  // Larger than every window and buffer on the way (the connection's 256 KB mark, the relay's,
  // the credit windows), in both directions; several at once over both threads.
  std::string body(24u << 20, 'x');
  for (size_t i = 0; i < body.size(); i += 4096)
    body[i] = static_cast<char>('a' + (i / 4096) % 26);
  std::vector<HttpResult> results(4);
  std::vector<std::thread> clients;
  for (auto& result : results)
    clients.emplace_back([&] { result = httpRequest("POST", server.baseUrl() + "/echo", body); });
  for (auto& client : clients)
    client.join();
  for (const auto& result : results) {
    EXPECT_EQ(result.status, 200) << result.error;
    EXPECT_TRUE(result.body == body) << "echo differs: " << result.body.size() << " bytes\n"
                                     << server.output();
  }
}

TEST(IoThreadsTest, PauseResumeAndDrainReachEveryThread) {
  ServerProcess server(kFront, {"--workers", "2", "--io-threads", "3", "--drain-timeout", "20"});
  ASSERT_NE(server.waitReady(), 0) << server.output();
  uint16_t port = server.port();

  CommandResult paused = runCtl(server, "drain");
  ASSERT_EQ(paused.exitCode, 0) << paused.out;
  // Every thread's listener is closed once ctl has its answer.
  for (int i = 0; i < 20; ++i)
    EXPECT_TRUE(connectionRefused(port));
  CommandResult resumed = runCtl(server, "resume");
  ASSERT_EQ(resumed.exitCode, 0) << resumed.out;
  for (int i = 0; i < 20; ++i)
    EXPECT_EQ(httpGet(server.baseUrl() + "/r").status, 200);

  // SIGTERM with a request in flight: the listeners close at once, the request finishes.
  HttpResult slow;
  std::thread client([&] { slow = httpGet(server.baseUrl() + "/slow"); });
  ASSERT_TRUE(server.waitForCount("slow started", 1)) << server.output();
  server.signal(SIGTERM);
  ASSERT_TRUE(server.waitForLine([](const std::string& l) {
    return l.find("listener closed, draining") != std::string::npos;
  })) << server.output();
  EXPECT_TRUE(connectionRefused(port));
  client.join();
  EXPECT_EQ(slow.status, 200) << slow.error;
  EXPECT_EQ(slow.body, "slow");
  auto status = server.waitExit();
  ASSERT_TRUE(status.has_value()) << server.output();
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 0) << server.output();
}

TEST(IoThreadsTest, AClientThatLeavesMidBodyCancelsItsRequestOnly) {
  ServerProcess server(kStreaming, {"--workers", "2", "--io-threads", "2"});
  ASSERT_NE(server.waitReady(), 0) << server.output();
  {
    RawClient leaver(server.port());
    leaver.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10000000\r\n\r\n" +
                std::string(300000, 'y'));
    // Some of the echo comes back before the client leaves with most of its body unsent.
    leaver.read([](const std::string& r) { return r.size() > 1000; });
  }
  // The request ends (its stream is cancelled in the worker), and the server keeps serving.
  HttpResult after = httpRequest("POST", server.baseUrl() + "/echo", "still here");
  EXPECT_EQ(after.status, 200) << after.error;
  EXPECT_EQ(after.body, "still here");
  auto inFlight = [&] {
    CommandResult r = runCtl(server, "--json status");
    auto parsed = nlohmann::json::parse(r.out, nullptr, false);
    return parsed.is_object() ? parsed["status"].value("in_flight", -1) : -1;
  };
  EXPECT_TRUE(eventually([&] { return inFlight() == 0; })) << runCtl(server, "--json status").out;
}

}  // namespace
}  // namespace isolated::test
