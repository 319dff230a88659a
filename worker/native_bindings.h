// The `native` object handed to worker/runtime.js: the few operations JavaScript cannot do for
// itself (answer a request, log, schedule a timer, convert UTF-8), plus the host-independent
// web-platform primitives of WebBindings. Each function receives its RuntimeHost through the
// FunctionTemplate's data, never through a global.
#pragma once

#include <v8.h>

namespace isolated::worker {

class RuntimeHost;

class NativeBindings {
 public:
  static v8::Local<v8::Object> create(v8::Isolate* isolate, v8::Local<v8::Context> context,
                                      RuntimeHost& host);

 private:
  static void respond(const v8::FunctionCallbackInfo<v8::Value>& info);
  static void fail(const v8::FunctionCallbackInfo<v8::Value>& info);
  static void log(const v8::FunctionCallbackInfo<v8::Value>& info);
  static void setTimer(const v8::FunctionCallbackInfo<v8::Value>& info);
  static void clearTimer(const v8::FunctionCallbackInfo<v8::Value>& info);
  static void waitUntilBegin(const v8::FunctionCallbackInfo<v8::Value>& info);
  static void waitUntilEnd(const v8::FunctionCallbackInfo<v8::Value>& info);
  static void encodeUtf8(const v8::FunctionCallbackInfo<v8::Value>& info);
  static void decodeUtf8(const v8::FunctionCallbackInfo<v8::Value>& info);
};

}  // namespace isolated::worker
