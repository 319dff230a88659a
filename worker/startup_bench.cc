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
#include "worker/script_context.h"
#include "worker/snapshot_builder.h"
#include "worker/v8_runtime.h"
#include <v8-profiler.h>
#include <map>
#include <set>
#include <vector>

namespace isolated::worker {

namespace {

constexpr size_t kHeapLimitBytes = 128u << 20;

// Requests never arrive; a top level that logs or sets timers is timed all the same.
class BenchHost final : public RuntimeHost {
  void respond(uint64_t, uint16_t, v8::Local<v8::Array>, v8::Local<v8::Value>) override {}
  void fail(uint64_t, const std::string&, const std::string&) override {}
  void log(int, const std::string&, uint64_t) override {}
  uint64_t addTimer(double, bool, uint64_t) override { return ++timers_; }
  void cancelTimer(uint64_t) override {}
  uint64_t timers_ = 0;
};

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

void report(const char* label, const char* what, Clock::time_point start, double cpuStart,
            int count) {
  std::printf("%-18s %-8s %9.1f us wall %9.1f us cpu\n", label, what,
              micros(Clock::now() - start) / count, (processCpuMicros() - cpuStart) / count);
}


// EXPERIMENT
std::set<v8::SnapshotObjectId> snapIds(v8::Isolate* iso) {
  std::set<v8::SnapshotObjectId> ids;
  const v8::HeapSnapshot* snap = iso->GetHeapProfiler()->TakeHeapSnapshot();
  for (int i = 0; i < snap->GetNodesCount(); ++i) ids.insert(snap->GetNode(i)->GetId());
  const_cast<v8::HeapSnapshot*>(snap)->Delete();
  return ids;
}
class FileOut : public v8::OutputStream {
 public:
  explicit FileOut(const char* p) : f_(std::fopen(p, "w")) {}
  ~FileOut() override { std::fclose(f_); }
  void EndOfStream() override {}
  WriteResult WriteAsciiChunk(char* d, int n) override { std::fwrite(d, 1, n, f_); return kContinue; }
  FILE* f_;
};
void snapDiff(v8::Isolate* iso, const std::set<v8::SnapshotObjectId>& before) {
  const v8::HeapSnapshot* snap = iso->GetHeapProfiler()->TakeHeapSnapshot();
  if (const char* dir = getenv("HEAPDIFF_DIR")) {
    static int n = 0;
    std::string p = std::string(dir) + "/after" + std::to_string(n++) + ".heapsnapshot";
    { FileOut out(p.c_str()); snap->Serialize(&out); }
    FILE* f = std::fopen((p + ".before").c_str(), "w");
    for (auto id : before) std::fprintf(f, "%u\n", id);
    std::fclose(f);
  }
  static const char* types[] = {"hidden","array","string","object","code","closure","regexp","number","native","synthetic","concat","sliced","symbol","bigint","objshape"};
  std::map<std::string, std::pair<size_t,size_t>> byName, byType;
  size_t total = 0;
  for (int i = 0; i < snap->GetNodesCount(); ++i) {
    const v8::HeapGraphNode* n = snap->GetNode(i);
    if (before.count(n->GetId())) continue;
    v8::String::Utf8Value name(iso, n->GetName());
    std::string t = types[n->GetType()];
    std::string nm = t + " " + std::string(*name ? *name : "").substr(0, 60);
    auto& a = byName[nm]; a.first++; a.second += n->GetShallowSize();
    auto& b = byType[t]; b.first++; b.second += n->GetShallowSize();
    total += n->GetShallowSize();
  }
  std::vector<std::pair<std::string, std::pair<size_t,size_t>>> v(byName.begin(), byName.end());
  std::sort(v.begin(), v.end(), [](auto& x, auto& y){ return x.second.second > y.second.second; });
  std::printf("new nodes total %zu bytes\n", total);
  for (auto& [k, c] : byType) std::printf("  type %-12s %6zu %8zu\n", k.c_str(), c.first, c.second);
  for (size_t i = 0; i < v.size() && i < 60; ++i) std::printf("  %-70s %6zu %8zu\n", v[i].first.c_str(), v[i].second.first, v[i].second.second);
  const_cast<v8::HeapSnapshot*>(snap)->Delete();
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

// Prints the µs per new context on one warm isolate, and per new isolate with its first
// context, both including teardown (what --isolation context|isolate pay per request).
bool measure(const char* label, StartupSnapshot* snapshot, const std::string& script,
             int iterations, v8::ArrayBuffer::Allocator* allocator, BenchHost& host) {
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
      std::set<v8::SnapshotObjectId> ids;
      if (getenv("HEAPDIFF")) { v8::HandleScope hs(v8Isolate); ids = snapIds(v8Isolate); }
      v8::HeapStatistics before;
      v8Isolate->GetHeapStatistics(&before);
      ScriptContext context(v8Isolate, isolate.snapshotContents());
      JsScope js(v8Isolate, context.global());
      if (context.load(script, sources, {})) return false;
      v8::HeapStatistics after;
      v8Isolate->GetHeapStatistics(&after);
      std::printf("%-18s heap     %9.0f KB per context\n", label,
                  static_cast<double>(after.used_heap_size() - before.used_heap_size()) / 1024);
      if (getenv("HEAPDIFF")) { v8::HandleScope hs(v8Isolate); snapDiff(v8Isolate, ids); }
    }
    auto start = Clock::now();
    double cpuStart = processCpuMicros();
    for (int i = 0; i < iterations; ++i) {
      loadContext(isolate, script, sources);
      v8::Isolate::Scope scope(isolate.get());
      isolate.get()->ContextDisposedNotification();
    }
    report(label, "context", start, cpuStart, iterations);
  }
  if (getenv("BENCH_ONLY")) return true;
  int isolates = std::max(1, iterations / 10);
  auto start = Clock::now();
  double cpuStart = processCpuMicros();
  for (int i = 0; i < isolates; ++i) {
    OwnedIsolate isolate(allocator, kHeapLimitBytes, snapshot);
    attachHost(isolate.get(), &host);
    loadContext(isolate, script, sources);
  }
  report(label, "isolate", start, cpuStart, isolates);
  return true;
}

}  // namespace

int benchStartupMain(const char* argv0, const std::vector<std::string>& args) {
  if (args.empty() || args.size() > 2) {
    std::cerr << "usage: isolated __bench-startup SCRIPT [ITERATIONS]\n";
    return 2;
  }
  const std::string& script = args[0];
  int iterations = args.size() > 1 ? std::max(1, std::atoi(args[1].c_str())) : 500;
  if (const char* f = getenv("V8FLAGS")) v8::V8::SetFlagsFromString(f);
  V8Runtime v8(argv0);
  std::unique_ptr<v8::ArrayBuffer::Allocator> allocator(
      v8::ArrayBuffer::Allocator::NewDefaultAllocator());
  BenchHost host;
  std::printf("# %s, %d contexts and %d isolates per variant, V8 %s\n", script.c_str(), iterations,
              std::max(1, iterations / 10), v8::V8::GetVersion());
  const char* only = getenv("BENCH_ONLY");
  std::string onlyS = only ? only : "";
  if (onlyS.empty() || onlyS == "1" || onlyS == "bare") {
    // The floor: V8's own empty context, with nothing of the runtime in it.
    OwnedIsolate isolate(allocator.get(), kHeapLimitBytes, nullptr);
    {
      v8::Isolate::Scope scope(isolate.get());
      isolate.get()->LowMemoryNotification();
      std::set<v8::SnapshotObjectId> ids;
      if (getenv("HEAPDIFF")) { v8::HandleScope hs(isolate.get()); ids = snapIds(isolate.get()); }
      v8::HeapStatistics before;
      isolate.get()->GetHeapStatistics(&before);
      ScriptContext context(isolate.get(), SnapshotContents::kNone);
      v8::HeapStatistics after;
      isolate.get()->GetHeapStatistics(&after);
      std::printf("%-18s heap     %9.0f KB per context\n", "bare-v8",
                  static_cast<double>(after.used_heap_size() - before.used_heap_size()) / 1024);
      if (getenv("HEAPDIFF")) { v8::HandleScope hs(isolate.get()); snapDiff(isolate.get(), ids); }
    }
    auto start = Clock::now();
    double cpuStart = processCpuMicros();
    for (int i = 0; i < iterations; ++i) {
      ScriptContext context(isolate.get(), SnapshotContents::kNone);
    }
    report("bare-v8", "context", start, cpuStart, iterations);
  }
  if (!getenv("BENCH_ONLY") && !measure("no-snapshot", nullptr, script, iterations, allocator.get(), host)) return 1;

  std::string whyNot;
  auto builtins = StartupSnapshot::builtIn(whyNot);
  if (!builtins) {
    std::printf("builtins-snapshot  n/a (%s)\n", whyNot.c_str());
    return 0;
  }
  if (onlyS == "bare") return 0;
  if (!measure("builtins-snapshot", builtins.get(), script, iterations, allocator.get(), host)) {
    return 1;
  }

  if (onlyS == "builtins") return 0;
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
