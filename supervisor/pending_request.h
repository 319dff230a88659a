// One request the supervisor has admitted and not yet finished: an HTTP request, a call
// through a service binding (`service` set, http == nullptr), or (http == nullptr) a scheduled
// event for `cron`. All travel the same path: the app's queue,
// dispatch, wall limit, one answer; a scheduled event's answer is logged.
//
// An HTTP request is the connection layer's object (supervisor/http/http_request.h); `http` is
// the supervisor's until the answer ends or the layer reports the client gone, and is nulled
// then. `client` is the observer the layer calls back for it: a small object that moves with
// the PendingRequest (queue, in flight) and routes each callback to the Supervisor by `id`.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/credit_window.h"
#include "ipc/protocol.h"
#include "supervisor/bindings/service_call.h"
#include "supervisor/http/http_request.h"

namespace isolated::supervisor {

struct App;
class Supervisor;

// The layer's callbacks for one request, handed to the Supervisor with the request's id.
class ClientLink : public http::HttpRequestObserver {
 public:
  ClientLink(Supervisor& supervisor, uint64_t id) : supervisor_(supervisor), id_(id) {}
  void onBodyData(std::string_view data) override;
  void onBodyEnd() override;
  void onWritable() override;
  void onClientGone(http::GoneReason reason) override;

 private:
  Supervisor& supervisor_;
  uint64_t id_;
};

struct PendingRequest {
  using Clock = std::chrono::steady_clock;

  http::ClientRequest* http = nullptr;
  std::unique_ptr<ClientLink> client;
  uint64_t id = 0;
  Clock::time_point arrived;
  std::string requestId;  // the id in --request-id-header, taken or generated
  uint32_t workerId = 0;  // 0 while queued in the supervisor
  std::string cron;
  double scheduledTimeMs = 0;
  // The app the route table chose (never null once admitted; apps outlive their requests, see
  // AppRegistry), and the deployment the request was sent to (0 while queued).
  App* app = nullptr;
  uint32_t deployment = 0;
  // Sent while its app was noisy (App::noisyUntil); counted in its worker's noisyOutstanding.
  bool noisy = false;
  // Storage binding calls the request has made (BindingServiceOptions::maxCallsPerRequest);
  // carried into its RecentAnswer, LingeringRequest and SubrequestCount when it is answered.
  uint32_t storageCalls = 0;
  // The app's wall limit, fixed at admission.
  std::chrono::milliseconds wallLimit{0};
  // A small body (Content-Length up to kInlineBodyBytes), read whole before admission and sent
  // inside RequestStart.
  std::string inlineBody;
  // Streamed request body (ipc/protocol.h rules 13-15): the bytes sent to the worker and not
  // yet credited; the window's room has all been granted to the connection.
  bool streamedBody = false;
  CreditSender bodyWindow{ipc::kBodyWindowBytes};
  bool bodyEndSent = false;
  // Streamed response: status and headers are out, chunks are being relayed; the window holds
  // what the worker has sent and the supervisor not yet credited back, owing credit for what
  // the client's connection (or a service binding's caller) has taken.
  bool responseStreaming = false;
  int responseStatus = 0;
  CreditReceiver responseWindow{ipc::kBodyWindowBytes};
  // The Content-Length the script declared (-1: none, the answer is chunked), and the body
  // bytes relayed so far: a body that disagrees with it ends the connection, never the
  // framing.
  int64_t responseDeclared = -1;
  uint64_t responseRelayed = 0;
  // Set for a request made by another app's service binding: its answer goes to that app's
  // fetch (supervisor/bindings/service_calls.h) instead of an HTTP client.
  std::shared_ptr<ServiceCall> service;
  // For the access log (copied at arrival: the request's views end with its answer).
  std::string method;
  std::string target;
};

}  // namespace isolated::supervisor
