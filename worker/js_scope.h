// The one way into V8 from native code: enters the isolate, opens a handle scope and enters the
// context. Stack-only by construction (no heap allocation, no copies), so a scope can never be
// stored or captured and outlive the call that opened it.
#pragma once

#include <v8.h>

namespace isolated::worker {

class JsScope {
 public:
  // Takes the Global so that the Local is made only once the handle scope is open.
  JsScope(v8::Isolate* isolate, const v8::Global<v8::Context>& context)
      : isolateScope_(isolate),
        handleScope_(isolate),
        context_(context.Get(isolate)),
        contextScope_(context_) {}

  v8::Local<v8::Context> context() const { return context_; }
  JsScope(const JsScope&) = delete;
  JsScope& operator=(const JsScope&) = delete;
  static void* operator new(size_t) = delete;
  static void operator delete(void*) = delete;

 private:
  v8::Isolate::Scope isolateScope_;
  v8::HandleScope handleScope_;
  v8::Local<v8::Context> context_;
  v8::Context::Scope contextScope_;
};

}  // namespace isolated::worker
