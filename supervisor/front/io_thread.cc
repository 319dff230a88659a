// IoThread: see io_thread.h.
#include "supervisor/front/io_thread.h"

#include <pthread.h>

#include <string>

#include "supervisor/front/relayed_request.h"

namespace isolated::front {

IoThread::IoThread(uint32_t index, uint32_t count, const http::HttpLimits& limits,
                   UniqueFd listener, Mailbox<FrontEvent>& toMain, RejectionShaper shape,
                   http::SharedConnectionCap* cap, std::function<void()> onSlotFreed)
    : limits_(limits),
      shape_(shape),
      toMain_(dispatcher_, toMain),
      commands_(dispatcher_, [this](FrontCommand& command) { onCommand(command); }),
      reap_(dispatcher_, [this] { released_.clear(); }) {
  server_ = std::make_unique<http::HttpServer>(
      dispatcher_, static_cast<http::HttpRequestHandler&>(*this), limits_, std::move(listener));
  server_->numberRequests(index + 1, count);
  if (cap != nullptr) server_->shareConnectionCap(*cap, std::move(onSlotFreed));
}

IoThread::~IoThread() {
  stop();
}

void IoThread::start() {
  thread_ = std::thread([this] { run(); });
}

void IoThread::stop() {
  if (!thread_.joinable()) {
    server_.reset();
    return;
  }
  FrontCommand command;
  command.kind = FrontCommand::Kind::kStop;
  commands_.post(std::move(command));
  thread_.join();
}

void IoThread::run() {
  // Named for operators (top -H, /proc/PID/task/TID/comm) and for bench/suite.sh's per-thread
  // CPU figures.
  pthread_setname_np(pthread_self(), "io");
  dispatcher_.run();
}

void IoThread::post(FrontEvent::Kind kind, uint64_t id) {
  FrontEvent event;
  event.kind = kind;
  event.id = id;
  toMain_.post(std::move(event));
}

void IoThread::onRequest(http::HttpRequest& request) {
  uint64_t id = request.id();
  auto forwarder = std::make_unique<Forwarder>(*this, id);
  request.setObserver(forwarder.get());
  held_.emplace(id, Held{&request, std::move(forwarder)});
  FrontEvent event;
  event.kind = FrontEvent::Kind::kRequest;
  event.id = id;
  event.request =
      std::make_unique<RelayedRequest>(request, *commandOutbox_, limits_.outputHighWaterBytes);
  toMain_.post(std::move(event));
}

void IoThread::onRejected(http::HttpRejection& rejection) {
  shape_(rejection);
  FrontEvent event;
  event.kind = FrontEvent::Kind::kRejected;
  event.status = rejection.status;
  event.why = rejection.why;
  event.peer = rejection.peer;
  toMain_.post(std::move(event));
}

void IoThread::release(uint64_t id) {
  auto it = held_.find(id);
  if (it == held_.end()) return;
  released_.push_back(std::move(it->second.forwarder));
  held_.erase(it);
  reap_.schedule();
}

void IoThread::onCommand(FrontCommand& command) {
  using Kind = FrontCommand::Kind;
  switch (command.kind) {
    case Kind::kStopListening:
      if (server_) server_->stopListening();
      command.done->set_value();
      return;
    case Kind::kListen:
      if (server_) server_->listen(std::move(command.listener));
      command.done->set_value();
      return;
    case Kind::kDrain:
      if (server_) server_->drain();
      command.done->set_value();
      return;
    case Kind::kResumeAccepting:
      if (server_) server_->resumeAccepting();
      return;
    case Kind::kStop:
      // Every request still held is told kServerClosing by the connections as they close
      // (Forwarder posts kGone; the main loop ignores those while destroying).
      server_.reset();
      dispatcher_.exit();
      return;
    default:
      break;
  }
  auto it = held_.find(command.id);
  if (it == held_.end()) return;  // its client went away: the main loop is told (kGone)
  Held& held = it->second;
  http::HttpRequest& request = *held.request;
  switch (command.kind) {
    case Kind::kGrant:
      request.grantBody(static_cast<size_t>(command.count));
      return;
    case Kind::kCloseAfter:
      request.closeAfterResponse();
      return;
    case Kind::kRespond:
      command.headers.view(headers_);
      request.setObserver(nullptr);
      release(command.id);
      request.respond(command.status, headers_, command.data);
      return;
    case Kind::kStart:
      command.headers.view(headers_);
      request.startResponse(
          command.status, headers_,
          command.hasLength ? std::optional<uint64_t>(command.count) : std::nullopt);
      return;
    case Kind::kWrite:
      held.unreported += command.data.size();
      // Below the mark, everything written so far is taken; above it, onWritable reports it.
      if (request.write(command.data)) {
        held.forwarder->onWritable();
      } else if (request.released()) {
        // The layer gave up on the answer (bytes beyond its Content-Length): the connection is
        // closing, and the request must not be touched again. The main loop's end() or abort()
        // finds nothing here; its acks are settled so that it does not wait for room.
        held.forwarder->onWritable();
        release(command.id);
      }
      return;
    case Kind::kEnd:
      request.setObserver(nullptr);
      release(command.id);
      request.end();
      return;
    case Kind::kAbort:
      request.setObserver(nullptr);
      release(command.id);
      request.abort();
      return;
    default:
      return;
  }
}

void IoThread::Forwarder::onBodyData(std::string_view data) {
  FrontEvent event;
  event.kind = FrontEvent::Kind::kBody;
  event.id = id_;
  event.data.assign(data);
  thread_.toMain_.post(std::move(event));
}

void IoThread::Forwarder::onBodyEnd() {
  thread_.post(FrontEvent::Kind::kBodyEnd, id_);
}

void IoThread::Forwarder::onWritable() {
  auto it = thread_.held_.find(id_);
  if (it == thread_.held_.end() || it->second.unreported == 0) return;
  FrontEvent event;
  event.kind = FrontEvent::Kind::kWritten;
  event.id = id_;
  event.count = std::exchange(it->second.unreported, 0);
  thread_.toMain_.post(std::move(event));
}

void IoThread::Forwarder::onClientGone(http::GoneReason reason) {
  FrontEvent event;
  event.kind = FrontEvent::Kind::kGone;
  event.id = id_;
  event.reason = reason;
  IoThread& thread = thread_;
  thread.toMain_.post(std::move(event));
  // Last: release() moves this Forwarder to the reaper (freed from a later callback).
  thread.release(id_);
}

}  // namespace isolated::front
