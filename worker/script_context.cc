// Context creation, runtime installation, script loading and teardown.
#include "worker/script_context.h"

#include <algorithm>
#include <string_view>

namespace isolated::worker {

// The runtime bundle built from worker/js/ and embedded at build time (cmake/RuntimeBundle.cmake).
extern const std::string_view kRuntimeJs;

ScriptContext::ScriptContext(v8::Isolate* isolate)
    : isolate_(isolate),
      microtasks_(v8::MicrotaskQueue::New(isolate, v8::MicrotasksPolicy::kExplicit)) {
  v8::Isolate::Scope isolateScope(isolate_);
  v8::HandleScope handleScope(isolate_);
  v8::Local<v8::Context> context =
      v8::Context::New(isolate_, nullptr, {}, {}, {}, microtasks_.get());
  context_.Reset(isolate_, context);
}

ScriptContext::~ScriptContext() {
  {
    v8::Isolate::Scope isolateScope(isolate_);
    v8::HandleScope handleScope(isolate_);
    // Also detaches the microtask queue, which V8 requires before the queue is freed.
    context_.Get(isolate_)->DetachGlobal();
  }
  probe_.Reset();
  hasFetchListener_.Reset();
  setModuleHandler_.Reset();
  fireTimer_.Reset();
  dispatch_.Reset();
  context_.Reset();
}

std::optional<ScriptError> ScriptContext::installRuntime(v8::Local<v8::Object> native) {
  v8::Local<v8::Context> context = isolate_->GetCurrentContext();
  v8::TryCatch tryCatch(isolate_);

  // The runtime is a function expression; calling it installs the globals and returns the
  // entry points kept here.
  v8::ScriptOrigin origin(isolate_, v8::String::NewFromUtf8Literal(isolate_, "isolated:runtime"));
  v8::Local<v8::String> source =
      v8::String::NewFromUtf8(isolate_, kRuntimeJs.data(), v8::NewStringType::kNormal,
                              static_cast<int>(kRuntimeJs.size()))
          .ToLocalChecked();
  v8::Local<v8::Script> script;
  v8::Local<v8::Value> factory;
  v8::Local<v8::Value> entryPoints;
  v8::Local<v8::Value> nativeValue = native;
  if (!v8::Script::Compile(context, source, &origin).ToLocal(&script) ||
      !script->Run(context).ToLocal(&factory) || !factory->IsFunction() ||
      !factory.As<v8::Function>()
           ->Call(context, context->Global(), 1, &nativeValue)
           .ToLocal(&entryPoints) ||
      !entryPoints->IsObject()) {
    return describeException(isolate_, context, tryCatch, "isolated:runtime");
  }
  auto entries = entryPoints.As<v8::Object>();
  auto get = [&](const char* name) {
    return entries->Get(context, v8::String::NewFromUtf8(isolate_, name).ToLocalChecked())
        .ToLocalChecked()
        .As<v8::Function>();
  };
  dispatch_.Reset(isolate_, get("dispatch"));
  fireTimer_.Reset(isolate_, get("fireTimer"));
  setModuleHandler_.Reset(isolate_, get("setModuleHandler"));
  hasFetchListener_.Reset(isolate_, get("hasFetchListener"));

  v8::Local<v8::Script> probe;
  if (!v8::Script::Compile(context, v8::String::NewFromUtf8Literal(isolate_, "1 + 1"))
           .ToLocal(&probe)) {
    return describeException(isolate_, context, tryCatch, "isolated:probe");
  }
  probe_.Reset(isolate_, probe);
  return std::nullopt;
}

std::optional<ScriptError> ScriptContext::load(v8::Local<v8::Object> native,
                                               const std::string& path, SourceCache& sources) {
  if (auto error = installRuntime(native)) return error;
  v8::Local<v8::Context> context = isolate_->GetCurrentContext();
  v8::TryCatch tryCatch(isolate_);
  auto get = [&](const v8::Global<v8::Function>& fn) { return fn.Get(isolate_); };
  LoadResult loaded = loadScript(isolate_, context, path, sources);
  if (auto* error = std::get_if<ScriptError>(&loaded)) return *error;
  if (auto* module = std::get_if<LoadedModule>(&loaded)) {
    v8::Local<v8::Value> exported = module->defaultExport;
    if (get(setModuleHandler_)->Call(context, context->Global(), 1, &exported).IsEmpty()) {
      return describeException(isolate_, context, tryCatch, path);
    }
  } else {
    v8::Local<v8::Value> has;
    if (!get(hasFetchListener_)->Call(context, context->Global(), 0, nullptr).ToLocal(&has)) {
      return describeException(isolate_, context, tryCatch, path);
    }
    if (!has->IsTrue()) {
      return ScriptError{path, 0,
                         "the script has no fetch handler: use `export default { fetch }` or "
                         "addEventListener('fetch', ...)"};
    }
  }
  runMicrotasks();
  if (tryCatch.HasTerminated()) return describeException(isolate_, context, tryCatch, path);
  return std::nullopt;
}

bool ScriptContext::runProbe(v8::Local<v8::Context> context) {
  v8::Local<v8::Value> result;
  return probe_.Get(isolate_)->Run(context).ToLocal(&result) && result->IsInt32() &&
         result.As<v8::Int32>()->Value() == 2;
}

std::vector<uint64_t> ScriptContext::takeRequests() {
  std::vector<uint64_t> ids(requests_.begin(), requests_.end());
  requests_.clear();
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace isolated::worker
