// Process-wide V8 initialisation for a worker, owned by workerMain: constructed once before any
// isolate exists and destroyed after the last one is gone. The supervisor never creates one.
#pragma once

#include <v8.h>

#include <memory>

#include "worker/loop_notifying_platform.h"

namespace isolated::worker {

class V8Runtime {
 public:
  explicit V8Runtime(const char* argv0);
  ~V8Runtime();
  V8Runtime(const V8Runtime&) = delete;
  V8Runtime& operator=(const V8Runtime&) = delete;

  LoopNotifyingPlatform& platform() { return *platform_; }

 private:
  std::unique_ptr<LoopNotifyingPlatform> platform_;
};

}  // namespace isolated::worker
