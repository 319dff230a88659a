// Installing a table of native functions on a JavaScript object, the one way the runtime's
// bindings expose C++ to the runtime (worker/js/).
//
// Every table must also be listed in worker/native_tables.cc: the startup snapshot records each
// callback as a V8 external reference, and a callback missing there makes the snapshot build
// fail. Callbacks get no FunctionTemplate data (pointers cannot be snapshotted); they reach
// their host through hostOf() in worker/runtime_host.h.
#pragma once

#include <v8.h>

#include <span>

namespace isolated::worker {

struct NativeFunction {
  const char* name;
  v8::FunctionCallback callback;
};

// Sets each function as a property of `target`, named (and with its `name`) as in the table.
void installFunctions(v8::Isolate* isolate, v8::Local<v8::Context> context,
                      v8::Local<v8::Object> target, std::span<const NativeFunction> functions);

// Installs `functions` on a new object set as `target[name]`: a namespace of the native object,
// such as `native.subtle`.
void installNamespace(v8::Isolate* isolate, v8::Local<v8::Context> context,
                      v8::Local<v8::Object> target, const char* name,
                      std::span<const NativeFunction> functions);

}  // namespace isolated::worker
