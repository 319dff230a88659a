// Streamed request and response bodies through the real binary (tests/scripts/streaming.js):
// an echo of 256 MB with both processes' memory flat, a client that does not read pausing the
// upload, a client that leaves mid-upload cancelling its request, chunked uploads, the body
// limit mid-stream, and small bodies on their inline fast path.
//
// Large transfers use a raw socket (StreamingClient) so the test generates the upload as it
// goes and reads the echo at the same time, holding neither in memory.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "common/unique_fd.h"
#include "http_client.h"
#include "sanitizer.h"
#include "server_process.h"

namespace isolated::test {
namespace {

const std::string kScript = std::string(ISOLATED_TEST_SCRIPTS) + "/streaming.js";

// The byte at `offset` of every generated body.
uint8_t patternByte(uint64_t offset) {
  return static_cast<uint8_t>((offset * 131 + (offset >> 16)) & 0xff);
}

// Resident set size of `pid` in bytes (VmRSS), 0 when it cannot be read.
uint64_t rssBytes(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

// One HTTP/1.1 request over a non-blocking socket: the body is generated as the socket takes
// it, and the response is read (and checked against the pattern) as it arrives.
class StreamingClient {
 public:
  StreamingClient(uint16_t port, const std::string& head) {
    fd_.reset(::socket(AF_INET, SOCK_STREAM, 0));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      ADD_FAILURE() << "connect: " << std::strerror(errno);
    }
    ::fcntl(fd_.get(), F_SETFL, O_NONBLOCK);
    out_ = head;
  }

  // Queues `size` pattern bytes of body (after those already queued). With `chunked`, each
  // piece is framed as one chunk, and the last chunk follows the body.
  void addBody(uint64_t size, bool chunked = false) {
    bodyToSend_ += size;
    chunked_ = chunked;
  }

  // Runs until `done()` (checked after each step) or `timeout` passes without progress. With
  // `read` false the response is not read (a slow client). Returns whether `done()` held.
  template <typename Done>
  bool pump(Done&& done, bool read = true,
            std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    char buffer[64 << 10];
    while (!done()) {
      preparePending();
      pollfd p{fd_.get(), static_cast<short>((read ? POLLIN : 0) | (out_.empty() ? 0 : POLLOUT)),
               0};
      if (p.events == 0) return done();
      int ready = ::poll(&p, 1, static_cast<int>(timeout.count()));
      if (ready <= 0) return done();  // no progress within the timeout
      if (p.revents & POLLOUT) {
        ssize_t n = ::send(fd_.get(), out_.data(), out_.size(), MSG_NOSIGNAL);
        if (n > 0) {
          out_.erase(0, static_cast<size_t>(n));
          sent_ += static_cast<uint64_t>(n);
        } else if (n < 0 && errno != EAGAIN) {
          sendFailed_ = true;
          out_.clear();
          bodyToSend_ = bodyQueued_;
        }
      }
      if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
        ssize_t n = ::recv(fd_.get(), buffer, sizeof buffer, 0);
        if (n <= 0) {
          closed_ = true;
          return done();
        }
        received(buffer, static_cast<size_t>(n));
      }
    }
    return true;
  }

  void close() { fd_.reset(); }

  uint64_t sent() const { return sent_; }
  bool closed() const { return closed_; }
  int status() const { return status_; }
  const std::string& head() const { return head_; }
  // Response body bytes received, and whether each matched the pattern.
  uint64_t bodyReceived() const { return bodyReceived_; }
  bool bodyMatches() const { return bodyMatches_; }
  const std::string& bodyText() const { return bodyText_; }

 private:
  void preparePending() {
    // Keep at most 256 KiB generated ahead of the socket.
    while (out_.size() < (256u << 10) && bodyQueued_ < bodyToSend_) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(64u << 10, bodyToSend_ - bodyQueued_));
      if (chunked_) {
        char line[32];
        std::snprintf(line, sizeof line, "%zx\r\n", n);
        out_ += line;
      }
      size_t offset = out_.size();
      out_.resize(offset + n);
      for (size_t i = 0; i < n; ++i)
        out_[offset + i] = static_cast<char>(patternByte(bodyQueued_ + i));
      bodyQueued_ += n;
      if (chunked_) out_ += bodyQueued_ == bodyToSend_ ? "\r\n0\r\n\r\n" : "\r\n";
    }
  }

  void received(const char* data, size_t size) {
    if (status_ == 0) {
      headBuffer_.append(data, size);
      size_t end = headBuffer_.find("\r\n\r\n");
      if (end == std::string::npos) return;
      head_ = headBuffer_.substr(0, end + 4);
      // Skip an interim 100 Continue.
      if (head_.rfind("HTTP/1.1 100", 0) == 0) {
        std::string rest = headBuffer_.substr(end + 4);
        headBuffer_.clear();
        head_.clear();
        if (!rest.empty()) received(rest.data(), rest.size());
        return;
      }
      status_ = std::stoi(head_.substr(9, 3));
      std::string rest = headBuffer_.substr(end + 4);
      headBuffer_.clear();
      bodyBytes(rest.data(), rest.size());
      return;
    }
    bodyBytes(data, size);
  }

  void bodyBytes(const char* data, size_t size) {
    for (size_t i = 0; i < size; ++i) {
      if (static_cast<uint8_t>(data[i]) != patternByte(bodyReceived_ + i)) bodyMatches_ = false;
    }
    if (bodyText_.size() < 4096) bodyText_.append(data, std::min<size_t>(size, 4096));
    bodyReceived_ += size;
  }

  UniqueFd fd_;
  std::string out_;
  uint64_t bodyToSend_ = 0;
  uint64_t bodyQueued_ = 0;
  bool chunked_ = false;
  uint64_t sent_ = 0;
  bool sendFailed_ = false;
  bool closed_ = false;
  std::string headBuffer_;
  std::string head_;
  int status_ = 0;
  uint64_t bodyReceived_ = 0;
  bool bodyMatches_ = true;
  std::string bodyText_;
};

std::string postHead(const std::string& path, uint64_t contentLength) {
  return "POST " + path +
         " HTTP/1.1\r\nHost: test\r\nContent-Length: " + std::to_string(contentLength) + "\r\n\r\n";
}

class StreamingTest : public ::testing::Test {
 protected:
  void start(std::vector<std::string> args = {}) {
    std::vector<std::string> all = {"--workers", "1"};
    all.insert(all.end(), args.begin(), args.end());
    server_ = std::make_unique<ServerProcess>(kScript, all);
    ASSERT_NE(server_->waitReady(), 0);
    auto pids = server_->liveWorkerPids();
    ASSERT_EQ(pids.size(), 1u);
    worker_ = pids[0];
  }
  std::unique_ptr<ServerProcess> server_;
  pid_t worker_ = -1;
};

TEST_F(StreamingTest, EchoOf256MegabytesKeepsBothProcessesFlat) {
  SKIP_UNDER_ADDRESS_SANITIZER("a 256 MB echo within its deadline and RSS bound");
  start({"--max-body-size", "1024", "--wall-limit", "600000"});
  constexpr uint64_t kSize = 256ull << 20;
  constexpr uint64_t kBound = 64ull << 20;
  uint64_t supervisorBefore = rssBytes(server_->pid());
  uint64_t workerBefore = rssBytes(worker_);
  uint64_t supervisorPeak = supervisorBefore, workerPeak = workerBefore;

  StreamingClient client(server_->port(), postHead("/echo-length", kSize));
  client.addBody(kSize);
  uint64_t nextSample = 0;
  bool complete = client.pump([&] {
    if (client.sent() >= nextSample) {
      supervisorPeak = std::max(supervisorPeak, rssBytes(server_->pid()));
      workerPeak = std::max(workerPeak, rssBytes(worker_));
      nextSample += 8u << 20;
    }
    return client.bodyReceived() >= kSize || client.closed();
  });
  ASSERT_TRUE(complete) << "received " << client.bodyReceived() << " of " << kSize;
  EXPECT_EQ(client.status(), 200);
  EXPECT_NE(client.head().find("content-length: 268435456"), std::string::npos) << client.head();
  EXPECT_EQ(client.bodyReceived(), kSize);
  EXPECT_TRUE(client.bodyMatches());
  EXPECT_LT(supervisorPeak - supervisorBefore, kBound)
      << "supervisor grew by " << (supervisorPeak - supervisorBefore);
  EXPECT_LT(workerPeak - workerBefore, kBound) << "worker grew by " << (workerPeak - workerBefore);
}

// Bytes the /counted-echo handlers have pulled so far.
uint64_t pulledBytes(const ServerProcess& server) {
  HttpResult r = httpGet(server.baseUrl() + "/pulled");
  size_t colon = r.body.find(':');
  return colon == std::string::npos ? ~0ull : std::stoull(r.body.substr(colon + 1));
}

TEST_F(StreamingTest, AClientThatDoesNotReadPausesTheHandler) {
  SKIP_UNDER_ADDRESS_SANITIZER("a 256 MB transfer within its deadline");
  start({"--max-body-size", "1024", "--wall-limit", "600000"});
  constexpr uint64_t kSize = 256ull << 20;
  StreamingClient client(server_->port(), postHead("/counted-echo", kSize));
  client.addBody(kSize);
  // Without reading the echo, everything must stall: the handler's stream is not pulled once
  // its response cannot be written, so it stops reading the request body, the supervisor stops
  // reading the socket, and only socket buffers and one window per hop hold data.
  client.pump([] { return false; }, /*read=*/false, std::chrono::milliseconds(1500));
  EXPECT_LT(client.sent(), 64ull << 20) << "the upload was not paused";
  uint64_t pulled = pulledBytes(*server_);
  EXPECT_LT(pulled, 64ull << 20) << "the handler was not paused";
  // Still stalled a while later: nothing more was pulled.
  client.pump([] { return false; }, /*read=*/false, std::chrono::milliseconds(500));
  EXPECT_EQ(pulledBytes(*server_), pulled);
  // Reading resumes everything.
  ASSERT_TRUE(client.pump([&] { return client.bodyReceived() >= kSize || client.closed(); }));
  EXPECT_EQ(client.bodyReceived(), kSize);
  EXPECT_TRUE(client.bodyMatches());
  EXPECT_EQ(pulledBytes(*server_), kSize);
}

TEST_F(StreamingTest, AClientLeavingMidUploadCancelsItsRequest) {
  // One request at a time on the only worker: a request left outstanding would block the next.
  start({"--max-body-size", "1024", "--worker-queue-size", "1", "--queue-timeout", "5000"});
  {
    StreamingClient client(server_->port(), postHead("/echo", 256ull << 20));
    client.addBody(4u << 20);
    ASSERT_TRUE(client.pump([&] { return client.sent() >= (4u << 20); }));
    client.close();
  }
  ASSERT_TRUE(server_->waitForLine([](const std::string& l) {
    return l.find("client went away mid-stream") != std::string::npos;
  })) << server_->output();
  HttpResult next = httpRequest("POST", server_->baseUrl() + "/text", "still serving");
  EXPECT_EQ(next.status, 200) << next.body;
  EXPECT_EQ(next.body, "still serving");
  EXPECT_EQ(server_->countLines("worker lost"), 0u);
}

TEST_F(StreamingTest, ChunkedUploadsStream) {
  start();
  std::string body(3u << 20, 'x');
  HttpResult result =
      httpRequest("POST", server_->baseUrl() + "/length", body, {{"transfer-encoding", "chunked"}});
  EXPECT_EQ(result.status, 200) << result.body;
  EXPECT_EQ(result.body, R"({"length":3145728,"framing":"chunked"})");
  // text() reads a streamed body whole.
  std::string text(300000, 't');
  HttpResult echoed =
      httpRequest("POST", server_->baseUrl() + "/text", text, {{"transfer-encoding", "chunked"}});
  EXPECT_EQ(echoed.status, 200);
  EXPECT_EQ(echoed.body, text);
}

TEST_F(StreamingTest, ABodyOverTheLimitMidStreamGets413) {
  start({"--max-body-size", "1"});
  std::string body(4u << 20, 'x');
  HttpResult chunked =
      httpRequest("POST", server_->baseUrl() + "/length", body, {{"transfer-encoding", "chunked"}});
  EXPECT_EQ(chunked.status, 413) << chunked.body;
  EXPECT_EQ(chunked.headers["isolated-error"], "body-too-large");
  // A declared length over the limit is refused before any of it is read.
  HttpResult declared = httpRequest("POST", server_->baseUrl() + "/length", body);
  EXPECT_EQ(declared.status, 413);
  // Up to the limit is fine, streamed (over 64 KiB) or not.
  HttpResult within =
      httpRequest("POST", server_->baseUrl() + "/length", std::string(1u << 20, 'y'));
  EXPECT_EQ(within.status, 200);
  EXPECT_EQ(within.body, R"({"length":1048576,"framing":"1048576"})");
}

TEST_F(StreamingTest, ABodyOverTheLimitWhileStreamingBackTruncatesTheAnswer) {
  start({"--max-body-size", "4"});
  constexpr uint64_t kSize = 16u << 20;
  StreamingClient client(server_->port(),
                         "POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n");
  client.addBody(kSize, /*chunked=*/true);
  ASSERT_TRUE(client.pump([&] { return client.closed(); }));
  // The echo had begun (200, chunked), so the limit can only cut it short: the connection
  // closes before the last chunk and the client sees the truncation.
  EXPECT_EQ(client.status(), 200);
  EXPECT_LT(client.bodyReceived(), 5u << 20);
  EXPECT_TRUE(server_->waitForLine([](const std::string& l) {
    return l.find("streamed response aborted") != std::string::npos &&
           l.find("body-too-large") != std::string::npos;
  })) << server_->output();
  EXPECT_EQ(httpRequest("POST", server_->baseUrl() + "/text", "next").body, "next");
}

// Sends `request` whole on a fresh connection and returns everything the server sends until it
// closes the connection (or 10 s pass).
std::string exchange(uint16_t port, const std::string& request) {
  StreamingClient client(port, request);
  client.pump([&] { return client.closed(); }, true, std::chrono::seconds(10));
  return client.head() + client.bodyText();
}

TEST_F(StreamingTest, AStreamedBodyShortOfItsContentLengthIsCutOff) {
  start();
  // 200000 bytes back under a declared 200001: the client must see a short body and a closed
  // connection, never a complete answer.
  HttpResult result =
      httpRequest("POST", server_->baseUrl() + "/wrong-length", std::string(200000, 'w'));
  EXPECT_NE(result.error, "") << result.status;
  EXPECT_TRUE(server_->waitForLine([](const std::string& l) {
    return l.find("disagrees with its Content-Length") != std::string::npos;
  })) << server_->output();
}

TEST_F(StreamingTest, MalformedChunkedBodiesGet400) {
  start();
  std::string reply = exchange(server_->port(),
                               "POST /length HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
                               "\r\nzz\r\nhello\r\n0\r\n\r\n");
  EXPECT_EQ(reply.rfind("HTTP/1.1 400", 0), 0u) << reply;
  EXPECT_NE(reply.find("isolated-error: bad-request"), std::string::npos) << reply;
}

TEST_F(StreamingTest, PipelinedRequestsStillWork) {
  start();
  // Three requests in one write: a small body (inline), a bodyless GET, and the last one asks
  // to close. The tap hands evhttp one whole head at a time, in order.
  std::string reply = exchange(
      server_->port(),
      "POST /text HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nfirst"
      "GET /ignore HTTP/1.1\r\nHost: t\r\n\r\n"
      "POST /text HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nConnection: close\r\n\r\nlast");
  size_t first = reply.find("first");
  size_t ignored = reply.find("ignored");
  size_t last = reply.find("last");
  EXPECT_NE(first, std::string::npos) << reply;
  EXPECT_NE(ignored, std::string::npos) << reply;
  EXPECT_NE(last, std::string::npos) << reply;
  EXPECT_TRUE(first < ignored && ignored < last) << reply;
}

TEST_F(StreamingTest, SmallBodiesTravelInline) {
  start();
  HttpResult text = httpRequest("POST", server_->baseUrl() + "/text", "hello");
  EXPECT_EQ(text.status, 200);
  EXPECT_EQ(text.body, "hello");
  std::string medium(60000, 'm');
  HttpResult echo = httpRequest("POST", server_->baseUrl() + "/echo", medium);
  EXPECT_EQ(echo.status, 200);
  EXPECT_EQ(echo.body, medium);
  // Just over the inline size: streamed in, streamed back (chunked: no length was set).
  std::string large(200000, 'l');
  HttpResult streamed = httpRequest("POST", server_->baseUrl() + "/echo", large);
  EXPECT_EQ(streamed.status, 200);
  EXPECT_EQ(streamed.body, large);
  EXPECT_EQ(streamed.headers["transfer-encoding"], "chunked");
  HttpResult ignored = httpRequest("POST", server_->baseUrl() + "/ignore", large);
  EXPECT_EQ(ignored.status, 200);
  EXPECT_EQ(ignored.body, "ignored");
}

}  // namespace
}  // namespace isolated::test
