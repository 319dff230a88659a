// HttpRequest's accessors and its calls into the connection: see http_request.h.
#include "supervisor/http/http_request.h"

#include "supervisor/http/http_connection.h"

namespace isolated::http {

std::string_view goneReasonName(GoneReason reason) {
  switch (reason) {
    case GoneReason::kClientClosed:
      return "client closed";
    case GoneReason::kBadBody:
      return "bad body framing";
    case GoneReason::kBodyTooLarge:
      return "body too large";
    case GoneReason::kTimeout:
      return "client timed out";
    case GoneReason::kServerClosing:
      return "server closing";
  }
  return "unknown";
}

std::optional<std::string_view> HttpRequest::header(std::string_view name) const {
  return findHeader(headers_, name);
}

std::optional<std::string_view> findHeader(std::span<const HttpHeader> headers,
                                           std::string_view name) {
  for (const HttpHeader& h : headers) {
    if (h.name.size() != name.size()) continue;
    size_t i = 0;
    while (i < name.size() && (h.name[i] | 0x20) == (name[i] | 0x20))
      ++i;
    if (i == name.size()) return h.value;
  }
  return std::nullopt;
}

void HttpRequest::grantBody(size_t bytes) {
  if (connection_) connection_->grant(*this, bytes);
}

void HttpRequest::respond(int status, std::span<const HttpHeader> headers, std::string_view body) {
  if (connection_) connection_->startResponse(*this, status, headers, std::nullopt, &body);
}

void HttpRequest::startResponse(int status, std::span<const HttpHeader> headers,
                                std::optional<uint64_t> contentLength) {
  if (connection_) connection_->startResponse(*this, status, headers, contentLength, nullptr);
}

bool HttpRequest::write(std::string_view data) {
  return connection_ && connection_->write(*this, data);
}

void HttpRequest::end() {
  if (connection_) connection_->end(*this);
}

void HttpRequest::abort() {
  if (connection_) connection_->abort(*this);
}

void HttpRequest::reset() {
  observer_ = nullptr;
  method_ = {};
  target_ = {};
  versionMinor_ = 1;
  hasBody_ = isHead_ = false;
  keepAlive_ = true;
  expectContinue_ = continueSent_ = false;
  delivered_ = released_ = false;
  contentLength_.reset();
  headers_.clear();
  head_.clear();
  fields_.clear();
  targetLength_ = 0;
  bodyState_ = BodyState::kNone;
  credit_ = 0;
  bodyReceived_ = 0;
  responseState_ = ResponseState::kNone;
  chunkedResponse_ = closeDelimited_ = noResponseBody_ = aborted_ = false;
  declaredLength_.reset();
  bodyWritten_ = 0;
  pendingOutput_.clear();
}

}  // namespace isolated::http
