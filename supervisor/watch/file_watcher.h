// Watches a set of files for changes with inotify on the supervisor's event loop, for
// `isolated serve --watch`. The files' directories are watched rather than the files, so an
// editor that saves by writing a new file and renaming it over the old one (vim, most IDEs) is
// seen, and so is a file that is deleted and created again. Changes are debounced: the callback
// runs once a burst of events has been quiet for the debounce interval, with every watched path
// that changed during it.
//
// Lifetime: owns its inotify descriptor and its libevent events; destroy it before the
// event_base. Threading: the loop's thread only. The callback may call watch() and may destroy
// nothing but through the owner after it returns.
#pragma once

#include <event2/event.h>

#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/unique_fd.h"
#include "event/dispatcher.h"

namespace isolated::supervisor::watch {

class FileWatcher {
 public:
  using Callback = std::function<void(const std::set<std::string>& changed)>;

  // Throws SyscallError when inotify is not available (or its limits are reached).
  FileWatcher(event_base* base, std::chrono::milliseconds debounce, Callback onChange);
  FileWatcher(const FileWatcher&) = delete;
  FileWatcher& operator=(const FileWatcher&) = delete;

  // Makes `files` (absolute, normalised paths) the watched set. Returns a message for each
  // directory that cannot be watched (missing, no permission, out of inotify watches); the
  // others are watched regardless.
  std::vector<std::string> watch(const std::set<std::string>& files);
  const std::set<std::string>& files() const { return files_; }

 private:
  void onReadable();
  void onQuiet();

  event::Dispatcher loop_;  // borrowed base
  std::chrono::milliseconds debounce_;
  Callback onChange_;
  UniqueFd fd_;
  event::FileEvent readEvent_;
  event::Timer quietTimer_;
  std::set<std::string> files_;
  std::map<std::string, int> wdByDir_;
  std::map<int, std::string> dirByWd_;
  // Changed paths of the burst in progress.
  std::set<std::string> pending_;
};

}  // namespace isolated::supervisor::watch
