// Admin endpoints over evhttp.
#include "supervisor/admin_server.h"

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include <cstring>
#include <stdexcept>

#include "common/syscall.h"
#include "supervisor/socket_address.h"

namespace isolated::supervisor {

namespace {

void reply(evhttp_request* request, int status, const char* contentType, const std::string& body) {
  evhttp_add_header(evhttp_request_get_output_headers(request), "content-type", contentType);
  EvbufferPtr buffer(evbuffer_new());
  evbuffer_add(buffer.get(), body.data(), body.size());
  evhttp_send_reply(request, status, nullptr, buffer.get());
}

}  // namespace

AdminServer::AdminServer(event_base* base, const std::string& host, uint16_t port,
                         AdminHandler& handler)
    : loop_(base),
      handler_(handler),
      http_(evhttp_new(base)),
      host_(host),
      acceptRetry_(loop_, [this] { evconnlistener_enable(listener_); }) {
  if (!http_) throw std::runtime_error("evhttp_new failed");
  evhttp_set_allowed_methods(http_.get(), EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
  evhttp_set_default_content_type(http_.get(), nullptr);
  evhttp_set_gencb(http_.get(), &AdminServer::onRequest, this);
  evhttp_bound_socket* bound = evhttp_bind_socket_with_handle(http_.get(), host.c_str(), port);
  if (bound == nullptr) {
    throw std::runtime_error("cannot listen on admin address " + host + ":" + std::to_string(port) +
                             ": " + errnoText(errno));
  }
  port_ = boundPort(evhttp_bound_socket_get_fd(bound));
  listener_ = evhttp_bound_socket_get_listener(bound);
  evconnlistener_set_error_cb(listener_, &AdminServer::onAcceptError);
  // The error callback gets evhttp's context, not this server's: a timer re-enables accepting
  // once a second (a no-op while it is enabled).
  acceptRetry_.start(1000);
}

void AdminServer::onAcceptError(evconnlistener* listener, void*) {
  // EMFILE and the like leave the connection pending: a level-triggered listener would spin on
  // it. Paused until the retry timer.
  evconnlistener_disable(listener);
}

std::string AdminServer::address() const {
  return formatHostPort(host_, port_);
}

void AdminServer::onRequest(evhttp_request* request, void* self) {
  auto* server = static_cast<AdminServer*>(self);
  const evhttp_uri* uri = evhttp_request_get_evhttp_uri(request);
  const char* path = uri != nullptr ? evhttp_uri_get_path(uri) : nullptr;
  std::string route = path != nullptr ? path : "";
  if (route == "/metrics") {
    reply(request, 200, "text/plain; version=0.0.4; charset=utf-8", server->handler_.metricsText());
  } else if (route == "/healthz") {
    reply(request, 200, "text/plain; charset=utf-8", "ok\n");
  } else if (route == "/readyz") {
    bool ready = server->handler_.ready();
    reply(request, ready ? 200 : 503, "text/plain; charset=utf-8",
          ready ? "ready\n" : "not ready\n");
  } else {
    reply(request, 404, "text/plain; charset=utf-8", "not found: /metrics, /healthz, /readyz\n");
  }
}

}  // namespace isolated::supervisor
