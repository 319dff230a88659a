// BodyTap: request framing in front of evhttp, and de-framing of streamed bodies.
#include "supervisor/request_body_tap.h"

#include <strings.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>

namespace isolated::supervisor {

namespace {

// Longest chunk-size line (with extensions) and trailer section accepted.
constexpr size_t kMaxChunkLineBytes = 1024;
constexpr size_t kMaxTrailerBytes = 8192;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// evhttp reads a body only for these methods (evhttp_method_may_have_body).
bool mayHaveBody(std::string_view method) {
  for (std::string_view m : {"POST", "PUT", "PATCH", "GET", "DELETE", "OPTIONS", "CONNECT"}) {
    if (method == m) return true;
  }
  return false;
}

std::optional<uint64_t> parseDecimal(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  uint64_t value = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  return value;
}

std::optional<uint64_t> parseChunkSize(std::string_view line) {
  line = trim(line.substr(0, line.find(';')));
  if (line.empty() || line.size() > 15) return std::nullopt;
  uint64_t value = 0;
  for (char c : line) {
    int digit = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
    if (digit < 0) return std::nullopt;
    value = value * 16 + static_cast<uint64_t>(digit);
  }
  return value;
}

// One line (CRLF or LF terminated) from the front of `buffer`, or nullopt when incomplete.
std::optional<std::string> readLine(evbuffer* buffer) {
  size_t length = 0;
  char* line = evbuffer_readln(buffer, &length, EVBUFFER_EOL_CRLF);
  if (line == nullptr) return std::nullopt;
  std::string out(line, length);
  std::free(line);
  return out;
}

}  // namespace

BodyTap::BodyTap(bufferevent* bev, size_t maxHeadBytes, uint64_t maxBodyBytes)
    : bev_(bev),
      maxHeadBytes_(maxHeadBytes),
      maxBodyBytes_(maxBodyBytes),
      raw_(evbuffer_new()),
      decoded_(evbuffer_new()) {}

void BodyTap::onInput(evbuffer* buffer, const evbuffer_cb_info* info, void* self) {
  auto* tap = static_cast<BodyTap*>(self);
  // The tap's own edits of the buffer call back into here; they are not new input.
  if (tap->inCallback_ || info->n_added == 0) return;
  tap->inCallback_ = true;
  tap->process(buffer);
  tap->inCallback_ = false;
}

void BodyTap::process(evbuffer* input) {
  // Everything new is the tap's first; evhttp sees only what is given back below.
  evbuffer_add_buffer(raw_.get(), input);
  if (watching_) {
    // A pipelined request: held until unwatch(), and reading stops (evhttp's state while it
    // holds a request), so that a client that half-closes after pipelining is still answered.
    bufferevent_disable(bev_, EV_READ);
    return;
  }
  parse(input);
}

bool BodyTap::watch() {
  if (watching_ || (state_ != State::kHead && state_ != State::kSkip) ||
      evbuffer_get_length(raw_.get()) > 0 || evbuffer_get_length(bufferevent_get_input(bev_)) > 0) {
    return false;
  }
  watching_ = true;
  // Folds into evhttp's own disable when called in the same loop iteration (epoll changelist):
  // no system call.
  bufferevent_enable(bev_, EV_READ);
  return true;
}

void BodyTap::unwatch() {
  if (!watching_) return;
  watching_ = false;
  // Back to evhttp's state: it reads again once the answer is written. The input is empty while
  // watching; what arrived meanwhile goes to it now. The answer is about to be written: no
  // 100 Continue for a pipelined request may precede it.
  bufferevent_disable(bev_, EV_READ);
  evbuffer* input = bufferevent_get_input(bev_);
  inCallback_ = true;
  unwatching_ = true;
  // A bufferevent keeps its input's end frozen outside its own reads.
  evbuffer_unfreeze(input, 0);
  parse(input);
  evbuffer_freeze(input, 0);
  unwatching_ = false;
  inCallback_ = false;
}

void BodyTap::parse(evbuffer* input) {
  for (;;) {
    switch (state_) {
      case State::kPassThrough:
        evbuffer_add_buffer(input, raw_.get());
        return;
      case State::kSkip: {
        size_t n = static_cast<size_t>(
            std::min<uint64_t>(skipRemaining_, evbuffer_get_length(raw_.get())));
        evbuffer_remove_buffer(raw_.get(), input, n);
        skipRemaining_ -= n;
        if (skipRemaining_ > 0) return;
        state_ = State::kHead;
        continue;
      }
      case State::kHead:
        if (evbuffer_get_length(raw_.get()) == 0 || !takeHead(input)) return;
        continue;
      case State::kBody:
        decode();
        updateReading();
        notify();
        return;
      case State::kDone:
        updateReading();
        return;
    }
  }
}

bool BodyTap::takeHead(evbuffer* input) {
  size_t length = evbuffer_get_length(raw_.get());
  size_t scan = std::min(length, maxHeadBytes_);
  const char* bytes = reinterpret_cast<const char*>(evbuffer_pullup(raw_.get(), scan));
  size_t end = 0;
  for (const char* p = bytes;
       (p = static_cast<const char*>(std::memchr(p, '\n', scan - static_cast<size_t>(p - bytes))));
       ++p) {
    size_t i = static_cast<size_t>(p - bytes);
    if (i + 1 < scan && bytes[i + 1] == '\n') {
      end = i + 2;
      break;
    }
    if (i + 2 < scan && bytes[i + 1] == '\r' && bytes[i + 2] == '\n') {
      end = i + 3;
      break;
    }
  }
  if (end == 0) {
    // No end within the limit: evhttp rejects the head and closes; until then, wait.
    if (length >= maxHeadBytes_) state_ = State::kPassThrough;
    return length >= maxHeadBytes_;
  }

  std::string_view head(bytes, end);
  std::string_view method;
  std::optional<std::string_view> contentLength, transferEncoding;
  bool expectContinue = false;
  bool http11 = false;
  size_t pos = 0;
  bool first = true;
  while (pos < head.size()) {
    size_t eol = head.find('\n', pos);
    std::string_view line = trim(head.substr(pos, eol - pos));
    pos = eol + 1;
    if (first) {
      first = false;
      method = line.substr(0, line.find(' '));
      http11 = line.size() >= 8 && line.substr(line.size() - 8) == "HTTP/1.1";
      continue;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = trim(line.substr(0, colon));
    std::string_view value = trim(line.substr(colon + 1));
    if (equalsIgnoreCase(name, "content-length") && !contentLength) contentLength = value;
    if (equalsIgnoreCase(name, "transfer-encoding") && !transferEncoding) {
      transferEncoding = value;
    }
    if (equalsIgnoreCase(name, "expect") && equalsIgnoreCase(value, "100-continue")) {
      expectContinue = true;
    }
  }

  bool stream = false;
  if (mayHaveBody(method)) {
    if (transferEncoding && equalsIgnoreCase(*transferEncoding, "chunked")) {
      stream = true;
      chunked_ = true;
      framingName_ = "transfer-encoding";
      framingValue_ = std::string(*transferEncoding);
    } else if (contentLength) {
      std::optional<uint64_t> n = parseDecimal(*contentLength);
      if (!n) {
        evbuffer_remove_buffer(raw_.get(), input, end);
        state_ = State::kPassThrough;  // evhttp answers 400 and closes
        return true;
      }
      if (*n > kInlineBodyBytes && *n <= maxBodyBytes_) {
        stream = true;
        chunked_ = false;
        remaining_ = *n;
        framingName_ = "content-length";
        framingValue_ = std::string(*contentLength);
      } else {
        skipRemaining_ = *n;
      }
    }
  }

  if (!stream) {
    evbuffer_remove_buffer(raw_.get(), input, end);
    ++headsPassed_;
    state_ = skipRemaining_ > 0 ? State::kSkip : State::kHead;
    return true;
  }

  // The head evhttp sees: the same, without the body's framing headers.
  std::string rewritten;
  rewritten.reserve(head.size());
  pos = 0;
  while (pos < head.size()) {
    size_t eol = head.find('\n', pos);
    std::string_view raw = head.substr(pos, eol - pos + 1);
    pos = eol + 1;
    std::string_view name = trim(raw.substr(0, raw.find(':')));
    if (equalsIgnoreCase(name, "content-length") || equalsIgnoreCase(name, "transfer-encoding")) {
      continue;
    }
    rewritten.append(raw);
  }
  evbuffer_drain(raw_.get(), end);
  evbuffer_add(input, rewritten.data(), rewritten.size());
  streamedHead_ = ++headsPassed_;
  state_ = State::kBody;
  chunk_ = Chunk::kSize;
  if (expectContinue && http11 && !unwatching_ &&
      evbuffer_get_length(bufferevent_get_output(bev_)) == 0) {
    // evhttp would send this itself had it seen the body. Written straight to the socket: the
    // connection's output is evhttp's. A failed or short write only delays the client, which
    // sends the body anyway after its own timeout.
    static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
    [[maybe_unused]] ssize_t sent = ::send(bufferevent_getfd(bev_), kContinue, sizeof kContinue - 1,
                                           MSG_NOSIGNAL | MSG_DONTWAIT);
  }
  return true;
}

bool BodyTap::claimStreamedBody(std::string& framingName, std::string& framingValue) {
  ++headsDelivered_;
  if (streamedHead_ == 0 || headsDelivered_ != streamedHead_) return false;
  framingName = framingName_;
  framingValue = framingValue_;
  return true;
}

void BodyTap::setConsumer(BodyConsumer* consumer, uint64_t requestId) {
  consumer_ = consumer;
  requestId_ = requestId;
  if (consumer_ != nullptr) {
    // evhttp stops reading once it has delivered a request; the tap reads the body on.
    readingPaused_ = true;
    updateReading();
  }
}

size_t BodyTap::available() {
  decode();
  return evbuffer_get_length(decoded_.get());
}

size_t BodyTap::take(uint8_t* out, size_t max) {
  decode();
  int n = evbuffer_remove(decoded_.get(), out, max);
  decode();
  updateReading();
  return n > 0 ? static_cast<size_t>(n) : 0;
}

void BodyTap::decode() {
  while (state_ == State::kBody && evbuffer_get_length(decoded_.get()) < kDecodedLimitBytes) {
    size_t room = kDecodedLimitBytes - evbuffer_get_length(decoded_.get());
    if (chunked_) {
      if (!decodeChunked()) return;
      continue;
    }
    size_t n = static_cast<size_t>(std::min<uint64_t>(
        {remaining_, evbuffer_get_length(raw_.get()), static_cast<uint64_t>(room)}));
    if (n == 0) return;
    evbuffer_remove_buffer(raw_.get(), decoded_.get(), n);
    remaining_ -= n;
    bodyBytes_ += n;
    if (remaining_ == 0) state_ = State::kDone;
  }
}

bool BodyTap::decodeChunked() {
  evbuffer* raw = raw_.get();
  switch (chunk_) {
    case Chunk::kSize: {
      std::optional<std::string> line = readLine(raw);
      if (!line) {
        if (evbuffer_get_length(raw) > kMaxChunkLineBytes) fail(400);
        return false;
      }
      std::optional<uint64_t> size = parseChunkSize(*line);
      if (!size) {
        fail(400);
        return false;
      }
      if (*size == 0) {
        chunk_ = Chunk::kTrailer;
        trailerBytes_ = 0;
        return true;
      }
      if (bodyBytes_ + *size > maxBodyBytes_) {
        fail(413);
        return false;
      }
      remaining_ = *size;
      chunk_ = Chunk::kData;
      return true;
    }
    case Chunk::kData: {
      size_t room = kDecodedLimitBytes - evbuffer_get_length(decoded_.get());
      size_t n = static_cast<size_t>(
          std::min<uint64_t>({remaining_, evbuffer_get_length(raw), static_cast<uint64_t>(room)}));
      if (n == 0) return false;
      evbuffer_remove_buffer(raw, decoded_.get(), n);
      remaining_ -= n;
      bodyBytes_ += n;
      if (remaining_ == 0) chunk_ = Chunk::kDataEnd;
      return true;
    }
    case Chunk::kDataEnd: {
      std::optional<std::string> line = readLine(raw);
      if (!line) {
        if (evbuffer_get_length(raw) > 2) fail(400);
        return false;
      }
      if (!line->empty()) {
        fail(400);
        return false;
      }
      chunk_ = Chunk::kSize;
      return true;
    }
    case Chunk::kTrailer: {
      std::optional<std::string> line = readLine(raw);
      if (!line) {
        if (evbuffer_get_length(raw) > kMaxTrailerBytes) fail(400);
        return false;
      }
      trailerBytes_ += line->size() + 2;
      if (trailerBytes_ > kMaxTrailerBytes) {
        fail(400);
        return false;
      }
      if (line->empty()) state_ = State::kDone;  // trailers are dropped
      return true;
    }
  }
  return false;
}

void BodyTap::fail(int status) {
  error_ = status;
  state_ = State::kDone;
  evbuffer_drain(decoded_.get(), evbuffer_get_length(decoded_.get()));
}

void BodyTap::updateReading() {
  // Only a tap with a consumer (or one holding the bytes after its body) decides about reading;
  // before that, reading is evhttp's business.
  if (state_ != State::kBody && state_ != State::kDone) return;
  bool full = evbuffer_get_length(raw_.get()) >= kRawLimitBytes ||
              (state_ == State::kDone && consumer_ == nullptr);
  if (full) {
    // Always: evhttp enables reading again whenever it writes.
    bufferevent_disable(bev_, EV_READ);
    readingPaused_ = true;
  } else if (readingPaused_ && consumer_ != nullptr) {
    bufferevent_enable(bev_, EV_READ);
    readingPaused_ = false;
  }
}

void BodyTap::notify() {
  if (consumer_ != nullptr) consumer_->onBodyReadable(requestId_);
}

}  // namespace isolated::supervisor
