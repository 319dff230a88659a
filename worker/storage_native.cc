// bindingCall: argument checks and the hand-off to BindingCalls.
#include "worker/storage_native.h"

#include <string>

#include "ipc/protocol.h"
#include "worker/binding_calls.h"
#include "worker/runtime_host.h"
#include "worker/v8_values.h"

namespace isolated::worker {

namespace {

using Info = v8::FunctionCallbackInfo<v8::Value>;

void bindingCall(const Info& info) {
  v8::Isolate* isolate = info.GetIsolate();
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  BindingCalls* calls = hostOf(info).bindingCalls();
  if (calls == nullptr) return throwTypeError(isolate, "storage bindings are not available here");
  std::string binding = utf8(isolate, info[0]);
  std::string op = utf8(isolate, info[1]);
  std::string args = utf8(isolate, info[2]);
  if (binding.size() > ipc::kBindingMaxNameBytes || op.size() > ipc::kBindingMaxNameBytes) {
    return throwTypeError(isolate, "storage binding call: the name is too long");
  }
  if (args.size() > ipc::kBindingMaxArgsBytes) {
    return throwTypeError(isolate, "storage binding call: the arguments exceed " +
                                       std::to_string(ipc::kBindingMaxArgsBytes >> 20) + " MiB");
  }
  std::string value;
  v8::Local<v8::Value> input = info[3];
  if (input->IsString()) {
    value = utf8(isolate, input);
  } else if (input->IsArrayBuffer()) {
    auto store = input.As<v8::ArrayBuffer>()->GetBackingStore();
    value.assign(static_cast<const char*>(store->Data()), store->ByteLength());
  } else if (input->IsArrayBufferView()) {
    auto view = input.As<v8::ArrayBufferView>();
    value.resize(view->ByteLength());
    view->CopyContents(value.data(), value.size());
  } else if (!input->IsNullOrUndefined()) {
    return throwTypeError(isolate, "storage binding call: unsupported value type");
  }
  if (value.size() > ipc::kBindingMaxValueBytes) {
    return throwTypeError(isolate, "the value is " + std::to_string(value.size()) +
                                       " bytes; values are at most " +
                                       std::to_string(ipc::kBindingMaxValueBytes >> 20) + " MiB");
  }
  v8::Local<v8::Value> current = context->GetContinuationPreservedEmbedderData();
  uint64_t requestId =
      current->IsNumber() ? static_cast<uint64_t>(current.As<v8::Number>()->Value()) : 0;
  if (requestId == 0) {
    // Top-level code (which runs before the worker's Hello) and code outside any request: as on
    // Cloudflare, storage is only reachable while handling a request. Refused here, so that no
    // call ever reaches the supervisor without a request to charge it to.
    auto resolver = v8::Promise::Resolver::New(context).ToLocalChecked();
    resolver
        ->Reject(context,
                 v8::Exception::Error(v8::String::NewFromUtf8Literal(
                     isolate, "storage bindings can only be used while handling a request")))
        .Check();
    info.GetReturnValue().Set(resolver->GetPromise());
    return;
  }
  info.GetReturnValue().Set(calls->call(context, requestId, binding, op, args, value));
}

constexpr NativeFunction kStorageFunctions[] = {{"bindingCall", &bindingCall}};

}  // namespace

std::span<const NativeFunction> storageFunctions() {
  return kStorageFunctions;
}

}  // namespace isolated::worker
