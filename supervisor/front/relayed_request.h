// A request whose connection an I/O thread serves, as its owner on the main loop holds it: a copy
// of the head, and calls that become FrontCommands to the thread (front_messages.h).
//
// Made on the I/O thread (the head is copied there) and handed to the main loop, which owns it
// from then on; every method runs on the main loop. The ThreadedFront delivers the thread's
// events for it (body, written, gone) to its observer while the owner holds it.
//
// Backpressure: write() counts the bytes sent to the thread and not yet reported taken
// (kWritten); above the connection's high-water mark it returns false, and the observer's
// onWritable() runs once they fall back to it. So response bytes in transit between the loops
// stay bounded by the mark, as they are inside one connection.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "supervisor/front/front_messages.h"
#include "supervisor/front/mailbox.h"
#include "supervisor/http/http_request.h"

namespace isolated::front {

class RelayedRequest final : public http::ClientRequest {
 public:
  // The end of the owner's hold (an answer ended): the front forgets the request.
  using Finished = std::function<void(uint64_t id)>;

  // Copies the head of `request` (on its I/O thread). `commands` is the main loop's outbox to
  // that thread (only used on the main loop).
  RelayedRequest(const http::HttpRequest& request, Outbox<FrontCommand>& commands,
                 size_t highWaterBytes);

  // Set by the front when it adopts the request on the main loop.
  void setFinished(Finished finished) { finished_ = std::move(finished); }

  uint64_t id() const override { return id_; }
  std::string_view idText() const override { return {idText_, sizeof idText_}; }
  std::string_view method() const override { return method_; }
  std::string_view target() const override { return target_; }
  int versionMinor() const override { return versionMinor_; }
  std::span<const http::HttpHeader> headers() const override { return headers_; }
  std::optional<std::string_view> header(std::string_view name) const override;
  const sockaddr_storage& peer() const override { return peer_; }
  bool hasBody() const override { return hasBody_; }
  std::optional<uint64_t> contentLength() const override { return contentLength_; }
  bool isHead() const override { return isHead_; }

  void setObserver(http::HttpRequestObserver* observer) override { observer_ = observer; }
  void closeAfterResponse() override;
  void grantBody(size_t bytes) override;
  void respond(int status, std::span<const http::HttpHeader> headers,
               std::string_view body) override;
  void startResponse(int status, std::span<const http::HttpHeader> headers,
                     std::optional<uint64_t> contentLength) override;
  bool write(std::string_view data) override;
  void end() override;
  void abort() override;
  bool responseStarted() const override { return responseStarted_; }

  // The front's side: the thread's events for this request, while the owner holds it.
  http::HttpRequestObserver* observer() const { return held_ ? observer_ : nullptr; }
  void written(uint64_t bytes);
  // The client is gone: the owner is told (once), and the request is no longer held.
  void gone(http::GoneReason reason);

 private:
  void post(FrontCommand::Kind kind);
  void finish();

  Outbox<FrontCommand>& commands_;
  size_t highWaterBytes_;
  Finished finished_;
  http::HttpRequestObserver* observer_ = nullptr;
  bool held_ = true;
  bool responseStarted_ = false;
  // write() returned false: onWritable() is owed once unacked_ is back at the mark.
  bool blocked_ = false;
  uint64_t unacked_ = 0;

  uint64_t id_;
  char idText_[16];
  int versionMinor_;
  bool hasBody_;
  bool isHead_;
  std::optional<uint64_t> contentLength_;
  sockaddr_storage peer_;
  // Every byte the views point into: method, target, then names and values.
  std::string head_;
  std::string_view method_;
  std::string_view target_;
  std::vector<http::HttpHeader> headers_;
};

}  // namespace isolated::front
