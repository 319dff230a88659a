// MallocTrimmer: gives the memory that evicted or released isolates freed back to the system
// (glibc keeps freed heap otherwise, so a worker cycling through apps would keep its peak RSS).
//
// Invariant: at most one trim is pending; a run of schedule() calls within the delay costs one
// malloc_trim. Lifetime: owns its libevent timer; destroyed before the event_base. Threading:
// the loop thread only.
#pragma once

#include <event2/event.h>

#include <chrono>

#include "common/event_handles.h"

namespace isolated::worker {

class MallocTrimmer {
 public:
  MallocTrimmer(event_base* base, std::chrono::milliseconds delay);
  MallocTrimmer(const MallocTrimmer&) = delete;
  MallocTrimmer& operator=(const MallocTrimmer&) = delete;

  // Trims `delay` from now, unless a trim is already pending.
  void schedule();
  // Trims at once (a pending trim still runs).
  void trimNow();

 private:
  std::chrono::milliseconds delay_;
  EventPtr event_;
  bool armed_ = false;
};

}  // namespace isolated::worker
