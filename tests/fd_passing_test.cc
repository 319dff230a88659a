// File descriptors passed over a socketpair with SCM_RIGHTS (ipc/fd_passing.h).
#include "ipc/fd_passing.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>
#include <string>

#include "common/syscall.h"
#include "common/unique_fd.h"

namespace isolated::ipc {
namespace {

struct SocketPair {
  UniqueFd a;
  UniqueFd b;
};

SocketPair makeSocketPair() {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    throw SyscallError("socketpair", errno, "test");
  }
  return {UniqueFd(sv[0]), UniqueFd(sv[1])};
}

TEST(FdPassingTest, PassesAPipeEnd) {
  SocketPair pair = makeSocketPair();
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  UniqueFd readEnd(p[0]);
  UniqueFd writeEnd(p[1]);

  sendFd(pair.a.get(), writeEnd.get());
  UniqueFd received = receiveFd(pair.b.get());
  ASSERT_TRUE(received.valid());
  EXPECT_NE(received.get(), writeEnd.get());
  EXPECT_TRUE(fcntl(received.get(), F_GETFD) & FD_CLOEXEC);

  // The original can go; the received descriptor keeps the pipe open.
  writeEnd.reset();
  ASSERT_EQ(::write(received.get(), "via fd", 6), 6);
  received.reset();
  char buf[16] = {};
  ASSERT_EQ(::read(readEnd.get(), buf, sizeof buf), 6);
  EXPECT_EQ(std::string(buf, 6), "via fd");
  // Every write end is closed now.
  EXPECT_EQ(::read(readEnd.get(), buf, sizeof buf), 0);
}

TEST(FdPassingTest, PassesSeveralInOrder) {
  SocketPair pair = makeSocketPair();
  std::vector<UniqueFd> readEnds;
  for (int i = 0; i < 3; ++i) {
    int p[2];
    ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
    readEnds.emplace_back(p[0]);
    UniqueFd writeEnd(p[1]);
    sendFd(pair.a.get(), writeEnd.get());
  }
  for (int i = 0; i < 3; ++i) {
    UniqueFd received = receiveFd(pair.b.get());
    ASSERT_TRUE(received.valid());
    char c = static_cast<char>('0' + i);
    ASSERT_EQ(::write(received.get(), &c, 1), 1);
  }
  for (int i = 0; i < 3; ++i) {
    char c = 0;
    ASSERT_EQ(::read(readEnds[i].get(), &c, 1), 1);
    EXPECT_EQ(c, static_cast<char>('0' + i));
  }
}

TEST(FdPassingTest, PeerClosedGivesInvalidFd) {
  SocketPair pair = makeSocketPair();
  pair.a.reset();
  EXPECT_FALSE(receiveFd(pair.b.get()).valid());
}

TEST(FdPassingTest, PlainByteGivesInvalidFd) {
  SocketPair pair = makeSocketPair();
  ASSERT_EQ(::write(pair.a.get(), "x", 1), 1);
  EXPECT_FALSE(receiveFd(pair.b.get()).valid());
}

TEST(FdPassingTest, SendToClosedPeerThrows) {
  SocketPair pair = makeSocketPair();
  pair.b.reset();
  // MSG_NOSIGNAL: EPIPE comes back as an error, not as SIGPIPE killing the test.
  EXPECT_THROW(sendFd(pair.a.get(), STDIN_FILENO), SyscallError);
}

}  // namespace
}  // namespace isolated::ipc
