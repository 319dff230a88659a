// One HTTP request as the connection layer hands it to its owner, and the two interfaces the
// owner implements: HttpRequestHandler (new requests) and HttpRequestObserver (a request's
// body, output room and end).
//
// Lifetime: the connection owns every HttpRequest (they are pooled per connection and reused).
// A request is the owner's from onRequest() until the first of:
//   - the owner ends the response (respond(), end() after startResponse(), or abort());
//   - onClientGone() returns (the connection is failing; the request must not be touched).
// Views it returns (method, target, headers) stay valid for as long as the request is the
// owner's. Body data passed to onBodyData() is valid only during that call.
// An answer that starts before the request's body is complete carries Connection: close; once it
// ends, the rest of the body is not read and the connection closes after the answer.
//
// Re-entrancy: the owner may call any method from inside any callback (answering in onRequest is
// the fast path). No method calls back into the owner before it returns: output is written, and
// parsing resumed after grantBody(), from later callbacks of the same loop turn.
//
// Threading: the connection's event-loop thread only, like everything in supervisor/http/.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "supervisor/http/client_request.h"

namespace isolated::http {

class HttpConnection;
class HttpRequest;

struct HttpHeader {
  std::string_view name;
  std::string_view value;
};

// Why a request ended before its owner answered it.
enum class GoneReason {
  kClientClosed,   // EOF or reset from the client, or a write failed
  kBadBody,        // the body's framing was invalid (chunk size, early EOF); 400 was sent
  kBodyTooLarge,   // the de-chunked body passed maxBodyBytes; 413 was sent
  kTimeout,        // the client stalled past bodyTimeoutMs
  kServerClosing,  // the server was destroyed with the request in flight
};
std::string_view goneReasonName(GoneReason reason);
// The value of the first header named `name` (ASCII case-insensitive); nullopt when absent.
std::optional<std::string_view> findHeader(std::span<const HttpHeader> headers,
                                           std::string_view name);

class HttpRequestObserver {
 public:
  virtual ~HttpRequestObserver() = default;
  // Body bytes, never more in total than the credit granted with grantBody().
  virtual void onBodyData(std::string_view data) = 0;
  // The body is complete: once, after the last onBodyData. Never called for a request without a
  // body (hasBody() false); a chunked body may end without any data.
  virtual void onBodyEnd() = 0;
  // Response bytes buffered by write() fell below the high-water mark again.
  virtual void onWritable() {}
  // The request is dead (see GoneReason); the owner must forget it before returning.
  virtual void onClientGone(GoneReason reason) = 0;
};

// A request the layer refuses and answers itself (400, 408, 413, 414, 417, 431, 501, 505), then
// closes the connection.
struct HttpRejection {
  // The answer's status; the handler may replace it with another error status.
  int status;
  // Why, as a short static text ("invalid Host", an llhttp error reason): for logs.
  std::string_view why;
  const sockaddr_storage& peer;
  // Headers for the answer (besides Date, Content-Length and Connection); views must stay valid
  // until onRejected's caller returns (static texts, or storage the handler owns).
  std::vector<HttpHeader> headers;
};

class HttpRequestHandler {
 public:
  virtual ~HttpRequestHandler() = default;
  // A request whose head is complete and valid. Answer it now or later, in any order with
  // respect to other requests of the same connection: the layer sends answers in request order.
  virtual void onRequest(HttpRequest& request) = 0;
  // The layer is about to answer a malformed, oversized or stalled request itself (for logs,
  // and for headers of the owner's on that answer). Must not call into the connection.
  virtual void onRejected(HttpRejection& rejection) { (void)rejection; }
};

class HttpRequest final : public ClientRequest {
 public:
  HttpRequest() = default;
  HttpRequest(const HttpRequest&) = delete;
  HttpRequest& operator=(const HttpRequest&) = delete;

  // A server-wide sequence number, and the same as 16 lowercase hex digits (no formatting call).
  uint64_t id() const override { return id_; }
  std::string_view idText() const override { return {idText_, sizeof idText_}; }
  std::string_view method() const override { return method_; }
  std::string_view target() const override { return target_; }
  // 0 for HTTP/1.0, 1 for HTTP/1.1.
  int versionMinor() const override { return versionMinor_; }
  std::span<const HttpHeader> headers() const override { return headers_; }
  // The value of the first header named `name` (ASCII case-insensitive); nullopt when absent.
  std::optional<std::string_view> header(std::string_view name) const override;
  const sockaddr_storage& peer() const override { return *peer_; }
  // Whether a body follows the head; its length when framed by Content-Length.
  bool hasBody() const override { return hasBody_; }
  std::optional<uint64_t> contentLength() const override { return contentLength_; }
  bool isHead() const override { return isHead_; }

  // Starts or stops delivering body and output events (nullptr: nobody listens). Set it in
  // onRequest or later; body bytes wait in the connection until credit is granted.
  void setObserver(HttpRequestObserver* observer) override { observer_ = observer; }
  // The connection closes after this request's answer (which carries Connection: close). Call it
  // before the answer starts.
  void closeAfterResponse() override { keepAlive_ = false; }
  // Lets `bytes` more body bytes be delivered. The first grant answers `Expect: 100-continue`.
  void grantBody(size_t bytes) override;

  // A whole response. `headers` must not carry framing (Content-Length, Transfer-Encoding) or
  // Connection: the layer writes those. A HEAD request gets the head only.
  void respond(int status, std::span<const HttpHeader> headers, std::string_view body) override;
  // A streamed response: with a Content-Length when `contentLength` is known, otherwise chunked
  // (or, to an HTTP/1.0 client, ended by closing the connection).
  void startResponse(int status, std::span<const HttpHeader> headers,
                     std::optional<uint64_t> contentLength) override;
  // Appends body bytes; false when the connection's output is above the high-water mark (the
  // bytes are kept; wait for onWritable before writing more). Bytes beyond a declared
  // Content-Length are not sent: the response is aborted instead (a wrong length ends the
  // connection, never the framing).
  bool write(std::string_view data) override;
  // Ends a streamed response. The request stops being the owner's. A response shorter than its
  // declared Content-Length is aborted.
  void end() override;
  // Gives up on a response that has started: what is buffered is written, then the connection
  // closes, so the client sees a truncated answer (and later requests on the connection are
  // told kServerClosing). Before the response starts, respond() with an error status instead.
  // The request stops being the owner's.
  void abort() override;
  bool responseStarted() const override { return responseState_ != ResponseState::kNone; }
  // The request is no longer the owner's: its answer ended (the owner's end, or the layer's abort
  // of an answer longer than its Content-Length), or the owner was told it is gone.
  bool released() const { return released_; }

 private:
  friend class HttpConnection;
  enum class ResponseState { kNone, kStreaming, kEnded };
  enum class BodyState { kNone, kReceiving, kDone };
  void reset();

  HttpConnection* connection_ = nullptr;
  HttpRequestObserver* observer_ = nullptr;
  const sockaddr_storage* peer_ = nullptr;
  uint64_t id_ = 0;
  char idText_[16] = {};
  std::string_view method_;
  std::string_view target_;
  int versionMinor_ = 1;
  bool hasBody_ = false;
  bool isHead_ = false;
  bool keepAlive_ = true;
  bool expectContinue_ = false;
  bool continueSent_ = false;
  bool delivered_ = false;  // onRequest ran: the owner holds it
  bool released_ = false;   // the owner let go (ended the response or was told it is gone)
  std::optional<uint64_t> contentLength_;
  std::vector<HttpHeader> headers_;
  // Every byte the views above point into: target, then names and values, copied from the
  // connection's read buffer as the parser reports them (a head may arrive across many reads).
  std::string head_;
  struct FieldSpan {
    uint32_t nameOffset, nameLength, valueOffset, valueLength;
  };
  std::vector<FieldSpan> fields_;
  uint32_t targetLength_ = 0;
  // Body flow.
  BodyState bodyState_ = BodyState::kNone;
  uint64_t credit_ = 0;
  uint64_t bodyReceived_ = 0;
  // Response.
  ResponseState responseState_ = ResponseState::kNone;
  bool chunkedResponse_ = false;
  bool closeDelimited_ = false;
  bool noResponseBody_ = false;
  bool aborted_ = false;
  std::optional<uint64_t> declaredLength_;
  uint64_t bodyWritten_ = 0;
  // Output produced before this request reached the front of the connection's queue.
  std::string pendingOutput_;
};

}  // namespace isolated::http
