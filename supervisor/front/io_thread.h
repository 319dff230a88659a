// One I/O thread of a ThreadedFront: its own event loop, an HttpServer on its own SO_REUSEPORT
// listener, and the connections the kernel hands that listener. It parses, answers what the
// HTTP layer answers itself (400, 408, 413...), and relays every other request to the main loop
// as a RelayedRequest; the main loop's commands come back through its mailbox.
//
// Invariant: the thread holds (in held_) exactly the requests it has relayed whose answer has not
// ended and whose client has not gone; each one's Forwarder is the request's observer. A command
// for a request it no longer holds is dropped.
//
// Threading: the constructor and stop() run on the main thread; everything else on the thread
// (start() launches it). The HttpServer and the events are made before the thread starts and
// destroyed after it is joined, or (the server) on the thread itself at kStop.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <unordered_map>
#include <vector>

#include "event/dispatcher.h"
#include "supervisor/front/front_messages.h"
#include "supervisor/front/mailbox.h"
#include "supervisor/front/request_front.h"
#include "supervisor/http/http_limits.h"
#include "supervisor/http/http_server.h"

namespace isolated::front {

class IoThread : private http::HttpRequestHandler {
 public:
  // Thread `index` of `count` (request ids index + 1, stepping by count). With a `cap`, the
  // server counts its connections there (limits.maxConnections is then not used) and calls
  // `onSlotFreed` on this thread when a slot it gave back may be awaited by another thread.
  IoThread(uint32_t index, uint32_t count, const http::HttpLimits& limits, UniqueFd listener,
           Mailbox<FrontEvent>& toMain, RejectionShaper shape, http::SharedConnectionCap* cap,
           std::function<void()> onSlotFreed);
  ~IoThread() override;
  IoThread(const IoThread&) = delete;
  IoThread& operator=(const IoThread&) = delete;

  void start();
  // Closes the server (its requests are told the server is closing) and joins the thread.
  void stop();
  Mailbox<FrontCommand>& commands() { return commands_; }
  // The main loop's outbox to this thread, which the requests relayed from here post into. Set
  // before start().
  void setCommandOutbox(Outbox<FrontCommand>& outbox) { commandOutbox_ = &outbox; }
  // For the counters HttpServer lets any thread read; valid until stop().
  const http::HttpServer& server() const { return *server_; }

 private:
  // The observer of one relayed request: its events go to the main loop.
  class Forwarder : public http::HttpRequestObserver {
   public:
    Forwarder(IoThread& thread, uint64_t id) : thread_(thread), id_(id) {}
    void onBodyData(std::string_view data) override;
    void onBodyEnd() override;
    void onWritable() override;
    void onClientGone(http::GoneReason reason) override;

   private:
    IoThread& thread_;
    uint64_t id_;
  };
  struct Held {
    http::HttpRequest* request;
    std::unique_ptr<Forwarder> forwarder;
    // Bytes written while the connection was over its mark: reported once it has room.
    uint64_t unreported = 0;
  };

  void run();
  void onRequest(http::HttpRequest& request) override;
  void onRejected(http::HttpRejection& rejection) override;
  void onCommand(FrontCommand& command);
  void post(FrontEvent::Kind kind, uint64_t id);
  // The request is no longer held: its Forwarder is freed from a later callback.
  void release(uint64_t id);

  http::HttpLimits limits_;
  RejectionShaper shape_;
  event::Dispatcher dispatcher_;
  Outbox<FrontEvent> toMain_;
  Mailbox<FrontCommand> commands_;
  Outbox<FrontCommand>* commandOutbox_ = nullptr;
  std::unique_ptr<http::HttpServer> server_;
  std::unordered_map<uint64_t, Held> held_;
  std::vector<std::unique_ptr<Forwarder>> released_;
  event::Deferred reap_;
  // Scratch for a command's headers, reused.
  std::vector<http::HttpHeader> headers_;
  std::thread thread_;
};

}  // namespace isolated::front
