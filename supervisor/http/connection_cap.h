// The --max-connections cap of a server whose connections are spread over several event loops
// (the HttpServers of the I/O threads, supervisor/front/threaded_front.h): one count for all of
// them, so the cap holds for the server as a whole, and a client queued at one thread's listener
// gets a slot that a connection on another thread freed. (Shares of the cap per thread would
// make a client wait at a full thread while another thread had room, since the kernel, not the
// server, picks each connection's thread.)
//
// An HttpServer takes a slot before each accept and gives it back when the accept finds nothing
// or the connection closes. A server that finds the count at the cap stops accepting; a give
// that brings the count down from the cap returns true, and its caller must then wake every
// server that may have stopped (HttpServer's onSlotFreed), each of which looks again.
//
// Threading: any thread; lock-free.
#pragma once

#include <atomic>
#include <cstddef>

namespace isolated::http {

class SharedConnectionCap {
 public:
  explicit SharedConnectionCap(size_t cap) : cap_(cap) {}
  SharedConnectionCap(const SharedConnectionCap&) = delete;
  SharedConnectionCap& operator=(const SharedConnectionCap&) = delete;

  // Takes a slot; false (and nothing taken) at the cap.
  bool take() {
    size_t open = open_.load(std::memory_order_relaxed);
    do {
      if (open >= cap_) return false;
    } while (!open_.compare_exchange_weak(open, open + 1, std::memory_order_acq_rel,
                                          std::memory_order_relaxed));
    return true;
  }
  // Takes a slot whatever the count (a connection adopted rather than accepted).
  void takeEvenAtCap() { open_.fetch_add(1, std::memory_order_acq_rel); }
  // Gives a slot back. True when the count was at the cap: a server may be waiting for it.
  bool give() { return open_.fetch_sub(1, std::memory_order_acq_rel) >= cap_; }
  bool full() const { return open_.load(std::memory_order_acquire) >= cap_; }
  size_t open() const { return open_.load(std::memory_order_relaxed); }
  size_t cap() const { return cap_; }

 private:
  const size_t cap_;
  std::atomic<size_t> open_{0};
};

}  // namespace isolated::http
