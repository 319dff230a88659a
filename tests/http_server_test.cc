// HttpServer on real loopback sockets: accepting pauses at the connection cap (its own, or one
// shared with the servers of other loops) and when out of descriptors, and resumes when a slot
// or a descriptor is freed.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <vector>

#include "tests/http_test_support.h"

namespace isolated::http {
namespace {

// Runs `dispatcher` until `done` holds, for at most `rounds` turns of about 1 ms each.
bool pumpUntil(event::Dispatcher& dispatcher, const std::function<bool()>& done, int rounds = 500) {
  for (int i = 0; i < rounds && !done(); ++i) {
    dispatcher.runReady();
    ::poll(nullptr, 0, 1);
  }
  return done();
}

// A client socket connected to 127.0.0.1:port (the server's backlog takes it).
UniqueFd connectLoopback(uint16_t port) {
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
  return fd;
}

TEST(HttpServerTest, PausesAcceptingAtTheConnectionCap) {
  event::Dispatcher dispatcher;
  testing::RecordingHandler handler;
  HttpLimits limits;
  limits.maxConnections = 2;
  HttpServer server(dispatcher, handler, limits, HttpServer::listenTcp("127.0.0.1", 0, true));
  ASSERT_NE(server.port(), 0);
  std::vector<UniqueFd> clients;
  for (int i = 0; i < 3; ++i)
    clients.push_back(connectLoopback(server.port()));
  auto pump = [&](const std::function<bool()>& done) { return pumpUntil(dispatcher, done); };
  ASSERT_TRUE(pump([&] { return server.connectionCount() == 2; }));
  EXPECT_TRUE(server.acceptPaused());
  EXPECT_FALSE(pump([&] { return server.connectionCount() == 3; }));
  clients[0].reset();
  // The freed slot lets the third in.
  ASSERT_TRUE(pump([&] { return server.connectionCount() == 2 && !server.acceptPaused(); }) ||
              pump([&] { return server.connectionCount() == 2; }));
  std::string request = "GET /third HTTP/1.1\r\nHost: a\r\n\r\n";
  ASSERT_EQ(::send(clients[2].get(), request.data(), request.size(), 0),
            static_cast<ssize_t>(request.size()));
  EXPECT_TRUE(pump([&] { return handler.seen().size() == 1; }));
}

// Two servers (as two I/O threads would have) counting in one SharedConnectionCap of 2: the cap
// holds for both together, and a slot freed on one server lets the other accept, once the
// owner passes the wake-up on (ThreadedFront posts kResumeAccepting to every thread).
TEST(HttpServerTest, ASharedCapHoldsForAllServersAndAFreedSlotWakesTheOthers) {
  event::Dispatcher dispatcher;
  testing::RecordingHandler handler;
  SharedConnectionCap cap(2);
  HttpServer a(dispatcher, handler, {}, HttpServer::listenTcp("127.0.0.1", 0, false));
  HttpServer b(dispatcher, handler, {}, HttpServer::listenTcp("127.0.0.1", 0, false));
  int wakeUps = 0;
  auto wake = [&] {
    ++wakeUps;
    a.resumeAccepting();
    b.resumeAccepting();
  };
  a.shareConnectionCap(cap, wake);
  b.shareConnectionCap(cap, wake);
  auto connect = connectLoopback;
  auto pump = [&](const std::function<bool()>& done) { return pumpUntil(dispatcher, done); };
  // Both slots go to server a; b has none of its own and stops at its first client.
  UniqueFd a1 = connect(a.port());
  UniqueFd a2 = connect(a.port());
  ASSERT_TRUE(pump([&] { return a.connectionCount() == 2; }));
  UniqueFd b1 = connect(b.port());
  ASSERT_TRUE(pump([&] { return b.acceptPaused(); }));
  EXPECT_FALSE(pump([&] { return b.connectionCount() == 1; }));
  EXPECT_EQ(cap.open(), 2u);
  EXPECT_EQ(wakeUps, 0);
  // A close on a frees the slot that b's client waits for: b could not find out by itself.
  a1.reset();
  ASSERT_TRUE(pump([&] { return b.connectionCount() == 1; }));
  EXPECT_EQ(wakeUps, 1);
  EXPECT_EQ(cap.open(), 2u);
  std::string request = "GET /b HTTP/1.1\r\nHost: a\r\n\r\n";
  ASSERT_EQ(::send(b1.get(), request.data(), request.size(), 0),
            static_cast<ssize_t>(request.size()));
  ASSERT_TRUE(pump([&] { return handler.seen().size() == 1; }));
  EXPECT_EQ(handler.seen()[0]->target, "/b");
  // At the cap again: a (woken too) stops at its next client...
  UniqueFd a3 = connect(a.port());
  ASSERT_TRUE(pump([&] { return a.acceptPaused(); }));
  EXPECT_EQ(a.connectionCount(), 1u);
  // ...until a close on b frees a slot.
  b1.reset();
  ASSERT_TRUE(pump([&] { return a.connectionCount() == 2; }));
  EXPECT_EQ(wakeUps, 2);
  // Closes below the cap wake nobody.
  a2.reset();
  a3.reset();
  ASSERT_TRUE(pump([&] { return a.connectionCount() == 0; }));
  EXPECT_EQ(wakeUps, 3);  // a2's close came down from the cap; a3's did not
  EXPECT_EQ(cap.open(), 0u);
  EXPECT_FALSE(a.acceptPaused());
  EXPECT_FALSE(b.acceptPaused());
}

// Out of descriptors, accepting pauses (no spin on the level-triggered listener) and resumes
// when a connection frees one. Runs in a child process: it exhausts the descriptor table.
// The child's side of PausesAcceptingWhenOutOfDescriptors; exits 0 when all went as expected.
void acceptWithoutDescriptors() {
  event::Dispatcher dispatcher;
  testing::RecordingHandler handler;
  HttpServer server(dispatcher, handler, {}, HttpServer::listenTcp("127.0.0.1", 0, false));
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(server.port());
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  rlimit limit{256, 256};
  setrlimit(RLIMIT_NOFILE, &limit);
  std::vector<int> fillers;
  for (int fd; (fd = ::dup(0)) >= 0;)
    fillers.push_back(fd);
  auto connectOne = [&] {
    ::close(fillers.back());
    fillers.pop_back();
    int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c < 0 || ::connect(c, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) _exit(3);
    return c;
  };
  auto pump = [&](const std::function<bool()>& done) { return pumpUntil(dispatcher, done, 300); };
  // One descriptor left after the client socket: the server takes it.
  ::close(fillers.back());
  fillers.pop_back();
  int first = connectOne();
  if (!pump([&] { return server.connectionCount() == 1; })) _exit(4);
  // None left: the second connection waits in the backlog, accepting is paused.
  int second = connectOne();
  if (!pump([&] { return server.acceptPaused(); })) _exit(5);
  if (server.connectionCount() != 1) _exit(6);
  // The first client leaves; its descriptor frees and the second is accepted.
  ::close(first);
  if (!pump([&] { return server.connectionCount() == 1 && !server.acceptPaused(); })) _exit(7);
  std::string request = "GET /second HTTP/1.1\r\nHost: a\r\n\r\n";
  if (::send(second, request.data(), request.size(), 0) < 0) _exit(8);
  if (!pump([&] { return handler.seen().size() == 1; })) _exit(9);
  _exit(handler.seen()[0]->target == "/second" ? 0 : 10);
}

TEST(HttpServerTest, PausesAcceptingWhenOutOfDescriptors) {
  EXPECT_EXIT(acceptWithoutDescriptors(), ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace isolated::http
