// IsolateRegistry's idle isolates: eviction (`idle` after the idle timeout, `lru` at the isolate
// bound, `memory` on EvictIdle) and the one-off memory release of isolates idle for
// RegistryOptions::releaseAfter, both paced by libevent timers armed on activity.
#include "worker/isolate_registry.h"

#include <algorithm>

#include "ipc/small_message_builder.h"

namespace isolated::worker {

namespace {

using Clock = std::chrono::steady_clock;

// Idle isolates' memory release (releaseIdleMemory): a worker with a request in flight looks
// again this much later, and one turn of the loop releases isolates for at most about this long.
constexpr std::chrono::milliseconds kReleaseBusyRetry{50};
constexpr std::chrono::milliseconds kReleaseTurn{5};

}  // namespace

bool IsolateRegistry::idle(const App& app) const {
  return app.host && !app.failure && app.host->inFlight() == 0 && app.host->backgroundTasks() == 0;
}

void IsolateRegistry::evict(App& app, const char* reason) {
  retireHost(app);
  ipc::SmallMessageBuilder message;
  auto evicted = message.initRoot<ipc::Envelope>().initAppEvicted();
  evicted.setApp(app.definition.id);
  evicted.setReason(reason);
  outbox_.send(message);
  logger_.debug("isolate evicted", {{"app", app.definition.id}, {"reason", reason}});
  trimmer_.schedule();
  // Evictions run while apps_ is being walked: the definition goes from the reap event.
  if (app.forgetting) scheduleReap();
}

void IsolateRegistry::evictIdle() {
  std::vector<App*> victims;
  for (auto& [id, app] : apps_) {
    if (idle(*app)) victims.push_back(app.get());
  }
  std::sort(victims.begin(), victims.end(),
            [](const App* a, const App* b) { return a->lastActive < b->lastActive; });
  for (App* app : victims)
    evict(*app, "memory");
  // The spare goes too; the next cold start makes it again.
  spares_.clear();
  // Give what the isolates freed back to the system: glibc keeps freed heap otherwise.
  trimmer_.trimNow();
  logger_.info("evicted idle isolates on request",
               {{"evicted", victims.size()}, {"loaded", liveCount_}});
}

void IsolateRegistry::evictLeastRecentlyUsed(const App& except) {
  App* victim = nullptr;
  for (auto& [id, app] : apps_) {
    if (app.get() == &except || !idle(*app)) continue;
    if (victim == nullptr || app->lastActive < victim->lastActive) victim = app.get();
  }
  if (victim == nullptr) {
    logger_.warn("every loaded isolate is busy: exceeding the isolate bound",
                 {{"max_isolates", options_.maxIsolates},
                  {"loaded", liveCount_ + 1},
                  {"app", except.definition.id}});
    return;
  }
  evict(*victim, "lru");
}

void IsolateRegistry::touch(App& app) {
  app.lastActive = Clock::now();
  app.memoryReleased = false;
  if (options_.idleTimeout.count() > 0 && !sweepArmed_) armSweep(options_.idleTimeout);
  if (options_.releaseAfter.count() > 0 && !releaseArmed_ && !options_.sharedIsolate) {
    armRelease(options_.releaseAfter);
  }
}

void IsolateRegistry::armSweep(std::chrono::milliseconds after) {
  timeval tv = millisToTimeval(std::max<long>(after.count(), 1));
  event_add(sweepEvent_.get(), &tv);
  sweepArmed_ = true;
}

void IsolateRegistry::sweep() {
  sweepArmed_ = false;
  auto now = Clock::now();
  auto next = Clock::time_point::max();
  for (auto& [id, app] : apps_) {
    if (!app->host) continue;
    if (!idle(*app)) {
      next = std::min(next, now + options_.idleTimeout);
      continue;
    }
    auto due = app->lastActive + options_.idleTimeout;
    if (due <= now) {
      evict(*app, "idle");
    } else {
      next = std::min(next, due);
    }
  }
  if (next != Clock::time_point::max()) {
    armSweep(std::chrono::ceil<std::chrono::milliseconds>(next - now));
  }
}

void IsolateRegistry::armRelease(std::chrono::milliseconds after) {
  timeval tv = millisToTimeval(std::max<long>(after.count(), 0));
  event_add(releaseEvent_.get(), &tv);
  releaseArmed_ = true;
}

void IsolateRegistry::releaseIdleMemory() {
  releaseArmed_ = false;
  // A request in flight goes first: a release is a full GC of a few ms.
  if (!requestApp_.empty()) {
    armRelease(kReleaseBusyRetry);
    return;
  }
  auto started = Clock::now();
  auto next = Clock::time_point::max();
  size_t released = 0;
  while (true) {
    App* oldest = nullptr;
    for (auto& [id, app] : apps_) {
      if (!app->host || app->memoryReleased || app->host->sharesIsolate()) continue;
      if (!idle(*app)) {
        // Busy with waitUntil() work: looked at again once that could be over.
        next = std::min(next, Clock::now() + options_.releaseAfter);
        continue;
      }
      if (oldest == nullptr || app->lastActive < oldest->lastActive) oldest = app.get();
    }
    if (oldest == nullptr) break;
    auto due = oldest->lastActive + options_.releaseAfter;
    auto now = Clock::now();
    if (due > now) {
      next = std::min(next, due);
      break;
    }
    if (now - started >= kReleaseTurn) {
      // Enough for one turn of the loop: the rest after whatever has arrived meanwhile.
      next = now;
      break;
    }
    oldest->host->releaseMemory();
    oldest->memoryReleased = true;
    ++released;
  }
  if (released > 0) {
    logger_.debug("released idle isolates' memory", {{"isolates", released}});
    trimmer_.schedule();
  }
  if (next != Clock::time_point::max()) {
    armRelease(std::chrono::ceil<std::chrono::milliseconds>(next - Clock::now()));
  }
}

}  // namespace isolated::worker
