// Supervisor: `serve --watch`. The files the apps are made of are watched (FileWatcher); a
// change reloads what it concerns with SIGHUP's semantics: a single script's rolling reload
// (the new version validated by one worker first, a broken edit refused while the old version
// keeps serving), or, with --config, the file read again and its difference applied, and a
// redeploy of each app whose script, imports or binding files changed.
#include <filesystem>

#include "common/syscall.h"
#include "supervisor/supervisor.h"

namespace isolated::supervisor {

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

void Supervisor::refreshWatch() {
  if (!config_.watch || phase_ != Phase::kServing) return;
  if (!watcher_) {
    try {
      watcher_ = std::make_unique<watch::FileWatcher>(
          base_, kWatchDebounce,
          [this](const std::set<std::string>& changed) { onWatchedChange(changed); });
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

void Supervisor::onWatchedChange(const std::set<std::string>& changed) {
  if (phase_ != Phase::kServing) return;
  std::set<std::string> later;
  auto retryLater = [&](const std::set<std::string>& paths) {
    later.insert(paths.begin(), paths.end());
  };
  if (config_.configPath.empty()) {
    App* app = singleApp();
    if (app == nullptr) return;
    // A version still loading would refuse the reload: this edit is tried once it settles.
    if (app->candidate || reloadWaitsForSnapshot_) {
      retryLater(changed);
    } else {
      logger_.info("files changed, reloading", {{"files", joined(changed)}});
      beginReload();
    }
  } else {
    // Apps loading a version started before this change may have read the old files.
    std::set<std::string> loadingBefore;
    for (const auto& [name, app] : apps_.apps()) {
      if (app->candidate) loadingBefore.insert(name);
    }
    if (changed.contains(config_.configPath)) {
      logger_.info("config file changed, reloading", {{"config", config_.configPath}});
      beginReload();
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
      if (auto error = deploy(app->config, {})) {
        logger_.error("--watch: app not redeployed", {{"app", name}, {"error", *error}});
      }
    }
  }
  if (later.empty()) return;
  watchPending_.insert(later.begin(), later.end());
  if (!watchRetry_.armed()) watchRetry_.arm(kWatchRetryMs);
}

}  // namespace isolated::supervisor
