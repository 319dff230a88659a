// The control socket's wire protocol with the real binary: malformed and pipelined requests,
// the line limit, silent and half-closing clients, the connection bound and idle timeout, and
// the socket's permissions. Each test runs its own server with its own socket
// (tests/ctl_fixture.h).
#include "ctl_fixture.h"

namespace isolated::test {
namespace {

TEST_F(CtlTest, MalformedRequestsFailAndKeepTheConnection) {
  start();
  RawConnection c(socket_);
  for (const char* bad :
       {"not json", "[1,2]", "\"status\"", "{}", R"({"cmd":42})", R"({"cmd":"frobnicate"})",
        R"({"cmd":"restart"})", R"({"cmd":"restart","id":"one"})", R"({"cmd":"scale","workers":0})",
        R"({"cmd":"scale","workers":-1})", R"({"cmd":"scale"})"}) {
    json reply = c.request(bad);
    ASSERT_TRUE(reply.is_object()) << bad << " got no JSON reply";
    EXPECT_TRUE(isFailure(reply)) << bad << " -> " << reply.dump();
  }
  json ok = c.request(R"({"cmd":"status"})");
  ASSERT_TRUE(isOk(ok)) << ok.dump();
  // Nothing changed.
  EXPECT_EQ(ok["status"].value("target", 0), 2);
}

TEST_F(CtlTest, PipelinedRequestsAreAnsweredInOrder) {
  start();
  RawConnection c(socket_);
  ASSERT_TRUE(c.send("{\"cmd\":\"status\"}\n{\"cmd\":\"bogus\"}\n{\"cmd\":\"workers\"}\n"));
  auto first = c.readLine(), second = c.readLine(), third = c.readLine();
  ASSERT_TRUE(first && second && third);
  EXPECT_TRUE(parseLine(*first).contains("status")) << *first;
  EXPECT_TRUE(isFailure(parseLine(*second))) << *second;
  EXPECT_TRUE(parseLine(*third).contains("workers")) << *third;
}

TEST_F(CtlTest, OverlongLineGetsAnErrorThenClose) {
  start();
  RawConnection c(socket_);
  std::string huge = R"({"cmd":"status","pad":")" + std::string(70 * 1024, 'a') + "\"}\n";
  c.send(huge);  // the server may close before taking all of it
  auto reply = c.readLine();
  ASSERT_TRUE(reply) << "no error reply before close";
  json parsed = json::parse(*reply, nullptr, false);
  EXPECT_TRUE(isFailure(parsed)) << *reply;
  EXPECT_TRUE(c.closedWithin(5s));

  // Without a newline at all: the error comes once the limit is passed.
  RawConnection d(socket_);
  d.send(std::string(65 * 1024 + 10, 'b'));
  auto reply2 = d.readLine();
  ASSERT_TRUE(reply2);
  EXPECT_TRUE(isFailure(parseLine(*reply2))) << *reply2;
  EXPECT_TRUE(d.closedWithin(5s));

  // The server is fine.
  EXPECT_EQ(ctl({"status"}).exitCode, 0);
}

TEST_F(CtlTest, SilentClientDoesNotBlockOthers) {
  start();
  RawConnection silent(socket_);
  RawConnection partial(socket_);
  ASSERT_TRUE(partial.send(R"({"cmd":"sta)"));
  auto started = Clock::now();
  RawConnection other(socket_);
  json reply = other.request(R"({"cmd":"status"})");
  EXPECT_TRUE(isOk(reply)) << reply.dump();
  EXPECT_LT(Clock::now() - started, 2s);
  EXPECT_EQ(ctl({"workers"}).exitCode, 0);
  // The partial request completes normally once the rest arrives.
  ASSERT_TRUE(partial.send("tus\"}\n"));
  auto line = partial.readLine();
  ASSERT_TRUE(line);
  EXPECT_TRUE(isOk(parseLine(*line))) << *line;
}

TEST_F(CtlTest, AConnectionBeyondSixtyFourTakesTheSlotOfTheOldestSilentOne) {
  start();
  std::vector<std::unique_ptr<RawConnection>> held;
  for (int i = 0; i < 64; ++i)
    held.push_back(std::make_unique<RawConnection>(socket_));
  // Every one of the 64 is served...
  json reply = held.back()->request(R"({"cmd":"status"})");
  ASSERT_TRUE(isOk(reply)) << reply.dump();
  // ...and a 65th is served too: the oldest connection that has sent nothing gives way to it,
  // so that silent clients cannot lock the operator out (issue 12, defect 9).
  RawConnection extra(socket_);
  json extraReply = extra.request(R"({"cmd":"status"})");
  EXPECT_TRUE(isOk(extraReply)) << extraReply.dump();
  EXPECT_TRUE(held.front()->closedWithin(5s));
  // The one that spoke keeps its connection.
  EXPECT_TRUE(isOk(held.back()->request(R"({"cmd":"status"})")));
}

TEST_F(CtlTest, IdleConnectionIsClosedAfterThirtySeconds) {
  start();
  RawConnection idle(socket_);
  ASSERT_TRUE(isOk(idle.request(R"({"cmd":"status"})")));
  auto started = Clock::now();
  ASSERT_TRUE(idle.closedWithin(45s));
  EXPECT_GE(Clock::now() - started, 25s);
}

TEST_F(CtlTest, ClientThatHalfClosesStillGetsItsReply) {
  // What `echo '{"cmd":"status"}' | socat - UNIX-CONNECT:...` does: send, then shut down the
  // write side, then read.
  start();
  for (int i = 0; i < 20; ++i) {
    RawConnection c(socket_);
    ASSERT_TRUE(c.send("{\"cmd\":\"workers\"}\n"));
    c.shutdownWrite();
    auto line = c.readLine(5s);
    ASSERT_TRUE(line) << "attempt " << i << ": the reply was lost after the client's EOF";
    EXPECT_TRUE(isOk(parseLine(*line))) << *line;
  }
}

TEST_F(CtlTest, SocketIsPrivate) {
  TempDir parent;
  // A directory isolated creates itself is 0700; the socket 0600.
  std::string nested = parent.path().string() + "/run/ctl.sock";
  script_ = dir_.write("worker.js", kScript);
  server_ = std::make_unique<ServerProcess>(
      script_, std::vector<std::string>{"--workers", "1", "--control-socket", nested});
  ASSERT_NE(server_->waitReady(), 0) << server_->output();
  struct stat st {};
  ASSERT_EQ(stat(nested.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat((parent.path().string() + "/run").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  socket_ = nested;
  EXPECT_EQ(ctl({"status"}).exitCode, 0);

  // The file goes away with a clean stop.
  server_->signal(SIGTERM);
  ASSERT_TRUE(server_->waitExit());
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::symlink_status(nested)));
}

// ---- admin listener ------------------------------------------------------------------------

}  // namespace
}  // namespace isolated::test
