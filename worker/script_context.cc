// Context creation (empty or from the startup snapshot), runtime installation, script loading
// and teardown.
#include "worker/script_context.h"

#include <algorithm>
#include <string_view>

#include "worker/native_bindings.h"
#include "worker/runtime_source.h"

namespace isolated::worker {

namespace {

// The context's embedder data slot holding its ScriptContext (worker/script_loader.cc uses 2).
constexpr int kScriptContextSlot = 3;
// Rounds of "notify, then run what the listeners queued" per checkpoint: a listener that keeps
// rejecting new promises cannot hold the turn forever.
constexpr int kMaxRejectionRounds = 8;

v8::Local<v8::Function> entryPoint(v8::Isolate* isolate, v8::Local<v8::Context> context,
                                   v8::Local<v8::Object> entryPoints, const char* name) {
  return entryPoints->Get(context, v8::String::NewFromUtf8(isolate, name).ToLocalChecked())
      .ToLocalChecked()
      .As<v8::Function>();
}

}  // namespace

v8::MaybeLocal<v8::Object> evaluateRuntime(v8::Isolate* isolate, v8::Local<v8::Context> context) {
  // The runtime is a function expression; calling it installs the globals and returns the
  // entry points.
  v8::ScriptOrigin origin(isolate, v8::String::NewFromUtf8Literal(isolate, "isolated:runtime"));
  // Shared with every other isolate of the process, and named by the snapshot rather than
  // copied into it (worker/runtime_source.h).
  v8::Local<v8::String> source;
  if (!runtimeSource(isolate).ToLocal(&source)) return {};
  v8::Local<v8::Script> script;
  v8::Local<v8::Value> factory;
  v8::Local<v8::Value> entryPoints;
  v8::Local<v8::Value> native = NativeBindings::create(isolate, context);
  if (!v8::Script::Compile(context, source, &origin).ToLocal(&script) ||
      !script->Run(context).ToLocal(&factory) || !factory->IsFunction() ||
      !factory.As<v8::Function>()
           ->Call(context, context->Global(), 1, &native)
           .ToLocal(&entryPoints) ||
      !entryPoints->IsObject()) {
    return {};
  }
  return entryPoints.As<v8::Object>();
}

std::optional<ScriptError> registerHandler(v8::Isolate* isolate, v8::Local<v8::Context> context,
                                           v8::Local<v8::Object> entryPoints,
                                           const LoadResult& loaded, const std::string& path) {
  v8::TryCatch tryCatch(isolate);
  if (auto* error = std::get_if<ScriptError>(&loaded)) return *error;
  if (auto* module = std::get_if<LoadedModule>(&loaded)) {
    v8::Local<v8::Value> exported = module->defaultExport;
    if (entryPoint(isolate, context, entryPoints, "setModuleHandler")
            ->Call(context, context->Global(), 1, &exported)
            .IsEmpty()) {
      return describeException(isolate, context, tryCatch, path);
    }
    return std::nullopt;
  }
  v8::Local<v8::Value> has;
  if (!entryPoint(isolate, context, entryPoints, "hasFetchListener")
           ->Call(context, context->Global(), 0, nullptr)
           .ToLocal(&has)) {
    return describeException(isolate, context, tryCatch, path);
  }
  if (!has->IsTrue()) {
    return ScriptError{path, 0,
                       "the script has no fetch handler (nor a scheduled one): use "
                       "`export default { fetch }` or addEventListener('fetch', ...)"};
  }
  return std::nullopt;
}

ScriptContext::ScriptContext(v8::Isolate* isolate, SnapshotContents snapshot)
    : isolate_(isolate),
      snapshot_(snapshot),
      microtasks_(v8::MicrotaskQueue::New(isolate, v8::MicrotasksPolicy::kExplicit)) {
  v8::Isolate::Scope isolateScope(isolate_);
  v8::HandleScope handleScope(isolate_);
  v8::Local<v8::Context> context;
  if (snapshot_ == SnapshotContents::kNone) {
    context = v8::Context::New(isolate_, nullptr, {}, {}, {}, microtasks_.get());
  } else if (!v8::Context::FromSnapshot(isolate_, kRuntimeContextIndex, {}, nullptr, {},
                                        microtasks_.get())
                  .ToLocal(&context)) {
    // created() reports it; the context is left empty so that the destructor has nothing to do.
    return;
  }
  context->SetAlignedPointerInEmbedderData(kScriptContextSlot, this);
  isolate_->SetPromiseRejectCallback(&ScriptContext::onPromiseReject);
  context_.Reset(isolate_, context);
}

void ScriptContext::onPromiseReject(v8::PromiseRejectMessage message) {
  v8::Local<v8::Promise> promise = message.GetPromise();
  v8::Isolate* isolate = promise->GetIsolate();
  v8::Local<v8::Context> context;
  if (!promise->GetCreationContext().ToLocal(&context) ||
      context->GetNumberOfEmbedderDataFields() <= static_cast<uint32_t>(kScriptContextSlot)) {
    return;
  }
  auto* self =
      static_cast<ScriptContext*>(context->GetAlignedPointerFromEmbedderData(kScriptContextSlot));
  if (self == nullptr) return;
  switch (message.GetEvent()) {
    case v8::kPromiseRejectWithNoHandler:
      self->rejections_.emplace_back(v8::Global<v8::Promise>(isolate, promise),
                                     v8::Global<v8::Value>(isolate, message.GetValue()));
      break;
    case v8::kPromiseHandlerAddedAfterReject:
      std::erase_if(self->rejections_,
                    [&](const auto& entry) { return entry.first.Get(isolate) == promise; });
      break;
    default:
      break;
  }
}

void ScriptContext::runMicrotasks() {
  microtasks_->PerformCheckpoint(isolate_);
  for (int round = 0; round < kMaxRejectionRounds && !rejections_.empty(); ++round) {
    if (notifyRejection_.IsEmpty() || isolate_->IsExecutionTerminating()) break;
    auto rejections = std::move(rejections_);
    rejections_.clear();
    v8::HandleScope handleScope(isolate_);
    v8::Local<v8::Context> context = context_.Get(isolate_);
    for (auto& [promise, reason] : rejections) {
      // notifyRejection() catches what listeners throw; only a termination gets out, and the
      // caller's TryCatch sees it.
      v8::Local<v8::Value> args[] = {promise.Get(isolate_), reason.Get(isolate_)};
      if (notifyRejection_.Get(isolate_)->Call(context, context->Global(), 2, args).IsEmpty() &&
          isolate_->IsExecutionTerminating()) {
        rejections_.clear();
        return;
      }
    }
    microtasks_->PerformCheckpoint(isolate_);
  }
  // Whatever is left after the last round is dropped: each promise is reported at most once.
  rejections_.clear();
}

ScriptContext::~ScriptContext() {
  rejections_.clear();
  if (!context_.IsEmpty()) {
    v8::Isolate::Scope isolateScope(isolate_);
    v8::HandleScope handleScope(isolate_);
    context_.Get(isolate_)->SetAlignedPointerInEmbedderData(kScriptContextSlot, nullptr);
    // Also detaches the microtask queue, which V8 requires before the queue is freed.
    context_.Get(isolate_)->DetachGlobal();
  }
  probe_.Reset();
  warmUp_.Reset();
  notifyRejection_.Reset();
  setEnv_.Reset();
  abortRequest_.Reset();
  dispatchScheduled_.Reset();
  fireTimer_.Reset();
  dispatch_.Reset();
  entryPoints_.Reset();
  context_.Reset();
}

std::optional<ScriptError> ScriptContext::installRuntime() {
  v8::Local<v8::Context> context = isolate_->GetCurrentContext();
  v8::TryCatch tryCatch(isolate_);
  v8::Local<v8::Object> entries;
  if (snapshot_ == SnapshotContents::kNone) {
    if (!evaluateRuntime(isolate_, context).ToLocal(&entries)) {
      return describeException(isolate_, context, tryCatch, "isolated:runtime");
    }
  } else if (!context->GetDataFromSnapshotOnce<v8::Object>(kEntryPointsDataIndex)
                  .ToLocal(&entries)) {
    return ScriptError{"isolated:runtime", 0, "the startup snapshot has no runtime entry points"};
  }
  if (snapshot_ != SnapshotContents::kNone && entryPoint(isolate_, context, entries, "initContext")
                                                  ->Call(context, context->Global(), 0, nullptr)
                                                  .IsEmpty()) {
    return describeException(isolate_, context, tryCatch, "isolated:runtime");
  }
  entryPoints_.Reset(isolate_, entries);
  dispatch_.Reset(isolate_, entryPoint(isolate_, context, entries, "dispatch"));
  fireTimer_.Reset(isolate_, entryPoint(isolate_, context, entries, "fireTimer"));
  dispatchScheduled_.Reset(isolate_, entryPoint(isolate_, context, entries, "dispatchScheduled"));
  abortRequest_.Reset(isolate_, entryPoint(isolate_, context, entries, "abortRequest"));
  setEnv_.Reset(isolate_, entryPoint(isolate_, context, entries, "setEnv"));
  notifyRejection_.Reset(isolate_, entryPoint(isolate_, context, entries, "notifyRejection"));
  warmUp_.Reset(isolate_, entryPoint(isolate_, context, entries, "warmUp"));
  return std::nullopt;
}

std::optional<ScriptError> ScriptContext::load(const std::string& path, SourceCache& sources,
                                               const std::vector<ScriptBinding>& bindings) {
  // A spare context (worker/spare_isolate.h) has its runtime installed already.
  if (entryPoints_.IsEmpty()) {
    if (auto error = installRuntime()) return error;
  }
  v8::Local<v8::Context> context = isolate_->GetCurrentContext();
  v8::TryCatch tryCatch(isolate_);
  auto get = [&](const v8::Global<v8::Function>& fn) { return fn.Get(isolate_); };

  // The env object: data properties (CreateDataProperty, so a binding named __proto__ is just
  // a property), strings as given, JSON values parsed.
  v8::Local<v8::Object> env = v8::Object::New(isolate_);
  // Resource bindings go to the runtime as [name, kind] pairs; it builds their objects.
  v8::Local<v8::Array> resources = v8::Array::New(isolate_);
  for (const auto& binding : bindings) {
    if (!binding.resource.empty()) {
      v8::Local<v8::Value> pair[] = {
          v8::String::NewFromUtf8(isolate_, binding.name.c_str()).ToLocalChecked(),
          v8::String::NewFromUtf8(isolate_, binding.resource.c_str()).ToLocalChecked()};
      if (resources->Set(context, resources->Length(), v8::Array::New(isolate_, pair, 2))
              .IsNothing()) {
        return describeException(isolate_, context, tryCatch, "isolated:env");
      }
      continue;
    }
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
    v8::Local<v8::Value> args[] = {env, v8::Boolean::New(isolate_, asGlobals), resources};
    return !get(setEnv_)->Call(context, context->Global(), 3, args).IsEmpty();
  };
  if (!setEnv(false)) return describeException(isolate_, context, tryCatch, "isolated:env");
  // A script snapshot is only made for scripts whose top level cannot see the bindings (see
  // worker/snapshot_builder.h): its handlers get `env` from here.
  if (snapshot_ == SnapshotContents::kBuiltinsAndScript) return std::nullopt;
  LoadResult loaded = loadScript(isolate_, context, path, sources, [&] { return setEnv(true); });
  if (auto error = registerHandler(isolate_, context, entryPoints_.Get(isolate_), loaded, path)) {
    return error;
  }
  runMicrotasks();
  if (tryCatch.HasTerminated()) return describeException(isolate_, context, tryCatch, path);
  return std::nullopt;
}

bool ScriptContext::runProbe(v8::Local<v8::Context> context) {
  // Compiled on the first probe, not with the context: V8 compiles a script once per context
  // (its compilation cache does not serve another context), and in `context` isolation most
  // contexts serve one request and are never probed.
  if (probe_.IsEmpty()) {
    v8::Local<v8::Script> probe;
    if (!v8::Script::Compile(context, v8::String::NewFromUtf8Literal(isolate_, "1 + 1"))
             .ToLocal(&probe)) {
      return false;
    }
    probe_.Reset(isolate_, probe);
  }
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

uint32_t ScriptContext::dropWaitUntil(uint64_t id) {
  auto it = waitUntil_.find(id);
  if (it == waitUntil_.end()) return 0;
  uint32_t dropped = it->second;
  waitUntilCount_ -= dropped;
  waitUntil_.erase(it);
  return dropped;
}

std::vector<uint64_t> ScriptContext::takeRequests() {
  std::vector<uint64_t> ids(requests_.begin(), requests_.end());
  requests_.clear();
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace isolated::worker
