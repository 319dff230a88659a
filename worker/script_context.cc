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
  setEnv_.Reset();
  dispatchScheduled_.Reset();
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
  dispatchScheduled_.Reset(isolate_, get("dispatchScheduled"));
  setEnv_.Reset(isolate_, get("setEnv"));
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
                                               const std::string& path, SourceCache& sources,
                                               const std::vector<ScriptBinding>& bindings) {
  if (auto error = installRuntime(native)) return error;
  v8::Local<v8::Context> context = isolate_->GetCurrentContext();
  v8::TryCatch tryCatch(isolate_);
  auto get = [&](const v8::Global<v8::Function>& fn) { return fn.Get(isolate_); };

  // The env object: data properties (CreateDataProperty, so a binding named __proto__ is just
  // a property), strings as given, JSON values parsed.
  v8::Local<v8::Object> env = v8::Object::New(isolate_);
  for (const auto& binding : bindings) {
    v8::Local<v8::String> name;
    v8::Local<v8::String> text;
    if (!v8::String::NewFromUtf8(isolate_, binding.name.data(), v8::NewStringType::kNormal,
                                 static_cast<int>(binding.name.size()))
             .ToLocal(&name) ||
        !v8::String::NewFromUtf8(isolate_, binding.value.data(), v8::NewStringType::kNormal,
                                 static_cast<int>(binding.value.size()))
             .ToLocal(&text)) {
      return ScriptError{"isolated:env", 0, "binding " + binding.name + " is too large"};
    }
    v8::Local<v8::Value> value = text;
    if (binding.json && !v8::JSON::Parse(context, text).ToLocal(&value)) {
      return ScriptError{"isolated:env", 0, "binding " + binding.name + " is not valid JSON"};
    }
    if (env->CreateDataProperty(context, name, value).IsNothing()) {
      return describeException(isolate_, context, tryCatch, "isolated:env");
    }
  }
  // setEnv(env, false) keeps it for handlers; setEnv(env, true) also installs the globals.
  auto setEnv = [&](bool asGlobals) {
    v8::Local<v8::Value> args[] = {env, v8::Boolean::New(isolate_, asGlobals)};
    return !get(setEnv_)->Call(context, context->Global(), 2, args).IsEmpty();
  };
  if (!setEnv(false)) return describeException(isolate_, context, tryCatch, "isolated:env");
  LoadResult loaded = loadScript(isolate_, context, path, sources, [&] { return setEnv(true); });
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
                         "the script has no fetch handler (nor a scheduled one): use "
                         "`export default { fetch }` or addEventListener('fetch', ...)"};
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

bool ScriptContext::endWaitUntil(uint64_t id) {
  auto it = waitUntil_.find(id);
  if (it == waitUntil_.end()) return false;
  if (--it->second == 0) waitUntil_.erase(it);
  --waitUntilCount_;
  return true;
}

std::vector<uint64_t> ScriptContext::takeRequests() {
  std::vector<uint64_t> ids(requests_.begin(), requests_.end());
  requests_.clear();
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace isolated::worker
