// evhttp listener set-up and the early error paths evhttp reports through the request callback.
#include "supervisor/http_listener.h"

#include <event2/keyvalq_struct.h>

#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "common/syscall.h"
#include "supervisor/http_reply.h"
#include "supervisor/socket_address.h"

namespace isolated::supervisor {

namespace {

// Bytes of the request line and headers as received (give or take separators).
size_t headSize(evhttp_request* request) {
  size_t size = std::strlen(evhttp_request_get_uri(request)) + 16;
  evkeyvalq* headers = evhttp_request_get_input_headers(request);
  for (evkeyval* h = headers->tqh_first; h != nullptr; h = h->next.tqe_next) {
    size += std::strlen(h->key) + std::strlen(h->value) + 4;
  }
  return size;
}

}  // namespace

HttpListener::HttpListener(event_base* base, const ServeConfig& config, RequestHandler& handler)
    : handler_(handler), config_(config), http_(evhttp_new(base)), host_(config.listenHost) {
  if (!http_) throw std::runtime_error("evhttp_new failed");
  // Twice our limit, so that heads just over it are read whole and answered 431 (see onRequest).
  evhttp_set_max_headers_size(http_.get(), 2 * static_cast<ev_ssize_t>(config.maxHeaderBytes));
  evhttp_set_max_body_size(http_.get(), config.maxBodyBytes);
  evhttp_set_default_content_type(http_.get(), nullptr);
  evhttp_set_allowed_methods(http_.get(), EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                              EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                              EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
  evhttp_set_gencb(http_.get(), &HttpListener::onRequest, this);

  bound_ =
      evhttp_bind_socket_with_handle(http_.get(), config.listenHost.c_str(), config.listenPort);
  if (bound_ == nullptr) {
    throw std::runtime_error("cannot listen on " + config.listenHost + ":" +
                             std::to_string(config.listenPort) + ": " + errnoText(errno));
  }
  port_ = boundPort(evhttp_bound_socket_get_fd(bound_));
}

std::string HttpListener::address() const {
  return formatHostPort(host_, port_);
}

void HttpListener::stopAccepting() {
  if (bound_ == nullptr) return;
  evhttp_del_accept_socket(http_.get(), bound_);
  bound_ = nullptr;
}

bool HttpListener::resumeAccepting() {
  if (bound_ != nullptr) return true;
  bound_ = evhttp_bind_socket_with_handle(http_.get(), host_.c_str(), port_);
  return bound_ != nullptr;
}

void HttpListener::onRequest(evhttp_request* request, void* self) {
  auto* listener = static_cast<HttpListener*>(self);
  // evhttp itself answers 413 for a body over its limit and 400 for a head it cannot parse or
  // that exceeds twice our limit; heads between our limit and that get a precise 431 here.
  if (headSize(request) > listener->config_.maxHeaderBytes) {
    replyError(
        request, 431, "headers-too-large",
        "request head exceeds " + std::to_string(listener->config_.maxHeaderBytes) + " bytes");
    return;
  }
  if (std::strlen(evhttp_request_get_uri(request)) > listener->config_.maxUrlBytes) {
    replyError(
        request, 414, "uri-too-long",
        "request target exceeds " + std::to_string(listener->config_.maxUrlBytes) + " bytes");
    return;
  }
  listener->handler_.onHttpRequest(request);
}

}  // namespace isolated::supervisor
