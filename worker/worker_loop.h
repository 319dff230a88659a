// The worker's side of its channel: turns supervisor messages into IsolateHost calls and the
// host's output into messages, and answers health pings. Owns the event-loop lag meter; the
// channel and the host are references, owned by workerMain.
#pragma once

#include <event2/event.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/event_handles.h"
#include "common/logger.h"
#include "ipc/channel.h"
#include "worker/isolate_host.h"
#include "worker/loop_lag_meter.h"
#include "worker/outbox.h"

namespace isolated::worker {

class WorkerLoop : public ipc::ChannelHandler, public Outbox {
 public:
  WorkerLoop(event_base* base, Logger& logger)
      : base_(base), logger_(logger), lag_(base, std::chrono::milliseconds(100)) {}

  // Both must be set before the loop runs; they are created after the WorkerLoop because each
  // needs it as its handler or outbox.
  void attach(ipc::Channel& channel, IsolateHost& host) {
    channel_ = &channel;
    host_ = &host;
  }

  // Outbox
  void send(capnp::MessageBuilder& message) override {
    channel_->send(message);
    // A response may be the last one a draining worker owed.
    exitIfDrained();
  }
  size_t pendingBytes() const override { return channel_->pendingOutputBytes(); }

  // ChannelHandler
  void onMessage(ipc::Envelope::Reader message) override;
  void onClosed(const std::string& reason) override;

  // Called after each message and timer; exits the loop once a drain has finished: no request
  // in flight and no waitUntil() work pending.
  void exitIfDrained();
  bool shutdownRequested() const { return shutdown_; }
  // Whether Configure has arrived (the worker loads its script only after it).
  bool configured() const { return configured_; }
  std::vector<ScriptBinding> takeBindings() { return std::move(bindings_); }

 private:
  void answerPing(uint64_t seq);
  void onConfigure(ipc::Configure::Reader configure);
  // Shutdown's deadline, shortly before the supervisor would kill the worker: waitUntil() work
  // still pending is logged and abandoned.
  void onShutdownDeadline();

  event_base* base_;
  Logger& logger_;
  ipc::Channel* channel_ = nullptr;
  IsolateHost* host_ = nullptr;
  LoopLagMeter lag_;
  bool shutdown_ = false;
  bool configured_ = false;
  std::vector<ScriptBinding> bindings_;
  EventPtr shutdownDeadline_;
};

}  // namespace isolated::worker
