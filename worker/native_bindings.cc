// Implementations of the `native` functions used by the runtime (worker/js/).
#include "worker/native_bindings.h"

#include <cstring>

#include "worker/body_bindings.h"
#include "worker/compression_bindings.h"
#include "worker/fetch_bindings.h"
#include "worker/function_table.h"
#include "worker/runtime_host.h"
#include "worker/storage_native.h"
#include "worker/subtle/subtle_bindings.h"
#include "worker/web_bindings.h"

namespace isolated::worker {

namespace {

uint64_t idArg(const v8::FunctionCallbackInfo<v8::Value>& info, int index) {
  return static_cast<uint64_t>(
      info[index]->IntegerValue(info.GetIsolate()->GetCurrentContext()).FromMaybe(0));
}

std::string stringArg(const v8::FunctionCallbackInfo<v8::Value>& info, int index) {
  v8::String::Utf8Value utf8(info.GetIsolate(), info[index]);
  return *utf8 ? std::string(*utf8, utf8.length()) : std::string();
}

// The request the running JavaScript works for: the host stores its id as the context's
// continuation-preserved embedder data, which V8 carries into every promise job. 0 if none.
uint64_t currentRequestId(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Local<v8::Value> current =
      info.GetIsolate()->GetCurrentContext()->GetContinuationPreservedEmbedderData();
  return current->IsNumber() ? static_cast<uint64_t>(current.As<v8::Number>()->Value()) : 0;
}

}  // namespace

std::span<const NativeFunction> NativeBindings::functions() {
  static constexpr NativeFunction kFunctions[] = {
      {"respond", &NativeBindings::respond},
      {"fail", &NativeBindings::fail},
      {"log", &NativeBindings::log},
      {"setTimer", &NativeBindings::setTimer},
      {"clearTimer", &NativeBindings::clearTimer},
      {"waitUntilBegin", &NativeBindings::waitUntilBegin},
      {"waitUntilEnd", &NativeBindings::waitUntilEnd},
      {"runtimeWork", &NativeBindings::runtimeWork},
      {"encodeUtf8", &NativeBindings::encodeUtf8},
      {"decodeUtf8", &NativeBindings::decodeUtf8},
  };
  return kFunctions;
}

v8::Local<v8::Object> NativeBindings::create(v8::Isolate* isolate, v8::Local<v8::Context> context) {
  v8::Local<v8::Object> native = v8::Object::New(isolate);
  installFunctions(isolate, context, native, functions());
  installFunctions(isolate, context, native, fetchFunctions());
  installFunctions(isolate, context, native, bodyFunctions());
  installFunctions(isolate, context, native, storageFunctions());
  WebBindings::install(isolate, context, native);
  subtle::installSubtle(isolate, context, native);
  installCompression(isolate, context, native);
  return native;
}

// respond(id, status, headerText, body): headerText is "name\0value\0..." (ResponseWriter).
void NativeBindings::respond(const v8::FunctionCallbackInfo<v8::Value>& info) {
  auto context = info.GetIsolate()->GetCurrentContext();
  uint64_t id = idArg(info, 0);
  auto status = static_cast<uint16_t>(info[1]->Uint32Value(context).FromMaybe(500));
  v8::Local<v8::String> headers =
      info[2]->IsString() ? info[2].As<v8::String>() : v8::String::Empty(info.GetIsolate());
  hostOf(info).respond(id, status, headers, info[3]);
}

// fail(id, kind, detail)
void NativeBindings::fail(const v8::FunctionCallbackInfo<v8::Value>& info) {
  hostOf(info).fail(idArg(info, 0), stringArg(info, 1), stringArg(info, 2));
}

// log(level, message): the request id comes from the async context the call runs in.
void NativeBindings::log(const v8::FunctionCallbackInfo<v8::Value>& info) {
  auto context = info.GetIsolate()->GetCurrentContext();
  int level = static_cast<int>(info[0]->Int32Value(context).FromMaybe(1));
  hostOf(info).log(level, stringArg(info, 1), currentRequestId(info));
}

// setTimer(delayMs, repeat, record) -> id. The callback will run in the name of the current
// request; `record` comes back to the runtime's fireTimer(id, record).
void NativeBindings::setTimer(const v8::FunctionCallbackInfo<v8::Value>& info) {
  auto context = info.GetIsolate()->GetCurrentContext();
  double delay = info[0]->NumberValue(context).FromMaybe(0);
  bool repeat = info[1]->BooleanValue(info.GetIsolate());
  uint64_t id = hostOf(info).addTimer(delay, repeat, currentRequestId(info), info[2]);
  info.GetReturnValue().Set(static_cast<double>(id));
}

// clearTimer(id)
void NativeBindings::clearTimer(const v8::FunctionCallbackInfo<v8::Value>& info) {
  hostOf(info).cancelTimer(idArg(info, 0));
}

// waitUntilBegin(id), waitUntilEnd(id): one ctx.waitUntil() promise of request `id` is pending
// or has settled.
void NativeBindings::waitUntilBegin(const v8::FunctionCallbackInfo<v8::Value>& info) {
  hostOf(info).waitUntilBegin(idArg(info, 0));
}
void NativeBindings::waitUntilEnd(const v8::FunctionCallbackInfo<v8::Value>& info) {
  hostOf(info).waitUntilEnd(idArg(info, 0));
}

// runtimeWork(fn) -> fn(): runs the runtime's own work (worker/js/lazy_module.js) with its CPU
// outside the app's CPU limit (RuntimeHost::runtimeWorkBegin). What fn throws propagates. No
// host is attached while the built-ins snapshot is made.
void NativeBindings::runtimeWork(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  if (!info[0]->IsFunction()) return;
  auto* host = static_cast<RuntimeHost*>(isolate->GetData(kHostSlot));
  if (host != nullptr) host->runtimeWorkBegin();
  v8::Local<v8::Value> result;
  bool returned = info[0]
                      .As<v8::Function>()
                      ->Call(isolate->GetCurrentContext(), v8::Undefined(isolate), 0, nullptr)
                      .ToLocal(&result);
  // The host cannot change during the call: an isolate runs one host's turn at a time.
  if (host != nullptr) host->runtimeWorkEnd();
  if (returned) info.GetReturnValue().Set(result);
}

// encodeUtf8(string) -> Uint8Array
void NativeBindings::encodeUtf8(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  v8::Local<v8::String> text;
  if (!info[0]->ToString(isolate->GetCurrentContext()).ToLocal(&text)) return;
  int length = text->Utf8Length(isolate);
  auto store = v8::ArrayBuffer::NewBackingStore(isolate, static_cast<size_t>(length));
  text->WriteUtf8(isolate, static_cast<char*>(store->Data()), length, nullptr,
                  v8::String::NO_NULL_TERMINATION | v8::String::REPLACE_INVALID_UTF8);
  auto buffer = v8::ArrayBuffer::New(isolate, std::move(store));
  info.GetReturnValue().Set(v8::Uint8Array::New(buffer, 0, static_cast<size_t>(length)));
}

// decodeUtf8(ArrayBuffer | ArrayBufferView) -> string, with U+FFFD for invalid sequences.
void NativeBindings::decodeUtf8(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  const char* data = nullptr;
  size_t length = 0;
  std::shared_ptr<v8::BackingStore> store;
  if (info[0]->IsArrayBuffer()) {
    store = info[0].As<v8::ArrayBuffer>()->GetBackingStore();
    data = static_cast<const char*>(store->Data());
    length = store->ByteLength();
  } else if (info[0]->IsArrayBufferView()) {
    auto view = info[0].As<v8::ArrayBufferView>();
    store = view->Buffer()->GetBackingStore();
    data = static_cast<const char*>(store->Data()) + view->ByteOffset();
    length = view->ByteLength();
  } else {
    isolate->ThrowException(v8::Exception::TypeError(
        v8::String::NewFromUtf8Literal(isolate, "expected an ArrayBuffer or a view")));
    return;
  }
  v8::Local<v8::String> text;
  if (v8::String::NewFromUtf8(isolate, data, v8::NewStringType::kNormal, static_cast<int>(length))
          .ToLocal(&text)) {
    info.GetReturnValue().Set(text);
  }
}

}  // namespace isolated::worker
