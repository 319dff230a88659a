// One end of a supervisor <-> worker socketpair: frames out, decoded Envelopes in.
//
// Lifetime: the Channel owns the socket (through its bufferevent). Its handler is called from the
// event loop; the handler must not destroy the Channel from inside a callback (defer it to a
// later loop iteration instead), because the Channel is still on the stack.
// After onClosed the Channel is inert: send() drops messages.
#pragma once

#include <capnp/message.h>
#include <event2/event.h>

#include <cstddef>
#include <string>

#include "common/event_handles.h"
#include "common/unique_fd.h"
#include "ipc/messages.capnp.h"
#include "ipc/protocol.h"

namespace isolated::ipc {

class ChannelHandler {
 public:
  virtual ~ChannelHandler() = default;
  // One decoded message. Reading a field of a corrupt message may throw kj::Exception; the
  // Channel catches it and closes itself.
  virtual void onMessage(Envelope::Reader message) = 0;
  // The peer closed, the socket failed, or a frame broke the protocol. `reason` says which.
  virtual void onClosed(const std::string& reason) = 0;
};

class Channel {
 public:
  Channel(event_base* base, UniqueFd socket, const FrameLimits& limits, ChannelHandler& handler);
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  // Queues one message. Writes are batched by the event loop.
  void send(capnp::MessageBuilder& message);
  // Bytes queued for the peer and not yet written; the basis for dropping optional traffic.
  size_t pendingOutputBytes() const;
  bool open() const { return !closed_; }
  // Stops reading, shuts the socket down (the peer sees EOF at once) and drops it, without
  // calling onClosed.
  void close();

 private:
  static void onRead(bufferevent* bev, void* self);
  static void onEvent(bufferevent* bev, short what, void* self);
  void readFrames();
  void fail(const std::string& reason);

  FrameLimits limits_;
  ChannelHandler& handler_;
  BuffereventPtr bev_;
  bool closed_ = false;
};

}  // namespace isolated::ipc
