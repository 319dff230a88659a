// MallocTrimmer: deferred, coalesced malloc_trim (see the header).
#include "worker/malloc_trimmer.h"

#include <malloc.h>

namespace isolated::worker {

MallocTrimmer::MallocTrimmer(event_base* base, std::chrono::milliseconds delay) : delay_(delay) {
  event_.reset(event_new(
      base, -1, 0,
      [](evutil_socket_t, short, void* self) {
        auto* trimmer = static_cast<MallocTrimmer*>(self);
        trimmer->armed_ = false;
        malloc_trim(0);
      },
      this));
}

void MallocTrimmer::schedule() {
  if (armed_) return;
  timeval tv = millisToTimeval(delay_.count());
  event_add(event_.get(), &tv);
  armed_ = true;
}

void MallocTrimmer::trimNow() {
  malloc_trim(0);
}

}  // namespace isolated::worker
