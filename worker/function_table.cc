// FunctionTemplate creation for native function tables.
#include "worker/function_table.h"

namespace isolated::worker {

void installFunctions(v8::Isolate* isolate, v8::Local<v8::Context> context,
                      v8::Local<v8::Object> target, std::span<const NativeFunction> functions) {
  for (const auto& function : functions) {
    v8::Local<v8::String> name = v8::String::NewFromUtf8(isolate, function.name).ToLocalChecked();
    // Function::New rather than a FunctionTemplate: a template's function is cached in every
    // context's template instantiation cache, which made each context from the startup
    // snapshot deserialise two caches (16 KB) as well as the functions. kThrow: nothing
    // constructs a native function, so none needs a prototype object.
    auto fn = v8::Function::New(context, function.callback, {}, 0, v8::ConstructorBehavior::kThrow)
                  .ToLocalChecked();
    fn->SetName(name);
    target->Set(context, name, fn).Check();
  }
}

void installNamespace(v8::Isolate* isolate, v8::Local<v8::Context> context,
                      v8::Local<v8::Object> target, const char* name,
                      std::span<const NativeFunction> functions) {
  v8::Local<v8::Object> space = v8::Object::New(isolate);
  installFunctions(isolate, context, space, functions);
  target->Set(context, v8::String::NewFromUtf8(isolate, name).ToLocalChecked(), space).Check();
}

}  // namespace isolated::worker
