// One call through a service binding (ipc/protocol.h rule 26): app A's fetch() to app B of the
// same server, carried by the supervisor as a request of B. The caller side is a fetch of A's
// worker (FetchStart .. FetchBody/FetchFailed); the callee side is an ordinary PendingRequest
// of B (queue, placement, B's limits), whose `service` points here instead of an HTTP client.
//
// Flow control passes through: B's request-body credit becomes A's upload credit, A's fetch
// credit becomes B's response-body credit (both windows are 256 KiB), so the supervisor holds
// at most one window each way, except a response B built whole, which waits here until A has
// credit for it.
// Lifetime: shared by the Supervisor's table of service calls (keyed by the caller's worker and
// fetch id) and B's PendingRequest; the call ends when A has its last message (FetchBody end or
// FetchFailed), or A's fetch, request or worker goes away.
// Threading: the supervisor's loop only.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "common/credit_window.h"
#include "ipc/protocol.h"

namespace isolated::supervisor {

struct App;

struct ServiceCall {
  // The caller: its worker, its fetch id and the request it fetches for.
  uint32_t callerWorker = 0;
  uint64_t fetchId = 0;
  uint64_t callerRequest = 0;
  // The binding name (for errors) and the nesting depth (A -> B is 1).
  std::string binding;
  uint32_t depth = 1;
  std::chrono::steady_clock::time_point started;
  // The request B gets.
  std::string method;
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool bodyFollows = false;
  // B's request id and app (apps outlive their requests); the PendingRequest is queued or in
  // flight until it is answered.
  uint64_t requestId = 0;
  App* target = nullptr;
  bool dispatched = false;
  bool active = true;
  // Upload (A's FetchUpload pieces): held until B's request is dispatched, then passed on as
  // BodyChunk messages; `uploadEnded` once the last one came; `upload` holds the bytes A has
  // sent that B has not credited yet (at most one window), B's credit passing them on to A.
  std::deque<std::pair<std::string, bool>> uploadQueue;
  bool uploadEnded = false;
  CreditReceiver upload{ipc::kFetchWindowBytes};
  // Answer: the head is out; a whole body waits in `pendingBody` from `pendingOffset` as A's
  // window allows; `callerWindow` counts the bytes sent to A and not yet credited.
  bool headSent = false;
  bool streaming = false;
  std::string pendingBody;
  size_t pendingOffset = 0;
  bool pendingWhole = false;
  CreditSender callerWindow{ipc::kFetchWindowBytes};
};

}  // namespace isolated::supervisor
