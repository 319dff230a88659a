// Supervisor: streamed bodies (ipc/protocol.h rules 8-11). The request body comes from the
// connection's BodyTap and goes to the worker as credit allows; a streamed response goes to
// the client chunk by chunk, credited back to the worker as the connection drains; a client
// that leaves mid-stream, or while the worker holds its request, cancels that request.
#include "supervisor/supervisor.h"

#include <event2/buffer.h>

#include <algorithm>
#include <cstdlib>

#include "ipc/protocol.h"
#include "supervisor/http_reply.h"

namespace isolated::supervisor {

void Supervisor::onBodyReadable(uint64_t requestId) {
  auto it = inFlight_.find(requestId);
  if (it != inFlight_.end()) pumpRequestBody(it->second);
}

void Supervisor::pumpRequestBody(PendingRequest& request) {
  if (!request.streamedBody || request.bodyEndSent) return;
  BodyTap* tap = listener_.tapFor(request.http);
  WorkerProcess* worker = findWorker(request.workerId);
  if (tap == nullptr || worker == nullptr) return;
  for (;;) {
    if (int status = tap->error()) {
      uint64_t id = request.id;
      replyError(request, status, status == 413 ? "body-too-large" : "bad-request",
                 status == 413 ? "Payload Too Large: the body exceeds " +
                                     std::to_string(config_.maxBodyBytes >> 20) + " MB"
                               : "Bad Request: malformed chunked body");
      finishInFlight(id, status == 413 ? "the body of the request that made it is too large"
                                       : "the body of the request that made it is malformed");
      return;
    }
    size_t n = std::min<size_t>({tap->available(), request.bodyCredit, ipc::kBodyChunkBytes});
    if (n == 0 && !tap->finished()) return;
    capnp::MallocMessageBuilder message;
    auto chunk = message.initRoot<ipc::Envelope>().initBodyChunk();
    chunk.setId(request.id);
    if (n > 0) {
      auto data = chunk.initData(static_cast<unsigned>(n));
      tap->take(data.begin(), n);
      request.bodyCredit -= static_cast<uint32_t>(n);
    }
    bool end = tap->finished() && tap->error() == 0;
    chunk.setEnd(end);
    worker->send(message);
    if (end) {
      request.bodyEndSent = true;
      // The connection is still watched (byConnection_) until the answer is complete.
      return;
    }
  }
}

void Supervisor::onWorkerBodyCredit(WorkerProcess& worker, ipc::BodyCredit::Reader credit) {
  auto it = inFlight_.find(credit.getId());
  if (it == inFlight_.end() || it->second.workerId != worker.id()) return;
  PendingRequest& request = it->second;
  if (request.service) {
    // The callee has taken upload bytes: the caller may send as many more.
    ServiceCall& call = *request.service;
    uint32_t bytes = static_cast<uint32_t>(std::min<uint64_t>(credit.getBytes(), call.uploadHeld));
    call.uploadHeld -= bytes;
    if (bytes > 0 && call.active) {
      capnp::MallocMessageBuilder message;
      auto grant = message.initRoot<ipc::Envelope>().initFetchUploadCredit();
      grant.setFetchId(call.fetchId);
      grant.setBytes(bytes);
      sendFetchMessage(call.callerWorker, message);
    }
    return;
  }
  // Credit beyond one window is ignored (ipc/protocol.h rule 9).
  request.bodyCredit = static_cast<uint32_t>(
      std::min<uint64_t>(uint64_t{request.bodyCredit} + credit.getBytes(), ipc::kBodyWindowBytes));
  pumpRequestBody(request);
}

void Supervisor::startStreamedResponse(PendingRequest& request, ipc::Response::Reader response) {
  if (request.service) return startServiceStream(request, response);
  evhttp_request* http = request.http;
  addWorkerHeaders(http, response, /*keepContentLength=*/true);
  if (const char* length =
          evhttp_find_header(evhttp_request_get_output_headers(http), "content-length")) {
    char* end = nullptr;
    long long declared = std::strtoll(length, &end, 10);
    if (end != length && *end == '\0' && declared >= 0) {
      request.responseDeclared = declared;
    } else {
      // Not a length evhttp could frame by: send the body chunked instead.
      evhttp_remove_header(evhttp_request_get_output_headers(http), "content-length");
    }
  }
  request.responseStreaming = true;
  request.responseStatus = response.getStatus();
  // The connection stays watched (byConnection_) through the body, which evhttp writes with
  // its read callback off: what the tap held may go to evhttp now.
  unwatch(request);
  evhttp_send_reply_start(http, response.getStatus(), nullptr);
  if (request.connection == nullptr) {
    request.connection = evhttp_request_get_connection(http);
    if (request.connection != nullptr) byConnection_[request.connection] = request.id;
  }
}

void Supervisor::onWorkerBodyChunk(WorkerProcess& worker, ipc::BodyChunk::Reader chunk) {
  auto it = inFlight_.find(chunk.getId());
  // Chunks for requests already answered or cancelled cross the cancel: ignore them.
  if (it == inFlight_.end() || it->second.workerId != worker.id()) return;
  PendingRequest& request = it->second;
  auto data = chunk.getData();
  if (!request.responseStreaming) {
    return worker.kill("protocol error: BodyChunk for a response that does not stream");
  }
  if (data.size() > ipc::kBodyChunkBytes ||
      request.responseUncredited + data.size() > ipc::kBodyWindowBytes) {
    return worker.kill("protocol error: response body beyond its credit window");
  }
  if (request.service) return relayServiceChunk(request, chunk);
  uint64_t id = request.id;
  if (chunk.getAborted()) {
    replyError(request, 500, "stream-aborted", "");
    finishInFlight(id);
    return;
  }
  request.responseRelayed += data.size();
  bool lengthBroken = request.responseDeclared >= 0 &&
                      (request.responseRelayed > static_cast<uint64_t>(request.responseDeclared) ||
                       (chunk.getEnd() && request.responseRelayed !=
                                              static_cast<uint64_t>(request.responseDeclared)));
  if (lengthBroken) {
    logger_.warn("streamed body disagrees with its Content-Length",
                 {{"request_id", request.requestId},
                  {"declared", request.responseDeclared},
                  {"relayed", request.responseRelayed}});
    replyError(request, 500, "bad-response", "");
    finishInFlight(id, chunk.getEnd() ? nullptr
                                      : "the response of the request that made it broke its "
                                        "Content-Length");
    return;
  }
  if (data.size() > 0) {
    request.responseUncredited += static_cast<uint32_t>(data.size());
    EvbufferPtr buffer(evbuffer_new());
    evbuffer_add(buffer.get(), data.begin(), data.size());
    evhttp_send_reply_chunk_with_cb(request.http, buffer.get(), &Supervisor::onClientDrained, this);
  }
  if (chunk.getEnd()) {
    releaseStreams(request);
    // Recorded first: ending the reply may free the request at once.
    recordAnswer(request, request.responseStatus, worker.id());
    evhttp_send_reply_end(request.http);
    finishInFlight(id);
    return;
  }
  // Credit at once while the client keeps up (little is queued for it); otherwise when its
  // connection has drained (onClientDrained).
  evhttp_connection* connection = evhttp_request_get_connection(request.http);
  if (connection == nullptr ||
      evbuffer_get_length(bufferevent_get_output(evhttp_connection_get_bufferevent(connection))) <=
          ipc::kBodyWindowBytes / 2) {
    creditResponse(request);
  }
}

void Supervisor::creditResponse(PendingRequest& request) {
  if (request.responseUncredited == 0) return;
  WorkerProcess* worker = findWorker(request.workerId);
  if (worker == nullptr) return;
  capnp::MallocMessageBuilder message;
  auto credit = message.initRoot<ipc::Envelope>().initBodyCredit();
  credit.setId(request.id);
  credit.setBytes(request.responseUncredited);
  worker->send(message);
  request.responseUncredited = 0;
}

void Supervisor::onClientDrained(evhttp_connection* connection, void* self) {
  auto* supervisor = static_cast<Supervisor*>(self);
  auto found = supervisor->byConnection_.find(connection);
  if (found == supervisor->byConnection_.end()) return;
  auto it = supervisor->inFlight_.find(found->second);
  if (it != supervisor->inFlight_.end()) supervisor->creditResponse(it->second);
}

void Supervisor::onConnectionClosed(evhttp_connection* connection) {
  auto found = byConnection_.find(connection);
  if (found == byConnection_.end()) return;
  uint64_t id = found->second;
  byConnection_.erase(found);
  auto it = inFlight_.find(id);
  if (it == inFlight_.end()) {
    dropQueued(id);
    return;
  }
  PendingRequest& request = it->second;
  request.connection = nullptr;
  logger_.info(request.streamedBody || request.responseStreaming ? "client went away mid-stream"
                                                                 : "client went away",
               {{"request_id", request.requestId},
                {"worker", request.workerId},
                {"app", request.app->config.name}});
  // evhttp has detached the request from the connection it is freeing; it is ours to free.
  if (evhttp_request_get_connection(request.http) == nullptr) evhttp_request_free(request.http);
  finishInFlight(id, "the client of the request that made it went away");
}

void Supervisor::unwatch(PendingRequest& request) {
  if (!request.watched) return;
  request.watched = false;
  if (BodyTap* tap = listener_.tapFor(request.http)) tap->unwatch();
}

void Supervisor::dropQueued(uint64_t id) {
  for (App* app : waiting_) {
    auto it = std::find_if(app->queue.begin(), app->queue.end(),
                           [id](const PendingRequest& request) { return request.id == id; });
    if (it == app->queue.end()) continue;
    logger_.info("client went away while queued",
                 {{"request_id", it->requestId}, {"app", app->config.name}});
    // evhttp has detached the request from the connection it is freeing; it is ours to free.
    if (evhttp_request_get_connection(it->http) == nullptr) evhttp_request_free(it->http);
    app->queue.erase(it);
    --queued_;
    // An emptied queue leaves waiting_ at the next pump or expiry.
    break;
  }
  checkDrained();
}

void Supervisor::releaseStreams(PendingRequest& request) {
  if (request.streamedBody) {
    if (BodyTap* tap = listener_.tapFor(request.http)) tap->setConsumer(nullptr, 0);
  }
  unwatch(request);
  if (request.connection != nullptr) {
    byConnection_.erase(request.connection);
    request.connection = nullptr;
  }
}

}  // namespace isolated::supervisor
