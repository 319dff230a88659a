// inotify on directories, filtered to the watched files, with a debounce timer.
#include "supervisor/watch/file_watcher.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/syscall.h"

namespace isolated::supervisor::watch {

namespace {

// Writes in place (IN_MODIFY, IN_CLOSE_WRITE), saves by rename (IN_MOVED_TO), deletion and
// re-creation, and `touch` (IN_ATTRIB).
constexpr uint32_t kMask = IN_CLOSE_WRITE | IN_MODIFY | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE |
                           IN_DELETE | IN_ATTRIB | IN_ONLYDIR;

UniqueFd openInotify() {
  return UniqueFd(static_cast<int>(checkedSyscall(
      "inotify_init1", "--watch", [] { return ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC); })));
}

}  // namespace

FileWatcher::FileWatcher(event_base* base, std::chrono::milliseconds debounce, Callback onChange)
    : loop_(base),
      debounce_(debounce),
      onChange_(std::move(onChange)),
      fd_(openInotify()),
      readEvent_(loop_, fd_.get(), EV_READ, false, [this](short) { onReadable(); }),
      quietTimer_(loop_, [this] { onQuiet(); }) {}

std::vector<std::string> FileWatcher::watch(const std::set<std::string>& files) {
  std::vector<std::string> errors;
  std::set<std::string> dirs;
  for (const auto& file : files)
    dirs.insert(std::filesystem::path(file).parent_path().string());
  for (auto it = wdByDir_.begin(); it != wdByDir_.end();) {
    if (dirs.contains(it->first)) {
      ++it;
      continue;
    }
    ::inotify_rm_watch(fd_.get(), it->second);
    dirByWd_.erase(it->second);
    it = wdByDir_.erase(it);
  }
  for (const auto& dir : dirs) {
    if (wdByDir_.contains(dir)) continue;
    int wd = ::inotify_add_watch(fd_.get(), dir.c_str(), kMask);
    if (wd < 0) {
      errors.push_back(dir + ": " + errnoText(errno));
      continue;
    }
    wdByDir_[dir] = wd;
    dirByWd_[wd] = dir;
  }
  files_ = files;
  return errors;
}

void FileWatcher::onReadable() {
  alignas(inotify_event) char buffer[16384];
  bool changed = false;
  for (;;) {
    ssize_t n = ::read(fd_.get(), buffer, sizeof buffer);
    if (n <= 0) break;  // EAGAIN: drained
    for (ssize_t offset = 0; offset < n;) {
      auto* event = reinterpret_cast<inotify_event*>(buffer + offset);
      offset += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
      if (event->mask & IN_Q_OVERFLOW) {
        // Events were lost: any watched file may have changed.
        pending_.insert(files_.begin(), files_.end());
        changed = true;
        continue;
      }
      if (event->mask & IN_IGNORED) {
        // The directory went away; the next watch() adds it again if it is back.
        if (auto it = dirByWd_.find(event->wd); it != dirByWd_.end()) {
          wdByDir_.erase(it->second);
          dirByWd_.erase(it);
        }
        continue;
      }
      if (event->len == 0) continue;
      auto dir = dirByWd_.find(event->wd);
      if (dir == dirByWd_.end()) continue;
      std::string path = dir->second + "/" + event->name;
      if (!files_.contains(path)) continue;
      pending_.insert(std::move(path));
      changed = true;
    }
  }
  if (!changed) return;
  // Re-adding a pending timer moves its deadline: the callback runs once the burst is quiet.
  quietTimer_.arm(static_cast<uint32_t>(debounce_.count()));
}

void FileWatcher::onQuiet() {
  std::set<std::string> changed = std::move(pending_);
  pending_.clear();
  if (!changed.empty()) onChange_(changed);
}

}  // namespace isolated::supervisor::watch
