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
  if (crons_.empty()) return;
  int64_t nowSec = wallNowMs() / 1000;
  int64_t earliest = INT64_MAX;
  for (auto& entry : crons_) {
    // The earlier of the fire already due (kept so a late timer still fires it) and the next
    // one from now (sooner than the stored one only when the wall clock moved back).
    int64_t fromNow = entry.schedule.next(nowSec).value_or(INT64_MAX);
    entry.nextFireSec = entry.nextFireSec == 0 ? fromNow : std::min(entry.nextFireSec, fromNow);
    earliest = std::min(earliest, entry.nextFireSec);
  }
  if (earliest == INT64_MAX) return;
  if (!cronTimer_) {
    cronTimer_.reset(event_new(
        base_, -1, 0,
        [](evutil_socket_t, short, void* self) { static_cast<Supervisor*>(self)->onCronTimer(); },
        this));
  }
  // Sleep at most a minute at a time, so that a wall-clock change is noticed promptly.
  int64_t delayMs = std::clamp<int64_t>(earliest * 1000 - wallNowMs(), 0, 60000);
  timeval tv = millisToTimeval(static_cast<long>(delayMs));
  event_add(cronTimer_.get(), &tv);
}

void Supervisor::onCronTimer() {
  int64_t nowSec = wallNowMs() / 1000;
  for (auto& entry : crons_) {
    if (entry.nextFireSec > nowSec) continue;
    // A fire missed by more than a minute (suspend, clock jump) is skipped, not replayed.
    if (nowSec - entry.nextFireSec < 60) {
      dispatchScheduled(entry.schedule.expression(), static_cast<double>(entry.nextFireSec) * 1000);
    } else {
      logger_.warn("cron trigger missed", {{"cron", entry.schedule.expression()},
                                           {"due_s_ago", nowSec - entry.nextFireSec}});
    }
    entry.nextFireSec = entry.schedule.next(nowSec).value_or(INT64_MAX);
  }
  armCronTimer();
}

std::optional<std::string> Supervisor::triggerScheduled(const std::string& cron) {
  if (phase_ != Phase::kServing) return "the server is not serving";
  auto parsed = CronSchedule::parse(cron);
  if (auto* error = std::get_if<std::string>(&parsed)) return *error;
  // Like Cloudflare's test trigger: the scheduled time is now, not the expression's next fire.
  dispatchScheduled(std::get<CronSchedule>(parsed).expression(), static_cast<double>(wallNowMs()));
  return std::nullopt;
}

void Supervisor::dispatchScheduled(const std::string& cron, double scheduledTimeMs) {
  if (phase_ != Phase::kServing) {
    logger_.warn("cron trigger skipped: the server is not serving", {{"cron", cron}});
    return;
  }
  PendingRequest pending{nullptr, nextRequestId_++, Clock::now(), newRequestId(), 0,
                         cron,    scheduledTimeMs};
  logger_.debug("cron trigger", {{"cron", cron}, {"request_id", pending.requestId}});
  if (queue_.empty() && tryAssign(pending)) return;
  if (queue_.size() >= config_.queueSize) {
    return replyError(pending, 503, "overloaded", "every worker is busy and the queue is full");
  }
  queue_.push_back(std::move(pending));
}

}  // namespace isolated::supervisor
