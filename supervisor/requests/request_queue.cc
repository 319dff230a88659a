// RequestQueue: the per-app queues of admitted requests and their turns (see the header).
#include "supervisor/requests/request_queue.h"

#include <algorithm>

namespace isolated::supervisor::requests {

void RequestQueue::push(App& app, PendingRequest&& request) {
  app.queue.push_back(std::move(request));
  ++queued_;
  if (!app.waiting) {
    app.waiting = true;
    waiting_.push_back(&app);
  }
}

void RequestQueue::pump(kj::FunctionParam<bool(PendingRequest&)> assign) {
  size_t idle = 0;
  while (!waiting_.empty() && idle < waiting_.size()) {
    App* app = waiting_.front();
    waiting_.pop_front();
    if (!app->queue.empty() && assign(app->queue.front())) {
      app->queue.pop_front();
      --queued_;
      idle = 0;
    } else {
      ++idle;
    }
    if (app->queue.empty()) {
      app->waiting = false;
    } else {
      waiting_.push_back(app);
    }
  }
}

void RequestQueue::expire(Clock::time_point now, std::chrono::milliseconds timeout,
                          kj::FunctionParam<void(PendingRequest&)> reply) {
  for (App* app : waiting_) {
    while (!app->queue.empty() && now - app->queue.front().arrived >= timeout) {
      PendingRequest request = std::move(app->queue.front());
      app->queue.pop_front();
      --queued_;
      reply(request);
    }
  }
  std::erase_if(waiting_, [](App* app) {
    if (!app->queue.empty()) return false;
    app->waiting = false;
    return true;
  });
}

std::optional<RequestQueue::Clock::time_point> RequestQueue::earliestFront() const {
  std::optional<Clock::time_point> earliest;
  for (const App* app : waiting_) {
    if (app->queue.empty()) continue;
    Clock::time_point arrived = app->queue.front().arrived;
    if (!earliest || arrived < *earliest) earliest = arrived;
  }
  return earliest;
}

void RequestQueue::failAll(App& app, kj::FunctionParam<void(PendingRequest&)> reply) {
  while (!app.queue.empty()) {
    PendingRequest request = std::move(app.queue.front());
    app.queue.pop_front();
    --queued_;
    reply(request);
  }
  if (app.waiting) {
    app.waiting = false;
    std::erase(waiting_, &app);
  }
}

std::optional<PendingRequest> RequestQueue::remove(uint64_t id) {
  for (App* app : waiting_) {
    auto it = std::find_if(app->queue.begin(), app->queue.end(),
                           [id](const PendingRequest& request) { return request.id == id; });
    if (it == app->queue.end()) continue;
    PendingRequest request = std::move(*it);
    app->queue.erase(it);
    --queued_;
    return request;
  }
  return std::nullopt;
}

bool RequestQueue::removeFrom(App& app, uint64_t id) {
  auto it = std::find_if(app.queue.begin(), app.queue.end(),
                         [id](const PendingRequest& request) { return request.id == id; });
  if (it == app.queue.end()) return false;
  app.queue.erase(it);
  --queued_;
  return true;
}

}  // namespace isolated::supervisor::requests
