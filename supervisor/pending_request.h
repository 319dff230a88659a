// One request the supervisor has admitted and not yet finished: an HTTP request, a call
// through a service binding (`service` set, http == nullptr), or (http == nullptr) a scheduled
// event for `cron`. Both travel the same path: the app's queue,
// dispatch, wall limit, one answer; a scheduled event's answer is logged.
#pragma once

#include <event2/http.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "supervisor/bindings/service_call.h"

namespace isolated::supervisor {

struct App;

struct PendingRequest {
  using Clock = std::chrono::steady_clock;

  evhttp_request* http = nullptr;
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
  // The app's wall limit, fixed at admission.
  std::chrono::milliseconds wallLimit{0};
  // Streamed request body (ipc/protocol.h rules 13-15): it arrives through the connection's
  // BodyTap; the worker accepts `bodyCredit` more bytes of it.
  bool streamedBody = false;
  uint32_t bodyCredit = 0;
  bool bodyEndSent = false;
  // Streamed response: status and headers are out, chunks are being relayed; the worker has
  // sent `responseUncredited` bytes not yet credited back.
  bool responseStreaming = false;
  int responseStatus = 0;
  uint32_t responseUncredited = 0;
  // The Content-Length the script declared (-1: none, the answer is chunked), and the body
  // bytes relayed so far: a body that disagrees with it ends the connection, never the
  // framing.
  int64_t responseDeclared = -1;
  uint64_t responseRelayed = 0;
  // Set while the client's connection is watched, so that a client that leaves cancels the
  // request in the worker: while either body streams, or (`watched`) while the worker holds
  // an unstreamed request and its BodyTap reads on (BodyTap::watch). The key in byConnection_.
  evhttp_connection* connection = nullptr;
  bool watched = false;
  // Set for a request made by another app's service binding: its answer goes to that app's
  // fetch (supervisor_services.cc) instead of an HTTP client.
  std::shared_ptr<ServiceCall> service;
};

}  // namespace isolated::supervisor
