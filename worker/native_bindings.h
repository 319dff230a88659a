// The `native` object handed to the runtime (worker/js/): the few operations JavaScript cannot do
// for itself (answer a request, log, schedule a timer, convert UTF-8), plus the host-independent
// web-platform primitives of WebBindings. Each function reaches its RuntimeHost through hostOf()
// (the isolate's data slot), never through a global: the object itself lives in the startup
// snapshot, shared by every host.
#pragma once

#include <v8.h>

#include <span>

#include "worker/function_table.h"

namespace isolated::worker {

class NativeBindings {
 public:
  static v8::Local<v8::Object> create(v8::Isolate* isolate, v8::Local<v8::Context> context);
  // The table create() installs (registered in worker/native_tables.cc).
  static std::span<const NativeFunction> functions();

 private:
  static void respond(const v8::FunctionCallbackInfo<v8::Value>& info);
  static void fail(const v8::FunctionCallbackInfo<v8::Value>& info);
  static void log(const v8::FunctionCallbackInfo<v8::Value>& info);
  static void setTimer(const v8::FunctionCallbackInfo<v8::Value>& info);
  static void clearTimer(const v8::FunctionCallbackInfo<v8::Value>& info);
  static void waitUntilBegin(const v8::FunctionCallbackInfo<v8::Value>& info);
  static void waitUntilEnd(const v8::FunctionCallbackInfo<v8::Value>& info);
  static void runtimeWork(const v8::FunctionCallbackInfo<v8::Value>& info);
  static void encodeUtf8(const v8::FunctionCallbackInfo<v8::Value>& info);
  static void decodeUtf8(const v8::FunctionCallbackInfo<v8::Value>& info);
};

}  // namespace isolated::worker
