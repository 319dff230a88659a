// Writing answers to evhttp requests: a worker's Response, or an error the supervisor makes
// itself (502 worker lost, 503 busy, 413/431/414 limits). Every error carries the header
// `isolated-error` naming its cause, and a short plain-text body.
#pragma once

#include <event2/http.h>

#include <string_view>

#include "ipc/messages.capnp.h"

namespace isolated::supervisor {

// Sends `status` with a text body and `isolated-error: kind`. retryAfterSec > 0 adds Retry-After.
void replyError(evhttp_request* request, int status, std::string_view kind,
                std::string_view message, int retryAfterSec = 0);

// Sends a worker's response. Hop-by-hop and framing headers from the script are dropped: evhttp
// frames the body itself.
void replyFromWorker(evhttp_request* request, ipc::Response::Reader response);

// Adds a worker's response headers (and `isolated-error`) to the request's output headers,
// dropping hop-by-hop ones. `keepContentLength`: a streamed body keeps the length the script
// declared (evhttp then sends it unchunked); otherwise it is dropped, evhttp sets its own.
void addWorkerHeaders(evhttp_request* request, ipc::Response::Reader response,
                      bool keepContentLength);

}  // namespace isolated::supervisor
