// The control socket: a Unix stream socket (mode 0600) speaking newline-delimited JSON, see
// docs/control-protocol.md. It runs on the supervisor's loop but never waits on a worker, so it
// answers even when every worker is busy or hung. Bounded: request lines of 64 KiB, 64
// connections, 30 s of idleness; a slow or silent client holds only its own connection.
//
// The operator's `ctl` always gets through (issue 12, defect 9): a connection must complete its
// first request line within 2 s when it sends nothing at all, and within 10 s when it has sent
// part of one; and when all 64 connections are taken, the oldest that has not yet completed a
// request is closed to make room for the new one. Only connections that have spoken are held
// to the 30 s idle timeout.
#pragma once

#include <event2/listener.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/event_handles.h"
#include "common/logger.h"
#include "event/dispatcher.h"

namespace isolated::supervisor {

// Sends the reply to one request. Safe to call after the connection (or the server) has gone:
// the reply is then dropped. Call it exactly once.
using ControlResponder = std::function<void(const nlohmann::json& reply)>;

class ControlHandler {
 public:
  virtual ~ControlHandler() = default;
  // One request object; returns the reply object (with "ok"), or nullopt when the reply comes
  // later through `respond` (a deploy waits for its script to load). A connection answers its
  // requests in the order their replies are ready.
  virtual std::optional<nlohmann::json> handleControl(const nlohmann::json& request,
                                                      const ControlResponder& respond) = 0;
};

class ControlServer {
 public:
  // Creates the socket (and its directory, mode 0700, when missing). A stale socket file is
  // replaced; one that another live process answers on is an error. Throws std::runtime_error
  // naming the path.
  ControlServer(event_base* base, std::string path, ControlHandler& handler, Logger& logger);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  const std::string& path() const { return path_; }

  static constexpr size_t kMaxLineBytes = 64 * 1024;
  static constexpr size_t kMaxConnections = 64;
  static constexpr int kIdleTimeoutSec = 30;
  static constexpr auto kSilentTimeout = std::chrono::seconds(2);
  static constexpr auto kFirstLineTimeout = std::chrono::seconds(10);

 private:
  struct ListenerDeleter {
    void operator()(evconnlistener* l) const { evconnlistener_free(l); }
  };
  using Clock = std::chrono::steady_clock;
  struct Connection {
    ControlServer* server;
    uint64_t id;  // increasing: a lower id is an older connection
    BuffereventPtr bev;
    bool closing = false;
    // Whether a complete, non-blank request line has arrived; until then the connection is
    // held to the first-line deadlines and may be evicted.
    bool spoke = false;
    Clock::time_point acceptedAt;
  };

  static void onAccept(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* self);
  static void onRead(bufferevent* bev, void* connection);
  static void onWrite(bufferevent* bev, void* connection);
  static void onEvent(bufferevent* bev, short what, void* connection);
  void handleLine(Connection& connection, const std::string& line);
  void reply(Connection& connection, const nlohmann::json& message);
  void close(Connection& connection);
  // Closes connections past their first-line deadline (a periodic timer).
  void sweepSilent();
  // Closes the oldest connection that has not spoken; false when every one has.
  bool evictOldestSilent();

  event::Dispatcher loop_;  // borrowed base
  std::string path_;
  ControlHandler& handler_;
  Logger& logger_;
  std::unique_ptr<evconnlistener, ListenerDeleter> listener_;
  std::unordered_map<uint64_t, std::unique_ptr<Connection>> connections_;
  event::PeriodicTimer sweep_;
  uint64_t nextConnectionId_ = 1;
  // Deferred responders hold a weak reference: a reply after the server is gone is dropped.
  std::shared_ptr<ControlServer*> self_ = std::make_shared<ControlServer*>(this);
};

}  // namespace isolated::supervisor
