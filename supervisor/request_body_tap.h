// Streams large request bodies past evhttp. evhttp 2.1 hands a server request to its callback
// only after it has read the whole body into memory, and (unlike 2.2's evhttp_set_newreqcb) has
// no hook to stream it. So every client connection's input buffer gets a BodyTap, installed as
// an evbuffer callback through evhttp_set_bevcb: it runs after each socket read and before
// evhttp's read callback, takes the new bytes out of the buffer and gives evhttp back only what
// it should parse:
//
//  - Request heads, whole (never a partial one, so evhttp can not consume header lines the tap
//    has not seen), and small bodies (Content-Length up to kInlineBodyBytes, or above the body
//    limit so that evhttp answers 413 itself) pass through unchanged: evhttp buffers those.
//  - A request whose body is chunked, or longer than kInlineBodyBytes and within the limit, is
//    *streamed*: its head goes to evhttp without Content-Length/Transfer-Encoding (so evhttp
//    delivers it at once, bodyless) and the tap keeps the body, de-framed, for the consumer to
//    take() as fast as it has credit. The tap stops reading the socket while it holds
//    kRawLimitBytes, which is what pushes back on the client.
//  - After a streamed body the tap holds every further byte: the answer to a streamed request
//    always closes the connection (the supervisor adds `Connection: close`), so evhttp never
//    reads past it.
//
// The streamed-request decision mirrors evhttp's framing rules (HEAD and TRACE have no body;
// Transfer-Encoding chunked wins over Content-Length) so both agree on where requests start.
//
// Lifetime: the HttpListener owns each tap and destroys it in the connection's close callback.
// Threading: the event loop's thread only.
#pragma once

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "common/event_handles.h"

namespace isolated::supervisor {

// Whoever forwards a streamed body (the supervisor): told when take() may return more.
class BodyConsumer {
 public:
  virtual ~BodyConsumer() = default;
  // More body bytes, the end of the body, or an error() became available for `requestId`.
  virtual void onBodyReadable(uint64_t requestId) = 0;
};

class BodyTap {
 public:
  // Bodies up to this size (by Content-Length) are left to evhttp and travel inline.
  static constexpr size_t kInlineBodyBytes = 64u << 10;
  // Raw (still framed) body bytes held before the tap stops reading the socket.
  static constexpr size_t kRawLimitBytes = 256u << 10;
  // De-framed bytes kept ready for take().
  static constexpr size_t kDecodedLimitBytes = 64u << 10;

  // `maxHeadBytes`: heads longer than this are passed to evhttp unparsed (it rejects them).
  BodyTap(bufferevent* bev, size_t maxHeadBytes, uint64_t maxBodyBytes);
  BodyTap(const BodyTap&) = delete;
  BodyTap& operator=(const BodyTap&) = delete;

  // The evbuffer callback (arg: the tap). Installed on the connection's input buffer.
  static void onInput(evbuffer* buffer, const evbuffer_cb_info* info, void* tap);

  // Called for every request evhttp delivers on the connection, in order: whether its body is
  // being streamed by this tap rather than read by evhttp (true at most once per connection).
  // Then `framingName`/`framingValue` receive the framing header the tap removed from the head,
  // to restore it for the script.
  bool claimStreamedBody(std::string& framingName, std::string& framingValue);

  // Watching the connection of a request that is not streamed, while the worker holds it:
  // evhttp stops reading a connection once it has a request and reads again only after the
  // answer, so on its own it never notices a client that leaves in between. watch() reads on,
  // so that the client closing (EOF or an error) ends the connection at once (evhttp then
  // detaches the request and calls the close callback). A client that pipelines is not watched:
  // false (nothing changes) when bytes of a next request are already here, or when the tap is
  // not between requests; a request that arrives while watching is held back (evhttp's read
  // callback must not run while the request is unanswered) and reading stops, as evhttp's own
  // would have, so that a client that half-closes after pipelining is still answered.
  bool watch();
  // Stops watching: reading is off again until evhttp has written the answer, and what arrived
  // meanwhile goes to evhttp. Call just before answering.
  void unwatch();

  // Starts or stops delivering onBodyReadable to `consumer` (nullptr: nobody listens).
  void setConsumer(BodyConsumer* consumer, uint64_t requestId);
  // De-framed bytes ready now.
  size_t available();
  // Moves up to `max` de-framed bytes into `out`; returns how many. Resumes reading the socket
  // when the tap has room again.
  size_t take(uint8_t* out, size_t max);
  // The whole body has been taken.
  bool finished() const {
    return state_ == State::kDone && evbuffer_get_length(decoded_.get()) == 0;
  }
  // 413 (over the body limit) or 400 (malformed chunked framing); 0 while the body is fine.
  int error() const { return error_; }
  // Body bytes de-framed so far.
  uint64_t bodyBytes() const { return bodyBytes_; }

 private:
  enum class State {
    kHead,         // collecting a request head
    kSkip,         // passing a small body through to evhttp
    kPassThrough,  // something evhttp will reject: pass everything, it closes the connection
    kBody,         // de-framing a streamed body
    kDone,         // streamed body complete (or failed): hold everything
  };
  enum class Chunk { kSize, kData, kDataEnd, kTrailer };

  void process(evbuffer* input);
  // Gives evhttp what it should parse from raw_ (process() after the new bytes moved in).
  void parse(evbuffer* input);
  // Handles the head at the front of raw_; false when it is still incomplete.
  bool takeHead(evbuffer* input);
  // De-frames from raw_ into decoded_ up to kDecodedLimitBytes.
  void decode();
  bool decodeChunked();
  void fail(int status);
  void updateReading();
  void notify();

  bufferevent* bev_;
  size_t maxHeadBytes_;
  uint64_t maxBodyBytes_;
  EvbufferPtr raw_;
  EvbufferPtr decoded_;
  State state_ = State::kHead;
  uint64_t skipRemaining_ = 0;
  // Streamed body framing.
  bool chunked_ = false;
  uint64_t remaining_ = 0;  // Content-Length left, or the current chunk's bytes left
  Chunk chunk_ = Chunk::kSize;
  uint64_t bodyBytes_ = 0;
  size_t trailerBytes_ = 0;
  // Heads given to evhttp, and requests it delivered, on this connection; the streamed one's
  // number (0: none yet).
  uint64_t headsPassed_ = 0;
  uint64_t headsDelivered_ = 0;
  uint64_t streamedHead_ = 0;
  int error_ = 0;
  bool unclaimed_ = false;
  std::string framingName_;
  std::string framingValue_;
  bool readingPaused_ = false;
  bool inCallback_ = false;
  bool watching_ = false;
  bool unwatching_ = false;  // unwatch() is parsing: no 100 Continue now
  BodyConsumer* consumer_ = nullptr;
  uint64_t requestId_ = 0;
};

}  // namespace isolated::supervisor
