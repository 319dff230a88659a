// One V8 isolate with a heap limit, disposed by its destructor, created from a startup snapshot
// when one is given.
//
// Heap limit: V8's ResourceConstraints cap the heap. When a GC finds the heap near that cap,
// the near-heap-limit callback terminates the running JavaScript and raises the cap by a margin
// so that the GC in progress, and the unwinding of the terminated script, can finish instead of
// aborting the process. heapLimitHit() then stays true: the isolate has to be replaced, and its
// successor starts again with the original cap.
//
// Lifetime: every v8::Global and v8::Local into the isolate must be gone before the destructor
// runs; the owner destroys its contexts first. The ArrayBuffer allocator and the snapshot must
// outlive it.
// Threading: the loop thread only (the callback runs on it, inside a GC).
#pragma once

#include <v8.h>

#include <atomic>
#include <cstddef>

#include "worker/startup_snapshot.h"

namespace isolated::worker {

// The young generation's sizes (V8's ResourceConstraints); 0 leaves V8's default, which it
// derives from the heap limit. A small initial young generation is what an idle app's isolate
// needs: V8 grows it as the app allocates (see docs/multi-tenancy.md for the figures).
struct YoungGeneration {
  size_t initialBytes = 0;
  size_t maxBytes = 0;
};

class OwnedIsolate {
 public:
  // `snapshot` may be null: the isolate then starts from V8's own snapshot, without the runtime.
  // `platform`, when given, is V8's default platform: it is told when the isolate is disposed,
  // so that its per-isolate task queue is freed (a worker that creates and evicts isolates all
  // its life would otherwise keep one queue per isolate it ever had).
  OwnedIsolate(v8::ArrayBuffer::Allocator* allocator, size_t heapLimitBytes,
               StartupSnapshot* snapshot, v8::Platform* platform = nullptr,
               YoungGeneration young = {});
  ~OwnedIsolate();
  OwnedIsolate(const OwnedIsolate&) = delete;
  OwnedIsolate& operator=(const OwnedIsolate&) = delete;

  v8::Isolate* get() const { return isolate_; }
  // What the isolate's contexts start with (ScriptContext's constructor wants it).
  SnapshotContents snapshotContents() const { return snapshotContents_; }
  // Whether the heap reached its limit; JavaScript was terminated when it did.
  bool heapLimitHit() const { return heapLimitHit_.load(std::memory_order_relaxed); }

 private:
  static size_t onNearHeapLimit(void* self, size_t currentLimit, size_t initialLimit);

  v8::Isolate* isolate_ = nullptr;
  v8::Platform* platform_ = nullptr;
  SnapshotContents snapshotContents_ = SnapshotContents::kNone;
  // Written from inside GC; atomic so that no assumption about the GC's thread is needed.
  std::atomic<bool> heapLimitHit_{false};
};

}  // namespace isolated::worker
