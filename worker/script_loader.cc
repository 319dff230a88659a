// Script and module compilation, with file/line/message errors for load failures.
#include "worker/script_loader.h"

#include <filesystem>
#include <map>
#include <memory>

#include "common/read_file.h"
#include "worker/type_stripper.h"

namespace isolated::worker {

namespace {

v8::Local<v8::String> v8String(v8::Isolate* isolate, const std::string& s) {
  return v8::String::NewFromUtf8(isolate, s.data(), v8::NewStringType::kNormal,
                                 static_cast<int>(s.size()))
      .ToLocalChecked();
}

std::string toStdString(v8::Isolate* isolate, v8::Local<v8::Value> value) {
  v8::String::Utf8Value utf8(isolate, value);
  return *utf8 ? std::string(*utf8, utf8.length()) : std::string();
}

// Module graph state for one loadScript call: path -> module, and module hash -> path so that
// relative specifiers resolve against their referrer. It lives in the context's embedder data
// only while InstantiateModule runs.
struct ModuleGraph {
  v8::Isolate* isolate;
  SourceCache& sources;
  std::map<std::string, v8::Global<v8::Module>> byPath;
  std::multimap<int, std::string> pathByHash;
};
constexpr int kModuleGraphSlot = 2;

v8::MaybeLocal<v8::Module> compileModule(ModuleGraph& graph, const std::string& path,
                                         const std::string& source);

std::string pathOf(ModuleGraph& graph, v8::Local<v8::Module> module) {
  auto range = graph.pathByHash.equal_range(module->GetIdentityHash());
  for (auto it = range.first; it != range.second; ++it) {
    if (graph.byPath[it->second].Get(graph.isolate) == module) return it->second;
  }
  return {};
}

v8::MaybeLocal<v8::Module> resolveModule(v8::Local<v8::Context> context,
                                         v8::Local<v8::String> specifier, v8::Local<v8::FixedArray>,
                                         v8::Local<v8::Module> referrer) {
  auto* graph =
      static_cast<ModuleGraph*>(context->GetAlignedPointerFromEmbedderData(kModuleGraphSlot));
  v8::Isolate* isolate = graph->isolate;
  std::string spec = toStdString(isolate, specifier);
  std::string from = pathOf(*graph, referrer);
  auto throwError = [&](const std::string& message) {
    isolate->ThrowException(v8::Exception::TypeError(v8String(isolate, message)));
    return v8::MaybeLocal<v8::Module>();
  };
  if (!(spec.starts_with("./") || spec.starts_with("../") || spec.starts_with("/"))) {
    return throwError("cannot import '" + spec + "' from " + from +
                      ": bare module specifiers are not supported; use a relative path");
  }
  namespace fs = std::filesystem;
  std::string resolved = (fs::path(from).parent_path() / spec).lexically_normal().string();
  if (auto it = graph->byPath.find(resolved); it != graph->byPath.end()) {
    return it->second.Get(isolate);
  }
  std::string readError;
  uint32_t errorLine = 0;
  const std::string* source = graph->sources.get(resolved, readError, &errorLine);
  if (source == nullptr) {
    std::string where = errorLine > 0 ? resolved + ":" + std::to_string(errorLine) + ": " : "";
    std::error_code ignored;
    if (fs::path(spec).extension().empty()) {
      for (const char* extension : {".ts", ".js", ".mjs"}) {
        if (fs::is_regular_file(resolved + extension, ignored)) {
          readError += " (imports name the file with its extension: '" + spec + extension + "')";
          break;
        }
      }
    }
    return throwError("cannot import '" + spec + "' from " + from + ": " + where + readError);
  }
  return compileModule(*graph, resolved, *source);
}

// The cached data for `path` to hand to a ScriptCompiler::Source (which owns the wrapper, not
// the bytes), or nullptr.
v8::ScriptCompiler::CachedData* cachedDataFor(const SourceCache& sources, const std::string& path) {
  const std::string* bytes = sources.keepsCodeCache() ? sources.codeCache(path) : nullptr;
  if (bytes == nullptr) return nullptr;
  return new v8::ScriptCompiler::CachedData(reinterpret_cast<const uint8_t*>(bytes->data()),
                                            static_cast<int>(bytes->size()));
}

// After a compilation that was offered a cache: counts it, and drops a rejected one.
void noteCacheUse(SourceCache& sources, const std::string& path,
                  const v8::ScriptCompiler::Source& source) {
  const v8::ScriptCompiler::CachedData* offered = source.GetCachedData();
  if (offered == nullptr) return;
  sources.countCodeCache(offered->rejected);
  if (offered->rejected) sources.dropCodeCache(path);
}

void keepCodeCache(SourceCache& sources, const std::string& path,
                   v8::ScriptCompiler::CachedData* created) {
  std::unique_ptr<v8::ScriptCompiler::CachedData> data(created);
  if (!data || data->length <= 0) return;
  sources.setCodeCache(path, std::string(reinterpret_cast<const char*>(data->data),
                                         static_cast<size_t>(data->length)));
}

// Module code caches are kept apart from a classic script's: the same file may be tried as
// both, and a cache must never be offered to the other kind of compilation.
std::string moduleCacheKey(const std::string& path) {
  return path + "\n(module)";
}

v8::MaybeLocal<v8::Module> compileModule(ModuleGraph& graph, const std::string& path,
                                         const std::string& source) {
  v8::Isolate* isolate = graph.isolate;
  v8::ScriptOrigin origin(isolate, v8String(isolate, path), 0, 0, false, -1, v8::Local<v8::Value>(),
                          false, false, /*is_module=*/true);
  v8::ScriptCompiler::Source compileSource(v8String(isolate, source), origin,
                                           cachedDataFor(graph.sources, moduleCacheKey(path)));
  auto options = compileSource.GetCachedData() != nullptr ? v8::ScriptCompiler::kConsumeCodeCache
                                                          : v8::ScriptCompiler::kNoCompileOptions;
  v8::Local<v8::Module> module;
  bool compiled =
      v8::ScriptCompiler::CompileModule(isolate, &compileSource, options).ToLocal(&module);
  noteCacheUse(graph.sources, moduleCacheKey(path), compileSource);
  if (!compiled) return {};
  graph.byPath[path].Reset(isolate, module);
  graph.pathByHash.emplace(module->GetIdentityHash(), path);
  return module;
}

// The global through which kDefaultOnly's entry module hands over the default export; deleted
// at once, before any other code runs.
constexpr const char* kDefaultExportGlobal = "__isolatedDefaultExport";

LoadResult loadModule(v8::Isolate* isolate, v8::Local<v8::Context> context, const std::string& path,
                      const std::string& source, SourceCache& sources, ModuleExports exports) {
  v8::TryCatch tryCatch(isolate);
  ModuleGraph graph{isolate, sources, {}, {}};
  v8::Local<v8::Module> module;
  if (!compileModule(graph, path, source).ToLocal(&module)) {
    return describeException(isolate, context, tryCatch, path);
  }
  v8::Local<v8::Module> root = module;
  if (exports == ModuleExports::kDefaultOnly) {
    // An entry module beside the script imports its default export by a relative specifier and
    // passes it out through a global, so no namespace object is ever made.
    std::string name = std::filesystem::path(path).filename().string();
    std::string entry = "import handler from './" + name + "';\nglobalThis." +
                        kDefaultExportGlobal + " = handler;\n";
    if (name.find_first_of("'\\\n\r") != std::string::npos ||
        !compileModule(graph, path + "#isolated-entry", entry).ToLocal(&root)) {
      return describeException(isolate, context, tryCatch, path);
    }
  }
  module = root;
  context->SetAlignedPointerInEmbedderData(kModuleGraphSlot, &graph);
  bool instantiated = module->InstantiateModule(context, resolveModule).FromMaybe(false);
  context->SetAlignedPointerInEmbedderData(kModuleGraphSlot, nullptr);
  if (!instantiated) return describeException(isolate, context, tryCatch, path);

  v8::Local<v8::Value> evaluation;
  if (!module->Evaluate(context).ToLocal(&evaluation)) {
    return describeException(isolate, context, tryCatch, path);
  }
  context->GetMicrotaskQueue()->PerformCheckpoint(isolate);
  if (module->GetStatus() == v8::Module::kErrored) {
    isolate->ThrowException(module->GetException());
    return describeException(isolate, context, tryCatch, path);
  }
  if (sources.keepsCodeCache()) {
    // After evaluation, so the functions the top level ran are in the cache too.
    for (auto& [modulePath, compiled] : graph.byPath) {
      if (sources.codeCache(moduleCacheKey(modulePath)) != nullptr) continue;
      keepCodeCache(
          sources, moduleCacheKey(modulePath),
          v8::ScriptCompiler::CreateCodeCache(compiled.Get(isolate)->GetUnboundModuleScript()));
    }
  }
  if (exports == ModuleExports::kDefaultOnly) {
    v8::Local<v8::String> key = v8String(isolate, kDefaultExportGlobal);
    v8::Local<v8::Value> defaultExport;
    if (!context->Global()->Get(context, key).ToLocal(&defaultExport) ||
        context->Global()->Delete(context, key).IsNothing()) {
      return describeException(isolate, context, tryCatch, path);
    }
    return LoadedModule{defaultExport, {}};
  }
  auto ns = module->GetModuleNamespace().As<v8::Object>();
  v8::Local<v8::Value> defaultExport;
  if (!ns->Get(context, v8String(isolate, "default")).ToLocal(&defaultExport)) {
    return describeException(isolate, context, tryCatch, path);
  }
  return LoadedModule{defaultExport, ns};
}

bool looksLikeModuleSyntaxError(const std::string& message) {
  return message.find("Cannot use import statement outside a module") != std::string::npos ||
         message.find("Unexpected token 'export'") != std::string::npos ||
         message.find("import.meta") != std::string::npos;
}

}  // namespace

SourceCache::SourceCache(bool keepCodeCache) : keepCodeCache_(keepCodeCache) {}
SourceCache::~SourceCache() = default;

const std::string* SourceCache::codeCache(const std::string& path) const {
  auto it = codeCaches_.find(path);
  return it == codeCaches_.end() ? nullptr : &it->second;
}

void SourceCache::setCodeCache(const std::string& path, std::string bytes) {
  codeCaches_[path] = std::move(bytes);
}

const std::string* SourceCache::get(const std::string& path, std::string& error,
                                    uint32_t* errorLine) {
  if (errorLine != nullptr) *errorLine = 0;
  bool typeScript = isTypeScriptPath(path);
  if (typeScript) {
    if (auto it = stripped_.find(path); it != stripped_.end()) return &it->second;
  }
  const std::string* text = nullptr;
  if (auto it = sources_.find(path); it != sources_.end()) {
    text = &it->second;
  } else {
    auto source = readFile(path, error);
    if (!source) return nullptr;
    text = &sources_.emplace(path, std::move(*source)).first->second;
  }
  if (!typeScript) return text;
  if (!stripper_) stripper_ = std::make_unique<TypeStripper>();
  uint32_t line = 0;
  auto javaScript = stripper_->strip(path, *text, line, error);
  if (!javaScript) {
    if (errorLine != nullptr) *errorLine = line;
    return nullptr;
  }
  return &stripped_.emplace(path, std::move(*javaScript)).first->second;
}

void SourceCache::releaseTypeStripper() {
  stripper_.reset();
}

ScriptError describeException(v8::Isolate* isolate, v8::Local<v8::Context> context,
                              const v8::TryCatch& tryCatch, const std::string& fallbackFile) {
  ScriptError error;
  error.file = fallbackFile;
  if (tryCatch.HasTerminated()) {
    error.message = "execution was terminated";
    return error;
  }
  v8::Local<v8::Message> message = tryCatch.Message();
  if (!message.IsEmpty()) {
    std::string resource = toStdString(isolate, message->GetScriptResourceName());
    if (!resource.empty() && resource != "undefined") error.file = resource;
    error.line = static_cast<uint32_t>(message->GetLineNumber(context).FromMaybe(0));
    error.message = toStdString(isolate, message->Get());
  } else if (tryCatch.HasCaught()) {
    error.message = toStdString(isolate, tryCatch.Exception());
  } else {
    error.message = "unknown error";
  }
  return error;
}

namespace {

LoadResult loadScriptOnce(v8::Isolate* isolate, v8::Local<v8::Context> context,
                          const std::string& path, SourceCache& sources,
                          const std::function<bool()>& beforeClassicRun, ModuleExports exports) {
  std::string readError;
  uint32_t errorLine = 0;
  const std::string* source = sources.get(path, readError, &errorLine);
  if (source == nullptr) return ScriptError{path, errorLine, readError};
  if (path.ends_with(".mjs") || path.ends_with(".mts")) {
    return loadModule(isolate, context, path, *source, sources, exports);
  }

  v8::TryCatch tryCatch(isolate);
  v8::ScriptOrigin origin(isolate, v8String(isolate, path));
  v8::ScriptCompiler::Source compileSource(v8String(isolate, *source), origin,
                                           cachedDataFor(sources, path));
  auto options = compileSource.GetCachedData() != nullptr ? v8::ScriptCompiler::kConsumeCodeCache
                                                          : v8::ScriptCompiler::kNoCompileOptions;
  v8::Local<v8::Script> script;
  bool compiled = v8::ScriptCompiler::Compile(context, &compileSource, options).ToLocal(&script);
  noteCacheUse(sources, path, compileSource);
  if (!compiled) {
    ScriptError classicError = describeException(isolate, context, tryCatch, path);
    if (!looksLikeModuleSyntaxError(classicError.message)) return classicError;
    return loadModule(isolate, context, path, *source, sources, exports);
  }
  if (beforeClassicRun && !beforeClassicRun()) {
    return describeException(isolate, context, tryCatch, path);
  }
  if (script->Run(context).IsEmpty()) return describeException(isolate, context, tryCatch, path);
  context->GetMicrotaskQueue()->PerformCheckpoint(isolate);
  if (sources.keepsCodeCache() && sources.codeCache(path) == nullptr) {
    keepCodeCache(sources, path, v8::ScriptCompiler::CreateCodeCache(script->GetUnboundScript()));
  }
  return LoadedClassic{};
}

}  // namespace

LoadResult loadScript(v8::Isolate* isolate, v8::Local<v8::Context> context, const std::string& path,
                      SourceCache& sources, const std::function<bool()>& beforeClassicRun,
                      ModuleExports exports) {
  LoadResult result = loadScriptOnce(isolate, context, path, sources, beforeClassicRun, exports);
  // Every file of the graph has been read and stripped: the transform is not needed again.
  sources.releaseTypeStripper();
  return result;
}

LoadResult loadModuleScript(v8::Isolate* isolate, v8::Local<v8::Context> context,
                            const std::string& path, SourceCache& sources) {
  std::string readError;
  uint32_t errorLine = 0;
  const std::string* source = sources.get(path, readError, &errorLine);
  LoadResult result = source == nullptr ? LoadResult(ScriptError{path, errorLine, readError})
                                        : loadModule(isolate, context, path, *source, sources,
                                                     ModuleExports::kNamespace);
  sources.releaseTypeStripper();
  return result;
}

}  // namespace isolated::worker
