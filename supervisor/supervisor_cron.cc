// Supervisor: scheduled events. A cron trigger that fires (supervisor/cron_triggers.h) or
// `ctl trigger-cron` sends a Scheduled event down the same path as a request (queue, dispatch,
// wall limit, metrics).
#include "supervisor/supervisor.h"

namespace isolated::supervisor {

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
                    static_cast<double>(CronTriggers::wallNowMs()));
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
