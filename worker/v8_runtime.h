// Process-wide V8 initialisation for a worker, owned by workerMain: constructed once before any
// isolate exists and destroyed after the last one is gone. The supervisor never creates one.
#pragma once

#include <libplatform/libplatform.h>
#include <v8.h>

#include <memory>

namespace isolated::worker {

class V8Runtime {
 public:
  explicit V8Runtime(const char* argv0);
  ~V8Runtime();
  V8Runtime(const V8Runtime&) = delete;
  V8Runtime& operator=(const V8Runtime&) = delete;

  v8::Platform& platform() { return *platform_; }

 private:
  std::unique_ptr<v8::Platform> platform_;
};

}  // namespace isolated::worker
