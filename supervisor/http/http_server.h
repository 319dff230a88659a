// The HTTP/1.1 server of one event loop: accepts on a listening socket and owns the
// HttpConnections it makes (supervisor/http/http_connection.h).
//
// Accepting pauses without spinning: at the --max-connections cap, and on EMFILE/ENFILE (then a
// 1 s retry as well, for descriptors freed elsewhere); it resumes when a connection closes. The
// cap is this server's own, or one shared with the servers of other loops
// (supervisor/http/connection_cap.h).
// listenTcp() can set SO_REUSEPORT so that several loops (I/O threads) each accept on their own
// socket bound to one address.
//
// Lifetime: the Dispatcher and the handler outlive the server. Destroying the server closes
// every connection; owners of requests in flight are told (GoneReason::kServerClosing).
// Threading: the dispatcher's thread only; one server per loop thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/unique_fd.h"
#include "event/dispatcher.h"
#include "supervisor/http/connection_cap.h"
#include "supervisor/http/http_connection.h"
#include "supervisor/http/http_limits.h"
#include "supervisor/http/http_request.h"

namespace isolated::http {

class HttpServer {
 public:
  // A non-blocking listening TCP socket on host:port (port 0: the kernel picks); throws
  // std::runtime_error naming the address when it cannot be bound.
  static UniqueFd listenTcp(const std::string& host, uint16_t port, bool reusePort,
                            int backlog = 1024);

  // Serves `listener` (a listening socket, made non-blocking here).
  HttpServer(event::Dispatcher& dispatcher, HttpRequestHandler& handler, const HttpLimits& limits,
             UniqueFd listener);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Serves an already connected socket (tests use socketpairs; an accept thread could hand
  // sockets over). Counts toward the connection cap.
  void adopt(UniqueFd connection, const sockaddr_storage& peer);

  // Counts this server's connections in `cap`, shared with the servers of other loops, instead
  // of against limits.maxConnections. `onSlotFreed` runs on this server's thread when a slot it
  // gave back may be awaited by another server, which must then be told (on its own thread) to
  // resumeAccepting(). Call before the first connection; `cap` outlives the server.
  void shareConnectionCap(SharedConnectionCap& cap, std::function<void()> onSlotFreed);
  // Accepts again if it had stopped at the cap and a slot is free now (or on EMFILE's retry).
  void resumeAccepting();

  // Closes the listening socket, so that new connections are refused; open connections stay.
  void stopListening();
  // Accepts on `listener` (after stopListening(); ignored once draining).
  void listen(UniqueFd listener);
  bool listening() const { return listener_.valid(); }

  // Request ids start at `first` and step by `stride` (one server per I/O thread: thread i of n
  // numbers from i + 1 by n). Call before the first connection.
  void numberRequests(uint64_t first, uint64_t stride) {
    context_.nextRequestId = first;
    context_.requestIdStride = stride;
  }

  uint16_t port() const;
  // The port a bound socket has (0 when it has none).
  static uint16_t boundPort(int fd);
  size_t connectionCount() const { return connections_.size(); }
  // The same count, and the connections accepted (or adopted) in all: readable from any thread
  // (the metrics of I/O threads are read from the supervisor's loop).
  size_t openConnections() const { return open_.load(std::memory_order_relaxed); }
  uint64_t acceptedConnections() const { return accepted_.load(std::memory_order_relaxed); }
  bool acceptPaused() const { return acceptPaused_; }
  // Stops accepting; idle connections close at once, busy ones after their last answer (which
  // carries Connection: close). `onDrained` runs when the last connection has closed.
  void drain(std::function<void()> onDrained = {});

 private:
  // A non-blocking connected socket (accept4 made it so).
  void addConnection(UniqueFd connection, const sockaddr_storage& peer);
  void onAcceptable();
  void pauseAccepting(bool retryLater);
  bool atCap() const;
  void connectionClosed(HttpConnection* connection);
  void reap();

  HttpLimits limits_;
  ConnectionContext context_;
  UniqueFd listener_;
  bool acceptPaused_ = false;
  std::atomic<size_t> open_{0};
  std::atomic<uint64_t> accepted_{0};
  bool draining_ = false;
  std::function<void()> onDrained_;
  // Set by shareConnectionCap(): the count that replaces limits_.maxConnections.
  SharedConnectionCap* sharedCap_ = nullptr;
  std::function<void()> onSlotFreed_;
  std::unordered_map<HttpConnection*, std::unique_ptr<HttpConnection>> connections_;
  // Closed connections, freed from the next loop turn (a connection closes inside its own
  // callbacks, so it can not be freed there).
  std::vector<std::unique_ptr<HttpConnection>> closed_;
  event::Timer reaper_;
  event::Timer acceptRetry_;
  std::unique_ptr<event::FileEvent> acceptEvent_;
};

}  // namespace isolated::http
