// V8 and platform set-up and tear-down.
#include "worker/v8_runtime.h"

namespace isolated::worker {

V8Runtime::V8Runtime(const char* argv0) {
  v8::V8::InitializeICUDefaultLocation(argv0);
  // Two background threads: GC and compile jobs on a 2-core machine shared with the supervisor.
  platform_ = std::make_unique<LoopNotifyingPlatform>(2);
  v8::V8::InitializePlatform(platform_.get());
  v8::V8::Initialize();
}

V8Runtime::~V8Runtime() {
  v8::V8::Dispose();
  v8::V8::DisposePlatform();
}

}  // namespace isolated::worker
