// The threaded front (supervisor/front/threaded_front.h) in-process: real I/O threads on
// loopback, an owner on the test's loop that answers, streams, echoes bodies or holds requests.
// What is checked is the relay itself: order and ids across threads, backpressure between the
// loops, bodies under credit, the client-gone and server-closing paths, the layer's refusals.
// The loop is pumped until a condition holds or a deadline passes, never for a fixed sleep.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "http_test_support.h"
#include "supervisor/front/threaded_front.h"

namespace isolated::front {
namespace {

using http::testing::ResponseReader;

// Answers each request by its target:
//   /stream?N  a streamed answer of N bytes, written while write() has room, resumed by
//              onWritable
//   /hold...   not answered (the test ends it by closing the client or the front)
//   with a body: the body echoed once it has all arrived (granted 64 KB at a time)
//   otherwise  200 with the target as the body
class Owner : public FrontOwner {
 public:
  struct Stream : http::HttpRequestObserver {
    Owner& owner;
    http::ClientRequest* request;
    uint64_t left = 0;
    std::string body;
    Stream(Owner& o, http::ClientRequest& r) : owner(o), request(&r) {}
    void onBodyData(std::string_view data) override {
      body.append(data);
      request->grantBody(data.size());
    }
    void onBodyEnd() override {
      http::ClientRequest* r = request;
      r->respond(200, {}, body);
      owner.forget(this);
    }
    void onWritable() override {
      ++owner.writableCalls;
      pump();
    }
    void onClientGone(http::GoneReason reason) override {
      owner.gone.push_back(reason);
      owner.forget(this);
    }
    void pump() {
      std::string chunk(64 << 10, 's');
      while (left > 0) {
        size_t n = std::min<uint64_t>(left, chunk.size());
        left -= n;
        if (!request->write(std::string_view(chunk).substr(0, n))) {
          ++owner.blockedWrites;
          if (left > 0) return;
        }
      }
      request->end();
      owner.forget(this);
    }
  };

  void onClientRequest(http::ClientRequest& request) override {
    ids.insert(request.id());
    ++requests;
    std::string_view target = request.target();
    if (target.starts_with("/hold")) {
      auto stream = std::make_unique<Stream>(*this, request);
      request.setObserver(stream.get());
      streams[stream.get()] = std::move(stream);
      return;
    }
    if (target.starts_with("/stream?")) {
      auto stream = std::make_unique<Stream>(*this, request);
      std::from_chars(target.data() + 8, target.data() + target.size(), stream->left);
      request.setObserver(stream.get());
      request.startResponse(200, {}, stream->left);
      Stream* raw = stream.get();
      streams[raw] = std::move(stream);
      raw->pump();
      return;
    }
    if (request.hasBody()) {
      auto stream = std::make_unique<Stream>(*this, request);
      request.setObserver(stream.get());
      request.grantBody(64 << 10);
      streams[stream.get()] = std::move(stream);
      return;
    }
    request.respond(200, {}, target);
  }
  void onRefused(int status, std::string_view, const sockaddr_storage&) override {
    refused.push_back(status);
  }
  // Freed at the next pump (never inside its own callback).
  void forget(Stream* stream) {
    auto it = streams.find(stream);
    if (it == streams.end()) return;
    done.push_back(std::move(it->second));
    streams.erase(it);
  }

  std::set<uint64_t> ids;
  size_t requests = 0;
  size_t blockedWrites = 0;
  size_t writableCalls = 0;
  std::vector<int> refused;
  std::vector<http::GoneReason> gone;
  std::map<Stream*, std::unique_ptr<Stream>> streams;
  std::vector<std::unique_ptr<Stream>> done;
};

void shape(http::HttpRejection& rejection) {
  rejection.headers.push_back({"x-shaped", "yes"});
}

// A loopback client of the front, read without blocking while the test's loop runs.
struct Client {
  explicit Client(uint16_t port) : fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) abort();
  }
  void send(const std::string& bytes) {
    ASSERT_EQ(::send(fd.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
  }
  // Reads what is there now.
  void poll() {
    char buffer[65536];
    for (;;) {
      ssize_t n = ::recv(fd.get(), buffer, sizeof buffer, MSG_DONTWAIT);
      if (n > 0) {
        reader.feed(buffer, static_cast<size_t>(n));
        received += static_cast<size_t>(n);
        continue;
      }
      if (n == 0 && !eof) {
        eof = true;
        reader.eof();
      }
      return;
    }
  }
  UniqueFd fd;
  ResponseReader reader;
  size_t received = 0;
  bool eof = false;
};

// Whether every client has read at least `answers` complete answers.
bool everyClientHas(const std::vector<Client*>& clients, size_t answers) {
  return std::all_of(clients.begin(), clients.end(),
                     [&](const Client* c) { return c->reader.completeCount() >= answers; });
}

class ThreadedFrontTest : public ::testing::Test {
 protected:
  void start(uint32_t threads, http::HttpLimits limits = {}) {
    front =
        std::make_unique<ThreadedFront>(dispatcher, owner, &shape, limits, "127.0.0.1", 0, threads);
  }
  // Runs the test's loop (and reads `clients`) until `done` holds or `limit` passes.
  bool pumpUntil(const std::function<bool()>& done, std::vector<Client*> clients = {},
                 std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      dispatcher.runReady();
      owner.done.clear();
      for (Client* c : clients)
        c->poll();
      pollfd p{-1, 0, 0};
      ::poll(&p, 0, 1);
    }
    return true;
  }

  event::Dispatcher dispatcher;
  Owner owner;
  std::unique_ptr<ThreadedFront> front;
};

TEST_F(ThreadedFrontTest, PipelinedRequestsOverThreeThreadsAnswerInOrderWithUniqueIds) {
  start(3);
  std::vector<std::unique_ptr<Client>> clients;
  std::vector<Client*> raw;
  for (int c = 0; c < 12; ++c) {
    clients.push_back(std::make_unique<Client>(front->port()));
    raw.push_back(clients.back().get());
    std::string batch;
    for (int i = 0; i < 20; ++i)
      batch +=
          "GET /c" + std::to_string(c) + "-" + std::to_string(i) + " HTTP/1.1\r\nHost: t\r\n\r\n";
    clients.back()->send(batch);
  }
  ASSERT_TRUE(pumpUntil([&] { return everyClientHas(raw, 20); }, raw));
  for (int c = 0; c < 12; ++c) {
    for (int i = 0; i < 20; ++i) {
      EXPECT_EQ(clients[c]->reader.responses[i].body,
                "/c" + std::to_string(c) + "-" + std::to_string(i));
    }
  }
  EXPECT_EQ(owner.requests, 240u);
  EXPECT_EQ(owner.ids.size(), 240u) << "request ids repeat across threads";
  std::set<uint64_t> residues;
  for (uint64_t id : owner.ids)
    residues.insert(id % 3);
  EXPECT_EQ(residues.size(), 3u) << "not every thread served";
  FrontStats stats = front->stats();
  EXPECT_EQ(stats.ioThreads, 3u);
  EXPECT_EQ(stats.acceptedConnections, 12u);
  EXPECT_EQ(stats.openConnections, 12u);
}

TEST_F(ThreadedFrontTest, AStreamedAnswerWaitsForAClientThatDoesNotRead) {
  start(2);
  Client client(front->port());
  constexpr uint64_t kBytes = 32u << 20;
  client.send("GET /stream?" + std::to_string(kBytes) + " HTTP/1.1\r\nHost: t\r\n\r\n");
  // Without the client reading, the owner is told to wait: the bytes between the loops and in
  // the connection stay bounded (the kernel's socket buffers hold the rest).
  ASSERT_TRUE(pumpUntil([&] { return owner.blockedWrites > 0; }));
  size_t streamsLeft = owner.streams.size();
  EXPECT_EQ(streamsLeft, 1u);
  // Then it reads: onWritable resumes the stream until it ends, with every byte.
  ASSERT_TRUE(pumpUntil([&] { return client.reader.completeCount() == 1; }, {&client}));
  EXPECT_GT(owner.writableCalls, 0u);
  EXPECT_EQ(client.reader.responses[0].body.size(), kBytes);
  EXPECT_FALSE(client.reader.error);
}

TEST_F(ThreadedFrontTest, BodiesCrossUnderCreditBothFramings) {
  start(2);
  Client a(front->port());
  Client b(front->port());
  std::string body(3u << 20, 'b');
  for (size_t i = 0; i < body.size(); i += 1000)
    body[i] = static_cast<char>('a' + i % 26);
  a.send("POST /len HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body);
  std::string chunked = "POST /chunked HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (size_t i = 0; i < body.size(); i += 100000) {
    size_t n = std::min<size_t>(100000, body.size() - i);
    char size[16];
    snprintf(size, sizeof size, "%zx\r\n", n);
    chunked += size + body.substr(i, n) + "\r\n";
  }
  chunked += "0\r\n\r\n";
  b.send(chunked);
  ASSERT_TRUE(pumpUntil(
      [&] { return a.reader.completeCount() == 1 && b.reader.completeCount() == 1; }, {&a, &b}));
  EXPECT_TRUE(a.reader.responses[0].body == body);
  EXPECT_TRUE(b.reader.responses[0].body == body);
}

TEST_F(ThreadedFrontTest, AClientThatLeavesIsReportedToTheOwner) {
  start(2);
  {
    Client client(front->port());
    client.send("GET /hold HTTP/1.1\r\nHost: t\r\n\r\n");
    ASSERT_TRUE(pumpUntil([&] { return owner.streams.size() == 1; }));
  }
  ASSERT_TRUE(pumpUntil([&] { return owner.gone.size() == 1; }));
  EXPECT_EQ(owner.gone[0], http::GoneReason::kClientClosed);
  EXPECT_TRUE(owner.streams.empty());
}

TEST_F(ThreadedFrontTest, DestroyingTheFrontTellsTheOwnerOfEveryHeldRequest) {
  start(2);
  Client a(front->port());
  Client b(front->port());
  a.send("GET /hold HTTP/1.1\r\nHost: t\r\n\r\n");
  b.send("GET /hold HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(pumpUntil([&] { return owner.streams.size() == 2; }));
  front.reset();
  ASSERT_EQ(owner.gone.size(), 2u);
  for (auto reason : owner.gone)
    EXPECT_EQ(reason, http::GoneReason::kServerClosing);
}

TEST_F(ThreadedFrontTest, RefusalsAreShapedOnTheThreadAndReportedOnTheOwnersLoop) {
  start(2);
  Client client(front->port());
  // HTTP/1.1 without Host: 400 from the layer, with the shaper's header, then a close.
  client.send("GET / HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(pumpUntil([&] { return client.eof && owner.refused.size() == 1; }, {&client}));
  ASSERT_EQ(client.reader.responses.size(), 1u);
  EXPECT_EQ(client.reader.responses[0].status, 400);
  EXPECT_EQ(client.reader.responses[0].header("x-shaped"), "yes");
  EXPECT_EQ(owner.refused[0], 400);
  EXPECT_EQ(owner.requests, 0u);
}

// --max-connections 3 over 4 threads: 3 open in all (per-thread shares rounded up would have let
// 4 in), and as held clients leave, the 9 waiting ones, in whichever thread's backlog the kernel
// put them, are each accepted: a close on one thread wakes the others.
TEST_F(ThreadedFrontTest, TheConnectionCapHoldsForAllThreadsAndClosesWakeTheOthers) {
  http::HttpLimits limits;
  limits.maxConnections = 3;
  start(4, limits);
  std::vector<std::unique_ptr<Client>> clients;
  for (int c = 0; c < 12; ++c) {
    clients.push_back(std::make_unique<Client>(front->port()));
    clients.back()->send("GET /hold?" + std::to_string(c) + " HTTP/1.1\r\nHost: a\r\n\r\n");
  }
  ASSERT_TRUE(pumpUntil([&] { return owner.streams.size() == 3; }));
  // Nothing closes now, so nothing more may come in.
  EXPECT_FALSE(pumpUntil([&] { return owner.requests > 3; }, {}, std::chrono::milliseconds(300)));
  EXPECT_EQ(front->stats().openConnections, 3u);
  // Each held client leaves once its request has reached the owner.
  std::set<std::string> seen;
  ASSERT_TRUE(pumpUntil([&] {
    for (auto& [stream, held] : owner.streams) {
      std::string target(stream->request->target());
      if (seen.insert(target).second) clients[std::stoul(target.substr(6))]->fd.reset();
    }
    return seen.size() == 12;
  }));
  EXPECT_EQ(owner.requests, 12u);
}

TEST_F(ThreadedFrontTest, StopListeningAndListenAgainReachEveryThread) {
  start(3);
  uint16_t port = front->port();
  front->stopListening();
  // Every thread's socket is closed when the call returns: a connect is refused at once.
  for (int i = 0; i < 10; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_NE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ::close(fd);
  }
  front->listen("127.0.0.1", port);
  std::vector<std::unique_ptr<Client>> clients;
  std::vector<Client*> raw;
  for (int i = 0; i < 12; ++i) {
    clients.push_back(std::make_unique<Client>(port));
    raw.push_back(clients.back().get());
    clients.back()->send("GET /again HTTP/1.1\r\nHost: t\r\n\r\n");
  }
  ASSERT_TRUE(pumpUntil([&] { return everyClientHas(raw, 1); }, raw));
}

}  // namespace
}  // namespace isolated::front
