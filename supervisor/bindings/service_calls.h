// ServiceCalls: the calls through service bindings (ipc/protocol.h rule 26) that are open on one
// server. App A's fetch() through a binding becomes a request of app B, admitted like any other
// (B's queue, placement, max_concurrent, wall limit), and B's answer, or the supervisor's error
// for it, goes back to A as the fetch's response. The depth of nested calls is bounded, so that a
// loop between apps ends. One ServiceCall (service_call.h) per call; this class owns the table of
// them and every step of their flow control, and reaches the rest of the server only through a
// ServiceCallHost.
//
// Invariants: a call is in the table (keyed by the caller's worker and fetch id) from its
// FetchStart until the caller has its last message (FetchBody end or FetchFailed) or goes away;
// once out of it (`active` false) nothing more is sent to the caller. The callee's request is
// ended (cancelled, or dropped from its queue) when its call ends early, never left running for
// a caller that is gone.
// Threading: the supervisor's loop only.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/logger.h"
#include "common/storage_bindings.h"
#include "ipc/protocol.h"
#include "supervisor/bindings/service_call.h"
#include "supervisor/pending_request.h"
#include "supervisor/request_metrics.h"
#include "supervisor/requests/request_tracker.h"
#include "supervisor/worker_process.h"

namespace isolated::supervisor {

struct App;

// What ServiceCalls needs of the server around it (the Supervisor): the apps' bindings, the
// request path that admits and answers the callee's request, and the caller's worker.
class ServiceCallHost {
 public:
  virtual ~ServiceCallHost() = default;
  // The service bindings of deployment `deployment` (its app's live or candidate version, or the
  // app's config for an older version still finishing); nullptr when no app has it.
  virtual const std::vector<ServiceBindingSpec>* serviceBindingsOf(uint32_t deployment) = 0;
  // The app called `name` if it is on this server and not being removed, else nullptr.
  virtual App* serviceTarget(const std::string& name) = 0;
  // Fails the caller's FetchStart before anything started (FetchFailed with `message`).
  virtual void refuseFetch(uint32_t workerId, uint64_t fetchId, const std::string& message) = 0;
  // A message to the caller's worker about its fetch.
  virtual void sendFetchMessage(uint32_t workerId, capnp::MessageBuilder& message) = 0;
  virtual WorkerProcess* findWorker(uint32_t id) = 0;
  // The request path, as for an HTTP request.
  virtual std::string newRequestId() = 0;
  virtual void admit(PendingRequest&& request) = 0;
  virtual void replyError(PendingRequest& request, int status, std::string_view kind,
                          std::string_view message, int retryAfterSec) = 0;
  virtual PendingRequest& startInFlight(PendingRequest&& request) = 0;
  virtual void recordAnswer(const PendingRequest& request, int status, uint32_t workerId) = 0;
  virtual void finishRequest(uint64_t id, requests::RequestEnding ending) = 0;
  // Request `id` of `app`, still queued, leaves the queue unanswered (its caller went away).
  virtual void abandonQueued(App& app, uint64_t id) = 0;
};

class ServiceCalls {
 public:
  using Clock = std::chrono::steady_clock;

  ServiceCalls(ServiceCallHost& host, requests::RequestTracker& requests, RequestMetrics& metrics,
               Logger& logger)
      : host_(host), requests_(requests), metrics_(metrics), logger_(logger) {}
  ServiceCalls(const ServiceCalls&) = delete;
  ServiceCalls& operator=(const ServiceCalls&) = delete;

  // Calls worker `workerId` has open: they count toward its bound on fetches in flight.
  size_t openBy(uint32_t workerId) const;

  // The caller's side. start(): a FetchStart naming a service binding, whose parent request the
  // caller is already known to hold (and whose subrequest was counted): becomes a request of the
  // target app, or is refused.
  void start(uint32_t workerId, uint32_t deployment, ipc::FetchStart::Reader start);
  // FetchCredit, FetchAbort and FetchUpload of the caller; false when `fetchId` is not a service
  // call of that worker (the message is then a network fetch's).
  bool credit(uint32_t workerId, uint64_t fetchId, uint32_t bytes);
  bool abort(uint32_t workerId, uint64_t fetchId);
  bool upload(uint32_t workerId, ipc::FetchUpload::Reader upload);

  // The callee's side: `request.service` is set on every request passed here.
  // RequestStart to the callee's worker (the request goes in flight), then any upload held.
  void sendRequest(WorkerProcess& worker, PendingRequest& request);
  // The callee's whole Response, a streamed one's head and its chunks (already checked against
  // the response window), and the callee's BodyCredit for the upload.
  void answer(PendingRequest& request, ipc::Response::Reader response);
  void startStream(PendingRequest& request, ipc::Response::Reader response);
  void relayChunk(PendingRequest& request, ipc::BodyChunk::Reader chunk);
  void creditUpload(PendingRequest& request, uint32_t bytes);
  // The supervisor's error for the callee's request, as the caller's response (or, once the
  // head is out, as a failed body read).
  void fail(PendingRequest& request, int status, std::string_view kind, std::string_view message,
            int retryAfterSec);

  // The caller's request `parentId` (or, with 0, its whole worker) went away: its calls end,
  // each callee's request cancelled with `reason`.
  void drop(uint32_t workerId, uint64_t parentId, const char* reason);
  // Calls whose callee answered more than `horizon` ago fail: a caller that never reads (nor
  // aborts) the body does not keep one open longer than a network fetch would live.
  void expire(Clock::time_point now, Clock::duration horizon);

 private:
  using Key = std::pair<uint32_t, uint64_t>;  // caller worker id, fetch id
  using HeaderList = std::vector<std::pair<std::string, std::string>>;

  ServiceCall* find(uint32_t workerId, uint64_t fetchId);
  void pumpUpload(ServiceCall& call);
  void pumpBody(ServiceCall& call);
  void sendHead(ServiceCall& call, int status, const HeaderList& headers);
  // The callee's status and headers to the caller; false, with the call ended (the callee's
  // request cancelled with `refusedReason` when given), when they are over a network fetch's
  // limits.
  bool forwardHead(ServiceCall& call, ipc::Response::Reader response, const char* refusedReason);
  void sendFailed(ServiceCall& call, const std::string& message);
  // Ends the call on the caller's side; the callee's request goes on, or is cancelled with
  // `cancelReason` when given and it is still held.
  void finish(ServiceCall& call, const char* cancelReason);

  ServiceCallHost& host_;
  requests::RequestTracker& requests_;
  RequestMetrics& metrics_;
  Logger& logger_;
  std::map<Key, std::shared_ptr<ServiceCall>> calls_;
};

}  // namespace isolated::supervisor
