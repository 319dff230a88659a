// SnapshotCreator runs for the built-ins and for a user's script: see snapshot_builder.h.
#include "worker/snapshot_builder.h"

#include <regex>

#include "worker/native_tables.h"
#include "worker/runtime_host.h"

namespace isolated::worker {

namespace {

// Copies the blob out and frees V8's copy.
std::string takeBlob(v8::StartupData data) {
  std::string blob(data.data, static_cast<size_t>(data.raw_size));
  delete[] data.data;
  return blob;
}

// The host while a script's top level runs for a snapshot: there are no requests, and any use
// of the host is state the snapshot would freeze (a timer) or an effect it would swallow (a
// console line that every worker should print), so the first one makes the snapshot unsafe.
class SnapshotBuildHost final : public RuntimeHost {
 public:
  const std::string& unsafe() const { return unsafe_; }
  void classicWithBindings() {
    note(
        "reads the environment bindings as globals in a classic script, and the snapshot is "
        "made without them");
  }

 private:
  void respond(uint64_t, uint16_t, v8::Local<v8::String>, v8::Local<v8::Value>) override {
    note("answered a request");
  }
  void fail(uint64_t, const std::string&, const std::string&) override {
    note("answered a request");
  }
  void log(int, const std::string&, uint64_t) override { note("writes to the console"); }
  uint64_t addTimer(double, bool, uint64_t, v8::Local<v8::Value>) override {
    note("sets a timer");
    return ++timers_;
  }
  void cancelTimer(uint64_t) override {}
  void note(const std::string& what) {
    if (unsafe_.empty()) unsafe_ = "the script's top level " + what;
  }

  std::string unsafe_;
  uint64_t timers_ = 0;
};

// Why the script's text makes a snapshot unsafe, if it does; found by searching every file it
// loaded, so a match in a comment or a string only costs the snapshot:
//  - V8 10.2 aborts the process when it meets a module namespace object while serialising (its
//    accessor is missing from V8's own external reference table). Those come from
//    `import * as` and `export * as`.
//  - V8 installs the WebAssembly global only in contexts it does not mean to serialise: while
//    the snapshot is made, a top level that tests for it would take the wrong branch for good.
std::optional<std::string> unsafeSource(const std::map<std::string, std::string>& files) {
  static const std::regex kNamespace(R"((import|export)\s*\*\s*as\b)");
  for (const auto& [path, text] : files) {
    if (std::regex_search(text, kNamespace)) {
      return path +
             " imports a module namespace (`import * as` or `export * as`), which V8 10.2 "
             "cannot put in a snapshot";
    }
    if (text.find("WebAssembly") != std::string::npos) {
      return path + " uses WebAssembly, which V8 does not provide while it makes a snapshot";
    }
  }
  return std::nullopt;
}

}  // namespace

std::variant<std::string, ScriptError> buildBuiltinsSnapshot() {
  std::vector<intptr_t> references = externalReferences();
  v8::SnapshotCreator creator(references.data());
  v8::Isolate* isolate = creator.GetIsolate();
  {
    v8::HandleScope handleScope(isolate);
    creator.SetDefaultContext(v8::Context::New(isolate));
    v8::Local<v8::Context> context = v8::Context::New(isolate);
    {
      v8::Context::Scope contextScope(context);
      v8::TryCatch tryCatch(isolate);
      v8::Local<v8::Object> entryPoints;
      if (!evaluateRuntime(isolate, context).ToLocal(&entryPoints)) {
        return describeException(isolate, context, tryCatch, "isolated:runtime");
      }
      if (creator.AddData(context, entryPoints) != kEntryPointsDataIndex) {
        return ScriptError{"isolated:runtime", 0, "unexpected snapshot data index"};
      }
    }
    if (creator.AddContext(context) != kRuntimeContextIndex) {
      return ScriptError{"isolated:runtime", 0, "unexpected snapshot context index"};
    }
  }
  v8::StartupData data = creator.CreateBlob(v8::SnapshotCreator::FunctionCodeHandling::kClear);
  if (data.data == nullptr) return ScriptError{"isolated:runtime", 0, "V8 made no blob"};
  // A blob that cannot be rehashed would give every isolate the hash seed fixed at build time.
  if (!data.CanBeRehashed()) {
    delete[] data.data;
    return ScriptError{"isolated:runtime", 0, "the built-ins snapshot cannot be rehashed"};
  }
  return takeBlob(data);
}

ScriptSnapshot buildScriptSnapshot(StartupSnapshot& builtins, const std::string& path,
                                   CpuWatchdog& watchdog, std::chrono::milliseconds cpuLimit,
                                   bool withBindings) {
  ScriptSnapshot result;
  SnapshotBuildHost host;
  SourceCache sources;
  v8::SnapshotCreator creator(builtins.externalReferences(), builtins.blob());
  v8::Isolate* isolate = creator.GetIsolate();
  isolate->SetMicrotasksPolicy(v8::MicrotasksPolicy::kExplicit);
  attachHost(isolate, &host);
  {
    v8::HandleScope handleScope(isolate);
    creator.SetDefaultContext(v8::Context::New(isolate));
    v8::Local<v8::Context> context;
    if (!v8::Context::FromSnapshot(isolate, kRuntimeContextIndex).ToLocal(&context)) {
      result.error = ScriptError{path, 0, "V8 cannot create a context from the built-ins"};
      return result;
    }
    {
      v8::Context::Scope contextScope(context);
      v8::TryCatch tryCatch(isolate);
      v8::Local<v8::Object> entryPoints;
      if (!context->GetDataFromSnapshotOnce<v8::Object>(kEntryPointsDataIndex)
               .ToLocal(&entryPoints)) {
        result.error = ScriptError{path, 0, "the built-ins snapshot has no entry points"};
        return result;
      }
      bool terminated = false;
      {
        CpuSlice slice(watchdog, isolate, cpuLimit);
        LoadResult loaded =
            loadScript(isolate, context, path, sources, {}, ModuleExports::kDefaultOnly);
        if (withBindings && std::holds_alternative<LoadedClassic>(loaded)) {
          host.classicWithBindings();
        }
        result.error = registerHandler(isolate, context, entryPoints, loaded, path);
        if (!result.error) isolate->PerformMicrotaskCheckpoint();
        terminated = slice.finish() || tryCatch.HasTerminated();
      }
      if (terminated) {
        isolate->CancelTerminateExecution();
        result.error = ScriptError{path, 0, "the script's top level exceeded the CPU limit"};
      }
      // Checked first: a top level may fail here only for want of WebAssembly.
      if (auto reason = unsafeSource(sources.files())) {
        result.error.reset();
        result.unsafe = *reason;
        return result;
      }
      if (result.error) return result;
      if (!host.unsafe().empty()) {
        result.unsafe = host.unsafe();
        return result;
      }
      if (creator.AddData(context, entryPoints) != kEntryPointsDataIndex) {
        result.unsafe = "unexpected snapshot data index";
        return result;
      }
    }
    if (creator.AddContext(context) != kRuntimeContextIndex) {
      result.unsafe = "unexpected snapshot context index";
      return result;
    }
  }
  result.sources = sources.files();
  result.blob = takeBlob(creator.CreateBlob(v8::SnapshotCreator::FunctionCodeHandling::kClear));
  return result;
}

}  // namespace isolated::worker
