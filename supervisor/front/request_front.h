// The request path's front: the listening sockets and client connections, and the HTTP/1.1 layer
// that reads them (supervisor/http/). The supervisor asks it to stop, resume and drain accepting,
// and is given each request as an http::ClientRequest on its own loop.
//
// Two fronts (--io-threads):
//   - LocalFront (1, the default): one HttpServer on the supervisor's loop; a request is the
//     layer's HttpRequest itself.
//   - ThreadedFront (N > 1; supervisor/front/threaded_front.h): N I/O threads, each with its own
//     loop and SO_REUSEPORT listener, parse and answer their connections; the supervisor's loop
//     gets each request as a RelayedRequest. Dispatch, placement, the workers and every request
//     book stay on the supervisor's loop (docs/architecture.md, "I/O threads").
//
// Threading: every method, and every FrontOwner call, on the supervisor's loop.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "event/dispatcher.h"
#include "supervisor/http/client_request.h"
#include "supervisor/http/http_limits.h"
#include "supervisor/http/http_request.h"

namespace isolated::front {

// Shapes the layer's own refusals (status, headers); must be safe to call from any thread.
using RejectionShaper = void (*)(http::HttpRejection& rejection);

class FrontOwner {
 public:
  virtual ~FrontOwner() = default;
  // A request whose head is complete (http::HttpRequestHandler::onRequest's contract).
  virtual void onClientRequest(http::ClientRequest& request) = 0;
  // The layer refused a request and answered it itself (after RejectionShaper shaped the answer).
  virtual void onRefused(int status, std::string_view why, const sockaddr_storage& peer) = 0;
};

// Connection figures for the metrics, summed over the I/O threads.
struct FrontStats {
  uint32_t ioThreads = 1;
  uint64_t openConnections = 0;
  uint64_t acceptedConnections = 0;
};

class RequestFront {
 public:
  virtual ~RequestFront() = default;
  virtual FrontStats stats() const = 0;
  virtual uint16_t port() const = 0;
  // Closes the listening sockets; open connections stay.
  virtual void stopListening() = 0;
  // Listens on host:port again (after stopListening); throws std::runtime_error when it cannot.
  virtual void listen(const std::string& host, uint16_t port) = 0;
  // Stops accepting; idle connections close at once, busy ones after their last answer.
  virtual void drain() = 0;
};

// Binds host:port (port 0: the kernel picks) and serves it with `threads` I/O threads (1: on
// `dispatcher`'s loop). Throws std::runtime_error naming the address when it cannot be bound.
std::unique_ptr<RequestFront> makeRequestFront(event::Dispatcher& dispatcher, FrontOwner& owner,
                                               RejectionShaper shape,
                                               const http::HttpLimits& limits,
                                               const std::string& host, uint16_t port,
                                               uint32_t threads);

}  // namespace isolated::front
