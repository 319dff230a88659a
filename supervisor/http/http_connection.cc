// One HTTP/1.1 client connection: see http_connection.h.
#include "supervisor/http/http_connection.h"

#include <netinet/in.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "supervisor/http/request_checks.h"
#include "supervisor/http/status_text.h"

namespace isolated::http {
namespace {

// Whole bodies at least this large are written with writev from the owner's memory instead of
// being copied into the output buffer first (when nothing else waits to be written).
constexpr size_t kDirectWriteBytes = 16u << 10;
// A connection's read buffer starts this small and grows, by doubling, to the configured size
// only while a large head, pipelined requests or body bytes need the room; it shrinks back when
// the connection is idle, so idle keep-alive connections cost little memory.
constexpr size_t kInitialReadBytes = 4096;
// An output buffer that grew past this for a large answer is released once it is written.
constexpr size_t kKeptOutputBytes = 64u << 10;

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if ((a[i] | 0x20) != (b[i] | 0x20)) return false;
  }
  return true;
}

// A header the layer writes itself (framing and connection management) or one whose bytes
// could split the response.
bool ownerMayNotSend(const HttpHeader& h) {
  if (std::memchr(h.name.data(), '\r', h.name.size()) ||
      std::memchr(h.name.data(), '\n', h.name.size()) ||
      std::memchr(h.value.data(), '\r', h.value.size()) ||
      std::memchr(h.value.data(), '\n', h.value.size()) || h.name.empty()) {
    return true;
  }
  switch (h.name.size()) {
    case 10:
      return equalsIgnoreCase(h.name, "connection") || equalsIgnoreCase(h.name, "keep-alive");
    case 14:
      return equalsIgnoreCase(h.name, "content-length");
    case 17:
      return equalsIgnoreCase(h.name, "transfer-encoding");
    default:
      return false;
  }
}

void appendDecimal(std::string& out, uint64_t value) {
  char digits[20];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value);
  out.append(digits, end);
}

void appendHex(std::string& out, uint64_t value) {
  char digits[16];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value, 16);
  out.append(digits, end);
}

bool statusHasNoBody(int status) {
  return status == 204 || status == 304 || status < 200;
}

}  // namespace

const llhttp_settings_t HttpConnection::kSettings = [] {
  llhttp_settings_t s;
  llhttp_settings_init(&s);
  s.on_url = &HttpConnection::onUrl;
  s.on_header_field = &HttpConnection::onHeaderField;
  s.on_header_value = &HttpConnection::onHeaderValue;
  s.on_headers_complete = &HttpConnection::onHeadersComplete;
  s.on_body = &HttpConnection::onBody;
  s.on_message_complete = &HttpConnection::onMessageComplete;
  return s;
}();

HttpConnection::HttpConnection(ConnectionContext& context, UniqueFd fd,
                               const sockaddr_storage& peer)
    : context_(context),
      fd_(std::move(fd)),
      peer_(peer),
      inLimit_(std::max(context.limits.readBufferBytes, context.limits.maxHeaderBytes + 1)),
      in_(new char[std::min(kInitialReadBytes, inLimit_)]),
      inCapacity_(std::min(kInitialReadBytes, inLimit_)),
      timer_(context.dispatcher, [this] { onTimer(); }),
      readEvent_(context.dispatcher, fd_.get(), EV_READ, false, [this](short) { onReadable(); }),
      writeEvent_(
          context.dispatcher, fd_.get(), EV_WRITE, false, [this](short) { flush(); }, false),
      resumeParsing_(context.dispatcher, [this] { parse(); }) {
  llhttp_init(&parser_, HTTP_REQUEST, &kSettings);
  parser_.data = this;
  // From accept to the end of the first head counts as header time (a client that connects and
  // sends nothing is a slow client too); later waits between requests are idle time.
  timerPurpose_ = TimerPurpose::kHeader;
  timer_.arm(context_.limits.headerTimeoutMs);
}

HttpConnection::~HttpConnection() {
  if (fd_.valid()) closeNow(GoneReason::kServerClosing);
}

void HttpConnection::drain() {
  if (closed() || lingering_) return;
  if (queue_.empty() && phase_ == Phase::kIdle && inPos_ == inEnd_) {
    closeNow(GoneReason::kServerClosing);
    return;
  }
  // Answers already made keep their headers; the last one parsed closes the connection.
  closeAfterQueue_ = true;
  if (phase_ == Phase::kIdle) phase_ = Phase::kStopped;
  maybeFinish();
}

// ---- requests -------------------------------------------------------------------------------

HttpRequest* HttpConnection::acquireRequest() {
  HttpRequest* r;
  if (!free_.empty()) {
    r = free_.back();
    free_.pop_back();
  } else {
    requests_.push_back(std::make_unique<HttpRequest>());
    r = requests_.back().get();
  }
  r->reset();
  r->connection_ = this;
  r->peer_ = &peer_;
  r->id_ = context_.nextRequestId;
  context_.nextRequestId += context_.requestIdStride;
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 15, shift = 0; i >= 0; --i, shift += 4)
    r->idText_[i] = kHex[(r->id_ >> shift) & 15];
  return r;
}

void HttpConnection::recycle(HttpRequest* request) {
  if (request->pendingOutput_.capacity() > kKeptOutputBytes) {
    request->pendingOutput_.clear();
    request->pendingOutput_.shrink_to_fit();
  }
  request->connection_ = nullptr;
  request->observer_ = nullptr;
  free_.push_back(request);
}

// ---- reading and parsing --------------------------------------------------------------------

void HttpConnection::onReadable() {
  if (lingering_) {
    char discard[4096];
    ssize_t n = ::read(fd_.get(), discard, sizeof discard);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) finishClose();
    return;
  }
  // Room at the end: move the unparsed bytes (and a head's raw bytes) to the front.
  size_t keepFrom = phase_ == Phase::kHead ? headStart_ : inPos_;
  if (inEnd_ == inCapacity_ && keepFrom > 0) {
    std::memmove(in_.get(), in_.get() + keepFrom, inEnd_ - keepFrom);
    inEnd_ -= keepFrom;
    inPos_ -= keepFrom;
    headStart_ -= std::min(headStart_, keepFrom);
  }
  if (inEnd_ == inCapacity_ && inCapacity_ < inLimit_) {
    // The parser keeps no pointer into the buffer between calls, so it may move.
    size_t grown = std::min(inCapacity_ * 2, inLimit_);
    std::unique_ptr<char[]> bigger(new char[grown]);
    std::memcpy(bigger.get(), in_.get(), inEnd_);
    in_ = std::move(bigger);
    inCapacity_ = grown;
  }
  if (inEnd_ == inCapacity_) {
    updateReading();
    return;
  }
  ssize_t n = ::read(fd_.get(), in_.get() + inEnd_, inCapacity_ - inEnd_);
  if (n > 0) {
    inEnd_ += static_cast<size_t>(n);
    parse();
  } else if (n == 0) {
    onEof();
  } else if (errno != EAGAIN && errno != EINTR) {
    closeNow(GoneReason::kClientClosed);
  }
}

void HttpConnection::parse() {
  if (parsing_ || closed()) return;
  parsing_ = true;
  while (!closed() && !lingering_) {
    size_t available = inEnd_ - inPos_;
    if (phase_ == Phase::kStopped) break;
    if (phase_ == Phase::kBody) {
      HttpRequest& r = *current_;
      size_t length = r.released_ ? available : std::min<uint64_t>(available, r.credit_);
      if (length == 0 || !feed(length)) break;
      continue;
    }
    if (available == 0) break;
    if (phase_ == Phase::kIdle) {
      if (queue_.size() >= context_.limits.maxPipelined) break;
      phase_ = Phase::kHead;
      headStart_ = inPos_;
      current_ = acquireRequest();
      queue_.push_back(current_);
    }
    if (!feed(available)) break;
    if (phase_ == Phase::kHead) {
      // The whole input was taken and the head is still incomplete.
      std::string_view raw(in_.get() + headStart_, inEnd_ - headStart_);
      if (raw.size() > context_.limits.maxHeaderBytes) {
        fail(431, GoneReason::kBadBody, "request head too large");
      } else if (isHttp09RequestLine(raw)) {
        fail(400, GoneReason::kBadBody, "HTTP/0.9 request");
      }
      break;
    }
  }
  parsing_ = false;
  if (closed() || lingering_) return;
  stopIfInputDone();
  if (phase_ == Phase::kIdle && inPos_ == inEnd_) {
    inPos_ = inEnd_ = headStart_ = 0;
    if (inCapacity_ > kInitialReadBytes) {
      in_.reset(new char[kInitialReadBytes]);
      inCapacity_ = kInitialReadBytes;
    }
  }
  updateReading();
  updateTimer();
}

bool HttpConnection::feed(size_t length) {
  const char* start = in_.get() + inPos_;
  llhttp_errno_t err = llhttp_execute(&parser_, start, length);
  size_t used =
      err == HPE_OK ? length : static_cast<size_t>(llhttp_get_error_pos(&parser_) - start);
  inPos_ += used;
  if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
    // An Upgrade request is served as plain HTTP (the upgrade is the owner's to refuse): the
    // parser goes on with the next request.
    err == HPE_PAUSED ? llhttp_resume(&parser_) : llhttp_resume_after_upgrade(&parser_);
    Transition t = std::exchange(transition_, Transition::kNone);
    if (t == Transition::kHeadersComplete) {
      headersComplete();
      if (closed() || phase_ == Phase::kStopped) return false;
      if (current_ && !current_->hasBody_) {
        // A bodyless message completes on the parser's next step, which needs no input.
        err = llhttp_execute(&parser_, in_.get() + inPos_, 0);
        if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
          err == HPE_PAUSED ? llhttp_resume(&parser_) : llhttp_resume_after_upgrade(&parser_);
          if (std::exchange(transition_, Transition::kNone) == Transition::kMessageComplete) {
            messageComplete();
          }
        }
      }
    } else if (t == Transition::kMessageComplete) {
      messageComplete();
    }
    return !closed();
  }
  if (err != HPE_OK) {
    int status = errorStatus_ ? errorStatus_ : 400;
    fail(status, status == 413 ? GoneReason::kBodyTooLarge : GoneReason::kBadBody,
         llhttp_get_error_reason(&parser_));
    return false;
  }
  return used > 0;
}

void HttpConnection::headersComplete() {
  HttpRequest& r = *current_;
  std::string_view raw(in_.get() + headStart_, inPos_ - headStart_);
  if (raw.size() > context_.limits.maxHeaderBytes) {
    fail(431, GoneReason::kBadBody, "request head too large");
    return;
  }
  if (parser_.http_major != 1 || parser_.http_minor > 1) {
    fail(parser_.http_major == 0 ? 400 : 505, GoneReason::kBadBody, "unsupported HTTP version");
    return;
  }
  // llhttp ends a head at "\r\n\r" without its LF; a complete head ends with one.
  if (!raw.ends_with('\n') || !headLinesValid(raw)) {
    fail(400, GoneReason::kBadBody, "malformed line in the request head");
    return;
  }
  r.versionMinor_ = parser_.http_minor >= 1 ? 1 : 0;
  r.method_ = llhttp_method_name(static_cast<llhttp_method_t>(parser_.method));
  r.isHead_ = parser_.method == HTTP_HEAD;
  r.target_ = std::string_view(r.head_.data(), r.targetLength_);
  r.headers_.clear();
  int hosts = 0, transferEncodings = 0;
  bool chunkedOnly = true;
  for (const HttpRequest::FieldSpan& f : r.fields_) {
    HttpHeader h{std::string_view(r.head_.data() + f.nameOffset, f.nameLength),
                 std::string_view(r.head_.data() + f.valueOffset, f.valueLength)};
    if (!isToken(h.name)) {
      fail(400, GoneReason::kBadBody, "invalid header name");
      return;
    }
    // http-parser keeps trailing whitespace of a value; RFC 9110 excludes it from the value.
    while (!h.value.empty() && (h.value.back() == ' ' || h.value.back() == '\t')) {
      h.value.remove_suffix(1);
    }
    if (!isFieldValue(h.value)) {
      fail(400, GoneReason::kBadBody, "invalid header value");
      return;
    }
    if (h.name.size() == 4 && equalsIgnoreCase(h.name, "host")) {
      ++hosts;
      if (!isValidHost(h.value)) {
        fail(400, GoneReason::kBadBody, "invalid Host");
        return;
      }
    } else if (h.name.size() == 17 && equalsIgnoreCase(h.name, "transfer-encoding")) {
      ++transferEncodings;
      chunkedOnly = chunkedOnly && isChunkedOnly(h.value);
    } else if (h.name.size() == 6 && equalsIgnoreCase(h.name, "expect")) {
      if (!equalsIgnoreCase(h.value, "100-continue")) {
        fail(417, GoneReason::kBadBody, "unknown expectation");
        return;
      }
      r.expectContinue_ = r.versionMinor_ == 1;
    }
    r.headers_.push_back(h);
  }
  if (hosts > 1 || (hosts == 0 && r.versionMinor_ == 1) ||
      (transferEncodings > 0 && (transferEncodings > 1 || !chunkedOnly || r.versionMinor_ == 0))) {
    fail(400, GoneReason::kBadBody,
         hosts != 1 && r.versionMinor_ == 1 ? "missing or repeated Host" : "invalid framing");
    return;
  }
  if (parser_.method == HTTP_CONNECT) {
    fail(501, GoneReason::kBadBody, "CONNECT");
    return;
  }
  if (!isValidTarget(r.target_, parser_.method == HTTP_OPTIONS)) {
    fail(400, GoneReason::kBadBody, "invalid request-target");
    return;
  }
  bool chunked = (parser_.flags & F_CHUNKED) != 0;
  if (!chunked && (parser_.flags & F_CONTENT_LENGTH) != 0)
    r.contentLength_ = parser_.content_length;
  r.hasBody_ = chunked || (r.contentLength_ && *r.contentLength_ > 0);
  if (r.contentLength_ && context_.limits.maxBodyBytes &&
      *r.contentLength_ > context_.limits.maxBodyBytes) {
    fail(413, GoneReason::kBodyTooLarge, "Content-Length over the limit");
    return;
  }
  r.keepAlive_ = llhttp_should_keep_alive(&parser_) != 0;
  r.bodyState_ = r.hasBody_ ? HttpRequest::BodyState::kReceiving : HttpRequest::BodyState::kDone;
  if (!r.keepAlive_) closeAfterQueue_ = true;
  phase_ = Phase::kBody;
  r.delivered_ = true;
  context_.handler.onRequest(r);
}

void HttpConnection::messageComplete() {
  HttpRequest* r = current_;
  current_ = nullptr;
  phase_ = closeAfterQueue_ || context_.draining ? Phase::kStopped : Phase::kIdle;
  if (context_.draining) closeAfterQueue_ = true;
  bool wasReceiving = r->bodyState_ == HttpRequest::BodyState::kReceiving;
  r->bodyState_ = HttpRequest::BodyState::kDone;
  if (wasReceiving && !r->released_ && r->observer_) r->observer_->onBodyEnd();
  // Answered before its message ended (the fast path: answered inside onRequest), it left the
  // queue while still the parser's: back to the pool now.
  if (std::find(queue_.begin(), queue_.end(), r) == queue_.end()) recycle(r);
  advanceQueue();
  maybeFinish();
}

void HttpConnection::fail(int status, GoneReason reason, std::string_view why) {
  HttpRequest* r = current_;
  failWhy_ = why;
  phase_ = Phase::kStopped;
  closeAfterQueue_ = true;
  current_ = nullptr;
  if (r) {
    if (r->delivered_ && !r->released_) {
      r->released_ = true;
      if (r->observer_) r->observer_->onClientGone(reason);
    }
    if (r->responseState_ == HttpRequest::ResponseState::kStreaming) {
      // Its answer can not be finished: the client sees the connection end mid-response.
      closeNow(reason);
      return;
    }
    if (r->responseState_ == HttpRequest::ResponseState::kNone) answerInternally(*r, status);
  }
  advanceQueue();
  scheduleFlush();
}

void HttpConnection::onEof() {
  inputClosed_ = true;
  readEvent_.disable();
  if (phase_ == Phase::kBody && current_ &&
      current_->bodyState_ == HttpRequest::BodyState::kReceiving && inPos_ == inEnd_) {
    // The body can never be completed.
    closeNow(GoneReason::kClientClosed);
    return;
  }
  // A client that sent one request and closed is gone; one that pipelined several and then
  // half-closed its side still gets every answer (as with the evhttp front, see BodyTap).
  if (queue_.size() == 1 && !queue_.front()->released_ && inPos_ == inEnd_ &&
      phase_ != Phase::kHead) {
    closeNow(GoneReason::kClientClosed);
    return;
  }
  stopIfInputDone();
  advanceQueue();
  scheduleFlush();
}

void HttpConnection::stopIfInputDone() {
  if (!inputClosed_ || inPos_ != inEnd_ || closed()) return;
  if (phase_ == Phase::kHead) {
    // A partial head at EOF: nobody to answer.
    HttpRequest* r = std::exchange(current_, nullptr);
    queue_.erase(std::find(queue_.begin(), queue_.end(), r));
    recycle(r);
    phase_ = Phase::kStopped;
  } else if (phase_ == Phase::kIdle) {
    phase_ = Phase::kStopped;
  }
  closeAfterQueue_ = true;
}

void HttpConnection::maybeFinish() {
  if (closed() || lingering_) return;
  if (queue_.empty() && outSent_ == out_.size() && closeAfterQueue_ && phase_ == Phase::kStopped) {
    startLinger();
  }
}

// ---- answering ------------------------------------------------------------------------------

std::string& HttpConnection::outputFor(HttpRequest& request) {
  return !queue_.empty() && queue_.front() == &request ? out_ : request.pendingOutput_;
}

void HttpConnection::appendHead(std::string& out, HttpRequest& request, int status,
                                std::span<const HttpHeader> headers,
                                std::optional<uint64_t> contentLength, bool chunked, bool close) {
  out.append("HTTP/1.1 ");
  appendDecimal(out, static_cast<uint64_t>(status));
  out.push_back(' ');
  out.append(statusText(status));
  out.append("\r\n");
  bool ownDate = false;
  // The owner's spelling of Content-Length is kept when it passed one (its value never is).
  std::string_view lengthName = "Content-Length";
  for (const HttpHeader& h : headers) {
    if (ownerMayNotSend(h)) {
      if (h.name.size() == 14 && equalsIgnoreCase(h.name, "content-length")) lengthName = h.name;
      continue;
    }
    if (h.name.size() == 4 && equalsIgnoreCase(h.name, "date")) ownDate = true;
    out.append(h.name);
    out.append(": ");
    out.append(h.value);
    out.append("\r\n");
  }
  if (!ownDate) {
    out.append("Date: ");
    out.append(context_.date.at(context_.dispatcher.nowSeconds()));
    out.append("\r\n");
  }
  if (contentLength) {
    out.append(lengthName);
    out.append(": ");
    appendDecimal(out, *contentLength);
    out.append("\r\n");
  } else if (chunked) {
    out.append("Transfer-Encoding: chunked\r\n");
  }
  if (close) {
    out.append("Connection: close\r\n");
  } else if (request.versionMinor_ == 0) {
    out.append("Connection: keep-alive\r\n");
  }
  out.append("\r\n");
}

void HttpConnection::startResponse(HttpRequest& r, int status, std::span<const HttpHeader> headers,
                                   std::optional<uint64_t> contentLength,
                                   const std::string_view* wholeBody) {
  if (r.released_ || r.responseState_ != HttpRequest::ResponseState::kNone || closed()) return;
  bool noBody = statusHasNoBody(status);
  bool bodyIncomplete = r.bodyState_ != HttpRequest::BodyState::kDone;
  if (wholeBody) contentLength = wholeBody->size();
  if (noBody) contentLength.reset();
  bool chunked = !noBody && !contentLength && r.versionMinor_ == 1;
  r.closeDelimited_ = !noBody && !contentLength && r.versionMinor_ == 0 && !r.isHead_;
  bool last = !queue_.empty() && queue_.back() == &r && phase_ != Phase::kHead;
  bool close = r.closeDelimited_ || bodyIncomplete || !r.keepAlive_ || (closeAfterQueue_ && last) ||
               (context_.draining && last);
  if (close) {
    closeAfterQueue_ = true;
    if (phase_ == Phase::kIdle) phase_ = Phase::kStopped;
  }
  r.noResponseBody_ = noBody || r.isHead_;
  r.chunkedResponse_ = chunked && !r.noResponseBody_;
  if (!wholeBody) r.declaredLength_ = contentLength;
  r.responseState_ = HttpRequest::ResponseState::kStreaming;
  std::string& out = outputFor(r);
  appendHead(out, r, status, headers, r.isHead_ && chunked ? std::nullopt : contentLength,
             chunked && !noBody, close);
  if (!wholeBody) {
    scheduleFlush();
    return;
  }
  if (!r.noResponseBody_) {
    if (&out == &out_ && outSent_ == 0 && wholeBody->size() >= kDirectWriteBytes &&
        !writeBlocked_) {
      iovec iov[2] = {{out_.data(), out_.size()},
                      {const_cast<char*>(wholeBody->data()), wholeBody->size()}};
      msghdr msg{};
      msg.msg_iov = iov;
      msg.msg_iovlen = 2;
      ssize_t n = ::sendmsg(fd_.get(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
      size_t sent = n > 0 ? static_cast<size_t>(n) : 0;
      if (sent >= out_.size()) {
        size_t bodySent = sent - out_.size();
        out_.clear();
        out_.append(wholeBody->substr(bodySent));
      } else {
        out_.append(*wholeBody);
        outSent_ = sent;
      }
    } else {
      out.append(*wholeBody);
    }
  }
  end(r);
}

bool HttpConnection::write(HttpRequest& r, std::string_view data) {
  if (r.released_ || r.responseState_ != HttpRequest::ResponseState::kStreaming || closed()) {
    return false;
  }
  std::string& out = outputFor(r);
  bool tooLong = false;
  if (!r.noResponseBody_ && r.declaredLength_ &&
      r.bodyWritten_ + data.size() > *r.declaredLength_) {
    data = data.substr(0, *r.declaredLength_ - r.bodyWritten_);
    tooLong = true;
  }
  r.bodyWritten_ += data.size();
  if (!r.noResponseBody_ && !data.empty()) {
    if (r.chunkedResponse_) {
      appendHex(out, data.size());
      out.append("\r\n");
      out.append(data);
      out.append("\r\n");
    } else {
      out.append(data);
    }
  }
  if (tooLong) {
    abort(r);
    return false;
  }
  scheduleFlush();
  size_t buffered = &out == &out_ ? out_.size() - outSent_ : out.size();
  if (buffered > context_.limits.outputHighWaterBytes) {
    aboveHighWater_ = true;
    return false;
  }
  return true;
}

void HttpConnection::end(HttpRequest& r) {
  if (r.released_ || r.responseState_ != HttpRequest::ResponseState::kStreaming || closed()) return;
  if (!r.noResponseBody_ && r.declaredLength_ && r.bodyWritten_ != *r.declaredLength_) {
    abort(r);
    return;
  }
  if (r.chunkedResponse_) outputFor(r).append("0\r\n\r\n");
  r.responseState_ = HttpRequest::ResponseState::kEnded;
  r.released_ = true;
  r.observer_ = nullptr;
  if (r.closeDelimited_) closeAfterQueue_ = true;
  if (&r == current_ && r.bodyState_ == HttpRequest::BodyState::kReceiving) {
    // Answered before its body ended (the head said Connection: close): the rest of the body
    // is not parsed; the lingering close discards it.
    current_ = nullptr;
    phase_ = Phase::kStopped;
    closeAfterQueue_ = true;
  }
  advanceQueue();
  scheduleFlush();
}

void HttpConnection::abort(HttpRequest& r) {
  if (r.released_ || r.responseState_ != HttpRequest::ResponseState::kStreaming || closed()) return;
  r.aborted_ = true;
  r.responseState_ = HttpRequest::ResponseState::kEnded;
  r.released_ = true;
  r.observer_ = nullptr;
  if (&r == current_) current_ = nullptr;
  phase_ = Phase::kStopped;
  closeAfterQueue_ = true;
  advanceQueue();
  scheduleFlush();
}

void HttpConnection::answerInternally(HttpRequest& r, int status) {
  r.released_ = true;
  r.observer_ = nullptr;
  r.bodyState_ = HttpRequest::BodyState::kDone;
  r.keepAlive_ = false;
  r.responseState_ = HttpRequest::ResponseState::kStreaming;
  HttpRejection rejection{status, failWhy_, peer_, {}};
  context_.handler.onRejected(rejection);
  status = rejection.status;
  std::string_view text = statusText(status);
  std::string& out = outputFor(r);
  appendHead(out, r, status, rejection.headers, text.size() + 1, false, true);
  out.append(text);
  out.push_back('\n');
  r.responseState_ = HttpRequest::ResponseState::kEnded;
}

void HttpConnection::advanceQueue() {
  while (!queue_.empty()) {
    HttpRequest* front = queue_.front();
    if (front->responseState_ != HttpRequest::ResponseState::kEnded) break;
    queue_.erase(queue_.begin());
    if (front != current_) recycle(front);
    if (front->aborted_) {
      // Nothing after a truncated answer can be framed: close once it is written.
      closeAfterFlush_ = true;
      break;
    }
    if (!queue_.empty()) {
      HttpRequest* next = queue_.front();
      out_.append(next->pendingOutput_);
      next->pendingOutput_.clear();
    }
  }
}

void HttpConnection::scheduleFlush() {
  if (flushScheduled_ || writeBlocked_ || closed() || lingering_) return;
  flushScheduled_ = true;
  writeEvent_.activate(EV_WRITE);
}

void HttpConnection::flush() {
  flushScheduled_ = false;
  if (closed() || lingering_) return;
  if (outSent_ < out_.size()) {
    ssize_t n = ::send(fd_.get(), out_.data() + outSent_, out_.size() - outSent_,
                       MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      closeNow(GoneReason::kClientClosed);
      return;
    }
    if (n > 0) {
      outSent_ += static_cast<size_t>(n);
      if (writeBlocked_) timer_.arm(context_.limits.bodyTimeoutMs);  // progress
    }
  }
  if (outSent_ == out_.size()) {
    out_.clear();
    if (out_.capacity() > kKeptOutputBytes) out_.shrink_to_fit();
    outSent_ = 0;
    if (writeBlocked_) {
      writeBlocked_ = false;
      writeEvent_.disable();
    }
  } else if (!writeBlocked_) {
    writeBlocked_ = true;
    writeEvent_.enable();
  }
  if (closeAfterFlush_ && outSent_ == out_.size()) {
    closeNow(GoneReason::kServerClosing);
    return;
  }
  notifyWritable();
  maybeFinish();
  if (closed() || lingering_) return;
  // Answers retired: pipelined input may be parsed again.
  if (inPos_ < inEnd_ && !parsing_) parse();
  updateTimer();
}

void HttpConnection::notifyWritable() {
  if (!aboveHighWater_ || out_.size() - outSent_ > context_.limits.outputHighWaterBytes) return;
  aboveHighWater_ = false;
  // Only the front request writes to the socket buffer; later ones are told when they move up.
  for (HttpRequest* r : queue_) {
    if (!r->released_ && r->observer_ &&
        r->responseState_ == HttpRequest::ResponseState::kStreaming) {
      r->observer_->onWritable();
      if (closed()) return;
    }
  }
}

void HttpConnection::grant(HttpRequest& r, size_t bytes) {
  if (r.released_ || closed()) return;
  r.credit_ += bytes;
  if (r.expectContinue_ && !r.continueSent_ &&
      r.responseState_ == HttpRequest::ResponseState::kNone &&
      r.bodyState_ == HttpRequest::BodyState::kReceiving) {
    r.continueSent_ = true;
    outputFor(r).append("HTTP/1.1 100 Continue\r\n\r\n");
    scheduleFlush();
  }
  if (&r == current_ && phase_ == Phase::kBody) resumeParsing_.schedule();
}

// ---- closing --------------------------------------------------------------------------------

void HttpConnection::closeNow(GoneReason reason) {
  if (closed()) return;
  // Tell every owner first; none may call back into a closed connection after this.
  std::vector<HttpRequest*> held;
  for (HttpRequest* r : queue_) {
    if (r->delivered_ && !r->released_) held.push_back(r);
  }
  if (current_ && current_->delivered_ && !current_->released_ &&
      std::find(held.begin(), held.end(), current_) == held.end()) {
    held.push_back(current_);
  }
  for (HttpRequest* r : held) {
    r->released_ = true;
    HttpRequestObserver* observer = std::exchange(r->observer_, nullptr);
    if (observer) observer->onClientGone(reason);
  }
  finishClose();
}

void HttpConnection::startLinger() {
  if (lingering_ || closed()) return;
  lingering_ = true;
  if (inputClosed_) {
    finishClose();
    return;
  }
  ::shutdown(fd_.get(), SHUT_WR);
  readEvent_.enable();
  timerPurpose_ = TimerPurpose::kLinger;
  timer_.arm(context_.limits.lingerMs);
}

void HttpConnection::finishClose() {
  if (closed()) return;
  timer_.cancel();
  readEvent_.disable();
  writeEvent_.disable();
  fd_.reset();
  queue_.clear();
  current_ = nullptr;
  context_.onClosed(this);
}

// ---- flow control and timers ----------------------------------------------------------------

void HttpConnection::updateReading() {
  if (closed() || lingering_ || inputClosed_) return;
  size_t keepFrom = phase_ == Phase::kHead ? headStart_ : inPos_;
  bool full = inEnd_ == inCapacity_ && inCapacity_ == inLimit_ && keepFrom == 0;
  if (full && !readPaused_) {
    readPaused_ = true;
    readEvent_.disable();
  } else if (!full && readPaused_) {
    readPaused_ = false;
    readEvent_.enable();
    // Bytes may have arrived while paused; level-triggered, so the loop reports them.
  }
}

void HttpConnection::updateTimer() {
  if (closed() || lingering_) return;
  TimerPurpose want = TimerPurpose::kNone;
  if (writeBlocked_) {
    want = TimerPurpose::kWrite;
  } else if (phase_ == Phase::kHead) {
    want = TimerPurpose::kHeader;
  } else if (phase_ == Phase::kBody && current_ && current_->credit_ > 0 && inPos_ == inEnd_) {
    want = TimerPurpose::kBody;
  } else if ((phase_ == Phase::kIdle || phase_ == Phase::kStopped) && queue_.empty() &&
             out_.empty()) {
    want = TimerPurpose::kIdle;
  }
  // The header timer runs from a head's first byte; the others restart on progress.
  if (want == timerPurpose_ && want != TimerPurpose::kBody) return;
  timerPurpose_ = want;
  switch (want) {
    case TimerPurpose::kNone:
      timer_.cancel();
      break;
    case TimerPurpose::kIdle:
      timer_.arm(context_.limits.idleTimeoutMs);
      break;
    case TimerPurpose::kHeader:
      timer_.arm(context_.limits.headerTimeoutMs);
      break;
    case TimerPurpose::kBody:
    case TimerPurpose::kWrite:
      timer_.arm(context_.limits.bodyTimeoutMs);
      break;
    case TimerPurpose::kLinger:
      break;
  }
}

void HttpConnection::onTimer() {
  switch (std::exchange(timerPurpose_, TimerPurpose::kNone)) {
    case TimerPurpose::kIdle:
      closeNow(GoneReason::kTimeout);
      break;
    case TimerPurpose::kHeader:
      fail(408, GoneReason::kTimeout, "timed out");
      break;
    case TimerPurpose::kBody:
      fail(408, GoneReason::kTimeout, "timed out");
      break;
    case TimerPurpose::kWrite:
      closeNow(GoneReason::kTimeout);
      break;
    case TimerPurpose::kLinger:
      finishClose();
      break;
    case TimerPurpose::kNone:
      break;
  }
}

// ---- http-parser callbacks ------------------------------------------------------------------

int HttpConnection::onUrl(llhttp_t* parser, const char* at, size_t length) {
  auto* self = static_cast<HttpConnection*>(parser->data);
  HttpRequest& r = *self->current_;
  r.targetLength_ += static_cast<uint32_t>(length);
  if (r.targetLength_ > self->context_.limits.maxTargetBytes) {
    self->errorStatus_ = 414;
    return -1;
  }
  r.head_.append(at, length);
  return 0;
}

int HttpConnection::onHeaderField(llhttp_t* parser, const char* at, size_t length) {
  auto* self = static_cast<HttpConnection*>(parser->data);
  if (self->phase_ == Phase::kBody) return self->onTrailer(std::string_view(at, length), false);
  HttpRequest& r = *self->current_;
  if (r.fields_.empty() || self->lastWasValue_) {
    if (r.fields_.size() >= self->context_.limits.maxHeaderCount) {
      self->errorStatus_ = 431;
      return -1;
    }
    auto offset = static_cast<uint32_t>(r.head_.size());
    r.fields_.push_back({offset, 0, offset, 0});
    self->lastWasValue_ = false;
  }
  r.fields_.back().nameLength += static_cast<uint32_t>(length);
  r.head_.append(at, length);
  return 0;
}

int HttpConnection::onHeaderValue(llhttp_t* parser, const char* at, size_t length) {
  auto* self = static_cast<HttpConnection*>(parser->data);
  if (self->phase_ == Phase::kBody) return self->onTrailer(std::string_view(at, length), true);
  HttpRequest& r = *self->current_;
  HttpRequest::FieldSpan& f = r.fields_.back();
  if (!self->lastWasValue_) {
    f.valueOffset = static_cast<uint32_t>(r.head_.size());
    self->lastWasValue_ = true;
  }
  f.valueLength += static_cast<uint32_t>(length);
  r.head_.append(at, length);
  return 0;
}

int HttpConnection::onTrailer(std::string_view bytes, bool isValue) {
  // Trailer fields of a chunked body are checked like header fields and then dropped: the head
  // the owner holds views into must not grow. (A span cut at the end of the input arrives in
  // pieces, some of them empty.)
  if (bytes.empty()) return 0;
  trailerBytes_ += bytes.size();
  if (trailerBytes_ > context_.limits.maxHeaderBytes) {
    errorStatus_ = 431;
    return -1;
  }
  if (!isValue) {
    if (lastWasValue_) trailerNameBytes_ = 0;
    lastWasValue_ = false;
    trailerNameBytes_ += bytes.size();
    if (!isToken(bytes)) errorStatus_ = 400;
  } else {
    if (!lastWasValue_ && trailerNameBytes_ == 0) errorStatus_ = 400;  // ": value"
    lastWasValue_ = true;
    if (!isFieldValue(bytes)) errorStatus_ = 400;
  }
  return errorStatus_ ? -1 : 0;
}

int HttpConnection::onHeadersComplete(llhttp_t* parser) {
  auto* self = static_cast<HttpConnection*>(parser->data);
  self->lastWasValue_ = false;
  self->trailerBytes_ = self->trailerNameBytes_ = 0;
  self->transition_ = Transition::kHeadersComplete;
  return HPE_PAUSED;
}

int HttpConnection::onBody(llhttp_t* parser, const char* at, size_t length) {
  auto* self = static_cast<HttpConnection*>(parser->data);
  HttpRequest& r = *self->current_;
  r.bodyReceived_ += length;
  uint64_t limit = self->context_.limits.maxBodyBytes;
  if (limit && r.bodyReceived_ > limit) {
    self->errorStatus_ = 413;
    return -1;
  }
  r.credit_ -= std::min<uint64_t>(r.credit_, length);
  if (r.observer_) r.observer_->onBodyData(std::string_view(at, length));
  return 0;
}

int HttpConnection::onMessageComplete(llhttp_t* parser) {
  auto* self = static_cast<HttpConnection*>(parser->data);
  self->transition_ = Transition::kMessageComplete;
  return HPE_PAUSED;
}

}  // namespace isolated::http
