// The shared external string of the runtime bundle: see runtime_source.h.
#include "worker/runtime_source.h"

#include <string_view>

namespace isolated::worker {

// The runtime bundle built from worker/js/ and embedded at build time (cmake/RuntimeBundle.cmake).
// esbuild writes it as ASCII (non-ASCII characters escaped), so it is valid one-byte text.
extern const std::string_view kRuntimeJs;

namespace {

class RuntimeSourceResource final : public v8::String::ExternalOneByteStringResource {
 public:
  const char* data() const override { return kRuntimeJs.data(); }
  size_t length() const override { return kRuntimeJs.size(); }

 protected:
  // Shared by every isolate and never freed.
  void Dispose() override {}
};

}  // namespace

v8::String::ExternalOneByteStringResource* runtimeSourceResource() {
  static RuntimeSourceResource resource;
  return &resource;
}

v8::MaybeLocal<v8::String> runtimeSource(v8::Isolate* isolate) {
  return v8::String::NewExternalOneByte(isolate, runtimeSourceResource());
}

}  // namespace isolated::worker
