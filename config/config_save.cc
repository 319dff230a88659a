// Saving apps into the config file: check unchanged, splice, read back, write atomically.
#include "config/config_save.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include "common/read_file.h"
#include "common/syscall.h"
#include "common/unique_fd.h"
#include "config/app_diff.h"
#include "config/app_table.h"
#include "config/config_file.h"
#include "config/config_splice.h"

namespace isolated {

namespace {

namespace fs = std::filesystem;

std::string failed(const std::string& what, const std::string& path, long err) {
  return what + " " + path + ": " + errnoText(static_cast<int>(-err));
}

// Replaces `path` by `text` atomically, keeping its mode; an error or nullopt.
std::optional<std::string> writeAtomically(const std::string& path, const std::string& text) {
  struct stat st {};
  if (long r = trySyscall([&] { return ::stat(path.c_str(), &st); }); r < 0) {
    return failed("cannot stat", path, r);
  }
  fs::path target(path);
  std::string tmp =
      (target.parent_path() / ("." + target.filename().string() + ".XXXXXX")).string();
  long fd = trySyscall([&] { return ::mkostemp(tmp.data(), O_CLOEXEC); });
  if (fd < 0) return failed("cannot create a temporary file beside", path, fd);
  UniqueFd file(static_cast<int>(fd));
  auto abandon = [&](const std::string& message) {
    file.reset();
    ::unlink(tmp.c_str());
    return message;
  };
  // The owner too when the server may give it (as root); otherwise the file becomes the
  // server's user's, which could write it anyway.
  if (st.st_uid != ::geteuid() || st.st_gid != ::getegid()) {
    trySyscall([&] { return ::fchown(file.get(), st.st_uid, st.st_gid); });
  }
  if (long r = trySyscall([&] { return ::fchmod(file.get(), st.st_mode & 07777); }); r < 0) {
    return abandon(failed("cannot set the mode of", tmp, r));
  }
  for (size_t done = 0; done < text.size();) {
    long n =
        trySyscall([&] { return ::write(file.get(), text.data() + done, text.size() - done); });
    if (n < 0) return abandon(failed("cannot write", tmp, n));
    done += static_cast<size_t>(n);
  }
  if (long r = trySyscall([&] { return ::fsync(file.get()); }); r < 0) {
    return abandon(failed("cannot sync", tmp, r));
  }
  file.reset();
  if (long r = trySyscall([&] { return ::rename(tmp.c_str(), path.c_str()); }); r < 0) {
    return abandon(failed("cannot rename over", path, r));
  }
  // The rename itself is durable once the directory is synced; a failure here loses nothing
  // that was not already written.
  long dir = trySyscall(
      [&] { return ::open(target.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); });
  if (dir >= 0) {
    UniqueFd directory(static_cast<int>(dir));
    trySyscall([&] { return ::fsync(directory.get()); });
  }
  return std::nullopt;
}

// Whether the file's directory refuses the new file made beside the old one and renamed over it.
std::optional<std::string> unwritable(const std::string& path) {
  std::string dir = fs::path(path).parent_path().string();
  if (::access(dir.c_str(), W_OK | X_OK) == 0) return std::nullopt;
  return "cannot write in " + dir + " (the directory of " + path + "): " + errnoText(errno);
}

const AppConfig* findApp(const ConfigFile& file, const std::string& name) {
  auto it = std::find_if(file.apps.begin(), file.apps.end(),
                         [&](const AppConfig& a) { return a.name == name; });
  return it == file.apps.end() ? nullptr : &*it;
}

}  // namespace

std::optional<std::string> ConfigSaver::current(std::string& error) const {
  auto text = readFile(path_, error);
  if (!text) return std::nullopt;
  if (*text != text_) {
    error = path_ +
            " changed on disk since the server read it; not overwriting that edit (apply it "
            "with `isolated ctl reload`, then deploy again)";
    return std::nullopt;
  }
  return text;
}

std::optional<std::string> ConfigSaver::check(const std::string& name) const {
  std::string error;
  auto text = current(error);
  if (!text) return error;
  if (!spliceAppTable(*text, path_, name, "[[app]]\n", error)) return error;
  return unwritable(path_);
}

std::variant<PendingSave, std::string> ConfigSaver::prepareSave(const AppConfig& app) const {
  std::string error;
  auto text = current(error);
  if (!text) return error;
  auto table = renderAppTable(app, fs::path(path_).parent_path(), error);
  if (!table) return error;
  auto next = spliceAppTable(*text, path_, app.name, *table, error);
  if (!next) return error;
  auto read = readConfigApps(*next, path_);
  if (auto* readError = std::get_if<std::string>(&read)) {
    return "the saved file would not load: " + *readError;
  }
  const AppConfig* saved = findApp(std::get<ConfigFile>(read), app.name);
  if (saved == nullptr || !sameApp(*saved, app)) {
    return "the saved table would not read back as the running app '" + app.name + "'";
  }
  return PendingSave{std::move(*next)};
}

std::variant<PendingSave, std::string> ConfigSaver::prepareRemove(const std::string& name) const {
  std::string error;
  auto text = current(error);
  if (!text) return error;
  auto next = spliceAppTable(*text, path_, name, std::nullopt, error);
  if (!next) return error;
  if (auto refused = unwritable(path_)) return *refused;
  auto read = readConfigApps(*next, path_);
  if (auto* readError = std::get_if<std::string>(&read)) {
    return "the file without '" + name + "' would not load: " + *readError;
  }
  return PendingSave{std::move(*next)};
}

std::optional<std::string> ConfigSaver::commit(const PendingSave& pending) {
  std::string error;
  if (!current(error)) return error;
  if (auto failure = writeAtomically(path_, pending.text)) return failure;
  text_ = pending.text;
  return std::nullopt;
}

}  // namespace isolated
