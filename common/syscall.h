// The one place system calls are checked. Every call retries on EINTR; failures either throw a
// SyscallError naming the call, errno and context (for start-up and states that must not fail),
// or come back as -errno (for failures the caller handles, like EAGAIN or ECHILD).
#pragma once

#include <cerrno>
#include <stdexcept>
#include <string>
#include <string_view>

namespace isolated {

class SyscallError : public std::runtime_error {
 public:
  SyscallError(std::string_view call, int err, std::string_view context);
  int error() const { return error_; }

 private:
  int error_;
};

// Runs `f` until it does not fail with EINTR. Returns its result, or -errno on failure.
template <typename F>
long trySyscall(F&& f) {
  for (;;) {
    long r = static_cast<long>(f());
    if (r >= 0) return r;
    if (errno != EINTR) return -errno;
  }
}

// As trySyscall, but a failure throws SyscallError("call", errno, context).
template <typename F>
long checkedSyscall(std::string_view call, std::string_view context, F&& f) {
  long r = trySyscall(static_cast<F&&>(f));
  if (r < 0) throw SyscallError(call, static_cast<int>(-r), context);
  return r;
}

// "strerror(err)" without the thread-unsafety of strerror.
std::string errnoText(int err);

}  // namespace isolated
