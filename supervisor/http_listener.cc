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
  evhttp_set_bevcb(http_.get(), &HttpListener::makeBufferevent, this);

  bound_ =
      evhttp_bind_socket_with_handle(http_.get(), config.listenHost.c_str(), config.listenPort);
  if (bound_ == nullptr) {
    throw std::runtime_error("cannot listen on " + config.listenHost + ":" +
                             std::to_string(config.listenPort) + ": " + errnoText(errno));
  }
  port_ = boundPort(evhttp_bound_socket_get_fd(bound_));
}

HttpListener::~HttpListener() {
  // Freeing evhttp closes every connection; the handler may already be half destroyed.
  closing_ = true;
  http_.reset();
}

bufferevent* HttpListener::makeBufferevent(event_base* base, void* self) {
  auto* listener = static_cast<HttpListener*>(self);
  // What evhttp would make itself, plus the tap on its input.
  bufferevent* bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
  if (bev == nullptr) return nullptr;
  auto tap = std::make_unique<BodyTap>(bev, 2 * listener->config_.maxHeaderBytes,
                                       listener->config_.maxBodyBytes);
  // The tap empties the input buffer whenever it keeps the bytes; a read low-water mark of one
  // byte keeps evhttp's read callback from running on nothing (in the middle of an answer it
  // must not run at all).
  bufferevent_setwatermark(bev, EV_READ, 1, 0);
  evbuffer_add_cb(bufferevent_get_input(bev), &BodyTap::onInput, tap.get());
  listener->taps_.insert_or_assign(bev, std::move(tap));
  return bev;
}

void HttpListener::onConnectionClose(evhttp_connection* connection, void* self) {
  auto* listener = static_cast<HttpListener*>(self);
  bufferevent* bev = evhttp_connection_get_bufferevent(connection);
  auto it = listener->taps_.find(bev);
  if (it != listener->taps_.end()) {
    evbuffer_remove_cb(bufferevent_get_input(bev), &BodyTap::onInput, it->second.get());
    listener->taps_.erase(it);
  }
  if (!listener->closing_) listener->handler_.onConnectionClosed(connection);
}

BodyTap* HttpListener::tapFor(evhttp_request* request) {
  evhttp_connection* connection = evhttp_request_get_connection(request);
  if (connection == nullptr) return nullptr;
  auto it = taps_.find(evhttp_connection_get_bufferevent(connection));
  return it == taps_.end() ? nullptr : it->second.get();
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
  bool streamed = false;
  if (evhttp_connection* connection = evhttp_request_get_connection(request)) {
    evhttp_connection_set_closecb(connection, &HttpListener::onConnectionClose, listener);
  }
  if (BodyTap* tap = listener->tapFor(request)) {
    std::string name, value;
    streamed = tap->claimStreamedBody(name, value);
    if (streamed) {
      // The script sees the framing the client sent; the tap hid it from evhttp.
      evhttp_add_header(evhttp_request_get_input_headers(request), name.c_str(), value.c_str());
      // The tap holds whatever follows the body, so nothing more is read on this connection.
      evhttp_add_header(evhttp_request_get_output_headers(request), "connection", "close");
    }
  }
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
  listener->handler_.onHttpRequest(request, streamed);
}

}  // namespace isolated::supervisor
