// Isolate creation with resource constraints, the near-heap-limit callback, and disposal.
#include "worker/owned_isolate.h"

#include <libplatform/libplatform.h>

#include <algorithm>

namespace isolated::worker {

OwnedIsolate::OwnedIsolate(v8::ArrayBuffer::Allocator* allocator, size_t heapLimitBytes,
                           StartupSnapshot* snapshot, v8::Platform* platform, YoungGeneration young)
    : platform_(platform) {
  v8::Isolate::CreateParams params;
  params.array_buffer_allocator = allocator;
  if (snapshot != nullptr) {
    params.snapshot_blob = snapshot->blob();
    params.external_references = snapshot->externalReferences();
    snapshotContents_ = snapshot->contents();
  }
  params.constraints.ConfigureDefaultsFromHeapSize(0, heapLimitBytes);
  if (young.maxBytes > 0) params.constraints.set_max_young_generation_size_in_bytes(young.maxBytes);
  if (young.initialBytes > 0) {
    params.constraints.set_initial_young_generation_size_in_bytes(young.initialBytes);
  }
  isolate_ = v8::Isolate::New(params);
  // Microtasks run only where the host runs them (see ScriptContext), never implicitly.
  isolate_->SetMicrotasksPolicy(v8::MicrotasksPolicy::kExplicit);
  // V8's default stack limit (about 1 MB below the stack position at creation) applies: the
  // isolate lives on the main thread, whose 8 MB stack leaves ample room for native frames, so
  // runaway recursion ends in a catchable RangeError. No set_stack_limit is needed.
  isolate_->AddNearHeapLimitCallback(&OwnedIsolate::onNearHeapLimit, this);
}

OwnedIsolate::~OwnedIsolate() {
  isolate_->RemoveNearHeapLimitCallback(&OwnedIsolate::onNearHeapLimit, 0);
  isolate_->Dispose();
  if (platform_ != nullptr) v8::platform::NotifyIsolateShutdown(platform_, isolate_);
}

size_t OwnedIsolate::onNearHeapLimit(void* self, size_t currentLimit, size_t /*initialLimit*/) {
  auto* owner = static_cast<OwnedIsolate*>(self);
  owner->heapLimitHit_.store(true, std::memory_order_relaxed);
  owner->isolate_->TerminateExecution();
  // Room for the GC to finish and the terminated script to unwind. The callback may run again
  // before the script stops; each call grants another margin.
  return currentLimit + std::max<size_t>(32u << 20, currentLimit / 4);
}

}  // namespace isolated::worker
