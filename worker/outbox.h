// Where a worker's outgoing messages go. The worker loop implements it over its ipc::Channel;
// tests can implement it to capture messages.
#pragma once

#include <capnp/message.h>

#include <cstddef>

namespace isolated::worker {

class Outbox {
 public:
  virtual ~Outbox() = default;
  virtual void send(capnp::MessageBuilder& message) = 0;
  // Bytes queued and not yet written: optional traffic (logs) is dropped above a bound.
  virtual size_t pendingBytes() const = 0;
};

}  // namespace isolated::worker
