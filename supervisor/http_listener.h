// The public HTTP listener: evhttp bound to --listen, with the size limits applied, handing each
// parsed request to a RequestHandler. Closing the listener (for a drain) keeps connections that
// already exist so their answers can still be written.
#pragma once

#include <event2/http.h>

#include <cstdint>
#include <string>

#include "common/event_handles.h"
#include "common/serve_config.h"

namespace isolated::supervisor {

class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  // A complete request. The handler owns answering it exactly once (evhttp frees it then).
  virtual void onHttpRequest(evhttp_request* request) = 0;
};

class HttpListener {
 public:
  // Binds at once; throws std::runtime_error naming the address when it cannot.
  HttpListener(event_base* base, const ServeConfig& config, RequestHandler& handler);

  uint16_t port() const { return port_; }
  std::string address() const;
  // Closes the listening socket so that new connections are refused. Idempotent.
  void stopAccepting();
  // Binds the same address again after stopAccepting(). Returns false (and logs nothing) when
  // the address cannot be bound now.
  bool resumeAccepting();
  bool accepting() const { return bound_ != nullptr; }

 private:
  static void onRequest(evhttp_request* request, void* self);

  RequestHandler& handler_;
  const ServeConfig& config_;
  EvhttpPtr http_;
  evhttp_bound_socket* bound_ = nullptr;  // owned by http_
  std::string host_;
  uint16_t port_ = 0;
};

}  // namespace isolated::supervisor
