// The worker's streamed bodies (ipc/protocol.h rules 13-16), per request id:
//  - the request body: chunks from the supervisor queue here until JavaScript reads them, and
//    each read grants the supervisor credit for what it took, so at most one window waits;
//  - the response body: bytes JavaScript writes go out as BodyChunk messages while credit
//    lasts; a write's promise resolves once all its bytes are out, so a script that awaits its
//    writes (as a stream pipe does) is paused by a slow client.
//
// It holds promise resolvers of the current context: clear() must run before that context (or
// its isolate) is discarded. Settling a promise that waited (a read meeting a chunk that arrived
// later, a write meeting credit) needs a turn of JavaScript: the host runs settle() in one.
//
// Threading: the worker's event-loop thread only.
#pragma once

#include <v8.h>

#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

#include <kj/common.h>

#include "common/credit_window.h"
#include "ipc/protocol.h"
#include "worker/body_text.h"
#include "worker/outbox.h"

namespace isolated::worker {

class BodyStreams {
 public:
  explicit BodyStreams(Outbox& outbox) : outbox_(outbox) {}

  // From the supervisor. Each returns false when the message breaks the protocol (a chunk
  // beyond the window); chunks and credit for unknown ids are dropped (they crossed a cancel).
  // `sizeHint`: the body's declared length (Content-Length), 0 when unknown.
  void openRequestBody(uint64_t id, size_t sizeHint = 0);
  bool onRequestChunk(uint64_t id, kj::ArrayPtr<const kj::byte> data, bool end);
  // Returns true when the credit let the end of the response go out (the request is complete).
  bool onResponseCredit(uint64_t id, uint32_t bytes);

  // From JavaScript, inside a turn. read resolves with a Uint8Array, or null at the end.
  // Rejects with a TypeError when `id` has no streamed body (never had one, or was cancelled).
  void read(v8::Local<v8::Context> context, uint64_t id, v8::Local<v8::Promise::Resolver> done);
  // Reads the rest of the body whole: resolves once it has all arrived with one Uint8Array, or
  // with its text (`asText`, UTF-8 decoded). Chunks that arrive meanwhile are appended to one
  // buffer here, natively, and credited at once: no JavaScript runs until the end, and then
  // only to take the result; the body's declared length, if any, sizes the buffer at once.
  void readAll(v8::Local<v8::Context> context, uint64_t id, bool asText,
               v8::Local<v8::Promise::Resolver> done);
  // A response for `id` is now streaming (the host sent Response{bodyFollows}).
  void startResponse(uint64_t id);
  bool responseStarted(uint64_t id) const;
  void write(v8::Local<v8::Context> context, uint64_t id, v8::Local<v8::Value> bytes,
             v8::Local<v8::Promise::Resolver> done);
  // Ends the response body after the bytes already written; `aborted`: at once, marking the
  // body as failed. Returns true when the end went out, so the request is complete.
  bool end(uint64_t id, bool aborted);

  // Whether settle() has something to do for `id` (a waiting read with data, or a waiting
  // write whose bytes are out).
  bool settleable(uint64_t id) const;
  // Resolves what can be resolved for `id`.
  void settle(v8::Local<v8::Context> context, uint64_t id);

  // Forgets `id` (answered, cancelled); a pending read or write never settles.
  void close(uint64_t id) { streams_.erase(id); }
  void clear() { streams_.clear(); }

 private:
  struct Stream {
    // Request body.
    bool requestBody = false;
    std::deque<std::vector<uint8_t>> chunks;
    // Held: the bytes in `chunks` (credited as each is read).
    CreditReceiver requestWindow{ipc::kBodyWindowBytes};
    bool requestEnded = false;
    size_t sizeHint = 0;
    // readAll(): every chunk goes into `collected` (credited at once) until the end.
    bool collecting = false;
    bool collectText = false;
    ByteBuffer collected;
    TextCollector text;
    v8::Global<v8::Promise::Resolver> reader;
    // Response body.
    bool responding = false;
    CreditSender responseWindow{ipc::kBodyWindowBytes};
    std::string pending;  // written, waiting for credit
    size_t pendingOffset = 0;
    bool endRequested = false;
    bool ended = false;
    v8::Global<v8::Promise::Resolver> writer;
  };

  void resolveRead(v8::Local<v8::Context> context, uint64_t id, Stream& stream,
                   v8::Local<v8::Promise::Resolver> done);
  void resolveAll(v8::Local<v8::Context> context, Stream& stream,
                  v8::Local<v8::Promise::Resolver> done);
  void sendCredit(uint64_t id, size_t bytes);
  // Sends what credit allows; returns true when the end went out.
  bool flush(uint64_t id, Stream& stream);
  void sendChunk(uint64_t id, const char* data, size_t size, bool end, bool aborted);

  Outbox& outbox_;
  std::unordered_map<uint64_t, Stream> streams_;
};

}  // namespace isolated::worker
