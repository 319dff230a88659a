// Supervisor: cron triggers. One libevent timer for the earliest next fire among the --cron
// schedules; when it fires, every due schedule sends a Scheduled event down the same path as a
// request (queue, dispatch, wall limit, metrics). `ctl trigger-cron` fires one on demand.
#include <algorithm>
#include <chrono>

#include "supervisor/supervisor.h"

namespace isolated::supervisor {

namespace {

int64_t wallNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void Supervisor::armCronTimer() {
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
    cronTimer_.cancel();
    return;
  }
  // Sleep at most a minute at a time, so that a wall-clock change is noticed promptly.
  int64_t delayMs = std::clamp<int64_t>(earliest * 1000 - wallNowMs(), 0, 60000);
  cronTimer_.arm(static_cast<uint32_t>(delayMs));
}

void Supervisor::onCronTimer() {
  int64_t nowSec = wallNowMs() / 1000;
  for (const auto& [name, app] : apps_.apps()) {
    for (auto& entry : app->crons) {
      if (entry.nextFireSec > nowSec) continue;
      // A fire missed by more than a minute (suspend, clock jump) is skipped, not replayed.
      if (nowSec - entry.nextFireSec < 60) {
        dispatchScheduled(*app, entry.schedule.expression(),
                          static_cast<double>(entry.nextFireSec) * 1000);
      } else {
        logger_.warn("cron trigger missed", {{"app", name},
                                             {"cron", entry.schedule.expression()},
                                             {"due_s_ago", nowSec - entry.nextFireSec}});
      }
      entry.nextFireSec = entry.schedule.next(nowSec).value_or(INT64_MAX);
    }
  }
  armCronTimer();
}

std::optional<std::string> Supervisor::triggerScheduled(const std::string& appName,
                                                        const std::string& cron) {
  if (phase_ != Phase::kServing) return "the server is not serving";
  App* app = appName.empty() ? singleApp() : apps_.find(appName);
  if (app == nullptr) {
    return appName.empty() ? "name the app (--app NAME): the server has several"
                           : "no app named '" + appName + "'";
  }
  auto parsed = CronSchedule::parse(cron);
  if (auto* error = std::get_if<std::string>(&parsed)) return *error;
  // Like Cloudflare's test trigger: the scheduled time is now, not the expression's next fire.
  dispatchScheduled(*app, std::get<CronSchedule>(parsed).expression(),
                    static_cast<double>(wallNowMs()));
  return std::nullopt;
}

void Supervisor::dispatchScheduled(App& app, const std::string& cron, double scheduledTimeMs) {
  if (phase_ != Phase::kServing) {
    logger_.warn("cron trigger skipped: the server is not serving",
                 {{"app", app.config.name}, {"cron", cron}});
    return;
  }
  PendingRequest pending;
  pending.id = requests_.nextId();
  pending.arrived = Clock::now();
  pending.requestId = newRequestId();
  pending.cron = cron;
  pending.scheduledTimeMs = scheduledTimeMs;
  pending.app = &app;
  logger_.debug("cron trigger",
                {{"app", app.config.name}, {"cron", cron}, {"request_id", pending.requestId}});
  admit(std::move(pending));
}

}  // namespace isolated::supervisor
