// Native halves of the web-platform globals that the runtime (worker/js/) installs: text encoding,
// base64, crypto randomness (OpenSSL), structuredClone (V8's ValueSerializer) and clocks. They hold
// no state and need no host, so they are plain functions added to the `native` object.
//
// Each is a short, bounded native call (linear in its input), so a CPU-limit termination can
// only land before or after one, never inside; none calls back into JavaScript except
// structuredClone, whose serializer reads getters and proxies like any script would.
#pragma once

#include <v8.h>

#include <span>

#include "worker/function_table.h"

namespace isolated::worker {

class WebBindings {
 public:
  // Adds the functions below to `native` under their own names.
  static void install(v8::Isolate* isolate, v8::Local<v8::Context> context,
                      v8::Local<v8::Object> native);
  // The table install() adds (registered in worker/native_tables.cc).
  static std::span<const NativeFunction> functions();

 private:
  // encodeUtf8Into(string, Uint8Array) -> {read, written}
  static void encodeUtf8Into(const v8::FunctionCallbackInfo<v8::Value>& info);
  // decodeUtf8Chunk(bytes, fatal, stream) -> [text, pendingByteCount]; TypeError when fatal
  static void decodeUtf8Chunk(const v8::FunctionCallbackInfo<v8::Value>& info);
  // decodeLegacyChunk(icuName, bytes, fatal, stream) -> [text, pendingByteCount]: a legacy
  // encoding through ICU (worker/legacy_codec.h); TypeError when fatal and invalid.
  static void decodeLegacyChunk(const v8::FunctionCallbackInfo<v8::Value>& info);
  static void btoa(const v8::FunctionCallbackInfo<v8::Value>& info);
  static void atob(const v8::FunctionCallbackInfo<v8::Value>& info);
  static void getRandomValues(const v8::FunctionCallbackInfo<v8::Value>& info);
  static void randomUUID(const v8::FunctionCallbackInfo<v8::Value>& info);
  // structuredClone(value, transfer?, toCloneable?, fromCloneable?) -> the copy; `transfer`
  // is an array of ArrayBuffers, which the copy takes over and the original loses (detached).
  // Host objects (instances of native.HostObject's subclasses) are written as
  // toCloneable(object) and remade with fromCloneable(data); without the two functions they
  // are a DataCloneError.
  static void structuredClone(const v8::FunctionCallbackInfo<v8::Value>& info);
  // Milliseconds (fractional) on the monotonic clock, and since the Unix epoch.
  static void monotonicNow(const v8::FunctionCallbackInfo<v8::Value>& info);
  static void wallClockNow(const v8::FunctionCallbackInfo<v8::Value>& info);
};

}  // namespace isolated::worker
