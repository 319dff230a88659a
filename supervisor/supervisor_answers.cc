// Supervisor: answering a request, the only two ways it is done: the supervisor's own error
// (replyError) or the worker's Response (replyFromWorker), both recording metrics and the access
// log; and a worker's Response as it arrives.
#include "supervisor/supervisor.h"

#include <strings.h>

#include <cstdio>

#include "ipc/protocol.h"

namespace isolated::supervisor {

namespace {

// How long an app that ran into its CPU limit counts as noisy (see App::noisyUntil).
constexpr auto kNoisyFor = std::chrono::seconds(10);

// Headers of a worker's Response passed on to a client, at most (a fetch's are bounded at
// ipc::kFetchMaxHeaders; an answer may carry more, such as many Set-Cookie fields).
constexpr size_t kMaxResponseHeaders = 1024;

std::string_view view(capnp::Text::Reader text) {
  return {text.cStr(), text.size()};
}

// Headers of a script's response the supervisor does not pass on (the layer frames the answer
// and drops Connection, Keep-Alive, Content-Length and Transfer-Encoding itself as well).
bool isHopByHop(std::string_view name) {
  static constexpr std::string_view kDropped[] = {
      "connection", "keep-alive", "transfer-encoding", "content-length",
      "upgrade",    "te",         "trailer",           "proxy-connection"};
  for (std::string_view dropped : kDropped) {
    if (name.size() == dropped.size() && strncasecmp(name.data(), dropped.data(), name.size()) == 0)
      return true;
  }
  return false;
}

}  // namespace

void Supervisor::replyError(PendingRequest& request, int status, std::string_view kind,
                            std::string_view message, int retryAfterSec) {
  if (request.service) {
    services_.fail(request, status, kind, message, retryAfterSec);
    if (status == 504) metrics_.recordLimit("wall-limit");
    recordAnswer(request, request.responseStreaming ? request.responseStatus : status,
                 request.workerId);
    return;
  }
  if (status == 504) metrics_.recordLimit("wall-limit");
  if (request.responseStreaming) {
    // The status line is out: the connection closes so the client sees a truncated body.
    logger_.info("streamed response aborted",
                 {{"request_id", request.requestId}, {"reason", std::string(kind)}});
    recordAnswer(request, request.responseStatus, request.workerId);
    if (request.http != nullptr) request.http->abort();
    release(request);
    return;
  }
  recordAnswer(request, status, request.workerId);
  if (request.http != nullptr) {
    char retryAfter[16] = "";
    answerHeaders_.clear();
    answerHeaders_.push_back({config_.requestIdHeader, request.requestId});
    answerHeaders_.push_back({"content-type", "text/plain; charset=utf-8"});
    answerHeaders_.push_back({"isolated-error", kind});
    if (retryAfterSec > 0) {
      int n = std::snprintf(retryAfter, sizeof retryAfter, "%d", retryAfterSec);
      answerHeaders_.push_back(
          {"retry-after", std::string_view(retryAfter, static_cast<size_t>(n))});
    }
    std::string body;
    body.reserve(message.size() + 1);
    body.append(message);
    body.push_back('\n');
    request.http->respond(status, answerHeaders_, body);
    release(request);
  } else if (!request.cron.empty()) {
    logger_.error("scheduled event failed", {{"cron", request.cron},
                                             {"status", status},
                                             {"error", std::string(kind)},
                                             {"detail", std::string(message)},
                                             {"request_id", request.requestId}});
  }
}

void Supervisor::replyFromWorker(PendingRequest& request, const WorkerProcess& worker,
                                 ipc::Response::Reader response) {
  recordAnswer(request, response.getStatus(), worker.id());
  if (request.service) {
    services_.answer(request, response);
  } else if (request.http != nullptr) {
    answerHeaders_.clear();
    answerHeaders_.push_back({config_.requestIdHeader, request.requestId});
    for (auto header : response.getHeaders()) {
      std::string_view name = view(header.getName());
      if (!isHopByHop(name)) answerHeaders_.push_back({name, view(header.getValue())});
    }
    if (response.hasRuntimeError())
      answerHeaders_.push_back({"isolated-error", view(response.getRuntimeError())});
    auto body = response.getBody();
    request.http->respond(
        response.getStatus(), answerHeaders_,
        std::string_view(reinterpret_cast<const char*>(body.begin()), body.size()));
    release(request);
  } else if (request.cron.empty()) {
    // An HTTP request whose client has gone: nothing to answer.
  } else if (response.getStatus() >= 400 || response.hasRuntimeError()) {
    // The worker has logged the script's error with the request id; this names the trigger.
    logger_.error("scheduled event failed",
                  {{"cron", request.cron},
                   {"status", response.getStatus()},
                   {"error", response.hasRuntimeError() ? response.getRuntimeError().cStr() : ""},
                   {"worker", worker.id()},
                   {"request_id", request.requestId}});
  } else {
    logger_.info(
        "scheduled event done",
        {{"cron", request.cron}, {"worker", worker.id()}, {"request_id", request.requestId}});
  }
  if (response.hasRuntimeError()) {
    std::string_view kind = view(response.getRuntimeError());
    if (kind == "cpu-limit" || kind == "memory-limit" || kind == "context-reset") {
      metrics_.recordLimit(std::string(kind));
    }
    // An app that runs into its CPU limit blocks its worker's thread for that long: for a while
    // it is kept on its home worker and other apps are placed away from it (tryAssign).
    if (kind == "cpu-limit") request.app->noisyUntil = Clock::now() + kNoisyFor;
  }
}

void Supervisor::recordAnswer(const PendingRequest& request, int status, uint32_t workerId) {
  requests_.rememberAnswer(request, workerId);
  double seconds = std::chrono::duration<double>(Clock::now() - request.arrived).count();
  metrics_.recordResponse(status, seconds);
  if (request.app != nullptr) {
    AppCounters& counters = request.app->counters;
    ++counters.requests;
    if (status >= 100 && status < 600) ++counters.classes[static_cast<size_t>(status / 100)];
    counters.latency.observe(seconds);
  }
  if (!config_.accessLog || !request.cron.empty()) return;
  logger_.info("request", {{"method", request.method},
                           {"path", request.target},
                           {"status", status},
                           {"duration_ms", seconds * 1000},
                           {"worker", workerId},
                           {"app", request.app != nullptr ? request.app->config.name : ""},
                           {"request_id", request.requestId}});
}

void Supervisor::onWorkerResponse(WorkerProcess& worker, ipc::Response::Reader response) {
  uint64_t id = response.getId();
  PendingRequest* request = requests_.findHeldBy(id, worker.id());
  // Unknown ids are answers to requests already answered by the supervisor: ignore them.
  if (request == nullptr) return;
  if (request->responseStreaming) {
    return worker.kill("protocol error: a second Response for one request");
  }
  // Its waitUntil() work may fetch and call storage until the worker's deadline for it (rule 3),
  // with a second's slack for messages on their way.
  if (response.getWaitUntilPending()) {
    requests_.linger(*request, worker.id(),
                     Clock::now() + std::chrono::seconds(config_.waitUntilTimeoutSec + 1));
  }
  // A legal frame can carry millions of (empty) headers; the answer is refused rather than
  // copied header by header.
  if (response.getHeaders().size() > kMaxResponseHeaders) {
    logger_.warn("response refused: too many headers", {{"request_id", request->requestId},
                                                        {"worker", worker.id()},
                                                        {"headers", response.getHeaders().size()}});
    replyError(*request, 502, "bad-response",
               "Bad Gateway: the response has more than " + std::to_string(ipc::kFetchMaxHeaders) +
                   " headers");
    finishRequest(id,
                  requests::RequestEnding::answeredOrCancelled(
                      response.getBodyFollows() ? "its response had too many headers" : nullptr));
    return;
  }
  if (response.getBodyFollows()) {
    if (request->http == nullptr && !request->service) {
      return worker.kill("protocol error: a streamed Response to a scheduled event");
    }
    return startStreamedResponse(*request, response);
  }
  replyFromWorker(*request, worker, response);
  finishRequest(id, requests::RequestEnding::answered());
}

}  // namespace isolated::supervisor
