// Passing file descriptors across the socketpair as SCM_RIGHTS ancillary data. Each fd travels
// with exactly one payload byte so that it can never be merged into a Cap'n Proto frame by a
// reader that does not expect it; callers use a dedicated moment (or socket) for it.
#pragma once

#include "common/unique_fd.h"

namespace isolated::ipc {

// Sends `fd` over the Unix socket `socket`. Throws SyscallError on failure.
void sendFd(int socket, int fd);

// Receives one fd sent by sendFd. Returns an invalid UniqueFd when the peer closed or sent no
// descriptor. The received fd is close-on-exec.
UniqueFd receiveFd(int socket);

}  // namespace isolated::ipc
