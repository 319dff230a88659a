// The optional admin HTTP listener (--admin-listen): Prometheus text at /metrics, liveness at
// /healthz (the supervisor's loop answers) and readiness at /readyz (a worker is ready and the
// server is not draining). Separate from the public listener so that probes and scrapes are
// never queued behind client traffic. Out of descriptors (EMFILE), accepting pauses for a second
// rather than spinning on the pending connection.
#pragma once

#include <event2/http.h>
#include <event2/listener.h>

#include <cstdint>
#include <string>

#include "common/event_handles.h"
#include "event/dispatcher.h"

namespace isolated::supervisor {

class AdminHandler {
 public:
  virtual ~AdminHandler() = default;
  virtual std::string metricsText() = 0;
  virtual bool ready() = 0;
};

class AdminServer {
 public:
  // Binds at once; throws std::runtime_error naming the address when it cannot.
  AdminServer(event_base* base, const std::string& host, uint16_t port, AdminHandler& handler);
  std::string address() const;

 private:
  static void onRequest(evhttp_request* request, void* self);
  static void onAcceptError(evconnlistener* listener, void* self);

  event::Dispatcher loop_;  // borrowed base
  AdminHandler& handler_;
  EvhttpPtr http_;
  std::string host_;
  uint16_t port_ = 0;
  evconnlistener* listener_ = nullptr;  // owned by http_
  event::PeriodicTimer acceptRetry_;
};

}  // namespace isolated::supervisor
