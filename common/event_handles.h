// Owning handles for libevent objects. Each frees its object in its destructor, so a libevent
// object never outlives its owner and never leaks on an early return.
// Invariant: an event, bufferevent or evhttp must be destroyed before its event_base; owners
// declare the base first so that member destruction order guarantees it.
#pragma once

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>

#include <memory>

namespace isolated {

struct EventBaseDeleter {
  void operator()(event_base* b) const { event_base_free(b); }
};
struct EventDeleter {
  void operator()(event* e) const { event_free(e); }
};
struct BuffereventDeleter {
  void operator()(bufferevent* b) const { bufferevent_free(b); }
};
struct EvhttpDeleter {
  void operator()(evhttp* h) const { evhttp_free(h); }
};
struct EvbufferDeleter {
  void operator()(evbuffer* b) const { evbuffer_free(b); }
};

using EventBasePtr = std::unique_ptr<event_base, EventBaseDeleter>;
using EventPtr = std::unique_ptr<event, EventDeleter>;
using BuffereventPtr = std::unique_ptr<bufferevent, BuffereventDeleter>;
using EvhttpPtr = std::unique_ptr<evhttp, EvhttpDeleter>;
using EvbufferPtr = std::unique_ptr<evbuffer, EvbufferDeleter>;

// A new event base with `flags` (EVENT_BASE_FLAG_*) set; null when libevent cannot make one.
inline EventBasePtr makeEventBase(int flags) {
  std::unique_ptr<event_config, decltype(&event_config_free)> config(event_config_new(),
                                                                     event_config_free);
  if (!config || event_config_set_flag(config.get(), flags) != 0) return nullptr;
  return EventBasePtr(event_base_new_with_config(config.get()));
}

// A timeval from milliseconds.
inline timeval millisToTimeval(long ms) {
  return timeval{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
}

}  // namespace isolated
