// The in-process test runner behind `isolated test`: see test_runner.h.
#include "worker/test_runner.h"

#include <libplatform/libplatform.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string_view>

#include "common/event_handles.h"
#include "common/on_off.h"
#include "worker/cpu_watchdog.h"
#include "worker/js_scope.h"
#include "worker/owned_isolate.h"
#include "worker/platform_task_pump.h"
#include "worker/runtime_host.h"
#include "worker/script_context.h"
#include "worker/script_loader.h"
#include "worker/startup_snapshot.h"
#include "worker/timer_queue.h"
#include "worker/v8_runtime.h"

namespace isolated::worker {

namespace {

constexpr std::chrono::milliseconds kTestTimeout{5000};
constexpr size_t kHeapLimitBytes = 512u << 20;

std::string toStdString(v8::Isolate* isolate, v8::Local<v8::Value> value) {
  v8::TryCatch tryCatch(isolate);
  v8::String::Utf8Value utf8(isolate, value);
  return *utf8 ? std::string(*utf8, utf8.length()) : std::string("(unprintable value)");
}

struct Totals {
  int passed = 0;
  int failed = 0;
  int loadErrors = 0;
};

// Runs the tests of one file. Owns the file's context and timers; the isolate and the loop are
// shared by every file. Destroyed before the isolate.
class TestFile final : public RuntimeHost {
 public:
  TestFile(event_base* base, LoopNotifyingPlatform& platform, OwnedIsolate& isolate,
           CpuWatchdog& watchdog, std::string path)
      : base_(base),
        platform_(platform),
        isolate_(isolate),
        watchdog_(watchdog),
        path_(std::move(path)),
        timers_(base, [this](uint64_t id, uint64_t,
                             const v8::Global<v8::Value>& record) { fireTimer(id, record); }),
        platformTasks_(base, platform,
                       [this, &platform] { runPlatformTasks(platform.defaultPlatform()); }) {}
  ~TestFile() {
    timers_.clear();
    context_.reset();
  }

  void run(Totals& totals);

 private:
  // Why a test did not pass, or nullopt when it did.
  using Outcome = std::optional<std::string>;

  Outcome runTest(v8::Local<v8::Context> context, v8::Local<v8::Function> harness,
                  v8::Local<v8::Function> test);
  // Runs `body` and a microtask checkpoint under the CPU budget. False when terminated.
  template <typename Body>
  bool turn(Body&& body);
  void fireTimer(uint64_t id, const v8::Global<v8::Value>& record);
  void runPlatformTasks(v8::Platform& platform);

  void respond(uint64_t, uint16_t, v8::Local<v8::String>, v8::Local<v8::Value>) override {}
  void fail(uint64_t, const std::string&, const std::string&) override {}
  void log(int level, const std::string& message, uint64_t) override {
    (level >= 2 ? std::cerr : std::cout) << message << std::endl;
  }
  uint64_t addTimer(double delayMs, bool repeat, uint64_t requestId,
                    v8::Local<v8::Value> record) override {
    return timers_.add(delayMs, repeat, requestId, isolate_.get(), record);
  }
  void cancelTimer(uint64_t id) override { timers_.cancel(id); }

  event_base* base_;
  LoopNotifyingPlatform& platform_;
  OwnedIsolate& isolate_;
  CpuWatchdog& watchdog_;
  std::string path_;
  SourceCache sources_;
  TimerQueue timers_;
  PlatformTaskPump platformTasks_;
  std::unique_ptr<ScriptContext> context_;
  bool terminated_ = false;
};

template <typename Body>
bool TestFile::turn(Body&& body) {
  v8::Isolate* isolate = isolate_.get();
  v8::TryCatch tryCatch(isolate);
  CpuSlice slice(watchdog_, isolate, kTestTimeout);
  body(tryCatch);
  if (!tryCatch.HasTerminated()) context_->runMicrotasks();
  bool terminated = tryCatch.HasTerminated() || isolate_.heapLimitHit();
  if (slice.finish() || terminated) isolate->CancelTerminateExecution();
  if (terminated) terminated_ = true;
  return !terminated;
}

void TestFile::fireTimer(uint64_t id, const v8::Global<v8::Value>& record) {
  if (!context_ || terminated_ || record.IsEmpty()) return;
  v8::Isolate* isolate = isolate_.get();
  JsScope scope(isolate, context_->global());
  v8::Local<v8::Context> context = scope.context();
  v8::Local<v8::Value> args[] = {v8::Number::New(isolate, static_cast<double>(id)),
                                 record.Get(isolate)};
  turn([&](v8::TryCatch& tryCatch) {
    if (context_->fireTimerFunction()->Call(context, v8::Undefined(isolate), 2, args).IsEmpty() &&
        !tryCatch.HasTerminated()) {
      ScriptError error = describeException(isolate, context, tryCatch, path_);
      std::cerr << "Uncaught exception in timer callback: " << error.message << std::endl;
    }
  });
  // A pending test waits in the loop; let it look at its promise again.
  event_base_loopbreak(base_);
}

void TestFile::runPlatformTasks(v8::Platform& platform) {
  if (!context_ || terminated_) return;
  v8::Isolate* isolate = isolate_.get();
  JsScope scope(isolate, context_->global());
  turn([&](v8::TryCatch&) {
    while (v8::platform::PumpMessageLoop(&platform, isolate)) {
    }
  });
  event_base_loopbreak(base_);
}

TestFile::Outcome TestFile::runTest(v8::Local<v8::Context> context, v8::Local<v8::Function> harness,
                                    v8::Local<v8::Function> test) {
  v8::Isolate* isolate = isolate_.get();
  v8::Local<v8::Promise> promise;
  bool ran = turn([&](v8::TryCatch&) {
    v8::Local<v8::Value> arg = test;
    v8::Local<v8::Value> result;
    if (harness->Call(context, v8::Undefined(isolate), 1, &arg).ToLocal(&result) &&
        result->IsPromise()) {
      promise = result.As<v8::Promise>();
    }
  });
  if (!ran)
    return "exceeded the CPU time budget of " + std::to_string(kTestTimeout.count()) + " ms";
  if (promise.IsEmpty()) return "the test harness failed to call the test";

  // Wait for the promise on the loop, up to the timeout.
  bool timedOut = false;
  EventPtr deadline(event_new(
      base_, -1, 0, [](evutil_socket_t, short, void* arg) { *static_cast<bool*>(arg) = true; },
      &timedOut));
  timeval tv{static_cast<time_t>(kTestTimeout.count() / 1000),
             static_cast<suseconds_t>(kTestTimeout.count() % 1000 * 1000)};
  event_add(deadline.get(), &tv);
  while (promise->State() == v8::Promise::kPending && !timedOut && !terminated_) {
    // Background work (asynchronous WebAssembly compilation) ends in a foreground task.
    if (timers_.size() == 0 && !isolate->HasPendingBackgroundTasks() &&
        !platform_.wakeupPending()) {
      return "the test's promise never settled (no timer is left that could settle it)";
    }
    event_base_loop(base_, EVLOOP_ONCE);
  }
  if (terminated_) {
    return "exceeded the CPU time budget of " + std::to_string(kTestTimeout.count()) + " ms";
  }
  switch (promise->State()) {
    case v8::Promise::kFulfilled:
      return std::nullopt;
    case v8::Promise::kRejected:
      return toStdString(isolate, promise->Result());
    default:
      return "timed out after " + std::to_string(kTestTimeout.count()) + " ms";
  }
}

void TestFile::run(Totals& totals) {
  v8::Isolate* isolate = isolate_.get();
  auto loadError = [&](const ScriptError& error) {
    std::cout << "ERROR " << error.file << (error.line ? ":" + std::to_string(error.line) : "")
              << ": " << error.message << std::endl;
    ++totals.loadErrors;
  };
  attachHost(isolate, this);
  context_ = std::make_unique<ScriptContext>(isolate, isolate_.snapshotContents());
  if (!context_->created()) {
    return loadError({path_, 0, "V8 cannot create a context from the snapshot"});
  }
  JsScope scope(isolate, context_->global());
  v8::Local<v8::Context> context = scope.context();
  if (auto error = context_->installRuntime()) return loadError(*error);
  v8::Local<v8::Object> exports;
  bool loaded = turn([&](v8::TryCatch&) {
    LoadResult result = loadModuleScript(isolate, context, path_, sources_);
    if (auto* error = std::get_if<ScriptError>(&result)) {
      loadError(*error);
    } else if (auto* module = std::get_if<LoadedModule>(&result)) {
      exports = module->moduleNamespace;
    }
  });
  if (!loaded) {
    return loadError({path_, 0, "the module's top level exceeded the CPU time budget"});
  }
  if (exports.IsEmpty()) return;

  // An async wrapper turns a synchronous throw into a rejection, so every test is a promise.
  // The promise is marked handled: the runner reads its outcome, so a failing test is not
  // also an unhandled rejection (the global `unhandledrejection` event and its log line).
  v8::Local<v8::Function> harness;
  {
    v8::Local<v8::Script> script;
    v8::Local<v8::Value> value;
    if (!v8::Script::Compile(context,
                             v8::String::NewFromUtf8Literal(
                                 isolate,
                                 "(function (test) { const outcome = (async () => { await test(); "
                                 "})(); outcome.catch(() => {}); return outcome; })"))
             .ToLocal(&script) ||
        !script->Run(context).ToLocal(&value)) {
      return loadError({"isolated:test-harness", 0, "cannot compile the test harness"});
    }
    harness = value.As<v8::Function>();
  }

  // Module namespace keys are the export names in code-unit order.
  v8::Local<v8::Array> names;
  if (!exports->GetOwnPropertyNames(context).ToLocal(&names)) return;
  for (uint32_t i = 0; i < names->Length(); ++i) {
    v8::Local<v8::Value> name;
    v8::Local<v8::Value> value;
    if (!names->Get(context, i).ToLocal(&name) || !exports->Get(context, name).ToLocal(&value)) {
      continue;
    }
    std::string testName = toStdString(isolate, name);
    if (testName == "default" || !value->IsFunction()) continue;
    Outcome outcome = terminated_ ? Outcome("not run: an earlier test in this file was terminated")
                                  : runTest(context, harness, value.As<v8::Function>());
    if (outcome) {
      ++totals.failed;
      std::cout << "FAIL " << testName << ": " << *outcome << std::endl;
    } else {
      ++totals.passed;
      std::cout << "PASS " << testName << std::endl;
    }
  }
}

}  // namespace

int testMain(const char* argv0, const std::vector<std::string>& files) {
  if (files.empty()) {
    std::cerr << "Usage: isolated test FILE.js...\n";
    return 2;
  }
  V8Runtime v8(argv0);
  EventBasePtr base(event_base_new());
  // Constructed on this thread, which runs the JavaScript: it measures this thread's CPU time.
  CpuWatchdog watchdog;
  std::unique_ptr<v8::ArrayBuffer::Allocator> allocator(
      v8::ArrayBuffer::Allocator::NewDefaultAllocator());
  // The built-ins snapshot, as in `isolated serve`; ISOLATED_BUILTINS_SNAPSHOT=off runs the
  // tests without it.
  std::unique_ptr<StartupSnapshot> snapshot;
  const char* setting = std::getenv("ISOLATED_BUILTINS_SNAPSHOT");
  if (setting == nullptr || parseOnOff(setting).value_or(true)) {
    std::string whyNot;
    snapshot = StartupSnapshot::builtIn(whyNot);
    if (!snapshot) std::cerr << "warning: " << whyNot << "; running without it" << std::endl;
  }
  Totals totals;
  {
    auto isolate = std::make_unique<OwnedIsolate>(allocator.get(), kHeapLimitBytes, snapshot.get());
    for (const auto& file : files) {
      if (files.size() > 1) std::cout << "# " << file << std::endl;
      if (isolate->heapLimitHit()) {
        isolate = std::make_unique<OwnedIsolate>(allocator.get(), kHeapLimitBytes, snapshot.get());
      }
      TestFile(base.get(), v8.platform(), *isolate, watchdog, file).run(totals);
    }
  }
  std::cout << totals.passed << " passed, " << totals.failed << " failed";
  if (totals.loadErrors > 0) std::cout << ", " << totals.loadErrors << " files failed to load";
  std::cout << std::endl;
  return totals.failed == 0 && totals.loadErrors == 0 ? 0 : 1;
}

}  // namespace isolated::worker
