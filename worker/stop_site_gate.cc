// StopSiteGate: where a CPU stop may land (see the header).
#include "worker/stop_site_gate.h"

#include <string_view>

namespace isolated::worker {

bool StopSiteGate::readyToTerminate(v8::Isolate* isolate, int asked) {
  auto now = std::chrono::steady_clock::now();
  if (asked == 0) firstAsked_ = now;
  Site site = siteNow(isolate);
  if (site != Site::kScript && now - firstAsked_ < kStopDeferral) return false;
  site_ = site;
  return true;
}

StopSiteGate::Site StopSiteGate::siteNow(v8::Isolate* isolate) const {
  if (context_ && context_->microtasksRunning()) return Site::kMicrotasks;
  v8::HandleScope scope(isolate);
  v8::Local<v8::StackTrace> trace =
      v8::StackTrace::CurrentStackTrace(isolate, 1, v8::StackTrace::kScriptName);
  if (trace->GetFrameCount() == 0) return Site::kRuntime;
  v8::Local<v8::String> name = trace->GetFrame(isolate, 0)->GetScriptName();
  if (name.IsEmpty()) return Site::kRuntime;
  // Every part of the runtime is compiled as one script of this name (script_context.cc).
  constexpr std::string_view kRuntime = "isolated:runtime";
  if (name->Length() == static_cast<int>(kRuntime.size())) {
    char buffer[kRuntime.size()];
    name->WriteOneByte(isolate, reinterpret_cast<uint8_t*>(buffer), 0,
                       static_cast<int>(kRuntime.size()), v8::String::NO_NULL_TERMINATION);
    if (std::string_view(buffer, kRuntime.size()) == kRuntime) return Site::kRuntime;
  }
  return Site::kScript;
}

}  // namespace isolated::worker
