// Compiles and evaluates the user's script in a context, as a classic script or an ES module.
// A classic script registers handlers with addEventListener; a module exports them by default.
// A file ending in .mjs or .mts is always a module; otherwise the script is tried as classic
// and, if it fails to parse because it uses import/export, as a module. TypeScript (.ts, .mts)
// is loaded the same way once SourceCache has stripped its types (worker/type_stripper.h).
// Imports are relative paths with their extension, as in browsers, Deno and Node's type
// stripping: `./util.ts`, never `./util`.
#pragma once

#include <v8.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
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
  v8::Local<v8::Object> moduleNamespace;
};
using LoadResult = std::variant<LoadedClassic, LoadedModule, ScriptError>;

class TypeStripper;

// The text of every file a script loads, each read from disk once. A rebuilt context is loaded
// from here, so it runs exactly the code the worker started with even if the files have changed
// since (a new version reaches the pool through new workers, never half-way through one).
//
// With `keepCodeCache`, it also keeps V8's code cache for each file (ScriptCompiler::
// CreateCodeCache after the file's first evaluation): later compilations of the file, in new
// contexts or new isolates, consume it instead of parsing and compiling again. A cache V8
// rejects (another V8, other flags) is dropped and made again.
// A TypeScript file is kept both as read and with its types stripped, stripped once.
class SourceCache {
 public:
  explicit SourceCache(bool keepCodeCache = false);
  ~SourceCache();
  SourceCache(const SourceCache&) = delete;
  SourceCache& operator=(const SourceCache&) = delete;

  // The file's JavaScript (a TypeScript file's with its types stripped), read on first use;
  // nullptr with `error` set when it cannot be read or stripped (and `*errorLine`, when
  // given, set to the offending line, or 0).
  const std::string* get(const std::string& path, std::string& error,
                         uint32_t* errorLine = nullptr);
  // Gives the text of `path` as read (a pinned version, ipc/protocol.h rule 22): get() uses it
  // and never reads the file.
  void preset(const std::string& path, std::string text) { sources_[path] = std::move(text); }
  // Every file read so far, as read from disk (TypeScript included): path -> text.
  const std::map<std::string, std::string>& files() const { return sources_; }
  // Frees the TypeScript transform's isolate, if one was made; a later .ts file makes another.
  // loadScript calls it once the script's module graph is loaded.
  void releaseTypeStripper();

  bool keepsCodeCache() const { return keepCodeCache_; }
  // The code cache for `path`, or nullptr.
  const std::string* codeCache(const std::string& path) const;
  void setCodeCache(const std::string& path, std::string bytes);
  void dropCodeCache(const std::string& path) { codeCaches_.erase(path); }
  // Compilations that consumed a cache, and caches V8 rejected.
  uint64_t codeCacheHits() const { return codeCacheHits_; }
  uint64_t codeCacheRejects() const { return codeCacheRejects_; }
  void countCodeCache(bool rejected) { ++(rejected ? codeCacheRejects_ : codeCacheHits_); }

 private:
  bool keepCodeCache_;
  std::map<std::string, std::string> sources_;
  std::map<std::string, std::string> codeCaches_;
  uint64_t codeCacheHits_ = 0;
  uint64_t codeCacheRejects_ = 0;
  std::map<std::string, std::string> stripped_;
  std::unique_ptr<TypeStripper> stripper_;
};

// How an ES module's exports are read. kDefaultOnly makes no module namespace object (V8 10.2
// cannot put one in a startup snapshot): LoadedModule::moduleNamespace is then empty.
enum class ModuleExports { kNamespace, kDefaultOnly };

// Must be called inside a JsScope for `context`. Microtasks queued by the script's top level
// run in the context's own microtask queue before this returns. `beforeClassicRun`, when set,
// runs once a classic script has compiled and before its top level runs (the point where
// service-worker globals are installed); returning false (a JavaScript exception pending)
// fails the load.
LoadResult loadScript(v8::Isolate* isolate, v8::Local<v8::Context> context, const std::string& path,
                      SourceCache& sources, const std::function<bool()>& beforeClassicRun = {},
                      ModuleExports exports = ModuleExports::kNamespace);

// Like loadScript, but always as an ES module, whatever the file's extension.
LoadResult loadModuleScript(v8::Isolate* isolate, v8::Local<v8::Context> context,
                            const std::string& path, SourceCache& sources);

// Describes a caught exception as "file:line: message" parts.
ScriptError describeException(v8::Isolate* isolate, v8::Local<v8::Context> context,
                              const v8::TryCatch& tryCatch, const std::string& fallbackFile);

}  // namespace isolated::worker
