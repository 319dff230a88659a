// RequestQueue: the requests admitted but not yet dispatched: one FIFO per app (App::queue),
// the apps with queued requests in the order they take turns at dispatch (so that one app's full
// queue never holds another's back), and their total, which --queue-size bounds.
//
// Invariants: size() is the number of requests in every app's queue together. An app with
// queued requests is on the turn list (App::waiting set); one that remove() or removeFrom()
// empties stays on it until the next pump() or expire(), which take emptied apps off. Requests
// leave only through pump() (dispatched), expire() and failAll() (answered by the caller's
// callback), and remove()/removeFrom() (the client or the caller went away).
// Lifetime: an app on the turn list outlives its time there (AppRegistry frees an app only with
// nothing queued). Threading: the supervisor's loop thread only.
#pragma once

#include <kj/function.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>

#include "supervisor/apps/app_registry.h"
#include "supervisor/pending_request.h"

namespace isolated::supervisor::requests {

class RequestQueue {
 public:
  using Clock = std::chrono::steady_clock;

  RequestQueue() = default;
  RequestQueue(const RequestQueue&) = delete;
  RequestQueue& operator=(const RequestQueue&) = delete;

  size_t size() const { return queued_; }
  // Appends `request` to `app`'s queue.
  void push(App& app, PendingRequest&& request);
  // Dispatches queued requests: apps take turns, each offering its front request to `assign`
  // (true: it took it) once per round; a round in which nothing is taken ends the pump.
  void pump(kj::FunctionParam<bool(PendingRequest&)> assign);
  // Takes out every request queued `timeout` or longer before `now`, each app's from its front,
  // and hands each to `reply`; emptied apps leave the turn list.
  void expire(Clock::time_point now, std::chrono::milliseconds timeout,
              kj::FunctionParam<void(PendingRequest&)> reply);
  // The earliest arrival of the apps' front requests (each queue's earliest): the next expiry
  // is the queue timeout after it. Nullopt when nothing is queued.
  std::optional<Clock::time_point> earliestFront() const;
  // Takes out every request of `app`, handing each to `reply`, and takes the app off the list.
  void failAll(App& app, kj::FunctionParam<void(PendingRequest&)> reply);
  // Takes request `id` out of the queue of whichever app on the turn list holds it.
  std::optional<PendingRequest> remove(uint64_t id);
  // Takes request `id` out of `app`'s queue; false when it is not there.
  bool removeFrom(App& app, uint64_t id);

 private:
  size_t queued_ = 0;
  std::deque<App*> waiting_;
};

}  // namespace isolated::supervisor::requests
