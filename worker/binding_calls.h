// The worker's half of the storage bindings (KV, SQL database, object storage): the calls
// JavaScript has made in the current context, each with its pending promise. The supervisor
// performs them (ipc/protocol.h rules 23-25); this class sends BindingCall and settles the
// promise when the BindingResult comes back: resolved with [payload JSON text, Uint8Array or
// null], or rejected with an Error carrying the supervisor's message.
//
// Context binding: every promise belongs to the context that made the call. When that context
// is discarded, clear() forgets the calls; results for forgotten ids are ignored.
// Threading: loop thread only. onResult() must run inside a turn (a JsScope for the current
// context, followed by a microtask checkpoint), as IsolateHost does.
#pragma once

#include <v8.h>

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

#include "ipc/messages.capnp.h"
#include "worker/outbound_fetches.h"
#include "worker/outbox.h"

namespace isolated::worker {

// "kv", "database" or "storage": the name storage_bindings.js knows a kind by.
const char* storageKind(ipc::StorageBinding::Kind kind);

class BindingCalls {
 public:
  // `ids` (the app's call id sequence, kept across its isolates so ids are never reused on the
  // channel) must outlive this object; BindingCall messages name ids.app().
  BindingCalls(Outbox& outbox, FetchIdSequence& ids) : outbox_(outbox), ids_(ids) {}
  BindingCalls(const BindingCalls&) = delete;
  BindingCalls& operator=(const BindingCalls&) = delete;

  // Sends the call for request `requestId` and returns its promise.
  v8::Local<v8::Promise> call(v8::Local<v8::Context> context, uint64_t requestId,
                              const std::string& binding, const std::string& op,
                              const std::string& args, const std::string& value);
  // The request a call works for; nullopt for an id no longer held.
  std::optional<uint64_t> requestOf(uint64_t callId) const;
  void onResult(v8::Local<v8::Context> context, ipc::BindingResult::Reader result);
  // Forgets every call (their context is gone).
  void clear() { calls_.clear(); }
  size_t size() const { return calls_.size(); }

 private:
  struct Call {
    uint64_t requestId = 0;
    v8::Global<v8::Promise::Resolver> resolver;
  };
  Outbox& outbox_;
  FetchIdSequence& ids_;
  std::unordered_map<uint64_t, Call> calls_;
};

}  // namespace isolated::worker
