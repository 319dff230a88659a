// The worker's seccomp-bpf allow-list (libseccomp), installed once V8 and its threads are up.
// Allowed: the channel (read/write/sendmsg/recvmsg on existing descriptors), memory management,
// futexes, clocks and timers, epoll and eventfd, signals to itself, thread creation
// (clone with CLONE_THREAD), read-only opens (scripts and snapshots are read lazily), exit.
// Everything else (socket, connect, opens for writing, execve, fork, ptrace, mount, bpf, ...)
// traps: a SIGSYS handler writes one log line naming the system call to stderr, which the
// worker shares with the supervisor, and the process dies of SIGSYS. A few calls that
// libraries probe and cope with fail with an errno instead (clone3: ENOSYS so that glibc
// falls back to clone; openat2: ENOSYS). ioctl and prctl are allowed for a few harmless
// requests only (terminal and socket queries, thread names).
//
// The filter covers every thread (SECCOMP_FILTER_FLAG_TSYNC) and is inherited by any thread
// made later. It cannot be removed.
#pragma once

#include <optional>
#include <string>

#include "common/logger.h"

namespace isolated::sandbox {

// Also sets PR_SET_NO_NEW_PRIVS (which a filter requires without CAP_SYS_ADMIN) and makes the
// process non-dumpable. Returns why it failed; the caller must then not run untrusted code.
std::optional<std::string> installWorkerSeccomp(LogFormat format);

}  // namespace isolated::sandbox
