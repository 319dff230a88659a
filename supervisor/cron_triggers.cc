// Cron triggers: see cron_triggers.h.
#include "supervisor/cron_triggers.h"

#include <algorithm>
#include <chrono>

namespace isolated::supervisor {

CronTriggers::CronTriggers(event::Dispatcher& dispatcher, AppRegistry& apps, Logger& logger,
                           Fire fire)
    : apps_(apps),
      logger_(logger),
      fire_(std::move(fire)),
      timer_(dispatcher, [this] { onTimer(); }) {}

int64_t CronTriggers::wallNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void CronTriggers::rearm() {
  int64_t nowSec = wallNowMs() / 1000;
  int64_t earliest = INT64_MAX;
  for (const auto& [name, app] : apps_.apps()) {
    for (auto& entry : app->crons) {
      // The earlier of the fire already due (kept so a late timer still fires it) and the next
      // one from now (sooner than the stored one only when the wall clock moved back).
      int64_t fromNow = entry.schedule.next(nowSec).value_or(INT64_MAX);
      entry.nextFireSec = entry.nextFireSec == 0 ? fromNow : std::min(entry.nextFireSec, fromNow);
      earliest = std::min(earliest, entry.nextFireSec);
    }
  }
  if (earliest == INT64_MAX) {
    timer_.cancel();
    return;
  }
  int64_t delayMs = std::clamp<int64_t>(earliest * 1000 - wallNowMs(), 0, 60000);
  timer_.arm(static_cast<uint32_t>(delayMs));
}

void CronTriggers::onTimer() {
  int64_t nowSec = wallNowMs() / 1000;
  for (const auto& [name, app] : apps_.apps()) {
    for (auto& entry : app->crons) {
      if (entry.nextFireSec > nowSec) continue;
      if (nowSec - entry.nextFireSec < 60) {
        fire_(*app, entry.schedule.expression(), static_cast<double>(entry.nextFireSec) * 1000);
      } else {
        logger_.warn("cron trigger missed", {{"app", name},
                                             {"cron", entry.schedule.expression()},
                                             {"due_s_ago", nowSec - entry.nextFireSec}});
      }
      entry.nextFireSec = entry.schedule.next(nowSec).value_or(INT64_MAX);
    }
  }
  rearm();
}

}  // namespace isolated::supervisor
