// sendmsg/recvmsg with SCM_RIGHTS.
#include "ipc/fd_passing.h"

#include <sys/socket.h>

#include <cstring>

#include "common/syscall.h"

namespace isolated::ipc {

void sendFd(int socket, int fd) {
  char payload = 'F';
  iovec iov{&payload, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  memset(control, 0, sizeof control);
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
  checkedSyscall("sendmsg", "passing a file descriptor",
                 [&] { return ::sendmsg(socket, &msg, MSG_NOSIGNAL); });
}

UniqueFd receiveFd(int socket) {
  char payload = 0;
  iovec iov{&payload, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  long n = checkedSyscall("recvmsg", "receiving a file descriptor",
                          [&] { return ::recvmsg(socket, &msg, MSG_CMSG_CLOEXEC); });
  if (n == 0) return UniqueFd();
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int fd = -1;
      memcpy(&fd, CMSG_DATA(c), sizeof(int));
      return UniqueFd(fd);
    }
  }
  return UniqueFd();
}

}  // namespace isolated::ipc
