// Start-up timings: see startup_bench.h.
#include "worker/startup_bench.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <memory>

#include "worker/js_scope.h"
#include "worker/owned_isolate.h"
#include "worker/runtime_host.h"
#include "worker/runtime_warm_up.h"
#include "worker/script_context.h"
#include "worker/snapshot_builder.h"
#include "worker/tenant_bench.h"
#include "worker/v8_runtime.h"

namespace isolated::worker {

namespace {

constexpr size_t kHeapLimitBytes = 128u << 20;

using Clock = std::chrono::steady_clock;

double micros(Clock::duration d) {
  return std::chrono::duration<double, std::micro>(d).count();
}

// CPU time of the whole process (V8's GC and compiler threads included), in µs: steadier than
// wall time on a shared machine.
double processCpuMicros() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

// One row of the output: the µs of wall and process CPU time per item.
void printRow(const char* label, const char* what, double wallMicros, double cpuMicros) {
  std::printf("%-18s %-8s %9.1f us wall %9.1f us cpu\n", label, what, wallMicros, cpuMicros);
}

void report(const char* label, const char* what, Clock::time_point start, double cpuStart,
            int count) {
  printRow(label, what, micros(Clock::now() - start) / count,
           (processCpuMicros() - cpuStart) / count);
}

// A context loaded as a worker loads it (runtime, script, initContext); false on a load error.
bool loadContext(OwnedIsolate& isolate, const std::string& script, SourceCache& sources) {
  ScriptContext context(isolate.get(), isolate.snapshotContents());
  if (!context.created()) return false;
  JsScope scope(isolate.get(), context.global());
  if (auto error = context.load(script, sources, {})) {
    std::cerr << "load error: " << error->file << ":" << error->line << ": " << error->message
              << "\n";
    return false;
  }
  return true;
}

// The wall and CPU time of the first requests timeFirstRequest() ran.
struct FirstRequests {
  Clock::duration wall{};
  double cpu = 0;
  int count = 0;
  void print(const char* label, const char* what) const {
    printRow(label, what, micros(wall) / std::max(1, count), cpu / std::max(1, count));
  }
};

// Loads a new context in `isolate` and times its first request (a GET of "/" through the
// runtime's dispatch, answered into the attached host): what a fresh context costs the request
// that meets it, against the app's CPU limit. False on a load error.
bool timeFirstRequest(OwnedIsolate& isolate, const std::string& script, SourceCache& sources,
                      FirstRequests& timed) {
  v8::Isolate::Scope scope(isolate.get());
  ScriptContext context(isolate.get(), isolate.snapshotContents());
  if (!context.created()) return false;
  {
    JsScope js(isolate.get(), context.global());
    if (context.load(script, sources, {})) return false;
  }
  auto start = Clock::now();
  double cpuStart = processCpuMicros();
  dispatchSyntheticRequest(isolate.get(), context, "http://app.test/", "app.test");
  timed.wall += Clock::now() - start;
  timed.cpu += processCpuMicros() - cpuStart;
  ++timed.count;
  isolate.get()->ContextDisposedNotification();
  return true;
}

// Prints the µs per new context on one warm isolate, and per new isolate with its first
// context, both including teardown (what --isolation context|isolate pay per request).
bool measure(const char* label, StartupSnapshot* snapshot, const std::string& script,
             int iterations, v8::ArrayBuffer::Allocator* allocator, WarmUpHost& host) {
  SourceCache sources;
  {
    OwnedIsolate isolate(allocator, kHeapLimitBytes, snapshot);
    attachHost(isolate.get(), &host);
    if (!loadContext(isolate, script, sources)) return false;  // warm-up, and validity
    {
      // What one more context adds to the heap (it is deserialised or built in full each time):
      // measured with the garbage of the warm-up collected, and the new context kept alive.
      v8::Isolate* v8Isolate = isolate.get();
      v8::Isolate::Scope scope(v8Isolate);
      v8Isolate->LowMemoryNotification();
      v8::HeapStatistics before;
      v8Isolate->GetHeapStatistics(&before);
      ScriptContext context(v8Isolate, isolate.snapshotContents());
      JsScope js(v8Isolate, context.global());
      if (context.load(script, sources, {})) return false;
      v8::HeapStatistics after;
      v8Isolate->GetHeapStatistics(&after);
      std::printf("%-18s heap     %9.0f KB per context\n", label,
                  static_cast<double>(after.used_heap_size() - before.used_heap_size()) / 1024);
    }
    auto start = Clock::now();
    double cpuStart = processCpuMicros();
    for (int i = 0; i < iterations; ++i) {
      loadContext(isolate, script, sources);
      v8::Isolate::Scope scope(isolate.get());
      isolate.get()->ContextDisposedNotification();
    }
    report(label, "context", start, cpuStart, iterations);
    // An app's first request in a new context of this isolate (--isolation context).
    int firsts = std::max(1, iterations / 10);
    FirstRequests timed;
    for (int i = 0; i < firsts; ++i) {
      if (!timeFirstRequest(isolate, script, sources, timed)) return false;
    }
    timed.print(label, "1st-req");
  }
  int isolates = std::max(1, iterations / 10);
  auto start = Clock::now();
  double cpuStart = processCpuMicros();
  for (int i = 0; i < isolates; ++i) {
    OwnedIsolate isolate(allocator, kHeapLimitBytes, snapshot);
    attachHost(isolate.get(), &host);
    loadContext(isolate, script, sources);
  }
  report(label, "isolate", start, cpuStart, isolates);
  // An app's first request in a new isolate (a cold start in a worker, or the rebuild of its
  // isolate after a termination).
  FirstRequests timed;
  for (int i = 0; i < isolates; ++i) {
    OwnedIsolate isolate(allocator, kHeapLimitBytes, snapshot);
    attachHost(isolate.get(), &host);
    if (!timeFirstRequest(isolate, script, sources, timed)) return false;
  }
  timed.print(label, "1st-req-i");
  return true;
}

}  // namespace

int benchStartupMain(const char* argv0, const std::vector<std::string>& args) {
  if (!args.empty() && args[0] == "--apps") return benchTenantsMain(argv0, args);
  if (args.empty() || args.size() > 2) {
    std::cerr << "usage: isolated __bench-startup SCRIPT [ITERATIONS]\n";
    return 2;
  }
  const std::string& script = args[0];
  int iterations = args.size() > 1 ? std::max(1, std::atoi(args[1].c_str())) : 500;
  V8Runtime v8(argv0);
  std::unique_ptr<v8::ArrayBuffer::Allocator> allocator(
      v8::ArrayBuffer::Allocator::NewDefaultAllocator());
  // Requests are answered into nothing; a top level that logs or sets timers is timed all the
  // same.
  WarmUpHost host;
  std::printf("# %s, %d contexts and %d isolates per variant, V8 %s\n", script.c_str(), iterations,
              std::max(1, iterations / 10), v8::V8::GetVersion());
  {
    // The floor: V8's own empty context, with nothing of the runtime in it.
    OwnedIsolate isolate(allocator.get(), kHeapLimitBytes, nullptr);
    {
      v8::Isolate::Scope scope(isolate.get());
      isolate.get()->LowMemoryNotification();
      v8::HeapStatistics before;
      isolate.get()->GetHeapStatistics(&before);
      ScriptContext context(isolate.get(), SnapshotContents::kNone);
      v8::HeapStatistics after;
      isolate.get()->GetHeapStatistics(&after);
      std::printf("%-18s heap     %9.0f KB per context\n", "bare-v8",
                  static_cast<double>(after.used_heap_size() - before.used_heap_size()) / 1024);
    }
    auto start = Clock::now();
    double cpuStart = processCpuMicros();
    for (int i = 0; i < iterations; ++i) {
      ScriptContext context(isolate.get(), SnapshotContents::kNone);
    }
    report("bare-v8", "context", start, cpuStart, iterations);
  }
  if (!measure("no-snapshot", nullptr, script, iterations, allocator.get(), host)) return 1;

  std::string whyNot;
  auto builtins = StartupSnapshot::builtIn(whyNot);
  if (!builtins) {
    std::printf("builtins-snapshot  n/a (%s)\n", whyNot.c_str());
    return 0;
  }
  if (!measure("builtins-snapshot", builtins.get(), script, iterations, allocator.get(), host)) {
    return 1;
  }

  CpuWatchdog watchdog;
  ScriptSnapshot built =
      buildScriptSnapshot(*builtins, script, watchdog, std::chrono::milliseconds(2000));
  if (built.blob.empty()) {
    std::printf("script-snapshot    n/a (%s)\n",
                built.error ? built.error->message.c_str() : built.unsafe.c_str());
    return 0;
  }
  // Workers map the file; so does the measurement.
  char path[] = "/tmp/isolated-bench-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0 ||
      write(fd, built.blob.data(), built.blob.size()) != static_cast<ssize_t>(built.blob.size())) {
    std::perror("isolated __bench-startup: writing the script snapshot");
    return 1;
  }
  close(fd);
  auto scriptSnapshot = StartupSnapshot::mapFile(path, whyNot);
  unlink(path);
  if (!scriptSnapshot) {
    std::printf("script-snapshot    n/a (%s)\n", whyNot.c_str());
    return 0;
  }
  return measure("script-snapshot", scriptSnapshot.get(), script, iterations, allocator.get(), host)
             ? 0
             : 1;
}

}  // namespace isolated::worker
