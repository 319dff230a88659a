// The worker's half of outbound fetch(): the fetches JavaScript has started in the current
// context, each with its pending promises and the body chunks the supervisor has sent ahead of
// the script's reads. The supervisor performs the HTTP (ipc/protocol.h, "Outbound fetch");
// this class turns its FetchHead/FetchBody/FetchFailed into settled promises and hands body
// bytes to JavaScript one chunk per read, crediting each chunk back so that at most
// kFetchWindowBytes per fetch are ever buffered here.
//
// A streamed request body (FetchStart.bodyFollows) goes the other way: write() sends one piece
// of at most kFetchMaxChunkBytes when the upload window (kFetchWindowBytes, refilled by
// FetchUploadCredit) has room, or holds that one piece until it has; its promise resolves when
// the piece is sent, so the script's producer runs only as fast as the origin reads.
//
// Context binding: every promise belongs to the context that started the fetch. When that
// context is discarded (limit rebuild, fresh state per request), clear() drops every fetch and
// tells the supervisor to stop them; messages for forgotten ids are ignored.
// Threading: loop thread only. The on*() methods must run inside a turn (a JsScope for the
// current context, followed by a microtask checkpoint), as IsolateHost does.
#pragma once

#include <capnp/message.h>
#include <v8.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "common/credit_window.h"
#include "ipc/messages.capnp.h"
#include "ipc/protocol.h"
#include "worker/outbox.h"

namespace isolated::worker {

// Fetch ids of one app deployment: `app` in the high 32 bits and a per-app count in the low
// ones, so ids are unique across the worker (ipc/protocol.h rule 8) and a supervisor message
// for a fetch is routed to its app by the id alone. Kept by the app's definition, so that ids
// stay unique across the app's evictions and rebuilds.
// The fetch a supervisor message about a fetch (FetchHead, FetchBody, FetchFailed,
// FetchUploadCredit) is for; nullopt for any other message.
std::optional<uint64_t> fetchIdOf(ipc::Envelope::Reader message);

class FetchIdSequence {
 public:
  explicit FetchIdSequence(uint32_t app) : app_(app) {}
  uint32_t app() const { return app_; }
  // How many ids were issued; a sequence given it again continues where this one stopped (an
  // app defined again after ForgetApp, ipc/protocol.h rule 21).
  uint32_t issued() const { return count_; }
  void continueFrom(uint32_t issued) { count_ = issued; }
  uint64_t next() { return (static_cast<uint64_t>(app_) << 32) | ++count_; }
  static uint32_t appOf(uint64_t fetchId) { return static_cast<uint32_t>(fetchId >> 32); }

 private:
  uint32_t app_;
  uint32_t count_ = 0;
};

class OutboundFetches {
 public:
  // `ids` must outlive this object; FetchStart messages name ids.app().
  OutboundFetches(Outbox& outbox, FetchIdSequence& ids) : outbox_(outbox), ids_(ids) {}
  // clear() must have run while the isolate was alive: the promises are V8 handles.
  ~OutboundFetches() = default;
  OutboundFetches(const OutboundFetches&) = delete;
  OutboundFetches& operator=(const OutboundFetches&) = delete;

  // Sends `message` (an Envelope whose FetchStart is `start`, filled in but for its ids) for
  // request `requestId`. Returns the new fetch's id and its head promise, which resolves to
  // [status, statusText, flatHeaders, url, redirected] or rejects with a TypeError.
  std::pair<uint64_t, v8::Local<v8::Promise>> start(v8::Local<v8::Context> context,
                                                    uint64_t requestId,
                                                    capnp::MessageBuilder& message,
                                                    ipc::FetchStart::Builder start);
  // The next body chunk (a Uint8Array), or null at the end; rejects with a TypeError when the
  // fetch failed. One read at a time per fetch.
  v8::Local<v8::Promise> read(v8::Local<v8::Context> context, uint64_t id);
  // Sends `data` (at most kFetchMaxChunkBytes) as the next piece of the fetch's streamed body.
  // The promise resolves to true once it is sent, to false if the fetch no longer wants a body
  // (it finished, or a redirect dropped the body), and rejects with a TypeError when the fetch
  // failed or was aborted. One write at a time per fetch.
  v8::Local<v8::Promise> write(v8::Local<v8::Context> context, uint64_t id, std::string data);
  // Ends the fetch's streamed body.
  void end(uint64_t id);
  void onUploadCredit(v8::Local<v8::Context> context, ipc::FetchUploadCredit::Reader credit);
  // Stops the fetch: pending promises reject with `reason` and the supervisor is told.
  void abort(v8::Local<v8::Context> context, uint64_t id, v8::Local<v8::Value> reason);

  // The request a fetch works for (its promise jobs run in that request's name); nullopt for
  // an id no longer held, whose messages are to be ignored.
  std::optional<uint64_t> requestOf(uint64_t id) const;
  void onHead(v8::Local<v8::Context> context, ipc::FetchHead::Reader head);
  void onBody(v8::Local<v8::Context> context, ipc::FetchBody::Reader body);
  void onFailed(v8::Local<v8::Context> context, ipc::FetchFailed::Reader failed);

  // Forgets the fetches of request `requestId` (its work has ended) and sends FetchAbort for
  // each; their pending promises never settle. Returns how many there were.
  size_t dropRequest(v8::Isolate* isolate, uint64_t requestId);
  // Whether request `requestId` has started a fetch since it last ended its work (a request
  // that has may not be run a second time: its fetches had effects).
  bool hasFetched(uint64_t requestId) const { return fetchedBy_.contains(requestId); }
  // Refuses fetches whose parent request has ended (`alive` returns false for it): their
  // promise rejects with a TypeError. Unset: every fetch is allowed.
  void setAlive(std::function<bool(uint64_t requestId)> alive) { alive_ = std::move(alive); }

  // Forgets every fetch (their context is gone) and sends FetchAbort for each. `isolate` is
  // the one the fetches were made in, while it is still alive.
  void clear(v8::Isolate* isolate);
  size_t size() const { return fetches_.size(); }

 private:
  struct Fetch {
    uint64_t requestId = 0;
    v8::Global<v8::Promise::Resolver> head;  // until the head or a failure
    v8::Global<v8::Promise::Resolver> read;  // a read waiting for a chunk
    std::deque<std::string> chunks;          // received, not yet read
    size_t bufferedBytes = 0;                // in `chunks`
    bool ended = false;
    std::optional<std::string> error;

    // The streamed request body: bytes sent and not yet credited, and the one piece waiting
    // for room in the window (with its write's promise).
    bool uploading = false;
    CreditSender upload{ipc::kFetchWindowBytes};
    std::string uploadPending;
    v8::Global<v8::Promise::Resolver> write;
  };
  void sendUpload(uint64_t id, Fetch& fetch, const std::string& data, bool end);
  // Settles a pending write with `sent` (the fetch needs no more body: false).
  void settleWrite(v8::Local<v8::Context> context, Fetch& fetch, bool sent);
  // Buffered chunks are reported to V8 as external memory, so that many unread bodies prompt
  // the garbage collection that lets fetch.js's FinalizationRegistry abort them.
  void account(v8::Isolate* isolate, Fetch& fetch, int64_t delta);
  // Hands the oldest queued chunk to `resolver` and credits it.
  void deliver(v8::Local<v8::Context> context, uint64_t id, Fetch& fetch,
               v8::Local<v8::Promise::Resolver> resolver);
  void sendCredit(uint64_t id, size_t bytes);
  void sendAbort(uint64_t id);

  Outbox& outbox_;
  FetchIdSequence& ids_;
  std::unordered_map<uint64_t, Fetch> fetches_;
  std::unordered_set<uint64_t> fetchedBy_;
  std::function<bool(uint64_t)> alive_;
};

}  // namespace isolated::worker
