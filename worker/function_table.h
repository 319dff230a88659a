// Installing a table of native functions on a JavaScript object, the one way the runtime's
// bindings expose C++ to worker/runtime.js.
#pragma once

#include <v8.h>

#include <span>

namespace isolated::worker {

struct NativeFunction {
  const char* name;
  v8::FunctionCallback callback;
};

// Sets each function as a property of `target`, named (and with its `name`) as in the table.
// `data` is handed to every callback as FunctionCallbackInfo::Data(); it may be empty.
void installFunctions(v8::Isolate* isolate, v8::Local<v8::Context> context,
                      v8::Local<v8::Object> target, std::span<const NativeFunction> functions,
                      v8::Local<v8::Value> data = {});

}  // namespace isolated::worker
