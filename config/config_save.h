// Writing apps back into the config file a server runs from (`ctl deploy --save`, `ctl undeploy
// --save`): the supervisor's, which owns every stored byte; single-threaded (the supervisor's
// loop), blocking file I/O of one small file.
//
// The file stays the operator's: only the saved app's [[app]] table changes
// (config/config_splice.h), and only while the file still holds the text the server last read
// or wrote (`text`): an edit the server has not read is never overwritten; the save is refused
// and says so. Every save is checked before it is written: the new text must read back
// (config/config_file.h) to an app equal to the running one (sameApp, config/app_diff.h), or
// without the app for a removal, so a reload or restart right after it changes nothing. The
// write is atomic (a temporary file in the same directory, fsync, rename, keeping the file's
// mode, and its owner where the server may set it): a crash leaves the old file or the new one.
#pragma once

#include <optional>
#include <string>
#include <variant>

#include "common/app_config.h"

namespace isolated {

// A checked new text, ready to write.
struct PendingSave {
  std::string text;
};

class ConfigSaver {
 public:
  // `path`: the config file, absolute; `text`: what the server read from it.
  ConfigSaver(std::string path, std::string text)
      : path_(std::move(path)), text_(std::move(text)) {}

  const std::string& path() const { return path_; }

  // The server read the file again (a reload): `text` is now what it runs from.
  void read(std::string text) { text_ = std::move(text); }

  // Whether a later save of app `name` can be made, asked before a deploy switches anything:
  // the file is unchanged, its table for `name`, if any, can be spliced, and its directory is
  // writable. An error or nullopt.
  std::optional<std::string> check(const std::string& name) const;

  // The file with `app` as it runs now (replacing its table, or appended), checked.
  std::variant<PendingSave, std::string> prepareSave(const AppConfig& app) const;
  // The file without app `name`, checked (it must still describe an app, and no service binding
  // of another app may name this one).
  std::variant<PendingSave, std::string> prepareRemove(const std::string& name) const;

  // Writes `pending` if the file is still unchanged; then it is what the server runs from.
  std::optional<std::string> commit(const PendingSave& pending);

 private:
  // The file's current text; nullopt with `error` when it cannot be read or differs from text_.
  std::optional<std::string> current(std::string& error) const;

  std::string path_;
  std::string text_;
};

}  // namespace isolated
