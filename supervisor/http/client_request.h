// What the owner of an HTTP request sees of it: its head, and the calls that take its body and
// send its answer. The connection layer's HttpRequest is one (the request lives on the owner's
// loop); a RelayedRequest (supervisor/front/relayed_request.h) is another, standing on the owner's
// loop for a request whose connection an I/O thread serves.
//
// The contract is HttpRequest's (supervisor/http/http_request.h): lifetime, re-entrancy and the
// meaning of each call are the same for every implementation, so the supervisor does not know
// which one it holds.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace isolated::http {

struct HttpHeader;
class HttpRequestObserver;

class ClientRequest {
 public:
  virtual ~ClientRequest() = default;

  // Unique among the requests of one server (every I/O thread's included), and the same as 16
  // lowercase hex digits.
  virtual uint64_t id() const = 0;
  virtual std::string_view idText() const = 0;
  virtual std::string_view method() const = 0;
  virtual std::string_view target() const = 0;
  // 0 for HTTP/1.0, 1 for HTTP/1.1.
  virtual int versionMinor() const = 0;
  virtual std::span<const HttpHeader> headers() const = 0;
  // The value of the first header named `name` (ASCII case-insensitive); nullopt when absent.
  virtual std::optional<std::string_view> header(std::string_view name) const = 0;
  virtual const sockaddr_storage& peer() const = 0;
  virtual bool hasBody() const = 0;
  virtual std::optional<uint64_t> contentLength() const = 0;
  virtual bool isHead() const = 0;

  virtual void setObserver(HttpRequestObserver* observer) = 0;
  virtual void closeAfterResponse() = 0;
  virtual void grantBody(size_t bytes) = 0;
  virtual void respond(int status, std::span<const HttpHeader> headers, std::string_view body) = 0;
  virtual void startResponse(int status, std::span<const HttpHeader> headers,
                             std::optional<uint64_t> contentLength) = 0;
  virtual bool write(std::string_view data) = 0;
  virtual void end() = 0;
  virtual void abort() = 0;
  virtual bool responseStarted() const = 0;
};

}  // namespace isolated::http
