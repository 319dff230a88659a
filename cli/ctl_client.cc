// ControlClient: connect with a deadline, then non-blocking writes and reads driven by poll.
#include "cli/ctl_client.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <cstring>

#include "common/syscall.h"

namespace isolated {

namespace {

using Clock = std::chrono::steady_clock;

int remainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// Waits until `fd` is ready for `events`; false on timeout. poll's own errors other than EINTR
// cannot happen with one valid descriptor.
bool waitFor(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    int ms = remainingMs(deadline);
    long r = trySyscall([&] { return ::poll(&p, 1, ms); });
    if (r > 0) return true;
    if (r == 0 || ms == 0) return false;
  }
}

}  // namespace

std::optional<ControlClient> ControlClient::tryConnect(const std::string& path,
                                                       std::chrono::milliseconds timeout,
                                                       std::string& error) {
  auto fail = [&](int err) {
    error = "cannot connect to " + path + ": " + errnoText(err);
    return std::nullopt;
  };
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof address.sun_path) return fail(ENAMETOOLONG);
  std::memcpy(address.sun_path, path.data(), path.size());

  UniqueFd fd(static_cast<int>(
      trySyscall([] { return ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0); })));
  if (!fd) return fail(errno);
  // A blocking connect to a Unix socket whose backlog is full waits up to SO_SNDTIMEO, and then
  // fails with EAGAIN; that bounds the connect without a non-blocking dance.
  auto ms = timeout.count();
  timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>(ms % 1000 * 1000)};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  long r = trySyscall([&] {
    return ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address);
  });
  if (r < 0) {
    int err = static_cast<int>(-r);
    if (err == EAGAIN || err == EINPROGRESS) err = ETIMEDOUT;
    return fail(err);
  }
  int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK) < 0) return fail(errno);
  return ControlClient(std::move(fd), path);
}

std::optional<std::string> ControlClient::tryExchange(const std::string& requestLine,
                                                      std::chrono::milliseconds timeout,
                                                      std::string& error) {
  auto deadline = Clock::now() + timeout;
  auto timedOut = [&] {
    error = "no reply from " + path_ + " within " + std::to_string(timeout.count() / 1000) + " s";
    return std::nullopt;
  };

  std::string out = requestLine + "\n";
  size_t sent = 0;
  while (sent < out.size()) {
    long n = trySyscall(
        [&] { return ::send(fd_.get(), out.data() + sent, out.size() - sent, MSG_NOSIGNAL); });
    if (n >= 0) {
      sent += static_cast<size_t>(n);
    } else if (n == -EAGAIN) {
      if (!waitFor(fd_.get(), POLLOUT, deadline)) return timedOut();
    } else {
      error = "cannot send to " + path_ + ": " + errnoText(static_cast<int>(-n));
      return std::nullopt;
    }
  }

  size_t scanned = 0;
  for (;;) {
    if (auto newline = pending_.find('\n', scanned); newline != std::string::npos) {
      std::string line = pending_.substr(0, newline);
      pending_.erase(0, newline + 1);
      return line;
    }
    scanned = pending_.size();
    if (pending_.size() > kMaxReplyBytes) {
      error = "reply from " + path_ + " is longer than " + std::to_string(kMaxReplyBytes >> 20) +
              " MiB";
      return std::nullopt;
    }
    char buffer[65536];
    long n = trySyscall([&] { return ::recv(fd_.get(), buffer, sizeof buffer, 0); });
    if (n > 0) {
      pending_.append(buffer, static_cast<size_t>(n));
    } else if (n == 0) {
      error = path_ + " closed the connection without a reply";
      return std::nullopt;
    } else if (n == -EAGAIN) {
      if (!waitFor(fd_.get(), POLLIN, deadline)) return timedOut();
    } else {
      error = "cannot read from " + path_ + ": " + errnoText(static_cast<int>(-n));
      return std::nullopt;
    }
  }
}

}  // namespace isolated
