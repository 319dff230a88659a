// WatchReloads: `serve --watch` (see the header).
#include "supervisor/watch/watch_reloads.h"

#include <filesystem>
#include <utility>

#include "common/syscall.h"

namespace isolated::supervisor::watch {

namespace {

// Editors write a file in several steps (truncate, write, rename, chmod): one reload per burst.
constexpr auto kWatchDebounce = std::chrono::milliseconds(150);
// A change that arrives while the reload of what it concerns is still loading waits this long
// and is tried again, so the last edit always ends up served.
constexpr uint32_t kWatchRetryMs = 300;

std::string absolutePath(const std::string& path) {
  std::error_code ec;
  auto absolute = std::filesystem::absolute(path, ec);
  return ec ? path : absolute.lexically_normal().string();
}

// The files `app` is made of: its script, the modules its live version loaded, and its vars
// and secrets files. A registry app has none on this server (its files come with it).
std::set<std::string> filesOf(const App& app) {
  if (!app.config.modules.empty()) return {};
  std::set<std::string> files{absolutePath(app.config.scriptPath)};
  if (app.live) {
    for (const auto& [path, text] : app.live->modules)
      files.insert(path);
  }
  for (const std::string* file :
       {&app.config.bindings.varsFile, &app.config.bindings.secretsFile}) {
    if (!file->empty()) files.insert(absolutePath(*file));
  }
  return files;
}

bool touches(const std::set<std::string>& files, const std::set<std::string>& changed) {
  for (const auto& path : changed) {
    if (files.contains(path)) return true;
  }
  return false;
}

std::string joined(const std::set<std::string>& paths) {
  std::string out;
  for (const auto& path : paths) {
    if (!out.empty()) out += ",";
    out += path;
  }
  return out;
}

}  // namespace

WatchReloads::WatchReloads(event_base* base, event::Dispatcher& dispatcher,
                           const ServeConfig& config, Logger& logger, AppRegistry& apps,
                           AppLifecycle& lifecycle, OperatorActions& server)
    : base_(base),
      config_(config),
      logger_(logger),
      apps_(apps),
      lifecycle_(lifecycle),
      server_(server),
      retry_(dispatcher, [this] {
        std::set<std::string> pending = std::move(pending_);
        pending_.clear();
        onChange(pending);
      }) {}

void WatchReloads::refresh() {
  if (!config_.watch || !server_.serving()) return;
  if (!watcher_) {
    try {
      watcher_ = std::make_unique<FileWatcher>(
          base_, kWatchDebounce,
          [this](const std::set<std::string>& changed) { onChange(changed); });
    } catch (const SyscallError& e) {
      logger_.error("--watch: cannot watch files; changes need SIGHUP", {{"error", e.what()}});
      return;
    }
  }
  std::set<std::string> files;
  if (!config_.configPath.empty()) files.insert(config_.configPath);
  for (const auto& [name, app] : apps_.apps()) {
    if (app->removed) continue;
    files.merge(filesOf(*app));
  }
  if (files == watcher_->files()) return;
  for (const auto& error : watcher_->watch(files)) {
    logger_.warn("--watch: cannot watch a directory", {{"error", error}});
  }
  logger_.debug("watching files", {{"files", files.size()}});
}

void WatchReloads::onChange(const std::set<std::string>& changed) {
  if (!server_.serving()) return;
  std::set<std::string> later;
  auto retryLater = [&](const std::set<std::string>& paths) {
    later.insert(paths.begin(), paths.end());
  };
  if (config_.configPath.empty()) {
    if (lifecycle_.singleApp() == nullptr) return;
    // A version still loading would refuse the reload: this edit is tried once it settles.
    if (lifecycle_.singleReloadRunning()) {
      retryLater(changed);
    } else {
      logger_.info("files changed, reloading", {{"files", joined(changed)}});
      server_.beginReload(nullptr);
    }
  } else {
    // Apps loading a version started before this change may have read the old files.
    std::set<std::string> loadingBefore;
    for (const auto& [name, app] : apps_.apps()) {
      if (app->candidate) loadingBefore.insert(name);
    }
    if (changed.contains(config_.configPath)) {
      logger_.info("config file changed, reloading", {{"config", config_.configPath}});
      server_.beginReload(nullptr);
    }
    for (const auto& [name, app] : apps_.apps()) {
      if (app->removed) continue;
      auto files = filesOf(*app);
      if (!touches(files, changed)) continue;
      std::set<std::string> mine;
      for (const auto& path : changed) {
        if (files.contains(path)) mine.insert(path);
      }
      if (loadingBefore.contains(name)) {
        retryLater(mine);
        continue;
      }
      if (app->candidate) continue;  // the config's new version of it reads the files anew
      logger_.info("files changed, redeploying", {{"app", name}, {"files", joined(mine)}});
      if (auto error = lifecycle_.deploy(app->config, {})) {
        logger_.error("--watch: app not redeployed", {{"app", name}, {"error", *error}});
      }
    }
  }
  if (later.empty()) return;
  pending_.insert(later.begin(), later.end());
  if (!retry_.armed()) retry_.arm(kWatchRetryMs);
}

}  // namespace isolated::supervisor::watch
