// The TOML config file of `isolated serve --config FILE`: a [server] table whose keys are the
// `serve` flags with underscores for dashes, and one [[app]] table per app. See
// docs/multi-tenancy.md for the keys.
//
// Reading checks everything an app's invariants need (common/app_config.h): names, scripts,
// routes (parsed, no two apps sharing one), crons, vars and secrets (files read), limits. Every
// error names the file, the line and the key: `isolated.toml:14: [[app]] "shop": key
// "cpu_limt" is unknown`. [server] values are only type-checked here and returned as text,
// because their meaning (ranges, cross-flag rules, precedence below flags and environment
// variables) belongs to cli/serve_options (cli/serve_settings.h), which validates them like flag
// values.
#pragma once

#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/app_config.h"

namespace isolated {

// How a [server] key is written in TOML, and so how its value becomes flag text.
enum class SettingKind {
  kNumber,    // an integer
  kSwitch,    // true/false (or "on"/"off")
  kText,      // a string
  kTextList,  // a string or an array of strings (joined with ',')
  kPath,      // a string; relative paths resolve against the file's directory
};

// A [server] key the caller accepts, named by its flag (`max-isolates` is key `max_isolates`).
struct ServerKey {
  std::string_view flag;
  SettingKind kind;
};

// A [server] value: the text the flag would have been given, and where it was written
// (`isolated.toml:3: [server]: key "workers"`), for the caller's error messages.
struct FileSetting {
  std::string value;
  std::string origin;
};

struct ConfigFile {
  // The file, absolute (ServeConfig::configPath).
  std::string path;
  // [server] settings by flag name.
  std::map<std::string, FileSetting, std::less<>> server;
  // At least one (none only when [server] names a registry); names unique; invariants of
  // AppConfig hold.
  std::vector<AppConfig> apps;
  // The exact text the file was parsed from: what a save (config/config_save.h) compares the
  // file with, to find an operator's edit the server has not read.
  std::string text;
};

// Reads and checks the file. `path` is shown in errors as given; relative paths inside the file
// resolve against the file's directory. Returns the error message on failure.
std::variant<ConfigFile, std::string> readConfigFile(const std::string& path,
                                                     std::span<const ServerKey> serverKeys);

// Reads `text` as the file at `path` (absolute; relative paths inside resolve against its
// directory), checking the apps as readConfigFile does but taking the [server] keys unchecked,
// by name with empty values: for a save that checks the text it is about to write, whose
// [server] table it leaves as it was read.
std::variant<ConfigFile, std::string> readConfigApps(const std::string& text,
                                                     const std::string& path);

}  // namespace isolated
