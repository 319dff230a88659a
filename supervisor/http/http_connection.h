// One client connection of the HTTP/1.1 layer: reads requests with llhttp (Node's parser, as
// Debian's node-llhttp ships it; see docs/http-layer.md) plus the RFC 9112 checks it lacks, hands
// each to the HttpRequestHandler, streams bodies under the owner's credit, and writes answers in
// request order.
//
// I/O: the socket is registered with epoll once (a persistent read event) and stays registered
// while requests are in flight, so a client that leaves is noticed without a system call per
// request. One read() per readable event into the connection's buffer (4 KiB, growing to
// HttpLimits::readBufferBytes while needed); reading stops only when that buffer is full (pipelined
// requests or body bytes the owner has no credit for) and resumes when there is room. Answers are
// gathered into one output buffer and written with one send per loop turn (a deferred event), or at
// once with writev for large whole bodies; a write event is registered only while the kernel's send
// buffer is full.
//
// Closing: an answer with `Connection: close`, a protocol error (answered 400/413/414/431/...),
// or EOF ends with a lingering close (shutdown, then discard input until EOF or lingerMs) so the
// client reads the answer before any reset.
//
// Lifetime: the HttpServer owns every connection; a connection never deletes itself, it tells
// its context it closed and the server frees it from a later loop callback.
// Threading: the event loop's thread only.
#pragma once

#include <llhttp.h>
#include <sys/socket.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/unique_fd.h"
#include "event/dispatcher.h"
#include "supervisor/http/http_date.h"
#include "supervisor/http/http_limits.h"
#include "supervisor/http/http_request.h"

namespace isolated::http {

class HttpConnection;

// What every connection of one server (one loop thread) shares.
struct ConnectionContext {
  event::Dispatcher& dispatcher;
  const HttpLimits& limits;
  HttpRequestHandler& handler;
  HttpDate date;
  // Request ids: nextRequestId, then every requestIdStride-th (so that the servers of several
  // I/O threads, each started at its own index, never hand out the same id).
  uint64_t nextRequestId = 1;
  uint64_t requestIdStride = 1;
  bool draining = false;
  // The connection closed its socket; free it later (never from inside this call).
  std::function<void(HttpConnection*)> onClosed;
};

class HttpConnection {
 public:
  HttpConnection(ConnectionContext& context, UniqueFd fd, const sockaddr_storage& peer);
  // Tells the owner of every request still held (kServerClosing).
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // The server is draining: close now when idle; otherwise the last answer closes.
  void drain();
  bool closed() const { return !fd_.valid(); }

 private:
  friend class HttpRequest;
  enum class Phase { kIdle, kHead, kBody, kStopped };
  enum class TimerPurpose { kNone, kIdle, kHeader, kBody, kWrite, kLinger };
  enum class Transition { kNone, kHeadersComplete, kMessageComplete };

  // Called through HttpRequest.
  void grant(HttpRequest& request, size_t bytes);
  void startResponse(HttpRequest& request, int status, std::span<const HttpHeader> headers,
                     std::optional<uint64_t> contentLength, const std::string_view* wholeBody);
  bool write(HttpRequest& request, std::string_view data);
  void end(HttpRequest& request);
  void abort(HttpRequest& request);

  void onReadable();
  void parse();
  // Runs the parser over `length` buffered bytes; false when parsing must stop here.
  bool feed(size_t length);
  void headersComplete();
  void messageComplete();
  // A protocol error in the request being parsed: answer `status` (when it can still be
  // answered) and close after the answers before it.
  void fail(int status, GoneReason reason, std::string_view why);
  void onEof();
  // After EOF, once every buffered byte is parsed: no more requests will come.
  void stopIfInputDone();
  // Starts the lingering close when everything queued has been answered and written.
  void maybeFinish();
  // Closes at once: owners of held requests are told `reason`.
  void closeNow(GoneReason reason);
  void startLinger();
  void finishClose();

  HttpRequest* acquireRequest();
  void recycle(HttpRequest* request);
  // Where `request`'s output goes: the socket buffer when it is the first unanswered request.
  std::string& outputFor(HttpRequest& request);
  void appendHead(std::string& out, HttpRequest& request, int status,
                  std::span<const HttpHeader> headers, std::optional<uint64_t> contentLength,
                  bool chunked, bool close);
  void answerInternally(HttpRequest& request, int status);
  // Retires answered requests at the front of the queue, moving the next one's output up.
  void advanceQueue();
  void scheduleFlush();
  void flush();
  void notifyWritable();
  void updateReading();
  void updateTimer();
  void onTimer();

  static int onUrl(llhttp_t* parser, const char* at, size_t length);
  static int onHeaderField(llhttp_t* parser, const char* at, size_t length);
  static int onHeaderValue(llhttp_t* parser, const char* at, size_t length);
  static int onHeadersComplete(llhttp_t* parser);
  int onTrailer(std::string_view bytes, bool isValue);
  static int onBody(llhttp_t* parser, const char* at, size_t length);
  static int onMessageComplete(llhttp_t* parser);
  static const llhttp_settings_t kSettings;

  ConnectionContext& context_;
  UniqueFd fd_;
  sockaddr_storage peer_;
  llhttp_t parser_{};
  // Input: [inPos_, inEnd_) is unparsed; during a head, [headStart_, inPos_) is its raw bytes.
  size_t inLimit_;  // the most the buffer grows to
  std::unique_ptr<char[]> in_;
  size_t inCapacity_;
  size_t inPos_ = 0;
  size_t inEnd_ = 0;
  size_t headStart_ = 0;
  Phase phase_ = Phase::kIdle;
  Transition transition_ = Transition::kNone;
  int errorStatus_ = 0;       // set by a parser callback that refused the input
  std::string_view failWhy_;  // a static text: why the last fail() refused the request
  bool lastWasValue_ = false;
  size_t trailerBytes_ = 0;      // of the current chunked body's trailer section
  size_t trailerNameBytes_ = 0;  // of the trailer field being read
  bool parsing_ = false;
  bool inputClosed_ = false;      // EOF read
  bool closeAfterQueue_ = false;  // close once every queued answer is written
  bool lingering_ = false;
  bool flushScheduled_ = false;
  bool writeBlocked_ = false;
  bool readPaused_ = false;
  bool aboveHighWater_ = false;
  // An aborted answer reached the front: close as soon as what precedes it is written.
  bool closeAfterFlush_ = false;
  // The request whose head or body the parser is in (also after its owner let go of it).
  HttpRequest* current_ = nullptr;
  // Requests in order, answered or not; the front's output goes to out_.
  std::vector<HttpRequest*> queue_;
  std::vector<std::unique_ptr<HttpRequest>> requests_;
  std::vector<HttpRequest*> free_;
  std::string out_;
  size_t outSent_ = 0;
  TimerPurpose timerPurpose_ = TimerPurpose::kNone;
  // Declared last: destroyed first, so no callback runs into a half-destroyed connection.
  event::Timer timer_;
  event::FileEvent readEvent_;
  event::FileEvent writeEvent_;
  // Parsing resumed after grantBody(), outside the owner's call.
  event::Deferred resumeParsing_;
};

}  // namespace isolated::http
