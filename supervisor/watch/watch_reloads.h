// WatchReloads: `serve --watch`. The files the apps are made of (scripts, the modules their live
// versions loaded, vars and secrets files, the config file) are watched with a FileWatcher; a
// change reloads what it concerns with SIGHUP's semantics: a single script's rolling reload (the
// new version validated by one worker first, a broken edit refused while the old version keeps
// serving), or, with --config, the file read again and its difference applied, and a redeploy of
// each app whose script, imports or binding files changed.
//
// Invariant: a change that arrives while the version it concerns is still loading is kept and
// tried again (every 300 ms) until it applies, so the last edit always ends up served.
// Lifetime: holds references to the AppRegistry, AppLifecycle and server, which outlive it.
// Threading: the supervisor's loop only.
#pragma once

#include <event2/event.h>

#include <memory>
#include <set>
#include <string>

#include "common/logger.h"
#include "common/serve_config.h"
#include "event/dispatcher.h"
#include "supervisor/apps/app_lifecycle.h"
#include "supervisor/apps/app_registry.h"
#include "supervisor/operator_actions.h"
#include "supervisor/watch/file_watcher.h"

namespace isolated::supervisor::watch {

class WatchReloads {
 public:
  // `server`: whether it serves (changes are ignored otherwise), and SIGHUP's reload (the
  // config file re-read, or the single script's rolling reload).
  WatchReloads(event_base* base, event::Dispatcher& dispatcher, const ServeConfig& config,
               Logger& logger, AppRegistry& apps, AppLifecycle& lifecycle, OperatorActions& server);
  WatchReloads(const WatchReloads&) = delete;
  WatchReloads& operator=(const WatchReloads&) = delete;

  // Watches the apps' files as they are now (with --watch, once the server serves; called
  // whenever a version settles). The watcher is made on the first call.
  void refresh();

 private:
  void onChange(const std::set<std::string>& changed);

  event_base* base_;
  const ServeConfig& config_;
  Logger& logger_;
  AppRegistry& apps_;
  AppLifecycle& lifecycle_;
  OperatorActions& server_;
  // Null until the server serves (or when --watch is off).
  std::unique_ptr<FileWatcher> watcher_;
  // Changes whose reload was still running, tried again by retry_.
  std::set<std::string> pending_;
  event::Timer retry_;
};

}  // namespace isolated::supervisor::watch
