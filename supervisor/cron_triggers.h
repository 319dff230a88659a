// When the apps' cron schedules fire: one timer for the earliest next fire among every schedule
// of every app (wall clock, UTC). When it fires, each schedule due is handed to the `fire`
// callback with its scheduled time; a fire missed by more than a minute (a suspend, a clock jump)
// is logged and skipped, not replayed. The timer sleeps at most a minute at a time, so that a
// wall-clock change is noticed promptly.
//
// Invariants: the schedules and their next fire live in the apps (App::crons); rearm() after
// they change (boot, deploys, a config reload), cancel() when the server stops serving.
// Threading: the loop thread only. Lifetime: the registry and the dispatcher outlive it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "common/logger.h"
#include "event/dispatcher.h"
#include "supervisor/apps/app_registry.h"

namespace isolated::supervisor {

class CronTriggers {
 public:
  using Fire = std::function<void(App& app, const std::string& cron, double scheduledTimeMs)>;
  CronTriggers(event::Dispatcher& dispatcher, AppRegistry& apps, Logger& logger, Fire fire);
  CronTriggers(const CronTriggers&) = delete;
  CronTriggers& operator=(const CronTriggers&) = delete;

  // Arms the timer for the earliest next fire (none: disarmed).
  void rearm();
  void cancel() { timer_.cancel(); }

  // Milliseconds since the Unix epoch (a Scheduled event's scheduledTime).
  static int64_t wallNowMs();

 private:
  void onTimer();

  AppRegistry& apps_;
  Logger& logger_;
  Fire fire_;
  event::Timer timer_;
};

}  // namespace isolated::supervisor
