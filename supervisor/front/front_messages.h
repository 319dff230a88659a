// The messages between the main loop and the I/O threads of a ThreadedFront
// (supervisor/front/threaded_front.h), carried by Mailboxes.
//
// Ordering: each I/O thread's events reach the main loop in the order the thread posted them, and
// the main loop's commands reach each thread in the order it posted them; nothing is ordered
// between threads. Both sides name a request by its id (ClientRequest::id(), unique across the
// threads) and drop a message for an id they no longer hold: a command for a request whose client
// has gone, an event for a request already answered. That is the whole of the lifetime protocol.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <future>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/unique_fd.h"
#include "supervisor/http/http_request.h"

namespace isolated::front {

class RelayedRequest;

// Response headers copied out of the caller's views: names and values back to back in `bytes`,
// their lengths in `lengths` (name, value, name, value...).
struct OwnedHeaders {
  std::string bytes;
  std::vector<uint32_t> lengths;

  void assign(std::span<const http::HttpHeader> headers);
  // Views into `bytes`, into `out` (cleared first).
  void view(std::vector<http::HttpHeader>& out) const;
};

// I/O thread → main loop.
struct FrontEvent {
  enum class Kind : uint8_t {
    kRequest,   // a request whose head is complete: `request`
    kBody,      // body bytes: `data` (never more than granted)
    kBodyEnd,   // the body is complete
    kWritten,   // `count` response bytes left the relay (taken by the connection below its mark)
    kGone,      // the request is dead: `reason`
    kRejected,  // the thread answered a bad request itself: `status`, `why`, `peer`
  };
  Kind kind = Kind::kRequest;
  uint64_t id = 0;
  std::unique_ptr<RelayedRequest> request;
  std::string data;
  uint64_t count = 0;
  http::GoneReason reason = http::GoneReason::kClientClosed;
  int status = 0;
  std::string_view why;  // a static text (HttpRejection::why)
  sockaddr_storage peer{};
};

// Main loop → one I/O thread.
struct FrontCommand {
  enum class Kind : uint8_t {
    kGrant,            // grantBody(count)
    kCloseAfter,       // closeAfterResponse()
    kRespond,          // respond(status, headers, data)
    kStart,            // startResponse(status, headers, hasLength ? count : nullopt)
    kWrite,            // write(data)
    kEnd,              // end()
    kAbort,            // abort()
    kStopListening,    // the thread's server stops accepting
    kListen,           // and accepts on `listener` again
    kDrain,            // the thread's server drains
    kStop,             // the thread closes its server and leaves its loop
    kResumeAccepting,  // a slot of the shared connection cap was freed (from any I/O thread)
  };
  Kind kind = Kind::kGrant;
  uint64_t id = 0;
  int status = 0;
  uint64_t count = 0;
  bool hasLength = false;
  OwnedHeaders headers;
  std::string data;
  UniqueFd listener;
  // For the server-wide kinds: set once the thread has carried the command out (the main loop
  // waits, so that "the listener is closed" is true when the supervisor says so).
  std::promise<void>* done = nullptr;
};

}  // namespace isolated::front
