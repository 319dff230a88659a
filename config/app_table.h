// An app's [[app]] table as TOML text: what `ctl deploy --save` writes into the config file
// (config/config_save.h). Pure; any thread.
//
// Invariant: reading the text back (config/config_file.h, in a file in `dir`) gives an app that
// sameApp() (config/app_diff.h) finds equal to `app`, so a reload right after a save changes
// nothing. Keys are written in a fixed order (name, script, routes, then the environment,
// bindings, crons and limits), a key only when it differs from its default; values are
// rendered by toml++'s formatter, so strings are quoted and escaped correctly. Paths under
// `dir` are written relative to it, others absolute.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "common/app_config.h"

namespace isolated {

// "[[app]]\nname = ...\n...", every line ending in '\n'. nullopt (with `error`) for an app the
// file format cannot describe: one from the registry (its files are inline), or one whose
// variables hold a JSON value TOML has no form for (null).
std::optional<std::string> renderAppTable(const AppConfig& app, const std::filesystem::path& dir,
                                          std::string& error);

}  // namespace isolated
