// Native half of CompressionStream / DecompressionStream (worker/js/compression.js): zlib
// streams (worker/zlib_stream.h) behind three functions on the `native` object.
//
// A stream's handle is a zero-length ArrayBuffer whose backing store owns the ZlibStream: the
// store's deleter frees it when the handle is collected or the isolate goes, so nothing leaks
// across context or isolate rebuilds. zlibClose() releases zlib's state (about 256 KB for
// compression) at once when a stream ends or errors, without waiting for the GC. Handles never
// reach user code: the runtime keeps them in private class fields.
//
// Each call is bounded (ZlibStream::kMaxOutputPerWrite of output) and calls no JavaScript.
#pragma once

#include <v8.h>

#include <span>

#include "worker/function_table.h"

namespace isolated::worker {

class CompressionBindings {
 public:
  // zlibCreate(format, compress) -> handle; zlibWrite(handle, bytes, finish) -> Uint8Array,
  // TypeError on corrupt, truncated or trailing data; zlibClose(handle).
  static std::span<const NativeFunction> functions();

 private:
  static void create(const v8::FunctionCallbackInfo<v8::Value>& info);
  static void write(const v8::FunctionCallbackInfo<v8::Value>& info);
  static void close(const v8::FunctionCallbackInfo<v8::Value>& info);
};

}  // namespace isolated::worker
