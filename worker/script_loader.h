// Compiles and evaluates the user's script in a context, as a classic script or an ES module.
// A classic script registers handlers with addEventListener; a module exports them by default.
// A file ending in .mjs is always a module; otherwise the script is tried as classic and, if it
// fails to parse because it uses import/export, as a module.
#pragma once

#include <v8.h>

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

namespace isolated::worker {

struct ScriptError {
  std::string file;
  uint32_t line = 0;
  std::string message;
};

struct LoadedClassic {};
struct LoadedModule {
  v8::Local<v8::Value> defaultExport;
};
using LoadResult = std::variant<LoadedClassic, LoadedModule, ScriptError>;

// Must be called inside a JsScope for `context`.
LoadResult loadScript(v8::Isolate* isolate, v8::Local<v8::Context> context,
                      const std::string& path);

// Describes a caught exception as "file:line: message" parts.
ScriptError describeException(v8::Isolate* isolate, v8::Local<v8::Context> context,
                              const v8::TryCatch& tryCatch, const std::string& fallbackFile);

}  // namespace isolated::worker
