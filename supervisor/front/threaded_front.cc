// ThreadedFront: see threaded_front.h.
#include "supervisor/front/threaded_front.h"

#include <stdexcept>

namespace isolated::front {

ThreadedFront::ThreadedFront(event::Dispatcher& dispatcher, FrontOwner& owner,
                             RejectionShaper shape, const http::HttpLimits& limits,
                             const std::string& host, uint16_t port, uint32_t threads)
    : owner_(owner),
      dispatcher_(dispatcher),
      events_(dispatcher, [this](FrontEvent& event) { onEvent(event); }),
      reap_(dispatcher, [this] { finished_.clear(); }) {
  http::HttpLimits each = limits;
  // The connection cap is the server's: one count for every thread (connection_cap.h).
  if (limits.maxConnections > 0) {
    cap_ = std::make_unique<http::SharedConnectionCap>(limits.maxConnections);
    each.maxConnections = 0;
  }
  // Every socket is bound before any thread starts, so a bad address fails the start whole.
  std::vector<UniqueFd> listeners;
  for (uint32_t i = 0; i < threads; ++i) {
    listeners.push_back(http::HttpServer::listenTcp(host, port, true));
    // Port 0: the others join the port the kernel gave the first.
    if (i == 0) port = http::HttpServer::boundPort(listeners[0].get());
  }
  port_ = port;
  for (uint32_t i = 0; i < threads; ++i) {
    threads_.push_back(std::make_unique<IoThread>(i, threads, each, std::move(listeners[i]),
                                                  events_, shape, cap_.get(),
                                                  [this] { wakeAcceptors(); }));
  }
  for (auto& thread : threads_) {
    outboxes_.push_back(std::make_unique<Outbox<FrontCommand>>(dispatcher_, thread->commands()));
    thread->setCommandOutbox(*outboxes_.back());
    thread->start();
  }
}

ThreadedFront::~ThreadedFront() {
  for (auto& thread : threads_)
    thread->stop();
  // Like HttpServer's destructor: the owner of every request still held is told.
  auto held = std::move(requests_);
  for (auto& [id, request] : held)
    request->gone(http::GoneReason::kServerClosing);
}

void ThreadedFront::wakeAcceptors() {
  for (auto& thread : threads_) {
    FrontCommand command;
    command.kind = FrontCommand::Kind::kResumeAccepting;
    thread->commands().post(std::move(command));
  }
}

void ThreadedFront::broadcast(FrontCommand::Kind kind, std::vector<UniqueFd> listeners) {
  // Waiting cannot deadlock: a thread never waits for this loop (posting to it takes only the
  // mailbox's lock), and these are operator actions, not the request path.
  std::vector<std::promise<void>> done(threads_.size());
  std::vector<std::future<void>> futures;
  for (auto& promise : done)
    futures.push_back(promise.get_future());
  // What the requests posted this turn goes first, in order.
  for (auto& outbox : outboxes_)
    outbox->flush();
  for (size_t i = 0; i < threads_.size(); ++i) {
    FrontCommand command;
    command.kind = kind;
    command.done = &done[i];
    if (i < listeners.size()) command.listener = std::move(listeners[i]);
    threads_[i]->commands().post(std::move(command));
  }
  for (auto& future : futures)
    future.wait();
}

void ThreadedFront::stopListening() {
  broadcast(FrontCommand::Kind::kStopListening);
}

void ThreadedFront::listen(const std::string& host, uint16_t port) {
  std::vector<UniqueFd> listeners;
  for (size_t i = 0; i < threads_.size(); ++i)
    listeners.push_back(http::HttpServer::listenTcp(host, port, true));
  broadcast(FrontCommand::Kind::kListen, std::move(listeners));
}

void ThreadedFront::drain() {
  broadcast(FrontCommand::Kind::kDrain);
}

FrontStats ThreadedFront::stats() const {
  FrontStats stats{static_cast<uint32_t>(threads_.size()), 0, 0};
  for (const auto& thread : threads_) {
    stats.openConnections += thread->server().openConnections();
    stats.acceptedConnections += thread->server().acceptedConnections();
  }
  return stats;
}

void ThreadedFront::finished(uint64_t id) {
  auto it = requests_.find(id);
  if (it == requests_.end()) return;
  finished_.push_back(std::move(it->second));
  requests_.erase(it);
  reap_.schedule();
}

void ThreadedFront::onEvent(FrontEvent& event) {
  using Kind = FrontEvent::Kind;
  if (event.kind == Kind::kRequest) {
    RelayedRequest& request = *event.request;
    request.setFinished([this](uint64_t id) { finished(id); });
    requests_.emplace(event.id, std::move(event.request));
    owner_.onClientRequest(request);
    return;
  }
  if (event.kind == Kind::kRejected) {
    owner_.onRefused(event.status, event.why, event.peer);
    return;
  }
  auto it = requests_.find(event.id);
  if (it == requests_.end()) return;
  RelayedRequest& request = *it->second;
  switch (event.kind) {
    case Kind::kBody:
      if (auto* observer = request.observer()) observer->onBodyData(event.data);
      return;
    case Kind::kBodyEnd:
      if (auto* observer = request.observer()) observer->onBodyEnd();
      return;
    case Kind::kWritten:
      request.written(event.count);
      return;
    case Kind::kGone: {
      std::unique_ptr<RelayedRequest> owned = std::move(it->second);
      requests_.erase(it);
      owned->gone(event.reason);
      return;
    }
    default:
      return;
  }
}

}  // namespace isolated::front
