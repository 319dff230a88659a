// What an AppLifecycle needs around it when there is no server: a loop (for the cron timer), a
// logger, a config, the apps and their cron triggers; and InertLifecycleHost, a server with no
// worker, for tests whose subject sits above the lifecycle (the control commands, the control
// fuzz target). Tests that check what the lifecycle asks of its host write their own host
// (tests/app_lifecycle_test.cc).
#pragma once

#include <event2/event.h>

#include <optional>
#include <string>
#include <string_view>

#include "common/event_handles.h"
#include "common/logger.h"
#include "common/serve_config.h"
#include "event/dispatcher.h"
#include "supervisor/apps/app_lifecycle.h"
#include "supervisor/apps/app_registry.h"
#include "supervisor/cron_triggers.h"

namespace isolated::supervisor {

// Declared in construction order; the lifecycle made from them must be destroyed first.
// `logFd`: where error lines go (stderr by default).
struct LifecycleSurroundings {
  explicit LifecycleSurroundings(int logFd = 2)
      : logger(LogLevel::kError, LogFormat::kText, logFd) {}

  EventBasePtr base{event_base_new()};
  event::Dispatcher dispatcher{base.get()};
  Logger logger;
  ServeConfig config;
  AppRegistry apps;
  CronTriggers cron{dispatcher, apps, logger, [](App&, const std::string&, double) {}};
};

// Serving, with no worker: a deploy stays loading until it is undeployed; nothing is recorded.
class InertLifecycleHost : public LifecycleHost {
 public:
  Stage stage() const override { return Stage::kServing; }
  std::optional<uint32_t> validatorFor(const App&) override { return std::nullopt; }
  void preloadOn(uint32_t, const Deployment&) override {}
  void preloadEverywhere(const Deployment&) override {}
  void unloadEverywhere(uint32_t) override {}
  void failQueue(App&, int, std::string_view, const std::string&) override {}
  std::optional<std::string> registerBindings(const Deployment&) override { return std::nullopt; }
  void restartWorkers() override {}
  void versionSettled(bool) override {}
  void failBoot(const std::string&) override {}
};

}  // namespace isolated::supervisor
