// One end of a supervisor <-> worker socketpair: frames out, decoded Envelopes in.
//
// Lifetime: the Channel owns the socket. Its handler is called from the event loop; the handler
// must not destroy the Channel from inside a callback (defer it to a later loop iteration
// instead), because the Channel is still on the stack.
// After onClosed the Channel is inert: send() drops messages.
//
// I/O without a bufferevent, to keep system calls off the per-request path:
// - send() appends to the output buffer and, when no flush is due yet, activates a flush event
//   (event_active: no system call). It runs after the callbacks already active in this loop
//   iteration, so every message queued in one iteration leaves in one sendmsg, and the socket is
//   only registered for EPOLLOUT when the peer is slower than we are (a short write).
// - Reads go straight into the input buffer's free space (readv), without libevent's FIONREAD
//   probe before each read.
#pragma once

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <event2/event.h>
#include <kj/array.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <vector>

#include "common/event_handles.h"
#include "common/unique_fd.h"
#include "ipc/framing.h"
#include "ipc/messages.capnp.h"
#include "ipc/protocol.h"

namespace isolated::ipc {

class ChannelHandler {
 public:
  virtual ~ChannelHandler() = default;
  // One decoded message. Reading a field of a corrupt message may throw kj::Exception; the
  // Channel catches it and closes itself.
  virtual void onMessage(Envelope::Reader message) = 0;
  // Optional: whether orderBatch should be asked (building its readers costs a little).
  virtual bool ordersBatches() const { return false; }
  // Optional: the order in which to deliver several messages read together. Leave `order`
  // empty for arrival order (the default), or fill it with a permutation of the indices of
  // `batch`. The readers are valid only during the call. A kj::Exception thrown here (a corrupt
  // message) is ignored: the batch is delivered in arrival order, where it fails as usual.
  virtual void orderBatch(std::span<const Envelope::Reader> batch, std::vector<uint32_t>& order) {
    (void)batch;
    (void)order;
  }
  // The peer closed, the socket failed, or a frame broke the protocol. `reason` says which.
  virtual void onClosed(const std::string& reason) = 0;
};

class Channel {
 public:
  Channel(event_base* base, UniqueFd socket, const FrameLimits& limits, ChannelHandler& handler);
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  // Queues one message. Everything queued in one loop iteration is written together at the end
  // of that iteration.
  void send(capnp::MessageBuilder& message);
  // Bytes queued for the peer and not yet written; the basis for dropping optional traffic.
  size_t pendingOutputBytes() const;
  bool open() const { return !closed_; }
  // Stops reading, shuts the socket down (the peer sees EOF at once) and drops it with any
  // unwritten output, without calling onClosed.
  void close();

 private:
  static void onReadable(evutil_socket_t fd, short what, void* self);
  static void onWritable(evutil_socket_t fd, short what, void* self);
  static void onFlushDue(evutil_socket_t fd, short what, void* self);
  // Reads what the socket holds (bounded per call, so one busy peer cannot starve the loop).
  void readAvailable();
  // Writes queued output until it is gone or the socket is full; a full socket arms writeEvent_.
  void flush();
  void readFrames();
  // Delivers batch_ in the order the handler asks for (see ChannelHandler::orderBatch).
  void deliverBatch();
  void deliver(kj::ArrayPtr<const capnp::word> words);
  capnp::ReaderOptions readerOptions() const;
  void fail(const std::string& reason);

  FrameLimits limits_;
  ChannelHandler& handler_;
  // Declared before the events, so that the events are freed before the fd closes.
  UniqueFd socket_;
  EvbufferPtr input_;
  EvbufferPtr output_;
  EventPtr readEvent_;
  // Armed only while output is waiting for the socket to drain.
  EventPtr writeEvent_;
  // A plain (fd-less) event, activated by send() to flush at the end of the loop iteration.
  EventPtr flushEvent_;
  bool flushDue_ = false;
  bool waitingForWritable_ = false;
  bool closed_ = false;
  // The frames of one read, and scratch for ordering them; kept between reads.
  FrameArena batch_;
  std::deque<capnp::FlatArrayMessageReader> readers_;
  std::vector<Envelope::Reader> envelopes_;
  std::vector<uint32_t> order_;
};

}  // namespace isolated::ipc
