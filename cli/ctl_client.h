// The client end of the control socket (docs/control-protocol.md): one Unix stream connection
// that carries request lines and reads reply lines, each exchange bounded by a deadline. Nothing
// here throws; failures come back as text that names the socket path and the errno text.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "common/unique_fd.h"

namespace isolated {

class ControlClient {
 public:
  // Connects to `path` within `timeout`. On failure returns nullopt and sets `error`, e.g.
  // "cannot connect to /run/isolated/isolated.sock: No such file or directory".
  static std::optional<ControlClient> tryConnect(const std::string& path,
                                                 std::chrono::milliseconds timeout,
                                                 std::string& error);

  // Sends `requestLine` (a newline is appended) and returns the next reply line without its
  // newline. On a timeout, a closed connection or a reply longer than kMaxReplyBytes returns
  // nullopt and sets `error`; the connection is then unusable.
  std::optional<std::string> tryExchange(const std::string& requestLine,
                                         std::chrono::milliseconds timeout, std::string& error);

  // A metrics reply grows with the pool; this only stops a runaway peer.
  static constexpr size_t kMaxReplyBytes = 64u << 20;

 private:
  ControlClient(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}

  UniqueFd fd_;
  std::string path_;
  // Bytes read past the end of the previous reply line.
  std::string pending_;
};

}  // namespace isolated
