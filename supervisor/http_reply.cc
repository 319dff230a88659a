// evhttp reply helpers.
#include "supervisor/http_reply.h"

#include <event2/buffer.h>
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
  evhttp_send_reply(request, response.getStatus(), nullptr, nullptr);
}

}  // namespace isolated::supervisor
