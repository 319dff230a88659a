// evhttp reply helpers.
#include "supervisor/http_reply.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/keyvalq_struct.h>
#include <strings.h>

#include <string>

namespace isolated::supervisor {

namespace {

bool isHopByHop(const char* name) {
  static constexpr const char* kDropped[] = {
      "connection", "keep-alive", "transfer-encoding", "content-length",
      "upgrade",    "te",         "trailer",           "proxy-connection"};
  for (const char* dropped : kDropped) {
    if (strcasecmp(name, dropped) == 0) return true;
  }
  return false;
}

// evhttp_send_reply, then the reply's bytes written at once rather than after the next epoll
// round reports the socket writable. evhttp learns that the write is done from the bufferevent's
// write callback, which the trigger runs as a deferred callback: later in this loop iteration,
// outside the caller's stack (evhttp may free the request and, for `connection: close`, the
// connection in it). In that same iteration evhttp re-arms the connection for reading, and the
// epoll changelist folds that with the write interest evhttp_send_reply added: one epoll_ctl per
// keep-alive request instead of two, and no wake-up for EPOLLOUT. A short write (a large reply,
// a slow client) leaves the rest to the bufferevent as usual.
void sendReplyNow(evhttp_request* request, int status) {
  evhttp_connection* connection = evhttp_request_get_connection(request);
  bufferevent* bev =
      connection != nullptr ? evhttp_connection_get_bufferevent(connection) : nullptr;
  evhttp_send_reply(request, status, nullptr, nullptr);
  // `request` may not be used from here on.
  if (bev == nullptr || bufferevent_getfd(bev) < 0) return;
  evbuffer* out = bufferevent_get_output(bev);
  if (evbuffer_write(out, bufferevent_getfd(bev)) > 0 && evbuffer_get_length(out) == 0) {
    bufferevent_trigger(bev, EV_WRITE, BEV_TRIG_DEFER_CALLBACKS);
  }
}

}  // namespace

void replyError(evhttp_request* request, int status, std::string_view kind,
                std::string_view message, int retryAfterSec) {
  evkeyvalq* headers = evhttp_request_get_output_headers(request);
  evhttp_add_header(headers, "content-type", "text/plain; charset=utf-8");
  evhttp_add_header(headers, "isolated-error", std::string(kind).c_str());
  if (retryAfterSec > 0) {
    evhttp_add_header(headers, "retry-after", std::to_string(retryAfterSec).c_str());
  }
  evbuffer* body = evhttp_request_get_output_buffer(request);
  evbuffer_add(body, message.data(), message.size());
  evbuffer_add(body, "\n", 1);
  evhttp_send_reply(request, status, nullptr, nullptr);
}

void addWorkerHeaders(evhttp_request* request, ipc::Response::Reader response,
                      bool keepContentLength) {
  evkeyvalq* headers = evhttp_request_get_output_headers(request);
  for (auto header : response.getHeaders()) {
    const char* name = header.getName().cStr();
    if (isHopByHop(name) && !(keepContentLength && strcasecmp(name, "content-length") == 0)) {
      continue;
    }
    // evhttp refuses values with CR/LF; such a header is dropped rather than failing the reply.
    evhttp_add_header(headers, name, header.getValue().cStr());
  }
  if (response.hasRuntimeError()) {
    evhttp_add_header(headers, "isolated-error", response.getRuntimeError().cStr());
  }
}

void replyFromWorker(evhttp_request* request, ipc::Response::Reader response) {
  addWorkerHeaders(request, response, /*keepContentLength=*/false);
  // Straight into the request's own output buffer: no buffer of our own to allocate and move.
  auto bytes = response.getBody();
  evbuffer_add(evhttp_request_get_output_buffer(request), bytes.begin(), bytes.size());
  sendReplyNow(request, response.getStatus());
}

}  // namespace isolated::supervisor
