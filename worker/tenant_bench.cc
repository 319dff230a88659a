// Memory and creation time per loaded app: see tenant_bench.h.
#include "worker/tenant_bench.h"

#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <memory>

#include "worker/js_scope.h"
#include "worker/owned_isolate.h"
#include "worker/runtime_host.h"
#include "worker/runtime_warm_up.h"
#include "worker/script_context.h"
#include "worker/startup_snapshot.h"
#include "worker/v8_runtime.h"

namespace isolated::worker {

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kHeapLimitBytes = 128u << 20;
// The worker's default for --shared-isolate-heap-mb: the shared heap holds every app.
constexpr size_t kSharedHeapLimitBytes = 1024u << 20;

// CPU time of the whole process (GC and compiler threads included), in ms: steadier than wall
// time on a shared machine.
double processCpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

size_t residentBytes() {
  std::ifstream statm("/proc/self/statm");
  size_t size = 0;
  size_t resident = 0;
  statm >> size >> resident;
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

struct Options {
  int apps = 100;
  size_t youngBytes = 0;
  std::string idle = "none";
  std::string v8Flags;
  bool sharedIsolate = false;
  bool codeCache = true;
  // Each app's context is warmed up as a spare is before its script loads
  // (worker/runtime_warm_up.h).
  bool warm = false;
  // With --warm: the --idle modes' notification, given once the context is warm (as a spare
  // could be given it while the worker is idle).
  std::string warmIdle;
  // Each app answers one request after loading, as in the worker after its first request.
  bool request = false;
  // How far each app gets: "isolate" (no context), "context" (the snapshot's context, nothing
  // run), "runtime" (the runtime installed) or "app" (the script loaded: the default).
  std::string stage = "app";
  std::string script;
};

struct App {
  explicit App(bool codeCache) : sources(codeCache) {}
  SourceCache sources;
  std::unique_ptr<OwnedIsolate> isolate;  // null in shared-isolate mode
  std::unique_ptr<ScriptContext> context;
  double firstRequestCpuMs = 0;
};

void notifyIdle(v8::Isolate* isolate, const std::string& mode) {
  v8::Isolate::Scope scope(isolate);
  if (mode == "background") {
    isolate->IsolateInBackgroundNotification();
  } else if (mode == "low-memory") {
    isolate->LowMemoryNotification();
  } else if (mode == "pressure") {
    isolate->MemoryPressureNotification(v8::MemoryPressureLevel::kCritical);
  } else if (mode == "moderate") {
    isolate->MemoryPressureNotification(v8::MemoryPressureLevel::kModerate);
  } else if (mode == "idle-deadline") {
    isolate->IdleNotificationDeadline(1e9);
  } else if (mode == "pressure-background") {
    isolate->MemoryPressureNotification(v8::MemoryPressureLevel::kCritical);
    isolate->IsolateInBackgroundNotification();
  }
}

bool loadInto(v8::Isolate* isolate, SnapshotContents contents, App& app, const Options& options) {
  if (options.stage == "isolate") return true;
  app.context = std::make_unique<ScriptContext>(isolate, contents);
  if (!app.context->created()) return false;
  if (options.stage == "context") return true;
  if (options.stage == "runtime") {
    JsScope scope(isolate, app.context->global());
    return !app.context->installRuntime();
  }
  if (options.warm) {
    {
      JsScope scope(isolate, app.context->global());
      if (app.context->installRuntime()) return false;
    }
    if (!warmUpContext(isolate, *app.context, WarmUpUrl::kParse)) return false;
    if (!options.warmIdle.empty()) notifyIdle(isolate, options.warmIdle);
  }
  {
    JsScope scope(isolate, app.context->global());
    if (auto error = app.context->load(options.script, app.sources, {})) {
      std::cerr << "load error: " << error->file << ":" << error->line << ": " << error->message
                << "\n";
      return false;
    }
  }
  if (options.request) {
    double cpu = processCpuMs();
    dispatchSyntheticRequest(isolate, *app.context, "http://app.test/", "app.test");
    app.firstRequestCpuMs = processCpuMs() - cpu;
  }
  return true;
}

std::optional<Options> parse(const std::vector<std::string>& args) {
  Options options;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    auto value = [&]() -> const std::string* { return i + 1 < args.size() ? &args[++i] : nullptr; };
    const std::string* v = nullptr;
    if (arg == "--apps" && (v = value())) {
      options.apps = std::max(1, std::atoi(v->c_str()));
    } else if (arg == "--young-kb" && (v = value())) {
      options.youngBytes = static_cast<size_t>(std::atol(v->c_str())) << 10;
    } else if (arg == "--idle" && (v = value())) {
      options.idle = *v;
    } else if (arg == "--v8-flags" && (v = value())) {
      options.v8Flags = *v;
    } else if (arg == "--shared-isolate") {
      options.sharedIsolate = true;
    } else if (arg == "--no-code-cache") {
      options.codeCache = false;
    } else if (arg == "--warm") {
      options.warm = true;
    } else if (arg == "--request") {
      options.request = true;
    } else if (arg == "--warm-idle" && (v = value())) {
      options.warmIdle = *v;
    } else if (arg == "--stage" && (v = value())) {
      options.stage = *v;
    } else if (!arg.starts_with("--") && options.script.empty()) {
      options.script = arg;
    } else {
      return std::nullopt;
    }
  }
  if (options.script.empty()) return std::nullopt;
  // V8 10.2 crashes creating an isolate whose young generation is under 1 MB (measured with
  // 128, 256 and 512 KB): refuse rather than crash.
  if (options.youngBytes > 0 && options.youngBytes < (1u << 20)) {
    std::cerr << "--young-kb must be 0 or at least 1024\n";
    return std::nullopt;
  }
  return options;
}

}  // namespace

int benchTenantsMain(const char* argv0, const std::vector<std::string>& args) {
  auto options = parse(args);
  if (!options) {
    std::cerr
        << "usage: isolated __bench-startup --apps N [--young-kb K] [--idle "
           "none|background|low-memory|pressure] [--v8-flags F] [--shared-isolate] "
           "[--no-code-cache] [--warm] [--request] [--stage isolate|context|runtime|app] SCRIPT\n";
    return 2;
  }
  if (!options->v8Flags.empty()) v8::V8::SetFlagsFromString(options->v8Flags.c_str());
  V8Runtime v8(argv0);
  std::string whyNot;
  auto builtins = StartupSnapshot::builtIn(whyNot);
  if (!builtins) {
    std::cerr << "no built-ins snapshot: " << whyNot << "\n";
    return 1;
  }
  std::unique_ptr<v8::ArrayBuffer::Allocator> allocator(
      v8::ArrayBuffer::Allocator::NewDefaultAllocator());
  WarmUpHost host;  // answers, console lines and timers go nowhere
  YoungGeneration young{options->youngBytes, options->youngBytes};
  v8::Platform* platform = &v8.platform().defaultPlatform();

  std::unique_ptr<OwnedIsolate> shared;
  if (options->sharedIsolate) {
    shared = std::make_unique<OwnedIsolate>(allocator.get(), kSharedHeapLimitBytes, builtins.get(),
                                            platform, young);
    attachHost(shared->get(), &host);
  }
  std::vector<std::unique_ptr<App>> apps;
  auto create = [&](App& app) {
    if (shared) return loadInto(shared->get(), shared->snapshotContents(), app, *options);
    app.isolate = std::make_unique<OwnedIsolate>(allocator.get(), kHeapLimitBytes, builtins.get(),
                                                 platform, young);
    attachHost(app.isolate->get(), &host);
    return loadInto(app.isolate->get(), app.isolate->snapshotContents(), app, *options);
  };
  auto idleAll = [&] {
    if (options->idle == "none") return;
    if (shared) {
      notifyIdle(shared->get(), options->idle);
      return;
    }
    for (auto& app : apps)
      notifyIdle(app->isolate->get(), options->idle);
  };

  malloc_trim(0);
  size_t before = residentBytes();
  size_t mallocBefore = mallinfo2().uordblks;
  auto started = Clock::now();
  double cpuStarted = processCpuMs();
  for (int i = 0; i < options->apps; ++i) {
    apps.push_back(std::make_unique<App>(options->codeCache));
    if (!create(*apps.back())) return 1;
  }
  double createMs =
      std::chrono::duration<double, std::milli>(Clock::now() - started).count() / options->apps;
  double createCpuMs = (processCpuMs() - cpuStarted) / options->apps;
  double firstRequestCpuMs = 0;
  for (auto& app : apps)
    firstRequestCpuMs += app->firstRequestCpuMs;
  size_t loaded = residentBytes();
  size_t mallocLoaded = mallinfo2().uordblks;
  idleAll();
  malloc_trim(0);
  size_t idled = residentBytes();
  size_t mallocIdled = mallinfo2().uordblks;
  uint64_t heapUsed = 0;
  auto addHeap = [&](v8::Isolate* isolate) {
    v8::HeapStatistics stats;
    isolate->GetHeapStatistics(&stats);
    heapUsed += stats.used_heap_size();
  };
  if (shared) {
    addHeap(shared->get());
  } else {
    for (auto& app : apps)
      addHeap(app->isolate->get());
  }

  // Where an isolate's heap goes: each space's used and committed KB, averaged over the
  // isolates (or the shared isolate's, over its apps), and what V8 mallocs and counts as
  // external beside it.
  {
    std::vector<v8::Isolate*> isolates;
    if (shared) {
      isolates.push_back(shared->get());
    } else {
      for (auto& app : apps)
        isolates.push_back(app->isolate->get());
    }
    double per = shared ? options->apps : static_cast<double>(isolates.size());
    size_t spaces = isolates.front()->NumberOfHeapSpaces();
    std::vector<std::string> names(spaces);
    std::vector<double> used(spaces), committed(spaces);
    double malloced = 0, external = 0, physical = 0, codeBytes = 0, metadata = 0;
    for (v8::Isolate* isolate : isolates) {
      for (size_t i = 0; i < spaces; ++i) {
        v8::HeapSpaceStatistics space;
        isolate->GetHeapSpaceStatistics(&space, i);
        names[i] = space.space_name();
        used[i] += static_cast<double>(space.space_used_size());
        committed[i] += static_cast<double>(space.physical_space_size());
      }
      v8::HeapStatistics stats;
      isolate->GetHeapStatistics(&stats);
      malloced += static_cast<double>(stats.malloced_memory());
      external += static_cast<double>(stats.external_memory());
      physical += static_cast<double>(stats.total_physical_size());
      v8::HeapCodeStatistics code;
      isolate->GetHeapCodeAndMetadataStatistics(&code);
      codeBytes +=
          static_cast<double>(code.code_and_metadata_size() + code.bytecode_and_metadata_size());
      metadata += static_cast<double>(code.external_script_source_size());
    }
    std::printf("  heap spaces per app (used / committed KB):");
    for (size_t i = 0; i < spaces; ++i) {
      std::printf(" %s %.0f/%.0f", names[i].c_str(), used[i] / per / 1024,
                  committed[i] / per / 1024);
    }
    std::printf(
        "\n  per app: physical %.0f KB, malloced %.0f KB, external %.0f KB, code+bytecode %.0f KB, "
        "external script source %.0f KB\n",
        physical / per / 1024, malloced / per / 1024, external / per / 1024, codeBytes / per / 1024,
        metadata / per / 1024);
  }

  // With --request, each app answers again after the idle notification: what its next request
  // pays for what the notification freed (any bytecode it flushed is compiled again).
  double afterIdleCpuMs = 0;
  if (options->request && options->stage == "app") {
    double cpu = processCpuMs();
    for (auto& app : apps) {
      v8::Isolate* isolate = shared ? shared->get() : app->isolate->get();
      dispatchSyntheticRequest(isolate, *app->context, "http://app.test/", "app.test");
    }
    afterIdleCpuMs = (processCpuMs() - cpu) / options->apps;
  }

  // Evict every app and cold-start it again from its definition (sources and code cache kept).
  for (auto& app : apps) {
    app->context.reset();
    app->isolate.reset();
  }
  started = Clock::now();
  cpuStarted = processCpuMs();
  for (auto& app : apps) {
    if (!create(*app)) return 1;
  }
  double recreateMs =
      std::chrono::duration<double, std::milli>(Clock::now() - started).count() / options->apps;
  double recreateCpuMs = (processCpuMs() - cpuStarted) / options->apps;
  uint64_t hits = 0;
  for (auto& app : apps)
    hits += app->sources.codeCacheHits();

  double n = options->apps;
  std::printf(
      "apps=%d mode=%s young_kb=%zu idle=%s flags='%s' code_cache=%s warm=%d request=%d\n"
      "  rss per app: %.0f KB loaded, %.0f KB after idle notification\n"
      "  malloc in use per app: %.0f KB loaded, %.0f KB after idle notification\n"
      "  v8 heap used per app: %.0f KB\n"
      "  create per app: %.2f ms wall %.2f ms cpu (first load); %.2f ms wall %.2f ms cpu "
      "(re-created, %llu code cache hits)\n"
      "  first request per app: %.2f ms cpu; after the idle notification %.2f ms cpu\n",
      options->apps, shared ? "shared-isolate" : "isolate-per-app", options->youngBytes >> 10,
      options->idle.c_str(), options->v8Flags.c_str(), options->codeCache ? "on" : "off",
      options->warm ? 1 : 0, options->request ? 1 : 0,
      static_cast<double>(loaded - before) / n / 1024,
      static_cast<double>(idled - before) / n / 1024,
      (static_cast<double>(mallocLoaded) - static_cast<double>(mallocBefore)) / n / 1024,
      (static_cast<double>(mallocIdled) - static_cast<double>(mallocBefore)) / n / 1024,
      static_cast<double>(heapUsed) / n / 1024, createMs, createCpuMs, recreateMs, recreateCpuMs,
      static_cast<unsigned long long>(hits), firstRequestCpuMs / n, afterIdleCpuMs);
  for (auto& app : apps)
    app->context.reset();
  apps.clear();
  return 0;
}

}  // namespace isolated::worker
