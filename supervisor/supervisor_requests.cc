// Supervisor: the intake of a request. The HTTP/1.1 layer's requests (supervisor/http/) and
// refusals, request ids, routing to an app, and admission: dispatched at once, queued, or
// refused. Answers are in supervisor_answers.cc, dispatch to workers in supervisor_dispatch.cc.
#include "supervisor/supervisor.h"

#include <cstdio>

#include "supervisor/http/request_url.h"
#include "supervisor/socket_address.h"

namespace isolated::supervisor {

namespace {

// The isolated-error kind of an answer the HTTP layer makes itself.
std::string_view rejectionKind(int status) {
  switch (status) {
    case 408:
      return "request-timeout";
    case 413:
      return "body-too-large";
    case 414:
      return "uri-too-long";
    case 417:
      return "expectation-failed";
    case 431:
      return "headers-too-large";
    case 501:
      return "not-implemented";
    case 505:
      return "version-not-supported";
    default:
      return "bad-request";
  }
}

// Bytes of the request line and headers as received (give or take separators), as the evhttp
// front measured them.
size_t headSize(const http::ClientRequest& request) {
  size_t size = request.target().size() + 16;
  for (const http::HttpHeader& h : request.headers())
    size += h.name.size() + h.value.size() + 4;
  return size;
}

}  // namespace

// ---- the layer's callbacks ----

void ClientLink::onBodyData(std::string_view data) {
  supervisor_.onClientBody(id_, data);
}
void ClientLink::onBodyEnd() {
  supervisor_.onClientBodyEnd(id_);
}
void ClientLink::onWritable() {
  supervisor_.onClientWritable(id_);
}
void ClientLink::onClientGone(http::GoneReason reason) {
  supervisor_.onClientGone(id_, reason);
}

// ---- requests ----

void Supervisor::onClientRequest(http::ClientRequest& request) {
  PendingRequest pending;
  pending.http = &request;
  pending.id = requests_.nextId();
  pending.arrived = Clock::now();
  // The request id goes back on every answer, the supervisor's own errors included.
  auto given = request.header(config_.requestIdHeader);
  pending.requestId = given && !given->empty() && given->size() <= 128
                          ? std::string(*given)
                          : std::string(request.idText());
  if (config_.accessLog) {
    pending.method = request.method();
    pending.target = request.target();
  }
  pending.client = std::make_unique<ClientLink>(*this, pending.id);
  request.setObserver(pending.client.get());
  // The front answered heads up to twice --max-header-size read whole with a precise 431 (and
  // refused larger ones before reading them whole: see onRejected); it still does.
  if (headSize(request) > config_.maxHeaderBytes) {
    return replyError(pending, 431, "headers-too-large",
                      "request head exceeds " + std::to_string(config_.maxHeaderBytes) + " bytes");
  }
  auto length = request.contentLength();
  if (request.hasBody() && length && *length <= kInlineBodyBytes) {
    // Read whole first, then routed and sent inline, as if it had arrived with its head.
    pending.inlineBody.reserve(static_cast<size_t>(*length));
    request.grantBody(static_cast<size_t>(*length));
    requests_.startReading(std::move(pending));
    return;
  }
  pending.streamedBody = request.hasBody();
  routeRequest(std::move(pending));
}

void Supervisor::shapeRejection(http::HttpRejection& rejection) {
  // A head the layer found over its limit (twice --max-header-size) before reading it whole
  // gets 400, as it did from the evhttp front; heads read whole and over the limit get 431
  // (onRequest).
  if (rejection.status == 431 && rejection.why == "request head too large") rejection.status = 400;
  rejection.headers.push_back({"content-type", "text/plain; charset=utf-8"});
  rejection.headers.push_back({"isolated-error", rejectionKind(rejection.status)});
}

void Supervisor::onRefused(int status, std::string_view why, const sockaddr_storage& peer) {
  metrics_.recordRefused(status);
  if (logger_.enabled(LogLevel::kDebug)) {
    logger_.debug("request refused",
                  {{"status", status}, {"reason", why}, {"client", peerAddress(peer)}});
  }
}

void Supervisor::routeRequest(PendingRequest&& pending) {
  http::ClientRequest& request = *pending.http;
  if (phase_ == Phase::kStopping || phase_ == Phase::kStopped || phase_ == Phase::kPaused) {
    request.closeAfterResponse();
    return replyError(pending, 503, "shutting-down", "Service Unavailable: draining", 1);
  }
  // Route on the Host header and the target's path (origin-form; an absolute-form target
  // carries its own host and path). The layer has checked the Host's syntax; what the URL
  // parser would read differently is refused here, so that the script's URL always names the
  // host and path that were routed.
  http::TargetParts parts = http::splitTarget(request.target());
  std::string_view host =
      parts.hasAuthority ? parts.authority : request.header("host").value_or("");
  if (!parts.valid || (!host.empty() && !http::hostFitsUrl(host))) {
    if (logger_.enabled(LogLevel::kDebug)) {
      logger_.debug("request refused",
                    {{"status", 400},
                     {"reason", parts.valid ? "invalid Host" : "invalid request-target"},
                     {"client", peerAddress(request.peer())}});
    }
    request.closeAfterResponse();
    return replyError(pending, 400, "bad-request", "Bad Request: invalid host");
  }
  std::string_view path = parts.pathAndQuery;
  path = path.substr(0, path.find_first_of("?#"));
  if (path.empty()) path = "/";
  App* app = apps_.route(host, path);
  if (app == nullptr) {
    return replyError(pending, 404, "no-route",
                      "Not Found: no app is routed for this host and path");
  }
  pending.app = app;
  admit(std::move(pending));
}

void Supervisor::admit(PendingRequest&& pending) {
  App& app = *pending.app;
  const Deployment* deployment = app.live ? app.live.get() : app.candidate.get();
  if (deployment == nullptr) {
    return replyError(
        pending, 503, "app-failed",
        "Service Unavailable: the app '" + app.config.name + "' failed to load: " + app.lastError,
        5);
  }
  if (app.config.maxConcurrent > 0 && app.outstanding() >= app.config.maxConcurrent) {
    return replyError(pending, 503, "app-overloaded",
                      "Service Unavailable: the app '" + app.config.name + "' has " +
                          std::to_string(app.config.maxConcurrent) + " requests in flight",
                      1);
  }
  pending.wallLimit = std::chrono::milliseconds(deployment->wallLimitMs);
  if (app.queue.empty() && tryAssign(pending)) return;
  if (queue_.size() >= config_.queueSize) {
    return replyError(pending, 503, "overloaded",
                      "Service Unavailable: every worker is busy and the queue is full", 1);
  }
  // A client that leaves while its request waits takes the request out of the queue
  // (onClientGone).
  enqueue(app, std::move(pending));
}

void Supervisor::enqueue(App& app, PendingRequest&& request) {
  queueTimer_.schedule(request.arrived + std::chrono::milliseconds(config_.queueTimeoutMs));
  queue_.push(app, std::move(request));
}

std::string Supervisor::newRequestId() {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(random_()));
  return buf;
}

void Supervisor::release(PendingRequest& request) {
  // The layer's request may be reused for the next one of its connection: never touched again.
  request.http = nullptr;
}

}  // namespace isolated::supervisor
