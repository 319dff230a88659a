// Script and module compilation, with file/line/message errors for load failures.
#include "worker/script_loader.h"

#include <filesystem>
#include <map>

#include "common/read_file.h"

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
  const std::string* source = graph->sources.get(resolved, readError);
  if (source == nullptr) {
    return throwError("cannot import '" + spec + "' from " + from + ": " + readError);
  }
  return compileModule(*graph, resolved, *source);
}

v8::MaybeLocal<v8::Module> compileModule(ModuleGraph& graph, const std::string& path,
                                         const std::string& source) {
  v8::Isolate* isolate = graph.isolate;
  v8::ScriptOrigin origin(isolate, v8String(isolate, path), 0, 0, false, -1, v8::Local<v8::Value>(),
                          false, false, /*is_module=*/true);
  v8::ScriptCompiler::Source compileSource(v8String(isolate, source), origin);
  v8::Local<v8::Module> module;
  if (!v8::ScriptCompiler::CompileModule(isolate, &compileSource).ToLocal(&module)) return {};
  graph.byPath[path].Reset(isolate, module);
  graph.pathByHash.emplace(module->GetIdentityHash(), path);
  return module;
}

LoadResult loadModule(v8::Isolate* isolate, v8::Local<v8::Context> context, const std::string& path,
                      const std::string& source, SourceCache& sources) {
  v8::TryCatch tryCatch(isolate);
  ModuleGraph graph{isolate, sources, {}, {}};
  v8::Local<v8::Module> module;
  if (!compileModule(graph, path, source).ToLocal(&module)) {
    return describeException(isolate, context, tryCatch, path);
  }
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

const std::string* SourceCache::get(const std::string& path, std::string& error) {
  if (auto it = sources_.find(path); it != sources_.end()) return &it->second;
  auto source = readFile(path, error);
  if (!source) return nullptr;
  return &sources_.emplace(path, std::move(*source)).first->second;
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

LoadResult loadScript(v8::Isolate* isolate, v8::Local<v8::Context> context, const std::string& path,
                      SourceCache& sources, const std::function<bool()>& beforeClassicRun) {
  std::string readError;
  const std::string* source = sources.get(path, readError);
  if (source == nullptr) return ScriptError{path, 0, readError};
  if (path.ends_with(".mjs")) return loadModule(isolate, context, path, *source, sources);

  v8::TryCatch tryCatch(isolate);
  v8::ScriptOrigin origin(isolate, v8String(isolate, path));
  v8::Local<v8::Script> script;
  if (!v8::Script::Compile(context, v8String(isolate, *source), &origin).ToLocal(&script)) {
    ScriptError classicError = describeException(isolate, context, tryCatch, path);
    if (!looksLikeModuleSyntaxError(classicError.message)) return classicError;
    return loadModule(isolate, context, path, *source, sources);
  }
  if (beforeClassicRun && !beforeClassicRun()) {
    return describeException(isolate, context, tryCatch, path);
  }
  if (script->Run(context).IsEmpty()) return describeException(isolate, context, tryCatch, path);
  context->GetMicrotaskQueue()->PerformCheckpoint(isolate);
  return LoadedClassic{};
}

LoadResult loadModuleScript(v8::Isolate* isolate, v8::Local<v8::Context> context,
                            const std::string& path, SourceCache& sources) {
  std::string readError;
  const std::string* source = sources.get(path, readError);
  if (source == nullptr) return ScriptError{path, 0, readError};
  return loadModule(isolate, context, path, *source, sources);
}

}  // namespace isolated::worker
