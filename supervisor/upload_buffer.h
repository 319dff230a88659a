// UploadBuffer: the streamed request body of one outbound fetch (FetchStart.bodyFollows),
// between the worker's FetchUpload chunks and libcurl's read callback (ipc/protocol.h,
// "Outbound fetch").
//
// Invariants: at most kFetchWindowBytes are held (received, not yet taken by libcurl); each
// byte taken becomes credit owed to the worker (grant()); never more than the script's
// Content-Length is accepted. Once dropped (a redirect made the fetch a GET) it holds nothing.
// Threading: the supervisor's loop thread only.
#pragma once

#include <capnp/blob.h>
#include <curl/curl.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "common/credit_window.h"
#include "ipc/protocol.h"

namespace isolated::supervisor {

class UploadBuffer {
 public:
  enum class Refusal {
    kNone,
    kBeyondWindow,  // a protocol error of the worker's
    kBeyondLength,  // the script's body is longer than its Content-Length
  };

  // `length`: the script's Content-Length, if it gave one.
  explicit UploadBuffer(std::optional<curl_off_t> length) : length_(length) {}

  // A chunk from the worker; `end` marks the body's last. Nothing is kept when refused.
  Refusal add(capnp::Data::Reader data, bool end);
  // Moves up to `room` held bytes to `out`; returns how many.
  size_t take(char* out, size_t room);
  // The credit to send the worker for what was taken (0: none due yet).
  uint64_t grant() { return window_.grant(); }
  bool ended() const { return ended_; }
  // The rest of the body is not wanted: what is held goes, and later chunks are ignored.
  void drop();
  bool dropped() const { return dropped_; }

 private:
  std::optional<curl_off_t> length_;
  std::deque<std::string> chunks_;
  size_t offset_ = 0;  // into chunks_.front()
  CreditReceiver window_{ipc::kFetchWindowBytes};
  curl_off_t sent_ = 0;  // taken by libcurl
  bool ended_ = false;
  bool dropped_ = false;
};

}  // namespace isolated::supervisor
