// RelayedRequest: see relayed_request.h.
#include "supervisor/front/relayed_request.h"

#include <cstring>

namespace isolated::front {

void OwnedHeaders::assign(std::span<const http::HttpHeader> headers) {
  bytes.clear();
  lengths.clear();
  lengths.reserve(headers.size() * 2);
  for (const http::HttpHeader& h : headers) {
    bytes.append(h.name);
    bytes.append(h.value);
    lengths.push_back(static_cast<uint32_t>(h.name.size()));
    lengths.push_back(static_cast<uint32_t>(h.value.size()));
  }
}

void OwnedHeaders::view(std::vector<http::HttpHeader>& out) const {
  out.clear();
  size_t offset = 0;
  for (size_t i = 0; i + 1 < lengths.size(); i += 2) {
    std::string_view name(bytes.data() + offset, lengths[i]);
    offset += lengths[i];
    std::string_view value(bytes.data() + offset, lengths[i + 1]);
    offset += lengths[i + 1];
    out.push_back({name, value});
  }
}

RelayedRequest::RelayedRequest(const http::HttpRequest& request, Outbox<FrontCommand>& commands,
                               size_t highWaterBytes)
    : commands_(commands),
      highWaterBytes_(highWaterBytes),
      id_(request.id()),
      versionMinor_(request.versionMinor()),
      hasBody_(request.hasBody()),
      isHead_(request.isHead()),
      contentLength_(request.contentLength()),
      peer_(request.peer()) {
  std::memcpy(idText_, request.idText().data(), sizeof idText_);
  size_t size = request.method().size() + request.target().size();
  for (const http::HttpHeader& h : request.headers())
    size += h.name.size() + h.value.size();
  // Reserved whole first: the views below must not move.
  head_.reserve(size);
  auto keep = [this](std::string_view text) {
    size_t at = head_.size();
    head_.append(text);
    return std::string_view(head_.data() + at, text.size());
  };
  method_ = keep(request.method());
  target_ = keep(request.target());
  headers_.reserve(request.headers().size());
  for (const http::HttpHeader& h : request.headers()) {
    std::string_view name = keep(h.name);
    headers_.push_back({name, keep(h.value)});
  }
}

std::optional<std::string_view> RelayedRequest::header(std::string_view name) const {
  return http::findHeader(headers_, name);
}

void RelayedRequest::post(FrontCommand::Kind kind) {
  FrontCommand command;
  command.kind = kind;
  command.id = id_;
  commands_.post(std::move(command));
}

void RelayedRequest::closeAfterResponse() {
  if (held_) post(FrontCommand::Kind::kCloseAfter);
}

void RelayedRequest::grantBody(size_t bytes) {
  if (!held_ || bytes == 0) return;
  FrontCommand command;
  command.kind = FrontCommand::Kind::kGrant;
  command.id = id_;
  command.count = bytes;
  commands_.post(std::move(command));
}

void RelayedRequest::respond(int status, std::span<const http::HttpHeader> headers,
                             std::string_view body) {
  if (!held_ || responseStarted_) return;
  FrontCommand command;
  command.kind = FrontCommand::Kind::kRespond;
  command.id = id_;
  command.status = status;
  command.headers.assign(headers);
  command.data.assign(body);
  commands_.post(std::move(command));
  finish();
}

void RelayedRequest::startResponse(int status, std::span<const http::HttpHeader> headers,
                                   std::optional<uint64_t> contentLength) {
  if (!held_ || responseStarted_) return;
  responseStarted_ = true;
  FrontCommand command;
  command.kind = FrontCommand::Kind::kStart;
  command.id = id_;
  command.status = status;
  command.headers.assign(headers);
  command.hasLength = contentLength.has_value();
  command.count = contentLength.value_or(0);
  commands_.post(std::move(command));
}

bool RelayedRequest::write(std::string_view data) {
  if (!held_ || !responseStarted_) return false;
  if (!data.empty()) {
    FrontCommand command;
    command.kind = FrontCommand::Kind::kWrite;
    command.id = id_;
    command.data.assign(data);
    commands_.post(std::move(command));
    unacked_ += data.size();
  }
  if (unacked_ <= highWaterBytes_) return true;
  blocked_ = true;
  return false;
}

void RelayedRequest::end() {
  if (!held_ || !responseStarted_) return;
  post(FrontCommand::Kind::kEnd);
  finish();
}

void RelayedRequest::abort() {
  if (!held_) return;
  post(FrontCommand::Kind::kAbort);
  finish();
}

void RelayedRequest::finish() {
  held_ = false;
  observer_ = nullptr;
  // Last: the front may free this object from a later callback (never from inside this call).
  if (finished_) finished_(id_);
}

void RelayedRequest::written(uint64_t bytes) {
  unacked_ -= std::min(bytes, unacked_);
  if (blocked_ && unacked_ <= highWaterBytes_) {
    blocked_ = false;
    if (http::HttpRequestObserver* o = observer()) o->onWritable();
  }
}

void RelayedRequest::gone(http::GoneReason reason) {
  http::HttpRequestObserver* o = observer();
  held_ = false;
  observer_ = nullptr;
  if (o != nullptr) o->onClientGone(reason);
}

}  // namespace isolated::front
