// The limits and timeouts of the HTTP/1.1 connection layer (supervisor/http/), with the status
// each limit answers with. Defaults suit the supervisor's front; tests shrink them.
#pragma once

#include <cstddef>
#include <cstdint>

namespace isolated::http {

struct HttpLimits {
  // Request-target bytes (414).
  size_t maxTargetBytes = 8192;
  // Bytes of a request head, request line included (431), and header fields (431).
  size_t maxHeaderBytes = 16384;
  size_t maxHeaderCount = 100;
  // Body bytes by Content-Length or as de-chunked (413). 0: no limit.
  uint64_t maxBodyBytes = 32u << 20;
  // From a request's first byte to the end of its head (408, then close).
  uint32_t headerTimeoutMs = 10000;
  // A kept-alive connection with no request in progress is closed after this.
  uint32_t idleTimeoutMs = 60000;
  // Slow clients: the longest wait for body bytes the owner has room for, or for the client to
  // take response bytes; then the connection is closed (and the request's owner told).
  uint32_t bodyTimeoutMs = 30000;
  // How long a closing connection waits for the client to finish sending before it is reset.
  uint32_t lingerMs = 2000;
  // Each connection's read buffer: the most unparsed input held (pipelined requests, body bytes
  // waiting for credit). A head must fit in it, so it is at least maxHeaderBytes.
  size_t readBufferBytes = 64u << 10;
  // Requests parsed ahead of their answers on one connection (pipelining depth).
  size_t maxPipelined = 16;
  // Response bytes buffered per connection before write() reports backpressure.
  size_t outputHighWaterBytes = 256u << 10;
  // Open client connections; accepting pauses at the cap. 0: no cap.
  size_t maxConnections = 0;
};

}  // namespace isolated::http
