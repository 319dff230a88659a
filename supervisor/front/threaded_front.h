// The front of --io-threads N (N > 1): N IoThreads (io_thread.h), each serving its own
// SO_REUSEPORT listener bound to one address, so the kernel spreads new connections over them.
// Their requests reach the supervisor's loop as RelayedRequests, and the threads' events for a
// request (body, room to write, client gone) reach its observer there.
//
// Invariant: requests_ holds exactly the RelayedRequests the owner holds (delivered, answer not
// ended, client not reported gone). Events for other ids are dropped (front_messages.h).
//
// Threading: made, used and destroyed on the supervisor's loop; the destructor joins the threads.
#pragma once

#include <memory>
#include <unordered_map>
#include <vector>

#include "event/dispatcher.h"
#include "supervisor/front/front_messages.h"
#include "supervisor/front/io_thread.h"
#include "supervisor/front/mailbox.h"
#include "supervisor/front/relayed_request.h"
#include "supervisor/front/request_front.h"

namespace isolated::front {

class ThreadedFront final : public RequestFront {
 public:
  ThreadedFront(event::Dispatcher& dispatcher, FrontOwner& owner, RejectionShaper shape,
                const http::HttpLimits& limits, const std::string& host, uint16_t port,
                uint32_t threads);
  // Stops and joins the threads; requests still held are told kServerClosing.
  ~ThreadedFront() override;

  uint16_t port() const override { return port_; }
  FrontStats stats() const override;
  void stopListening() override;
  void listen(const std::string& host, uint16_t port) override;
  void drain() override;

 private:
  void onEvent(FrontEvent& event);
  void finished(uint64_t id);
  // Has every thread carry out `kind` (with listeners[i], when given) and waits until they have.
  void broadcast(FrontCommand::Kind kind, std::vector<UniqueFd> listeners = {});
  // From any I/O thread: a slot of cap_ was freed, so every thread looks again whether it may
  // accept. Posts straight into each thread's mailbox (threads_ does not change while they run).
  void wakeAcceptors();

  FrontOwner& owner_;
  event::Dispatcher& dispatcher_;
  uint16_t port_ = 0;
  // Declared before threads_: the threads post into it until they are joined.
  Mailbox<FrontEvent> events_;
  std::unordered_map<uint64_t, std::unique_ptr<RelayedRequest>> requests_;
  // Requests whose answer ended, freed from a later callback (never inside their own call).
  std::vector<std::unique_ptr<RelayedRequest>> finished_;
  event::Deferred reap_;
  // The --max-connections count of every thread (null without a cap). Before threads_: their
  // servers count in it until they are destroyed.
  std::unique_ptr<http::SharedConnectionCap> cap_;
  std::vector<std::unique_ptr<IoThread>> threads_;
  // The commands to each thread, sent once per loop turn. After threads_: destroyed first.
  std::vector<std::unique_ptr<Outbox<FrontCommand>>> outboxes_;
};

}  // namespace isolated::front
