// Supervisor: streamed bodies (ipc/protocol.h rules 8-15). A request body comes from the HTTP
// layer as the worker grants credit; a streamed response goes to the client chunk by chunk,
// credited back to the worker as the connection takes it; a client that leaves, a body that
// breaks, or a client that stalls ends the request (the layer reports all three as "gone").
#include "supervisor/supervisor.h"

#include <strings.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <optional>

#include "ipc/protocol.h"

namespace isolated::supervisor {

namespace {

std::string_view view(capnp::Text::Reader text) {
  return {text.cStr(), text.size()};
}

}  // namespace

void Supervisor::onClientBody(uint64_t id, std::string_view data) {
  if (PendingRequest* reading = requests_.findReading(id)) {
    reading->inlineBody.append(data);
    return;
  }
  PendingRequest* found = requests_.find(id);
  if (found == nullptr) return;
  PendingRequest& request = *found;
  WorkerProcess* worker = findWorker(request.workerId);
  // The connection delivers no more than the room it was granted.
  request.bodyWindow.sent(data.size());
  if (worker == nullptr) return;
  while (!data.empty()) {
    size_t n = std::min<size_t>(data.size(), ipc::kBodyChunkBytes);
    capnp::MallocMessageBuilder message;
    auto chunk = message.initRoot<ipc::Envelope>().initBodyChunk();
    chunk.setId(request.id);
    auto bytes = chunk.initData(static_cast<unsigned>(n));
    std::memcpy(bytes.begin(), data.data(), n);
    worker->send(message);
    data.remove_prefix(n);
  }
}

void Supervisor::onClientBodyEnd(uint64_t id) {
  if (std::optional<PendingRequest> routed = requests_.takeReading(id)) {
    routeRequest(std::move(*routed));
    return;
  }
  PendingRequest* found = requests_.find(id);
  if (found == nullptr || found->bodyEndSent) return;
  PendingRequest& request = *found;
  request.bodyEndSent = true;
  WorkerProcess* worker = findWorker(request.workerId);
  if (worker == nullptr) return;
  capnp::MallocMessageBuilder message;
  auto chunk = message.initRoot<ipc::Envelope>().initBodyChunk();
  chunk.setId(request.id);
  chunk.setEnd(true);
  worker->send(message);
}

void Supervisor::onWorkerBodyCredit(WorkerProcess& worker, ipc::BodyCredit::Reader credit) {
  PendingRequest* found = requests_.findHeldBy(credit.getId(), worker.id());
  if (found == nullptr) return;
  PendingRequest& request = *found;
  if (request.service) return services_.creditUpload(request, credit.getBytes());
  if (request.http == nullptr || !request.streamedBody || request.bodyEndSent) return;
  // Credit beyond one window is ignored (ipc/protocol.h rule 14).
  uint64_t grant = request.bodyWindow.credit(credit.getBytes());
  if (grant == 0) return;
  request.http->grantBody(grant);
}

void Supervisor::startStreamedResponse(PendingRequest& request, ipc::Response::Reader response) {
  if (request.service) return services_.startStream(request, response);
  answerHeaders_.clear();
  answerHeaders_.push_back({config_.requestIdHeader, request.requestId});
  for (auto header : response.getHeaders()) {
    std::string_view name = view(header.getName());
    std::string_view value = view(header.getValue());
    if (name.size() == 14 && strncasecmp(name.data(), "content-length", 14) == 0) {
      int64_t declared = -1;
      auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), declared);
      // Not a length to frame by: the body goes chunked instead.
      if (error == std::errc() && end == value.data() + value.size() && declared >= 0) {
        request.responseDeclared = declared;
      }
      // Passed on: the layer writes its own value under the script's spelling of the name.
    }
    answerHeaders_.push_back({name, value});
  }
  if (response.hasRuntimeError())
    answerHeaders_.push_back({"isolated-error", view(response.getRuntimeError())});
  request.responseStreaming = true;
  request.responseStatus = response.getStatus();
  // The layer drops the hop-by-hop headers (Connection, Transfer-Encoding, ...) itself.
  request.http->startResponse(response.getStatus(), answerHeaders_,
                              request.responseDeclared >= 0
                                  ? std::optional<uint64_t>(request.responseDeclared)
                                  : std::nullopt);
}

void Supervisor::onWorkerBodyChunk(WorkerProcess& worker, ipc::BodyChunk::Reader chunk) {
  PendingRequest* found = requests_.findHeldBy(chunk.getId(), worker.id());
  // Chunks for requests already answered or cancelled cross the cancel: ignore them.
  if (found == nullptr) return;
  PendingRequest& request = *found;
  auto data = chunk.getData();
  if (!request.responseStreaming) {
    return worker.kill("protocol error: BodyChunk for a response that does not stream");
  }
  if (data.size() > ipc::kBodyChunkBytes || !request.responseWindow.receive(data.size())) {
    return worker.kill("protocol error: response body beyond its credit window");
  }
  if (request.service) return services_.relayChunk(request, chunk);
  uint64_t id = request.id;
  if (chunk.getAborted()) {
    replyError(request, 500, "stream-aborted", "");
    finishRequest(id, requests::RequestEnding::answered());
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
    finishRequest(id, requests::RequestEnding::answeredOrCancelled(
                          chunk.getEnd() ? nullptr
                                         : "the response of the request that made it broke its "
                                           "Content-Length"));
    return;
  }
  bool room = true;
  if (data.size() > 0) {
    // Passed on to the connection; credited once it has room (below, or onClientWritable).
    request.responseWindow.passedOn(data.size());
    room = request.http->write(
        std::string_view(reinterpret_cast<const char*>(data.begin()), data.size()));
  }
  if (chunk.getEnd()) {
    recordAnswer(request, request.responseStatus, worker.id());
    request.http->end();
    release(request);
    finishRequest(id, requests::RequestEnding::answered());
    return;
  }
  // Credit at once while the client keeps up; otherwise when its connection has taken enough
  // of what is buffered (onClientWritable).
  if (room) creditResponse(request);
}

void Supervisor::creditResponse(PendingRequest& request) {
  if (request.responseWindow.owed() == 0) return;
  WorkerProcess* worker = findWorker(request.workerId);
  if (worker == nullptr) return;
  capnp::MallocMessageBuilder message;
  auto credit = message.initRoot<ipc::Envelope>().initBodyCredit();
  credit.setId(request.id);
  credit.setBytes(static_cast<uint32_t>(request.responseWindow.grant()));
  worker->send(message);
}

void Supervisor::onClientWritable(uint64_t id) {
  if (PendingRequest* request = requests_.find(id)) creditResponse(*request);
}

void Supervisor::onClientGone(uint64_t id, http::GoneReason reason) {
  if (destroying_) return;
  if (PendingRequest* reading = requests_.findReading(id)) {
    // Its small body never arrived whole; it was not routed yet.
    logger_.debug("client went away before its body arrived",
                  {{"request_id", reading->requestId}, {"reason", http::goneReasonName(reason)}});
    requests_.dropReading(id);
    checkDrained();
    return;
  }
  PendingRequest* found = requests_.find(id);
  if (found == nullptr) {
    dropQueued(id);
    return;
  }
  PendingRequest& request = *found;
  release(request);
  bool streaming = request.streamedBody || request.responseStreaming;
  switch (reason) {
    case http::GoneReason::kBodyTooLarge:
    case http::GoneReason::kBadBody: {
      // The layer has answered 413 or 400 (or cut a streamed answer short).
      bool tooLarge = reason == http::GoneReason::kBodyTooLarge;
      std::string_view kind = tooLarge ? "body-too-large" : "bad-request";
      if (request.responseStreaming) {
        logger_.info("streamed response aborted",
                     {{"request_id", request.requestId}, {"reason", kind}});
      }
      recordAnswer(request,
                   request.responseStreaming ? request.responseStatus
                   : tooLarge                ? 413
                                             : 400,
                   request.workerId);
      finishRequest(id, requests::RequestEnding::cancelled(
                            tooLarge ? "the body of the request that made it is too large"
                                     : "the body of the request that made it is malformed"));
      return;
    }
    case http::GoneReason::kTimeout:
      logger_.info("client stalled", {{"request_id", request.requestId},
                                      {"worker", request.workerId},
                                      {"app", request.app->config.name}});
      finishRequest(
          id, requests::RequestEnding::cancelled("the client of the request that made it stalled"));
      return;
    case http::GoneReason::kClientClosed:
    case http::GoneReason::kServerClosing:
      logger_.info(streaming ? "client went away mid-stream" : "client went away",
                   {{"request_id", request.requestId},
                    {"worker", request.workerId},
                    {"app", request.app->config.name}});
      finishRequest(id, requests::RequestEnding::cancelled(
                            "the client of the request that made it went away"));
      return;
  }
}

void Supervisor::dropQueued(uint64_t id) {
  // An emptied queue leaves the turn list at the next pump or expiry.
  if (std::optional<PendingRequest> request = queue_.remove(id)) {
    logger_.info("client went away while queued",
                 {{"request_id", request->requestId}, {"app", request->app->config.name}});
  }
  checkDrained();
}

}  // namespace isolated::supervisor
