// A v8::Platform that forwards everything to V8's default platform and, whenever V8 posts a
// task for an isolate's foreground thread, wakes the worker's event loop through an eventfd.
//
// Why: V8 finishes some work on the isolate's own thread by posting foreground tasks, which
// only run when the embedder pumps them: the result of asynchronous WebAssembly compilation
// (WebAssembly.instantiate/compile), FinalizationRegistry cleanup, and GC finalisation steps.
// The worker's thread sleeps in libevent, so it must be told when such a task is posted, from
// whatever thread posted it. PlatformTaskPump is the loop-side half.
//
// Threading: the Post* methods and nextDeadline() are safe from any thread; the eventfd is
// written from any thread and read only on the loop. Lifetime: outlives every isolate (owned by
// V8Runtime).
#pragma once

#include <libplatform/libplatform.h>
#include <v8-platform.h>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>

#include "common/unique_fd.h"

namespace isolated::worker {

class LoopNotifyingPlatform final : public v8::Platform {
 public:
  explicit LoopNotifyingPlatform(int workerThreads);
  ~LoopNotifyingPlatform() override;

  // Readable whenever a foreground task was posted since the last drainWakeups().
  int wakeupFd() const { return wakeup_.get(); }
  void drainWakeups();
  // True when a foreground task was posted and the loop has not yet been woken for it.
  bool wakeupPending() const;
  // The default platform, which v8::platform::PumpMessageLoop requires.
  v8::Platform& defaultPlatform() { return *inner_; }
  // The earliest deadline (MonotonicallyIncreasingTime seconds) of a delayed foreground task,
  // forgetting those due by `pumpedAt` (the start of the last pump, which ran them); nullopt
  // when none is pending.
  std::optional<double> nextDeadline(double pumpedAt);
  // The isolates that may have a foreground task to run at `now`: those a task was posted for
  // since the last call, and those whose delayed task is due. A worker with many isolates
  // pumps only these. May name an isolate that is gone (the caller ignores it).
  std::set<v8::Isolate*> takeReady(double now);

  // Called by the task runners handed to V8.
  void notifyPosted(v8::Isolate* isolate);
  void notifyPostedDelayed(v8::Isolate* isolate, double delaySeconds);

  // v8::Platform, forwarded to the default platform.
  v8::PageAllocator* GetPageAllocator() override { return inner_->GetPageAllocator(); }
  void OnCriticalMemoryPressure() override { inner_->OnCriticalMemoryPressure(); }
  bool OnCriticalMemoryPressure(size_t length) override {
    return inner_->OnCriticalMemoryPressure(length);
  }
  int NumberOfWorkerThreads() override { return inner_->NumberOfWorkerThreads(); }
  std::shared_ptr<v8::TaskRunner> GetForegroundTaskRunner(v8::Isolate* isolate) override;
  void CallOnWorkerThread(std::unique_ptr<v8::Task> task) override {
    inner_->CallOnWorkerThread(std::move(task));
  }
  void CallDelayedOnWorkerThread(std::unique_ptr<v8::Task> task, double delaySeconds) override {
    inner_->CallDelayedOnWorkerThread(std::move(task), delaySeconds);
  }
  bool IdleTasksEnabled(v8::Isolate* isolate) override { return inner_->IdleTasksEnabled(isolate); }
  std::unique_ptr<v8::JobHandle> PostJob(v8::TaskPriority priority,
                                         std::unique_ptr<v8::JobTask> job) override {
    return inner_->PostJob(priority, std::move(job));
  }
  double MonotonicallyIncreasingTime() override { return inner_->MonotonicallyIncreasingTime(); }
  double CurrentClockTimeMillis() override { return inner_->CurrentClockTimeMillis(); }
  StackTracePrinter GetStackTracePrinter() override { return inner_->GetStackTracePrinter(); }
  v8::TracingController* GetTracingController() override { return inner_->GetTracingController(); }

 private:
  std::unique_ptr<v8::Platform> inner_;
  UniqueFd wakeup_;
  std::mutex mutex_;
  // Guarded by mutex_: delayed tasks' deadlines, and isolates with tasks posted.
  std::multimap<double, v8::Isolate*> deadlines_;
  std::set<v8::Isolate*> ready_;
};

}  // namespace isolated::worker
