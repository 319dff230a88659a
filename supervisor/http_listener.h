// The public HTTP listener: evhttp bound to --listen, with the size limits applied, handing each
// parsed request to a RequestHandler. Closing the listener (for a drain) keeps connections that
// already exist so their answers can still be written.
//
// Every connection's input passes through a BodyTap (supervisor/request_body_tap.h), which
// streams large and chunked request bodies instead of letting evhttp buffer them. The listener
// owns the taps: one is made with each connection's bufferevent and destroyed in the
// connection's close callback. (A connection closed before it delivered any request has no
// close callback; its tap is freed when another connection's bufferevent reuses the address.)
#pragma once

#include <event2/http.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "common/event_handles.h"
#include "common/serve_config.h"
#include "supervisor/request_body_tap.h"

namespace isolated::supervisor {

class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  // A request whose head is complete. Its body is complete too, in the input buffer, unless
  // `streamedBody`: then it is still arriving through the connection's BodyTap (see tapFor),
  // and the answer must close the connection (the listener has set `Connection: close`).
  // The handler owns answering it exactly once (evhttp frees it then).
  virtual void onHttpRequest(evhttp_request* request, bool streamedBody) = 0;
  // A client connection is being freed (the peer went away, or it was closed after an answer).
  // A request of it that the handler still holds has been detached by evhttp: the handler
  // must free it (evhttp_request_free) and must not answer it.
  virtual void onConnectionClosed(evhttp_connection* connection) = 0;
};

class HttpListener {
 public:
  // Binds at once; throws std::runtime_error naming the address when it cannot.
  HttpListener(event_base* base, const ServeConfig& config, RequestHandler& handler);
  ~HttpListener();
  HttpListener(const HttpListener&) = delete;
  HttpListener& operator=(const HttpListener&) = delete;

  // The tap of the connection `request` arrived on; nullptr once the connection is gone.
  BodyTap* tapFor(evhttp_request* request);

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
  static bufferevent* makeBufferevent(event_base* base, void* self);
  static void onConnectionClose(evhttp_connection* connection, void* self);

  RequestHandler& handler_;
  bool closing_ = false;
  std::unordered_map<bufferevent*, std::unique_ptr<BodyTap>> taps_;
  const ServeConfig& config_;
  EvhttpPtr http_;
  evhttp_bound_socket* bound_ = nullptr;  // owned by http_
  std::string host_;
  uint16_t port_ = 0;
};

}  // namespace isolated::supervisor
