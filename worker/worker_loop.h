// The worker's side of its channel: checks Configure's protocol version and says Hello, turns
// supervisor messages into IsolateRegistry calls and the hosts' output into messages, and
// answers health pings. Owns the event-loop lag meter; the channel and the registry are
// references, owned by workerMain.
#pragma once

#include <event2/event.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/event_handles.h"
#include "common/logger.h"
#include "ipc/channel.h"
#include "worker/fair_order.h"
#include "worker/isolate_registry.h"
#include "worker/loop_lag_meter.h"
#include "worker/outbox.h"

namespace isolated::worker {

class WorkerLoop : public ipc::ChannelHandler, public Outbox {
 public:
  // `started`: the process's start, for Hello.startupMs.
  WorkerLoop(event_base* base, Logger& logger, std::chrono::steady_clock::time_point started)
      : base_(base),
        logger_(logger),
        started_(started),
        lag_(base, std::chrono::milliseconds(100)) {}

  // Both must be set before the loop runs; they are created after the WorkerLoop because each
  // needs it as its handler or outbox.
  void attach(ipc::Channel& channel, IsolateRegistry& registry) {
    channel_ = &channel;
    registry_ = &registry;
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
  // Messages read together are handled in FairOrder (worker/fair_order.h): a light app's request
  // does not wait behind a heavy app's burst. A worker holding one app has nothing to reorder.
  bool ordersBatches() const override {
    return registry_ != nullptr && registry_->appsDefined() > 1;
  }
  void orderBatch(std::span<const ipc::Envelope::Reader> batch,
                  std::vector<uint32_t>& order) override;
  void onClosed(const std::string& reason) override;

  // Called after each message and timer; exits the loop once a drain has finished: no request
  // in flight and no waitUntil() work pending.
  void exitIfDrained();
  bool shutdownRequested() const { return shutdown_; }
  // Whether Configure (of this protocol version) has arrived and Hello has been sent.
  bool configured() const { return configured_; }

 private:
  void answerPing(uint64_t seq);
  void onConfigure(ipc::Configure::Reader configure);
  // The channel is unusable (protocol broken): log, close, stop the loop.
  void breakProtocol(const std::string& why);
  // Shutdown's deadline, shortly before the supervisor would kill the worker: waitUntil() work
  // still pending is logged and abandoned.
  void onShutdownDeadline();

  event_base* base_;
  Logger& logger_;
  std::chrono::steady_clock::time_point started_;
  ipc::Channel* channel_ = nullptr;
  IsolateRegistry* registry_ = nullptr;
  LoopLagMeter lag_;
  bool shutdown_ = false;
  bool configured_ = false;
  EventPtr shutdownDeadline_;
  FairOrder fair_;
  std::vector<BatchEntry> entries_;
  std::vector<std::pair<uint64_t, uint32_t>> batchStarted_;
};

}  // namespace isolated::worker
