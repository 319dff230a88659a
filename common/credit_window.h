// Credit-window flow control, the one implementation every streamed body uses (request and
// response bodies between supervisor and worker, both directions of fetch, service bindings;
// ipc/protocol.h rules 10, 14 and 18, docs/architecture.md "Credit windows").
//
// A stream has a window of W bytes. The sender keeps the bytes it has sent and not yet had
// credited back (in flight); the receiver keeps the bytes it has received and not yet credited
// (held). The invariant, for a sender and receiver that keep the rules:
//   held <= in flight <= W
// (equal when no credit message is on the way). So neither side ever holds more than one window
// of a stream: the sender sends only what fits(), the receiver refuses (as a protocol error)
// what would take held past W, and credits only bytes it has passed on.
//
// Both halves are plain counters: no allocation, no virtual call, everything inline, so using
// them costs the hot path nothing over the ad-hoc counters they replaced.
// Threading: none of their own; each belongs to one stream on one thread.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace isolated {

// The sending half: how much more may go out.
class CreditSender {
 public:
  explicit constexpr CreditSender(uint64_t window) : window_(window) {}

  uint64_t window() const { return window_; }
  // Sent and not yet credited.
  uint64_t inFlight() const { return inFlight_; }
  // Nothing is in flight.
  bool idle() const { return inFlight_ == 0; }
  // How many more bytes may go out now.
  uint64_t room() const { return window_ - std::min(inFlight_, window_); }
  // Whether `bytes` more may go out without passing the window.
  bool fits(uint64_t bytes) const { return inFlight_ + bytes <= window_; }

  // `bytes` went out. The caller sends only what fits (a sender may let one piece pass the
  // window when nothing is in flight; room() is then 0 until credit comes).
  void sent(uint64_t bytes) { inFlight_ += bytes; }
  // The receiver credited `bytes`. Credit beyond what is in flight (a confused or hostile peer)
  // is ignored, so in-flight never goes below zero. Returns the credit taken.
  uint64_t credit(uint64_t bytes) {
    uint64_t taken = std::min(bytes, inFlight_);
    inFlight_ -= taken;
    return taken;
  }

 private:
  uint64_t window_;
  uint64_t inFlight_ = 0;
};

// The receiving half: checks arrivals against the window and decides when to grant credit.
class CreditReceiver {
 public:
  // Credit is granted once at least `grantThreshold` bytes have been passed on (1: as soon as
  // any has; a larger threshold, such as half the window, batches grants into fewer messages).
  explicit constexpr CreditReceiver(uint64_t window, uint64_t grantThreshold = 1)
      : window_(window), threshold_(grantThreshold) {}

  uint64_t window() const { return window_; }
  // Received and not yet credited (passed on or not).
  uint64_t held() const { return held_; }
  // Passed on and not yet credited.
  uint64_t owed() const { return owed_; }

  // Whether `bytes` more may arrive: a sender that keeps its window never exceeds it.
  bool accepts(uint64_t bytes) const { return held_ + bytes <= window_; }
  // `bytes` arrived. False, and nothing recorded, when they pass the window: the sender broke
  // the protocol.
  [[nodiscard]] bool receive(uint64_t bytes) {
    if (!accepts(bytes)) return false;
    held_ += bytes;
    return true;
  }
  // `bytes` of what is held were passed on (to JavaScript, a client socket, libcurl, the
  // next hop), so the sender may replace them. More than is held and not yet passed on counts
  // as what is.
  void passedOn(uint64_t bytes) { owed_ += std::min(bytes, held_ - owed_); }
  // The credit to send now: what is owed once it reaches the threshold, else 0. The caller
  // sends a credit message for a non-zero result.
  uint64_t grant() { return owed_ >= threshold_ ? grantAll() : 0; }
  // Everything owed, whatever the threshold (the stream is idle, so batching gains nothing).
  uint64_t grantAll() {
    uint64_t granted = owed_;
    held_ -= granted;
    owed_ = 0;
    return granted;
  }

 private:
  uint64_t window_;
  uint64_t threshold_;
  uint64_t held_ = 0;
  uint64_t owed_ = 0;
};

}  // namespace isolated
